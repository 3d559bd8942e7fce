"""Becoming a volunteer and being verified, through the local Bot API server: a resident
volunteers from "🤝 Volunteering", a volunteer signs up; the coordinator hears that they
wait, verifies them from the notice or the list, and they hear it; a coordinator's /help
and command menu. In Chinese, Korean and English."""

from __future__ import annotations

import asyncio

import pytest
from aiogram.types import BotCommandScopeChat
from sqlalchemy import select

from bot.app import create_bot
from bot.commands import TELEGRAM_CODES
from core import catalog
from core.models import Category, Member, OutboxMessage
from core.volunteers import CoordinatorOnly
from tests.bot.conftest import COORDINATOR_ID
from tests.bot.lang import t
from tests.bot.test_request_help import coordinator_member, member, member_id
from tests.bot.test_volunteer_journey import until

NAMES = {
    "zh_Hans": ("李伟", "王芳", "张伟"),
    "ko": ("이민호", "김영희", "박민수"),
    "en": ("Li Wei", "Margaret", "Tom"),
}
LANGS = ["zh_Hans", "ko", "en"]
RESIDENT_WELCOME = (
    "As a welcome, your passbook starts with {hours} of time credit: "
    "ask for help whenever you need it."
)
NEXT_STEP = (
    "What comes next: tap “{button}” and choose what you can help with. "
    "A coordinator will check your details and verify you; after that I will "
    "tell you when a neighbour near you needs help."
)
WAITING = (
    "🙋 {name} would like to volunteer and waits for you to verify them. "
    "Once you have, I will send them requests for help."
)
VERIFIED = (
    "✅ A coordinator has verified you. From now on I will send you requests for help "
    "that fit your skills and free times. You can change them any time under "
    "“🤝 Volunteering”."
)


@pytest.fixture(autouse=True)
def _no_scheduled_sweep(monkeypatch) -> None:
    monkeypatch.setenv("TIMEBANK_SWEEP_SECONDS", "0")


async def saved(sessions, persona) -> Member:
    async with sessions() as s:
        return await s.get(Member, await member_id(sessions, persona))


@pytest.mark.parametrize("lang", LANGS)
async def test_a_resident_becomes_a_volunteer_and_is_verified(person, sessions, lang) -> None:
    coordinator_name, resident_name, _ = NAMES[lang]
    coordinator = await coordinator_member(person, sessions, coordinator_name, lang)
    resident = await member(person, sessions, resident_name, lang, branch="luoshan")

    await resident.tap(t(lang, "🤝 Volunteering"))
    invitation = (await resident.wait_reply())["text"]
    assert t(lang, "Would you like to volunteer too?") in invitation
    assert resident.inline_labels() == [t(lang, "🙋 Become a volunteer")]

    await resident.tap_inline(t(lang, "🙋 Become a volunteer"))
    welcome = (await resident.wait_reply())["text"]
    assert welcome.startswith(
        t(lang, "🙌 Thank you for volunteering! A coordinator will verify you soon, "
                "and I will tell you when.")
    )  # fmt: skip
    assert welcome.endswith(t(lang, "What can you help with? Tap to choose."))
    async with sessions() as s:
        repairs = await s.scalar(select(Category).where(Category.code == "repairs"))
    skill = f"{repairs.emoji} {catalog.localized(repairs.names, lang)}"
    await resident.tap_inline(skill)
    await resident.wait_reply()
    assert "✅ " + skill in resident.inline_labels()
    await resident.tap_inline(t(lang, "⬅️ Back"))
    profile = (await resident.wait_reply())["text"]
    assert t(lang, "🕓 Waiting for a coordinator to verify you") in profile
    assert t(lang, "🔕 Nudges start once a coordinator has verified you") in profile
    assert t(lang, "🔔 Nudges on") not in profile
    row = await saved(sessions, resident)
    assert (row.is_resident, row.is_volunteer, row.verified) == (True, True, False)
    # Nobody verifies themselves with a forged button.
    forged = await resident.forge_tap(f"vfy:{row.id}")
    assert (forged["text"], forged["show_alert"]) == (t(lang, CoordinatorOnly.key), True)
    assert not (await saved(sessions, resident)).verified

    # The coordinator hears of it, and verifies from the notice itself.
    await until(coordinator, t(lang, WAITING).format(name=resident_name))
    verify = t(lang, "☑️ Verify {name}").format(name=resident_name)
    assert coordinator.inline_labels() == [verify]
    answer = await coordinator.tap_inline(verify)
    assert answer["text"] == t(lang, "Verified.")
    await until(coordinator, t(lang, "✅ {name} is verified. I have let them know.").format(
        name=resident_name))  # fmt: skip
    assert (await saved(sessions, resident)).verified

    await until(resident, t(lang, VERIFIED))
    await resident.tap(t(lang, "🤝 Volunteering"))
    profile = (await resident.wait_reply())["text"]
    assert t(lang, "✅ Verified") in profile and t(lang, "🔔 Nudges on") in profile

    # The button once more (a double tap): nobody is told twice.
    assert (await coordinator.forge_tap(f"vfy:{row.id}"))["text"] == t(lang, "Verified.")
    async with sessions() as s:
        told = await s.scalars(select(OutboxMessage.kind).where(
            OutboxMessage.member_id == row.id))  # fmt: skip
        assert list(told) == ["verified"]


