"""A volunteer's card on a request they accepted, through the local Bot API server, in
Chinese, Korean and English: found again from the volunteer area ("Requests I am helping
with"), carried by the reminder, and every step off it ("I cannot go after all", "Done")
leading back to it; a stale "Not this time" after Accept changes nothing; help at the
resident's home says so on the card, with the address kept with their consent or the
advice to ask for it, and no pin pretending to be the door."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.handlers.helping.callbacks import NudgeAnswer
from core.db import utcnow
from core.models import Nudge, Order
from sandbox.persona import Persona
from tests.bot.lang import t
from tests.bot.rows import snapshot
from tests.bot.test_accepted_and_stale_buttons import (
    NAMES,
    NEAR_THE_VOLUNTEERS,
    button_data,
    nudged_volunteers,
    pins,
)
from tests.bot.test_request_help import category_label, fill_in, member_id
from tests.bot.test_volunteer_journey import sweep, until

LANGS = ["zh_Hans", "ko", "en"]
NUDGE = "🔔 Someone near you would like help"
YOURS = "🙏 Thank you! It is yours."
NONE_YET = (
    "You are not helping with any request just now. When someone near you needs help, I will "
    "send you a message; you can also look in “📍 Near me”."
)


@pytest.fixture(autouse=True)
def _no_scheduled_sweep(monkeypatch) -> None:
    monkeypatch.setenv("TIMEBANK_SWEEP_SECONDS", "0")


def plain(text: str) -> str:
    return text.replace("<b>", "").replace("</b>", "")


def is_card(message: dict, lang: str) -> bool:
    """The accepted request's card: its words and its Done, message and hand-back buttons."""
    labels = [b["text"] for row in message["reply_markup"]["inline_keyboard"] for b in row]
    return t(lang, YOURS) in message["text"] and {
        t(lang, "✔️ Done"),
        t(lang, "↩️ I cannot go after all"),
    } <= set(labels)


def labels_of(message: dict) -> list[str]:
    return [b["text"] for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
            for b in row]  # fmt: skip


async def accepted(person, sessions, lang: str) -> tuple[Persona, list[Persona], dict]:
    """A request nudged to three volunteers; the first accepts. Returns the resident, the
    volunteers and the first one's nudge as it was (with Accept and Not this time)."""
    resident, helpers = await nudged_volunteers(person, sessions, lang)
    await fill_in(resident, sessions, lang)
    await resident.tap_inline(t(lang, "✅ Send"))
    await resident.wait_reply()
    assert (await sweep(sessions, utcnow())).nudged == len(helpers)
    for h in helpers:
        await until(h, t(lang, NUDGE))
    winner = helpers[0]
    nudge = next(m for m in reversed(winner.bot_messages()) if t(lang, NUDGE) in m["text"])
    await winner.tap_inline(t(lang, "✅ Accept"))
    await until(winner, t(lang, YOURS))
    return resident, helpers, nudge


