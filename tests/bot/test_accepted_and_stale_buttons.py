"""The accepted volunteer gets the place's pin, and only they (help at home has none: see
test_volunteer_card); a double tap on Accept gives one card; a button from an erased account
does nothing to the same person's new account.
Through the local Bot API server, in Chinese, Korean and English; taps that must change
nothing are checked against every row of the database."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.middlewares import ButtonsFromBeforeMiddleware
from core import catalog, volunteers
from core.db import transaction, utcnow
from core.models import Identity, Member, VolunteerProfile
from sandbox.persona import Persona
from tests.bot.lang import t
from tests.bot.rows import snapshot
from tests.bot.test_request_help import fill_in, member, member_id
from tests.bot.test_volunteer_journey import grant, sweep, until, volunteer

LANGS = ["zh_Hans", "ko", "en"]
NAMES = {
    "zh_Hans": ("王芳", ["李明", "张伟", "刘洋"]),
    "ko": ("김영희", ["박민수", "이지은", "최동훈"]),
    "en": ("Margaret", ["Tom", "Ann", "Raj"]),
}
NEAR_THE_VOLUNTEERS = (31.2140, 121.5560)


@pytest.fixture(autouse=True)
def _no_scheduled_sweep(monkeypatch) -> None:
    monkeypatch.setenv("TIMEBANK_SWEEP_SECONDS", "0")


def pins(persona: Persona) -> list[dict]:
    return [m for m in persona.bot_messages() if "location" in m or "venue" in m]


async def pinned(persona: Persona, kind: str, timeout: float = 10.0) -> dict:  # noqa: ASYNC109
    """Wait until the persona's chat has a `location` or `venue` message from the bot."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        await persona.sync()
        found = [m for m in pins(persona) if kind in m]
        if found:
            return found[-1]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no {kind} for {persona.first_name}")
        await asyncio.sleep(0.1)


def texts_with(persona: Persona, part: str) -> list[str]:
    return [m["text"] for m in persona.bot_messages() if part in (m.get("text") or "")]


def button_data(message: dict, label: str) -> str:
    [data] = [
        button["callback_data"]
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
        for button in row
        if button["text"] == label
    ]
    return data


async def nudged_volunteers(person, sessions, lang: str, **resident_fields):
    resident_name, helper_names = NAMES[lang]
    resident = await member(person, sessions, resident_name, lang, branch="luoshan",
                            **resident_fields)  # fmt: skip
    await grant(sessions, await member_id(sessions, resident), 300)
    helpers = [
        await volunteer(person, sessions, name, lang, 0.001 * (n + 1))
        for n, name in enumerate(helper_names)
    ]
    return resident, helpers


