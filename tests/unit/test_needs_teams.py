"""The needs survey and volunteer teams: recording, counting, merging, marking with the
raisers told through the outbox; teams in three languages and the leader's message."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core import needs, teams
from core.coordinators import CoordinatorOnly
from core.db import transaction, utcnow
from core.demo import seed_demo
from core.errors import InvalidInput, NotFound
from core.models import Branch, Identity, Member, Need, NeedStatus, OutboxMessage, Team, TeamMember
from core.notices import Kind


async def _people(sessions) -> dict[str, int]:
    async with transaction(sessions, write=True) as s:
        await seed_demo(s)
        ids = {}
        for key, tid in (("resident", "900001"), ("volunteer", "900002"), ("coord", "900003")):
            ids[key] = await s.scalar(select(Identity.member_id).where(Identity.external_id == tid))
        luoshan = await s.scalar(select(Branch.id).where(Branch.code == "luoshan"))
        mapo = await s.scalar(select(Branch.id).where(Branch.code == "mapo"))
        extra = [
            Member(name="Zhao Lei", branch_id=luoshan, is_resident=True),
            Member(name="Sun Mei", branch_id=luoshan, is_volunteer=True),
            Member(name="Park", branch_id=mapo, is_volunteer=True),
        ]
        s.add_all(extra)
        await s.flush()
        ids.update(neighbour=extra[0].id, helper=extra[1].id, stranger=extra[2].id)
        ids["branch"], ids["mapo"] = luoshan, mapo
        categories = await needs.ensure_need_categories(s, luoshan)
        ids["health"] = next(c.id for c in categories if c.code == "health")
        ids["safety"] = next(c.id for c in categories if c.code == "safety")
        ids["mapo_health"] = next(
            c.id for c in await needs.ensure_need_categories(s, mapo) if c.code == "health"
        )
    return ids


async def _outbox(sessions, kind: str) -> list[OutboxMessage]:
    async with sessions() as s:
        return list(
            await s.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
            )
        )


async def test_nine_categories_once(sessions) -> None:
    ids = await _people(sessions)
    async with transaction(sessions, write=True) as s:
        again = await needs.ensure_need_categories(s, ids["branch"])
    assert [c.code for c in again] == [code for code, _ in needs.NINE]
    assert all(set(c.names) == {"zh_Hans", "ko", "en"} for c in again)


async def test_raise_by_text_or_voice_anonymously_or_at_a_stall(sessions) -> None:
    ids = await _people(sessions)
    async with transaction(sessions, write=True) as s:
        spoken = await needs.raise_need(
            s, member_id=ids["resident"], category_id=ids["health"], key="n1",
            voice_file_id="voice-1", anonymous=True,
        )  # fmt: skip
        again = await needs.raise_need(
            s, member_id=ids["resident"], category_id=ids["health"], key="n1", text="other"
        )
        assert again.id == spoken.id
        at_stall = await needs.raise_need(
            s, member_id=ids["neighbour"], category_id=ids["health"], key="n2",
            text="  A  doctor's   visit  ", recorded_by_id=ids["coord"],
        )  # fmt: skip
        assert at_stall.text == "A doctor's visit"
        with pytest.raises(InvalidInput):
            await needs.raise_need(
                s, member_id=ids["resident"], category_id=ids["health"], key="n3"
            )
        with pytest.raises(InvalidInput):
            await needs.raise_need(
                s, member_id=ids["resident"], category_id=ids["health"], key="n4",
                text="x" * 1001,
            )  # fmt: skip
        with pytest.raises(NotFound):  # another branch's category
            await needs.raise_need(
                s, member_id=ids["resident"], category_id=ids["mapo_health"], key="n5", text="x"
            )
        with pytest.raises(CoordinatorOnly):
            await needs.raise_need(
                s, member_id=ids["neighbour"], category_id=ids["health"], key="n6", text="x",
                recorded_by_id=ids["volunteer"],
            )  # fmt: skip
        rows = await needs.list_needs(s, ids["branch"])
    by_id = {row.need_id: row for row in rows}
    assert by_id[spoken.id].raised_by is None and by_id[spoken.id].has_voice
    assert by_id[at_stall.id].raised_by == "Zhao Lei"


async def test_counts_trend_merge_and_mark_tell_every_raiser(sessions) -> None:
    ids = await _people(sessions)
    async with transaction(sessions, write=True) as s:
        first = await needs.raise_need(
            s, member_id=ids["resident"], category_id=ids["safety"], key="a", text="Street light"
        )
        second = await needs.raise_need(
            s, member_id=ids["neighbour"], category_id=ids["safety"], key="b", text="Dark lane"
        )
        third = await needs.raise_need(
            s, member_id=ids["helper"], category_id=ids["safety"], key="c", text="No light"
        )
        old = await needs.raise_need(
            s, member_id=ids["helper"], category_id=ids["health"], key="d", text="Clinic"
        )
        old.created_at = utcnow() - timedelta(days=40)
        await needs.merge_needs(
            s, coordinator_id=ids["coord"], keep_id=second.id, duplicate_ids=[third.id]
        )
        # Folding the kept one into another carries what was folded into it.
        await needs.merge_needs(
            s, coordinator_id=ids["coord"], keep_id=first.id, duplicate_ids=[second.id]
        )
        with pytest.raises(CoordinatorOnly):
            await needs.merge_needs(
                s, coordinator_id=ids["volunteer"], keep_id=first.id, duplicate_ids=[old.id]
            )
        counts = {c.category.code: c for c in await needs.needs_by_category(s, ids["branch"])}
        assert (counts["safety"].open, counts["safety"].total, counts["safety"].last_days) == (
            1, 1, 1,
        )  # fmt: skip
        assert (counts["health"].last_days, counts["health"].days_before) == (0, 1)
        assert counts["education"].total == 0
        rows = await needs.list_needs(s, ids["branch"], ids["safety"])
        assert [(r.need_id, r.merged) for r in rows] == [(first.id, 2)]
        told = await needs.mark_need(
            s, coordinator_id=ids["coord"], need_id=first.id, status=NeedStatus.PLANNED,
            note="Lights ordered for March", key="k1",
        )  # fmt: skip
        assert told == 3
        again = await needs.mark_need(
            s, coordinator_id=ids["coord"], need_id=first.id, status=NeedStatus.PLANNED,
            note="Lights ordered for March", key="k1",
        )  # fmt: skip
        assert again == 3
        with pytest.raises(needs.CannotMerge):
            await needs.mark_need(
                s, coordinator_id=ids["coord"], need_id=third.id, status=NeedStatus.DONE,
                note="", key="k2",
            )  # fmt: skip
        assert (await s.get(Need, third.id)).merged_into_id == first.id
    messages = await _outbox(sessions, Kind.NEED_UPDATE)
    assert sorted(m.member_id for m in messages) == sorted(
        [ids["resident"], ids["neighbour"], ids["helper"]]
    )
    assert {m.payload["status"] for m in messages} == {"planned"}
    assert messages[0].payload["note"] == "Lights ordered for March"


NAMES = {"zh_Hans": "平安巡逻队", "ko": "안전 순찰대", "en": "Safety patrol"}


async def test_a_retried_team_is_formed_once(sessions) -> None:
    """The wizard's last step again, with the same key (a redelivered update after the
    first commit): the first team comes back, nothing new is made, other choices ignored."""
    ids = await _people(sessions)
    formed = []
    for member_ids in ([ids["helper"]], [ids["helper"], ids["resident"]]):
        async with transaction(sessions, write=True) as s:
            team = await teams.create_team(
                s, coordinator_id=ids["coord"], branch_id=ids["branch"], names=NAMES,
                leader_id=ids["volunteer"], member_ids=member_ids, key="tg-team:abc",
            )  # fmt: skip
            formed.append(team.id)
    async with sessions() as s:
        assert list((await s.execute(select(Team.id))).scalars()) == [formed[0]] == [formed[1]]
        members = (await s.execute(select(TeamMember.member_id))).scalars()
        assert sorted(members) == sorted([ids["volunteer"], ids["helper"]])
    async with transaction(sessions, write=True) as s:
        other = await teams.create_team(
            s, coordinator_id=ids["coord"], branch_id=ids["branch"], names=NAMES,
            leader_id=ids["volunteer"], member_ids=[], key="tg-team:def",
        )  # fmt: skip
    assert other.id != formed[0]


async def test_a_team_in_three_languages_and_its_leaders_message(sessions) -> None:
    ids = await _people(sessions)
    async with transaction(sessions, write=True) as s:
        with pytest.raises(teams.TeamNameInvalid):
            await teams.create_team(
                s, coordinator_id=ids["coord"], branch_id=ids["branch"], names={"en": "Patrol"},
                leader_id=ids["volunteer"], member_ids=[], key="test:team:bad-name",
            )  # fmt: skip
        with pytest.raises(teams.NotOfTheBranch):
            await teams.create_team(
                s, coordinator_id=ids["coord"], branch_id=ids["branch"], names=NAMES,
                leader_id=ids["volunteer"], member_ids=[ids["stranger"]], key="test:team:stranger",
            )  # fmt: skip
    async with transaction(sessions, write=True) as s:
        with pytest.raises(CoordinatorOnly):
            await teams.create_team(
                s, coordinator_id=ids["volunteer"], branch_id=ids["branch"], names=NAMES,
                leader_id=ids["volunteer"], member_ids=[], key="test:team:not-coordinator",
            )  # fmt: skip
        team = await teams.create_team(
            s, coordinator_id=ids["coord"], branch_id=ids["branch"], names=NAMES,
            leader_id=ids["volunteer"], member_ids=[ids["helper"], ids["resident"]],
            key="test:team",
        )  # fmt: skip
        await teams.add_member(s, team_id=team.id, by_id=ids["volunteer"], member_id=ids["coord"])
        await teams.remove_member(s, team_id=team.id, by_id=ids["coord"], member_id=ids["resident"])
        assert [m.id for m in await teams.members_of(s, team.id)] == sorted(
            [ids["volunteer"], ids["helper"], ids["coord"]],
            key=lambda i: {ids["volunteer"]: "김민지", ids["helper"]: "Sun Mei",
                           ids["coord"]: "Li Wei"}[i],
        )  # fmt: skip
        assert [t.id for t in await teams.teams_of(s, ids["helper"])] == [team.id]
        with pytest.raises(teams.LeaderOnly):
            await teams.message_team(
                s, team_id=team.id, sender_id=ids["helper"], text="hi", key="m0"
            )
        sent = await teams.message_team(
            s, team_id=team.id, sender_id=ids["volunteer"], text=" Patrol at 7 tonight ",
            key="m1",
        )  # fmt: skip
        repeated = await teams.message_team(
            s, team_id=team.id, sender_id=ids["volunteer"], text="Patrol at 7 tonight", key="m1"
        )
    assert (sent, repeated) == (2, 0)
    async with sessions() as s:
        assert len(await teams.teams_of(s, ids["volunteer"])) == 1  # the refused ones left none
    messages = await _outbox(sessions, Kind.TEAM_MESSAGE)
    assert sorted(m.member_id for m in messages) == sorted([ids["helper"], ids["coord"]])
    assert messages[0].payload == {"team": NAMES, "sender": "김민지", "text": "Patrol at 7 tonight"}