@pytest.mark.parametrize("lang", LANGS)
async def test_the_card_is_found_again_and_every_step_leads_back_to_it(
    person, sessions, lang
) -> None:
    _resident, helpers, _nudge = await accepted(person, sessions, lang)
    winner = helpers[0]

    # The card lost in the chat: the volunteer area lists the requests they are helping with.
    await winner.tap(t(lang, "🤝 Volunteering"))
    await winner.wait_reply()
    await winner.tap_inline(t(lang, "📋 Requests I am helping with"))
    listed = await winner.wait_reply()
    assert plain(t(lang, "📋 <b>Requests you are helping with</b>")) in listed["text"]
    assert NAMES[lang][0] in listed["text"]
    category = await category_label(sessions, "repairs", lang)
    assert f"1. {category}" in labels_of(listed)
    await winner.tap_inline(f"1. {category}")
    card = await winner.wait_reply()
    assert card["message_id"] == listed["message_id"] and is_card(card, lang)
    assert t(lang, "⬅️ Back") in labels_of(card)

    # "I cannot go after all", then "No, I will keep it": the card again.
    await winner.tap_inline(t(lang, "↩️ I cannot go after all"))
    asked = await winner.wait_reply()
    assert labels_of(asked) == [t(lang, "Yes, give it back"), t(lang, "No, I will keep it")]
    await winner.tap_inline(t(lang, "No, I will keep it"))
    assert is_card(await winner.wait_reply(), lang)

    # "Done", then Back from "How long did it take?": the card again, and Back to the list.
    await winner.tap_inline(t(lang, "✔️ Done"))
    how_long = await winner.wait_reply()
    assert how_long["text"] == t(lang, "⏳ How long did it take?")
    await winner.tap_inline(t(lang, "⬅️ Back"))
    card = await winner.wait_reply()
    assert is_card(card, lang)
    await winner.tap_inline(t(lang, "⬅️ Back"), message_id=card["message_id"])
    assert (
        plain(t(lang, "📋 <b>Requests you are helping with</b>"))
        in (await winner.wait_reply())["text"]
    )
    async with sessions() as session:
        [order] = list(await session.scalars(select(Order)))
    assert order.status == "accepted"

    # The reminder carries the card's buttons; Done on it, then Back, shows the card there.
    await sweep(sessions, order.window_start - timedelta(minutes=30))
    await until(winner, t(lang, "⏰ In about an hour:"))
    reminder = next(
        m for m in reversed(winner.bot_messages()) if t(lang, "⏰ In about an hour:") in m["text"]
    )
    assert t(lang, "✔️ Done") in labels_of(reminder)
    await winner.tap_inline(t(lang, "✔️ Done"), message_id=reminder["message_id"])
    assert (await winner.wait_reply())["text"] == t(lang, "⏳ How long did it take?")
    await winner.tap_inline(t(lang, "⬅️ Back"), message_id=reminder["message_id"])
    card = await winner.wait_reply()
    assert card["message_id"] == reminder["message_id"] and is_card(card, lang)

    # "📋 My requests", where a resident's own requests are, leads there too for a volunteer.
    await winner.tap(t(lang, "📋 My requests"))
    mine = await winner.wait_reply()
    assert t(lang, "📋 Requests I am helping with") in labels_of(mine)
    await winner.tap_inline(t(lang, "📋 Requests I am helping with"), message_id=mine["message_id"])
    listed = await winner.wait_reply()
    assert listed["message_id"] == mine["message_id"] and NAMES[lang][0] in listed["text"]

    # Someone else's list is empty, and says where requests come from.
    other = helpers[1]
    await other.tap(t(lang, "🤝 Volunteering"))
    await other.wait_reply()
    await other.tap_inline(t(lang, "📋 Requests I am helping with"))
    assert t(lang, NONE_YET) in (await other.wait_reply())["text"]


@pytest.mark.parametrize("lang", LANGS)
async def test_a_stale_not_this_time_changes_nothing(person, sessions, client, lang) -> None:
    _resident, helpers, nudge = await accepted(person, sessions, lang)
    winner, other = helpers[0], helpers[1]
    decline = button_data(nudge, t(lang, "Not this time"))
    card = next(m for m in winner.bot_messages() if m["message_id"] == nudge["message_id"])
    assert is_card(card, lang)

    before = await snapshot(sessions)
    pressed = await client.press(winner.id, nudge["message_id"], decline, forged=True)
    answer = await client.callback_answer(pressed["callback_query_id"], timeout=10)
    assert answer["answer"]["text"] == t(lang, "You have already said yes to this one. Thank you!")
    await winner.expect_no_reply(within=0.5)
    card = next(m for m in winner.bot_messages() if m["message_id"] == nudge["message_id"])
    assert is_card(card, lang)
    assert await snapshot(sessions) == before

    # The same on a nudge someone else took: a kind word, and the message stays as it is.
    taken = t(lang, "Another volunteer has already said yes. Thank you all the same!")
    await until(other, taken)
    theirs = next(m for m in other.bot_messages() if taken in (m.get("text") or ""))
    async with sessions() as session:
        other_nudge = await session.scalar(
            select(Nudge.id).where(Nudge.member_id == await member_id(sessions, other))
        )
    other_decline = NudgeAnswer(nudge_id=other_nudge, accept=False).pack()
    pressed = await client.press(other.id, theirs["message_id"], other_decline, forged=True)
    answer = await client.callback_answer(pressed["callback_query_id"], timeout=10)
    assert answer["answer"]["text"] == taken
    await other.expect_no_reply(within=0.5)
    assert (
        taken
        in next(m for m in other.bot_messages() if m["message_id"] == theirs["message_id"])["text"]
    )
    assert await snapshot(sessions) == before