@pytest.mark.parametrize("lang", LANGS)
async def test_a_volunteer_who_signs_up_waits_on_the_coordinators_list(
    person, sessions, lang
) -> None:
    coordinator_name, _, volunteer_name = NAMES[lang]
    coordinator = await coordinator_member(person, sessions, coordinator_name, lang)
    async with sessions() as s:
        luoshan = catalog.localized((await catalog.branch_by_code(s, "luoshan")).names, lang)
    tom = await person(volunteer_name, language_code={"zh_Hans": "zh-hans"}.get(lang, lang))
    await tom.command("/start")
    await tom.wait_reply()
    await tom.tap({"zh_Hans": "中文", "ko": "한국어", "en": "English"}[lang])
    await tom.wait_reply()
    await tom.send(volunteer_name)
    await tom.wait_reply()
    await tom.tap(luoshan)
    await tom.wait_reply()
    await tom.tap(t(lang, "🤝 I want to help"))
    await tom.wait_reply()
    await tom.tap(t(lang, "Skip ➡️"))
    await tom.wait_reply()
    await tom.tap(t(lang, "🏘 Choose my neighbourhood"))
    await tom.wait_reply()
    await tom.tap(tom.keyboard_labels()[0])
    done = (await tom.wait_reply())["text"]
    assert (await saved(sessions, tom)).onboarded_at is not None
    # A volunteer is told what comes next, not to ask for help as a resident would.
    assert t(lang, RESIDENT_WELCOME).split("{hours}")[-1] not in done
    next_step = t(lang, NEXT_STEP).format(button=t(lang, "🤝 Volunteering"))
    assert next_step in done

    await until(coordinator, t(lang, WAITING).format(name=volunteer_name))
    # The list of volunteers to verify says what a tap does.
    await coordinator.tap(t(lang, "🤝 Volunteering"))
    await coordinator.wait_reply()
    await coordinator.tap_inline(t(lang, "✅ Volunteers to verify"))
    assert (await coordinator.wait_reply())["text"] == t(lang, "Tap a volunteer to verify them.")
    verify = t(lang, "☑️ Verify {name}").format(name=volunteer_name)
    assert coordinator.inline_labels() == [verify, t(lang, "⬅️ Back")]
    assert (await coordinator.tap_inline(verify))["text"] == t(lang, "Verified.")
    assert (await coordinator.wait_reply())["text"] == t(lang, "Nobody is waiting to be verified.")
    await until(tom, t(lang, VERIFIED))
    await tom.tap(t(lang, "🤝 Volunteering"))
    assert t(lang, "🔔 Nudges on") in (await tom.wait_reply())["text"]


@pytest.mark.parametrize("lang", LANGS)
async def test_waiting_is_in_a_coordinators_help_and_menu_from_their_first_message(
    person, sessions, running_bot, lang
) -> None:
    coordinator_name, resident_name, _ = NAMES[lang]
    # The coordinator writes for the first time after the bot started: no chat existed
    # when the menus were set, so joining sets theirs.
    li = await person(coordinator_name, user_id=COORDINATOR_ID, language_code="de")
    bot = create_bot(running_bot.settings)
    scope = BotCommandScopeChat(chat_id=li.id)
    try:
        await li.command("/start")
        await li.wait_reply()  # the bot has started: whatever it set at start-up is set
        for code in (*TELEGRAM_CODES.values(), None):
            await bot.delete_my_commands(scope=scope, language_code=code)
        await li.tap({"zh_Hans": "中文", "ko": "한국어", "en": "English"}[lang])
        await li.wait_reply()
        for _ in range(50):
            mine = await bot.get_my_commands(scope=scope, language_code=TELEGRAM_CODES[lang])
            if mine:
                break
            await asyncio.sleep(0.1)
        # A Telegram in another language gets the menu in the bot's default language.
        other = await bot.get_my_commands(scope=scope)
    finally:
        await bot.session.close()
    waiting = [c.description for c in mine if c.command == "waiting"]
    assert waiting == [t(lang, "Requests waiting for a volunteer")]
    assert "waiting" in [c.command for c in other]

    resident = await member(person, sessions, resident_name, lang, branch="luoshan")
    await li.command("/help")
    coordinator_help = (await li.wait_reply())["text"]
    assert t(lang, "For coordinators:") + "\n/waiting – " in coordinator_help
    assert "/leaderboard – " + t(lang, "Hours given, and certificates") in coordinator_help
    await resident.command("/help")
    assert "/waiting" not in (await resident.wait_reply())["text"]