@pytest.mark.parametrize("lang", LANGS)
async def test_the_accepted_volunteer_alone_gets_the_pin_and_a_double_tap_one_card(
    person, sessions, client, lang
) -> None:
    resident, helpers = await nudged_volunteers(person, sessions, lang)
    resident.location = NEAR_THE_VOLUNTEERS
    await fill_in(resident, sessions, lang, where=None)
    await resident.tap_inline(t(lang, "✅ Send"))
    await resident.wait_reply()
    assert (await sweep(sessions, utcnow())).nudged == len(helpers)
    nudge_text = t(lang, "🔔 Someone near you would like help")
    for h in helpers:
        await until(h, nudge_text)
    assert [pins(h) for h in helpers] == [[], [], []]  # nobody has the place before accepting

    winner, others = helpers[1], [helpers[0], helpers[2]]
    nudge = next(m for m in reversed(winner.bot_messages()) if nudge_text in (m["text"] or ""))
    accept = button_data(nudge, t(lang, "✅ Accept"))
    # A double tap: the second press leaves the phone before the first one's card arrives.
    first = await client.press(winner.id, nudge["message_id"], accept)
    second = await client.press(winner.id, nudge["message_id"], accept, forged=True)
    answers = [
        (await client.callback_answer(tap["callback_query_id"], timeout=10))["answer"]["text"]
        for tap in (first, second)
    ]
    assert answers == [t(lang, "Thank you!"), t(lang, "It is already yours. Thank you!")]

    yours = t(lang, "🙏 Thank you! It is yours.")
    await until(winner, yours)
    pin = await pinned(winner, "location")
    assert pin["location"] == pytest.approx(
        {"latitude": NEAR_THE_VOLUNTEERS[0], "longitude": NEAR_THE_VOLUNTEERS[1]}
    )
    taken = t(lang, "Another volunteer has already said yes. Thank you all the same!")
    for h in others:
        await until(h, taken)
    await until(resident, NAMES[lang][1][1])
    await winner.sync()
    assert len(texts_with(winner, yours)) == 1
    assert len(pins(winner)) == 1
    for h in others:
        await h.sync()
        assert pins(h) == []

    # One more stale tap, once everything has settled: a short answer, and no change at all.
    before = await snapshot(sessions)
    again = await client.press(winner.id, nudge["message_id"], accept, forged=True)
    answer = await client.callback_answer(again["callback_query_id"], timeout=10)
    assert answer["answer"]["text"] == t(lang, "It is already yours. Thank you!")
    await winner.expect_no_reply(within=0.5)
    assert await snapshot(sessions) == before
    assert len(texts_with(winner, yours)) == 1 and len(pins(winner)) == 1


async def sign_up_again(persona: Persona, sessions, name: str, lang: str) -> int:
    """The same Telegram user's new account, a volunteer again (saved as onboarding would)."""
    async with transaction(sessions, write=True) as session:
        branch = await catalog.branch_by_code(session, "luoshan")
        row = Member(name=name, language=lang, branch_id=branch.id, onboarded_at=utcnow(),
                     is_volunteer=True, verified=True)  # fmt: skip
        session.add(row)
        await session.flush()
        session.add(Identity(platform="telegram", external_id=str(persona.id), member_id=row.id))
        await volunteers.profile(session, row.id)
    await persona.command("/start")
    await persona.wait_reply()
    return row.id


async def paused(sessions, member_id_: int) -> bool:
    async with sessions() as session:
        return bool(
            await session.scalar(
                select(VolunteerProfile.paused).where(VolunteerProfile.member_id == member_id_)
            )
        )


@pytest.mark.parametrize("lang", LANGS)
async def test_a_button_from_an_erased_account_does_nothing_to_the_new_one(
    person, sessions, client, lang
) -> None:
    name = NAMES[lang][1][0]
    helper = await volunteer(person, sessions, name, lang, 0.001)
    await helper.tap(t(lang, "🤝 Volunteering"))
    profile = await helper.wait_reply()
    pause = button_data(profile, t(lang, "⏸ Pause nudges"))

    await helper.command("/deleteme")
    confirmation = await helper.wait_reply()
    await helper.tap_inline(t(lang, "Yes, erase my details"), message_id=confirmation["message_id"])
    await helper.wait_reply()
    # The new account begins later than the old buttons' messages were sent, as a person's
    # would; the wait is only what the middleware allows for two clocks.
    await asyncio.sleep(ButtonsFromBeforeMiddleware.SLACK.total_seconds() + 1.5)
    new_id = await sign_up_again(helper, sessions, name, lang)

    before = await snapshot(sessions)
    pressed = await client.press(helper.id, profile["message_id"], pause)
    answer = await client.callback_answer(pressed["callback_query_id"], timeout=10)
    assert answer["answer"]["text"] == t(
        lang,
        "This button is from before you signed up again, so it does nothing now. "
        "Please use the menu below.",
    )
    assert await snapshot(sessions) == before
    assert not await paused(sessions, new_id)

    # The new account's own button works.
    await helper.tap(t(lang, "🤝 Volunteering"))
    await helper.wait_reply()
    await helper.tap_inline(t(lang, "⏸ Pause nudges"))
    await helper.wait_reply()
    assert await paused(sessions, new_id)