async def ask_at_home(resident: Persona, sessions, lang: str) -> None:
    await resident.tap(t(lang, "🙋 Ask for help"))
    await resident.wait_reply()
    await resident.tap(await category_label(sessions, "repairs", lang))
    await resident.wait_reply()
    await resident.tap(t(lang, "Skip ➡️"))
    await resident.wait_reply()
    await resident.tap(t(lang, "☀️ Tomorrow afternoon"))
    await resident.wait_reply()
    await resident.tap(t(lang, "🏠 My home"))
    await resident.wait_reply()
    await resident.tap_inline(t(lang, "✅ Send"))
    await resident.wait_reply()


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("way", ["nudge", "near me"])
async def test_help_at_home_without_an_address_says_to_ask_and_sends_no_pin(
    person, sessions, lang, way
) -> None:
    # The resident's home is known only as an area (as a shared location is kept at sign-up).
    resident, helpers = await nudged_volunteers(
        person, sessions, lang,
        home_latitude=NEAR_THE_VOLUNTEERS[0], home_longitude=NEAR_THE_VOLUNTEERS[1],
    )  # fmt: skip
    await ask_at_home(resident, sessions, lang)
    winner = helpers[0]
    if way == "nudge":
        assert (await sweep(sessions, utcnow())).nudged == len(helpers)
        await until(winner, t(lang, NUDGE))
        await winner.tap_inline(t(lang, "✅ Accept"))
    else:
        await winner.tap(t(lang, "📍 Near me"))
        await winner.wait_reply()
        await winner.tap_inline(t(lang, "✅ Accept {number}").format(number=1))
    card = await until(winner, t(lang, YOURS))
    name = NAMES[lang][0]
    ask = t(lang, "🏠 At {name}'s home. Please ask them for the exact address with the 💬 button.")
    assert ask.format(name=name) in card
    assert t(lang, "📍 At the location that was shared") not in card
    await winner.expect_no_reply(within=1.0)
    assert pins(winner) == []


@pytest.mark.parametrize("lang", LANGS)
async def test_help_at_home_with_the_address_kept_shows_it_and_sends_no_pin(
    person, sessions, lang
) -> None:
    home = {"zh_Hans": "罗山路 <12> 号 & 3 楼", "ko": "서울 마포구 <새창로> 11 & \"3층\"",
            "en": "12 <Luoshan> Road & flat 3"}[lang]  # fmt: skip
    resident, helpers = await nudged_volunteers(
        person, sessions, lang,
        address=home, home_latitude=NEAR_THE_VOLUNTEERS[0], home_longitude=NEAR_THE_VOLUNTEERS[1],
    )  # fmt: skip
    await ask_at_home(resident, sessions, lang)
    assert (await sweep(sessions, utcnow())).nudged == len(helpers)
    for h in helpers:
        await until(h, t(lang, NUDGE))
        assert home not in (h.last_text() or "")
    await helpers[0].tap_inline(t(lang, "✅ Accept"))
    card = await until(helpers[0], t(lang, YOURS))
    name = NAMES[lang][0]
    assert t(lang, "🏠 At {name}'s home: {address}").format(name=name, address=home) in card
    await helpers[0].expect_no_reply(within=1.0)
    assert pins(helpers[0]) == []
    for h in helpers[1:]:
        await until(h, t(lang, "Another volunteer has already said yes. Thank you all the same!"))
        assert pins(h) == []
