"""A coordinator sets up the branch from the chat, through the local Bot API server: forms a
volunteer team (its name in three languages, a leader, its members; a sticker where a name
was asked is met kindly, Back goes one step back) whom /team then shows; and marks a
neighbouring branch and lets the branch's requests go to its volunteers. In Chinese,
Korean and English."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core import catalog
from core.demo import BRANCHES
from core.models import Branch, BranchNeighbour, Team, TeamMember
from tests.bot.lang import t
from tests.bot.test_request_help import coordinator_member, member, member_id

PEOPLE = {
    "zh_Hans": ("周敏", "吴刚", "郑洁"),
    "ko": ("최유나", "정하늘", "<b>강</b>민호"),
    "en": ("Ruth", "Sam", "<b>Bo</b> & Co"),
}
NAMES = {"zh_Hans": "绿色环保队", "ko": "초록 환경 모임", "en": "Green helpers"}
MAPO = next(spec["names"] for spec in BRANCHES if spec["code"] == "mapo")


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
async def test_a_coordinator_forms_a_team_in_the_chat(person, sessions, lang) -> None:
    coordinator = await coordinator_member(person, sessions, "Li Wei", lang)
    leader_name, helper_name, other_name = PEOPLE[lang]
    volunteers = {}
    for name in PEOPLE[lang]:
        persona = await member(
            person, sessions, name, lang, branch="luoshan", is_resident=False, is_volunteer=True
        )
        volunteers[name] = (persona, await member_id(sessions, persona))

    await coordinator.command("/team")
    listed = await coordinator.wait_reply()
    await coordinator.tap_inline(t(lang, "➕ Form a team"), message_id=listed["message_id"])
    assert (await coordinator.wait_reply())["text"] == t(
        lang, "What is the new team called in Chinese?"
    )
    await coordinator.send_sticker()
    assert t(lang, "Please type the team's name.") in (await coordinator.wait_reply())["text"]
    await coordinator.send("x" * 65)
    assert (
        t(lang, "Please type a short name, up to 64 letters.")
        in (await coordinator.wait_reply())["text"]
    )
    await coordinator.send(NAMES["zh_Hans"])
    assert (await coordinator.wait_reply())["text"] == t(lang, "What is it called in Korean?")
    await coordinator.tap(t(lang, "⬅️ Back"))
    await coordinator.wait_reply()
    await coordinator.send(NAMES["zh_Hans"])
    await coordinator.wait_reply()
    await coordinator.send(NAMES["ko"])
    await coordinator.wait_reply()
    await coordinator.send(NAMES["en"])
    leader_question = await coordinator.wait_reply()
    assert leader_question["text"] == t(
        lang, "Who leads the team? The leader can write to its members."
    )
    await coordinator.tap(f"👤 {leader_name}")
    await coordinator.wait_reply()
    assert f"👤 {leader_name}" not in coordinator.keyboard_labels()
    for name in (helper_name, other_name, helper_name, helper_name):  # on, on, off, on
        await coordinator.tap(f"👤 {name}" if f"👤 {name}" in coordinator.keyboard_labels()
                              else f"✔️ 👤 {name}")  # fmt: skip
        await coordinator.wait_reply()
    assert f"✔️ 👤 {helper_name}" in coordinator.keyboard_labels()
    await coordinator.tap(t(lang, "✅ Done"))
    formed = await coordinator.wait_reply()
    assert (
        t(lang, "✅ The team {name} is formed, with {count} people. /team shows it.").format(
            name=NAMES[lang], count=3
        )
        == formed["text"]
    )
    await coordinator.send(t(lang, "✅ Done"))  # again: no wizard, no second team
    await coordinator.wait_reply()

    async with sessions() as session:
        [team] = list(await session.scalars(select(Team)))
        people = set(
            await session.scalars(select(TeamMember.member_id).where(TeamMember.team_id == team.id))
        )
    assert team.names == NAMES
    assert team.leader_id == volunteers[leader_name][1]
    assert people == {volunteers[name][1] for name in PEOPLE[lang]}
    leader = volunteers[leader_name][0]
    await leader.command("/team")
    mine = await leader.wait_reply()
    assert NAMES[lang] in leader.inline_labels(mine)


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
async def test_a_coordinator_sets_the_neighbouring_branches(person, sessions, lang) -> None:
    coordinator = await coordinator_member(person, sessions, "Li Wei", lang)
    mapo = catalog.localized(MAPO, lang)
    await coordinator.command("/branch")
    await coordinator.wait_reply()
    await coordinator.tap_inline(t(lang, "🤝 Neighbouring branches"))
    shown = await coordinator.wait_reply()
    assert f"▫️ {mapo}" in coordinator.inline_labels(shown)
    await coordinator.tap_inline(f"▫️ {mapo}")
    saved = await coordinator.wait_reply()
    assert t(lang, "✅ Saved.") in saved["text"]
    assert f"✅ {mapo}" in coordinator.inline_labels(saved)
    await coordinator.tap_inline(t(lang, "🔁 Ask the neighbours' volunteers too"))
    allowed = await coordinator.wait_reply()
    assert t(lang, "🔁 Stop asking the neighbours' volunteers") in coordinator.inline_labels(
        allowed
    )
    async with sessions() as session:
        luoshan = await catalog.branch_by_code(session, "luoshan")
        mapo_id = await session.scalar(select(Branch.id).where(Branch.code == "mapo"))
        rows = await session.execute(
            select(BranchNeighbour.branch_id, BranchNeighbour.neighbour_id)
        )
        pairs = set(rows.all())
    assert luoshan.match_neighbours
    assert pairs == {(luoshan.id, mapo_id), (mapo_id, luoshan.id)}
