"""The needs survey and volunteer teams in the chat, in Chinese, Korean and English: a
resident tells of a need by voice, a coordinator marks it done with a note and the resident
is told; a team leader writes to the team and its members read it."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select

from bot.kit.times import clock
from core import catalog, digests, teams
from core.db import transaction
from core.models import Member, Need, NeedCategory, NeedStatus
from tests.bot.lang import _i18n, t
from tests.bot.test_coordinator import plain
from tests.bot.test_request_help import coordinator_member, member, member_id, tap_shown
from tests.bot.test_volunteer_journey import until

NAMES = {
    "zh_Hans": ("王芳", "李伟", "张伟"),
    "ko": ("김영희", "이민호", "박민수"),
    "en": ("<b>&Tom</b>", "Li Wei", "Ann"),
}


async def need_label(sessions, lang: str) -> str:
    async with sessions() as session:
        category = await session.scalar(select(NeedCategory).where(NeedCategory.code == "health"))
    return catalog.localized(category.names, lang)


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
async def test_a_need_told_by_voice_is_marked_done_and_the_resident_told(
    person, sessions, lang
) -> None:
    resident_name, coordinator_name, _other = NAMES[lang]
    resident = await member(person, sessions, resident_name, lang, branch="luoshan")
    health = await need_label(sessions, lang)

    await resident.tap(t(lang, "📝 Tell us a need"))
    await tap_shown(resident, health)
    await resident.wait_reply()
    await resident.send_voice(duration=5)
    await tap_shown(resident, t(lang, "👤 With my name"))
    await until(resident, "✅")
    async with sessions() as session:
        need = await session.scalar(select(Need))
    assert need.voice_file_id and need.text == "" and not need.anonymous

    coordinator = await coordinator_member(person, sessions, coordinator_name, lang)
    await coordinator.command("/needs")
    overview = await coordinator.wait_reply()
    assert f"{health}: 🆕 1" in overview["text"]
    await coordinator.tap_inline(f"{health} (1)")
    listed = await coordinator.wait_reply()
    assert resident_name in listed["text"]  # escaped: shown as typed, not as markup
    await coordinator.tap_inline("1. " + t(lang, "(voice message)"))
    await coordinator.wait_reply()
    await coordinator.tap_inline(t(lang, "✅ Done"))
    await coordinator.wait_reply()
    await coordinator.send("Fixed on Monday")
    await until(
        coordinator, t(lang, "Saved. I am telling {count} people who asked.").format(count=1)
    )

    told = await until(resident, "Fixed on Monday", timeout=20)
    assert (
        t(lang, "✅ Good news about the need you told us of ({category}): it is done.").format(
            category=health
        )
        in told
    )
    async with sessions() as session:
        assert (await session.get(Need, need.id)).status == NeedStatus.DONE


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
async def test_a_team_leader_writes_to_the_team(person, sessions, lang) -> None:
    leader_name, coordinator_name, other_name = NAMES[lang]
    leader = await member(
        person, sessions, leader_name, lang, branch="luoshan", is_resident=False,
        is_volunteer=True,
    )  # fmt: skip
    other = await member(person, sessions, other_name, lang, branch="luoshan")
    coordinator = await coordinator_member(person, sessions, coordinator_name, lang)
    names = {"zh_Hans": "绿队", "ko": "초록 팀", "en": "Green team"}
    async with transaction(sessions, write=True) as session:
        await teams.create_team(
            session,
            coordinator_id=await member_id(sessions, coordinator),
            branch_id=(await session.get(Member, await member_id(sessions, coordinator))).branch_id,
            names=names,
            leader_id=await member_id(sessions, leader),
            member_ids=[await member_id(sessions, other)],
            key="test:team",
        )

    await leader.command("/team")
    await leader.wait_reply()
    await leader.tap_inline(names[lang])
    team = await leader.wait_reply()
    assert other_name in team["text"] and leader_name in team["text"]
    await leader.tap_inline(t(lang, "✉️ Write to the team"))
    await leader.wait_reply()
    await leader.send("Meet at 9 <tomorrow> & bring gloves")
    await until(leader, t(lang, "📨 Sent to {count} members of the team.").format(count=1))

    said = await until(other, "Meet at 9 <tomorrow> & bring gloves", timeout=20)
    assert (
        t(lang, "👥 {name} writes to your team {team}:").format(name=leader_name, team=names[lang])
        in said
    )


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
async def test_a_weekly_digest_once_per_week_after_a_restart(
    person, sessions, running_bot, lang
) -> None:
    name, _coordinator, _other = NAMES[lang]
    reader = await member(person, sessions, name, lang, branch="luoshan")
    await reader.command("/digest")
    await reader.wait_reply()
    with _i18n().context(), _i18n().use_locale(lang):
        nine = clock(time(9))
    await reader.tap_inline(nine)
    await until(
        reader,
        t(lang, "You get it on Mondays at {time}. Tap another time to change it.").format(
            time=nine
        ),
    )
    assert "✅ " + nine in reader.inline_labels(reader.bot_messages()[-1])
    reader_id = await member_id(sessions, reader)
    async with sessions() as session:
        assert (await digests.subscription_of(session, reader_id)).local_hour == 9

    # Monday 7 December 2026, 09:30 in Shanghai; the bot restarts between two sweeps.
    monday = datetime(2026, 12, 7, 1, 30, tzinfo=UTC)
    async with transaction(sessions, write=True) as session:
        assert await digests.queue_due_digests(session, monday) == 1
    await running_bot.restart()
    async with transaction(sessions, write=True) as session:
        assert await digests.queue_due_digests(session, monday + timedelta(hours=5)) == 0
    headline = plain(lang, "📰 <b>This week in your time bank</b>")
    await until(reader, headline, timeout=20)
    await reader.expect_no_reply(within=1.0)
    assert sum(headline in (m.get("text") or "") for m in reader.bot_messages()) == 1


async def test_the_need_wizard_goes_back_reprompts_and_cancels(person, sessions) -> None:
    resident = await member(person, sessions, "Ann", "en", branch="luoshan")
    health = await need_label(sessions, "en")
    await resident.command("/need")
    await tap_shown(resident, health)
    await resident.wait_reply()
    await resident.send_sticker()
    assert (
        t("en", "Please type a few words, or send a voice message.")
        in (await resident.wait_reply())["text"]
    )
    await resident.tap(t("en", "⬅️ Back"))
    assert (await resident.wait_reply())["text"] == t("en", "What is the need about?")
    await tap_shown(resident, health)
    await resident.wait_reply()
    await resident.send("x" * 1200)
    assert "1000" in (await resident.wait_reply())["text"]
    await resident.tap(t("en", "✖️ Cancel"))
    assert (await resident.wait_reply())["text"] == t("en", "Okay, nothing was recorded.")
    async with sessions() as session:
        assert await session.scalar(select(Need)) is None


async def test_a_coordinator_goes_back_to_whose_need_it_is(person, sessions) -> None:
    coordinator = await coordinator_member(person, sessions, "Li Wei", "en")
    health = await need_label(sessions, "en")
    whom_q, name_q = t("en", "Whose need is it?"), t("en", "Please type the resident's name.")
    about_q = t("en", "What is the need about?")

    async def said_to(send) -> str:
        await send
        return (await coordinator.wait_reply())["text"]

    await coordinator.command("/need")
    await until(coordinator, whom_q)
    said = await said_to(coordinator.send_sticker())
    assert t("en", "Please choose one of the buttons below.") in said and whom_q in said
    assert await said_to(coordinator.tap(t("en", "🙋 A need of my own"))) == about_q
    assert await said_to(coordinator.tap(t("en", "⬅️ Back"))) == whom_q
    assert await said_to(coordinator.tap(t("en", "🏠 For a resident"))) == name_q
    said = await said_to(coordinator.send("x" * 4096))
    assert t("en", "I found nobody of that name here.") in said and name_q in said
    said = await said_to(coordinator.send_sticker())
    assert t("en", "Please answer with a short text.") in said and name_q in said
    assert await said_to(coordinator.tap(t("en", "⬅️ Back"))) == whom_q
    assert await said_to(coordinator.tap(t("en", "🙋 A need of my own"))) == about_q
    await tap_shown(coordinator, health)
    await coordinator.wait_reply()
    said = await said_to(coordinator.send("x" * 4096))
    assert "1000" in said
    assert await said_to(coordinator.tap(t("en", "✖️ Cancel"))) == t(
        "en", "Okay, nothing was recorded."
    )
    async with sessions() as session:
        assert await session.scalar(select(Need)) is None
