"""Broadcasts: audience counts, composing, steering, expansion that survives a kill, lanes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core import broadcasts, outbox
from core.broadcasts import Audience, Button, Draft, Near
from core.broadcasts.compose import NoText, SendTimeInPast, WrongState, split_text
from core.broadcasts.delivery import expand_chunk, finish_done, start_due
from core.config import load_settings
from core.db import transaction
from core.ledger import atomically
from core.models import (
    BlockedMember,
    Branch,
    Category,
    Identity,
    Member,
    Neighbourhood,
    OutboxMessage,
    OutboxStatus,
    VolunteerProfile,
)
from core.volunteers import CoordinatorOnly

NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)  # 10:00 in Qingdao
TEXTS = {
    "zh_Hans": "友邻集市本周六开市",
    "ko": "이번 토요일에 이웃 장터가 열려요",
    "en": "Market on Saturday",
}


async def _branch(session, code: str, time_zone: str = "Asia/Shanghai") -> Branch:
    branch = Branch(
        code=code, names={"en": code}, time_zone=time_zone, default_language="zh_Hans",
        latitude=36.1, longitude=120.47,
    )  # fmt: skip
    session.add(branch)
    await session.flush()
    return branch


async def _member(session, branch: Branch, name: str, *, chat: bool = True, **fields) -> Member:
    fields.setdefault("is_resident", True)
    member = Member(name=name, branch_id=branch.id, **fields)
    session.add(member)
    await session.flush()
    if chat:
        session.add(Identity(platform="telegram", external_id=f"c{member.id}", member_id=member.id))
        await session.flush()
    return member


@pytest.fixture
async def world(sessions):
    """A Qingdao branch: a coordinator, 30 residents reading zh/ko/en (every tenth has no
    language: the branch's), one opted out, one blocked, one without a phone, one erased;
    and another branch with its own coordinator."""
    async with transaction(sessions, write=True) as session:
        branch = await _branch(session, "dongcheng")
        other = await _branch(session, "mapo", "Asia/Seoul")
        north = Neighbourhood(
            branch_id=branch.id, code="north", names={"en": "North"},
            latitude=36.11, longitude=120.47,
        )  # fmt: skip
        session.add(north)
        category = Category(code="repairs", names={"en": "Repairs"})
        session.add(category)
        await session.flush()
        coordinator = await _member(
            session, branch, "Coordinator", is_coordinator=True, is_resident=False, language="en"
        )
        stranger = await _member(session, other, "Other coordinator", is_coordinator=True)
        languages = ["zh_Hans", "ko", "en"]
        residents = []
        for n in range(30):
            residents.append(
                await _member(
                    session,
                    branch,
                    f"R{n}",
                    language=None if n % 10 == 9 else languages[n % 3],
                    neighbourhood_id=north.id if n < 10 else None,
                )
            )
        residents[0].announcements = False
        session.add(BlockedMember(member_id=residents[1].id, platform="telegram"))
        await _member(session, branch, "No phone", chat=False)
        erased = await _member(session, branch, "Gone")
        erased.erased_at = NOW
        volunteer = await _member(
            session, branch, "Fixer", is_volunteer=True, is_resident=False, language="ko",
            home_latitude=36.3, home_longitude=120.47,
        )  # fmt: skip
        session.add(
            VolunteerProfile(member_id=volunteer.id, branch_id=branch.id, skills=1 << category.id)
        )
        await session.flush()
        return {
            "branch": branch.id,
            "other": other.id,
            "coordinator": coordinator.id,
            "stranger": stranger.id,
            "residents": [r.id for r in residents],
            "volunteer": volunteer.id,
            "north": north.id,
            "category": category.id,
        }


def _draft(world, **fields) -> Draft:
    fields.setdefault("texts", TEXTS)
    fields.setdefault("audience", Audience(branch_ids=(world["branch"],)))
    return Draft(**fields)


async def test_count_leaves_out_opted_out_blocked_phoneless_and_erased(sessions, world) -> None:
    async with transaction(sessions) as session:
        counted = await broadcasts.count_audience(session, world["coordinator"], _draft(world))
    # 30 residents + the coordinator + the volunteer; less one opted out and one blocked.
    assert counted.total == 30
    assert (counted.opted_out, counted.blocked) == (1, 1)
    # R0 (zh) opted out, R1 (ko) blocked; R9, R19, R29 read the branch's zh_Hans; the
    # coordinator reads English, the volunteer Korean.
    assert counted.by_language == {"zh_Hans": 11, "ko": 9, "en": 10}


async def test_an_empty_language_is_not_sent_unless_a_fallback_is_named(sessions, world) -> None:
    texts = {"zh_Hans": TEXTS["zh_Hans"], "ko": "", "en": TEXTS["en"]}
    async with transaction(sessions) as session:
        without = await broadcasts.count_audience(
            session, world["coordinator"], _draft(world, texts=texts)
        )
        with_fallback = await broadcasts.count_audience(
            session, world["coordinator"], _draft(world, texts=texts, fallback_language="zh_Hans")
        )
        with pytest.raises(NoText):
            await broadcasts.count_audience(
                session, world["coordinator"], _draft(world, texts={"en": "  "})
            )
    assert without.by_language == {"zh_Hans": 11, "en": 10}
    assert without.without_text == {"ko": 9}
    assert with_fallback.by_language == {"zh_Hans": 20, "en": 10}
    assert with_fallback.without_text == {}


async def test_audience_filters(sessions, world) -> None:
    async def total(**audience) -> int:
        async with transaction(sessions) as session:
            draft = _draft(world, audience=Audience(branch_ids=(world["branch"],), **audience))
            return (await broadcasts.count_audience(session, world["coordinator"], draft)).total

    assert await total(roles=("volunteer",)) == 1
    assert await total(roles=("coordinator", "volunteer")) == 2
    assert await total(languages=("en",)) == 10
    assert await total(neighbourhood_ids=(world["north"],)) == 8  # R0..R9 less R0, R1
    assert await total(skill_id=world["category"]) == 1
    # About 1.1 km around the neighbourhood's centre: the north residents; not the volunteer
    # 20 km away.
    assert await total(near=Near(36.11, 120.47, 2000)) == 8
    assert await total(near=Near(36.3, 120.47, 2000)) == 1


async def test_another_branchs_coordinator_and_residents_are_refused(sessions, world) -> None:
    async with transaction(sessions, write=True) as session:
        for who in (world["stranger"], world["residents"][5]):
            with pytest.raises(CoordinatorOnly):
                await broadcasts.create(session, who, _draft(world), key=f"k{who}")
        broadcast_id = await broadcasts.create(
            session, world["coordinator"], _draft(world), key="draft-1"
        )
        assert (
            await broadcasts.create(session, world["coordinator"], _draft(world), key="draft-1")
            == broadcast_id
        )
        with pytest.raises(CoordinatorOnly):
            await broadcasts.send(session, broadcast_id, world["stranger"], now=NOW)
        with pytest.raises(CoordinatorOnly):
            await broadcasts.history(session, world["branch"], world["stranger"])


async def _sent_now(sessions, world, key: str = "b", **fields) -> int:
    async with transaction(sessions, write=True) as session:
        broadcast_id = await broadcasts.create(
            session, world["coordinator"], _draft(world, **fields), key=key
        )
        await broadcasts.send(session, broadcast_id, world["coordinator"], now=NOW)
        return broadcast_id


async def _deliveries(sessions, broadcast_id: int) -> list[tuple[int, str]]:
    async with transaction(sessions) as session:
        rows = await session.execute(
            select(OutboxMessage.member_id, OutboxMessage.key).where(
                OutboxMessage.kind == "broadcast"
            )
        )
        return sorted(tuple(row) for row in rows)


class Killed(Exception):
    pass


async def test_expansion_killed_halfway_resumes_with_nobody_twice_and_nobody_skipped(
    sessions, world
) -> None:
    broadcast_id = await _sent_now(sessions, world)
    await atomically(sessions, lambda s: expand_chunk(s, broadcast_id, chunk=7, now=NOW))

    async def killed_mid_chunk(session) -> None:
        await expand_chunk(session, broadcast_id, chunk=7, now=NOW)
        raise Killed()

    with pytest.raises(Killed):
        await atomically(sessions, killed_mid_chunk)
    # A restart: two schedulers sweep at once, as after a crash with two processes up.
    await asyncio.gather(broadcasts.sweep(sessions, NOW), broadcasts.sweep(sessions, NOW))

    sent = await _deliveries(sessions, broadcast_id)
    members = [member_id for member_id, _key in sent]
    assert len(members) == len(set(members)) == 30
    reachable = set(world["residents"][2:]) | {world["coordinator"], world["volunteer"]}
    assert set(members) == reachable
    async with transaction(sessions) as session:
        broadcast = await session.get(broadcasts.Broadcast, broadcast_id)
        assert broadcast.total == 30 and broadcast.expanded_at is not None
    # Sweeping again changes nothing.
    assert await broadcasts.sweep(sessions, NOW) == 0
    assert len(await _deliveries(sessions, broadcast_id)) == 30


async def test_replies_go_before_the_next_broadcast_message(sessions, world) -> None:
    await _sent_now(sessions, world)
    await broadcasts.sweep(sessions, NOW)
    async with transaction(sessions, write=True) as session:
        await outbox.enqueue(
            session, key="reply", member_id=world["residents"][3], kind="nudge",
            not_before=NOW + timedelta(seconds=1),
        )  # fmt: skip
    async with transaction(sessions) as session:
        first = await outbox.due(session, limit=3, now=NOW + timedelta(seconds=2))
    assert [c.kind for c in first] == ["nudge", "broadcast", "broadcast"]


async def _finish(sessions, status: str, member_ids: list[int]) -> None:
    async with transaction(sessions, write=True) as session:
        await session.execute(
            OutboxMessage.__table__.update()
            .where(OutboxMessage.kind == "broadcast", OutboxMessage.member_id.in_(member_ids))
            .values(status=status)
        )


async def test_pause_resume_cancel_and_progress(sessions, world) -> None:
    coordinator = world["coordinator"]
    broadcast_id = await _sent_now(sessions, world)
    await broadcasts.sweep(sessions, NOW)
    residents = world["residents"]
    await _finish(sessions, OutboxStatus.SENT, residents[2:12])
    await _finish(sessions, OutboxStatus.BLOCKED, residents[12:13])

    async with transaction(sessions, write=True) as session:
        await broadcasts.pause(session, broadcast_id, coordinator)
        with pytest.raises(WrongState):
            await broadcasts.pause(session, broadcast_id, coordinator)
        assert await outbox.due(session, limit=5, now=NOW) == []
        seen = await broadcasts.progress(session, broadcast_id, coordinator, rate=10)
    assert (seen.status, seen.total, seen.sent, seen.waiting) == ("paused", 30, 10, 19)
    assert seen.not_delivered == {"blocked": 1}
    assert seen.eta_seconds is None

    async with transaction(sessions, write=True) as session:
        await broadcasts.resume(session, broadcast_id, coordinator)
        seen = await broadcasts.progress(session, broadcast_id, coordinator, rate=10)
        assert seen.eta_seconds == 2
        waiting = await outbox.due(session, limit=50, now=NOW)
        assert len(waiting) == 19
        assert await outbox.claim(session, waiting[0].id, now=NOW)
        await broadcasts.cancel(session, broadcast_id, coordinator, now=NOW)
        with pytest.raises(WrongState):
            await broadcasts.resume(session, broadcast_id, coordinator)
        # What was left pending is not claimed any more.
        assert not await outbox.claim(session, waiting[1].id, now=NOW)
    # A message claimed was on its way; a new broadcast's pending ones are skipped.
    second = await _sent_now(sessions, world, key="second")
    await broadcasts.sweep(sessions, NOW)
    async with transaction(sessions, write=True) as session:
        await broadcasts.cancel(session, second, coordinator, now=NOW)
        seen = await broadcasts.progress(session, second, coordinator)
    assert seen.not_delivered == {"cancelled": 30} and seen.done


async def test_a_message_in_flight_at_a_kill_is_counted_sent_once_its_claim_is_settled(
    sessions, world
) -> None:
    """Killed between a request leaving and its answer being recorded, the bot left one
    message claimed: the progress counts it as on its way, then (its lease out) as sent,
    unconfirmed; then the broadcast is done. Nobody is sent it again."""
    coordinator = world["coordinator"]
    broadcast_id = await _sent_now(sessions, world)
    await broadcasts.sweep(sessions, NOW)
    async with transaction(sessions, write=True) as session:
        lane = outbox.Priority.BROADCAST
        [in_flight, *others] = await outbox.due(session, limit=50, priority=lane, now=NOW)
        assert await outbox.claim(session, in_flight.id, now=NOW)
        await session.execute(
            OutboxMessage.__table__.update()
            .where(OutboxMessage.id.in_([m.id for m in others]))
            .values(status=OutboxStatus.SENT)
        )
    async with transaction(sessions, write=True) as session:
        seen = await broadcasts.progress(session, broadcast_id, coordinator)
        assert (seen.sent, seen.waiting) == (seen.total - 1, 1)
        assert await finish_done(session, NOW) == []
        later = NOW + outbox.LEASE + timedelta(seconds=1)
        assert await outbox.settle_unconfirmed(session, later) == [in_flight.id]
        assert await outbox.due(session, limit=50, now=later) == []
        seen = await broadcasts.progress(session, broadcast_id, coordinator)
        assert (seen.sent, seen.waiting, seen.not_delivered) == (seen.total, 0, {})
        assert await finish_done(session, later) == [broadcast_id]


async def test_final_report_counts_per_language_and_goes_to_the_author(sessions, world) -> None:
    coordinator = world["coordinator"]
    broadcast_id = await _sent_now(sessions, world)
    await broadcasts.sweep(sessions, NOW)
    await _finish(sessions, OutboxStatus.SENT, world["residents"][3:])
    await broadcasts.sweep(sessions, NOW)
    async with transaction(sessions) as session:
        assert (await session.get(broadcasts.Broadcast, broadcast_id)).status == "sending"
    await _finish(
        sessions, OutboxStatus.BLOCKED, [world["residents"][2], coordinator, world["volunteer"]]
    )
    await broadcasts.sweep(sessions, NOW)
    await broadcasts.sweep(sessions, NOW)
    async with transaction(sessions) as session:
        seen = await broadcasts.progress(session, broadcast_id, coordinator)
        reports = list(
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == "broadcast_report")
            )
        )
    assert seen.status == "done" and (seen.sent, seen.total) == (27, 30)
    assert seen.by_language["zh_Hans"].total == 11
    assert seen.by_language["ko"] == broadcasts.delivery.LanguageFigures(9, 8, 1)
    assert [(r.member_id, r.payload) for r in reports] == [
        (coordinator, {"broadcast_id": broadcast_id})
    ]


async def test_scheduled_in_branch_time_and_started_by_the_sweep(sessions, world) -> None:
    async with transaction(sessions, write=True) as session:
        broadcast_id = await broadcasts.create(
            session, world["coordinator"], _draft(world), key="later"
        )
        with pytest.raises(SendTimeInPast):
            await broadcasts.send(
                session, broadcast_id, world["coordinator"], at=datetime(2026, 12, 3, 9, 0),
                now=NOW,
            )  # fmt: skip
        status = await broadcasts.send(
            session, broadcast_id, world["coordinator"], at=datetime(2026, 12, 3, 18, 30), now=NOW
        )
        assert status == "scheduled"
        assert await start_due(session, NOW + timedelta(hours=8, minutes=29)) == 0
        assert await outbox.by_key(session, f"broadcast_progress:{broadcast_id}") is None
        assert await start_due(session, NOW + timedelta(hours=8, minutes=30)) == 1
        assert await start_due(session, NOW + timedelta(hours=8, minutes=31)) == 0
        progress = await outbox.by_key(session, f"broadcast_progress:{broadcast_id}")
        assert progress is not None and progress.member_id == world["coordinator"]
        assert await finish_done(session, NOW) == []


async def test_ill_come_counts_once_and_only_for_recipients(sessions, world) -> None:
    broadcast_id = await _sent_now(sessions, world)
    await broadcasts.sweep(sessions, NOW)
    async with transaction(sessions, write=True) as session:
        assert await broadcasts.say_coming(session, broadcast_id, world["residents"][4])
        assert not await broadcasts.say_coming(session, broadcast_id, world["residents"][4])
        with pytest.raises(broadcasts.compose.NotFound):
            await broadcasts.say_coming(session, broadcast_id, world["residents"][0])
        lines = await broadcasts.history(session, world["branch"], world["coordinator"])
    assert [(line.total, line.coming, line.author_name) for line in lines] == [
        (30, 1, "Coordinator")
    ]
    assert lines[0].opening == TEXTS["zh_Hans"]


async def test_buttons_are_checked(sessions, world) -> None:
    with pytest.raises(broadcasts.compose.ButtonInvalid):
        Button.link("javascript:alert(1)", {"en": "Go"})
    with pytest.raises(broadcasts.compose.ButtonInvalid):
        Button.link("https://example.org", {})
    async with transaction(sessions, write=True) as session:
        with pytest.raises(broadcasts.compose.NotFound):
            await broadcasts.create(
                session, world["coordinator"], _draft(world, buttons=(Button.coming(999),)),
                key="x",
            )  # fmt: skip
        count = await session.scalar(select(func.count()).select_from(broadcasts.Broadcast))
    assert count == 0


def test_long_text_is_split_where_telegram_needs_it() -> None:
    paragraph = "字" * 1500
    text = "\n\n".join([paragraph] * 5)
    parts = split_text(text, first_limit=1024)
    assert len(parts[0]) <= 1024 * 9 // 10
    assert all(len(part) <= 4096 for part in parts)
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")
    assert parts[1].startswith("字") and parts[1].endswith("字")
    assert split_text("short") == ["short"]


def test_paid_broadcasts_are_off_by_default_and_have_their_own_rate() -> None:
    assert broadcasts.sending_rate(load_settings()) < 30
    paid = load_settings(allow_paid_broadcast=True, paid_broadcast_rate=500)
    assert broadcasts.sending_rate(paid) == 500


async def test_preview_and_what_the_sender_renders(sessions, world) -> None:
    long_text = "很长的公告。" * 300
    broadcast_id = await _sent_now(
        sessions, world, texts={**TEXTS, "zh_Hans": long_text}, photo_file_id="poster-file-id"
    )
    member = world["residents"][3]
    async with transaction(sessions, write=True) as session:
        previews = await broadcasts.preview(session, broadcast_id, world["coordinator"])
        assert [m.language for m in previews] == ["zh_Hans", "ko", "en"]
        chinese = previews[0]
        assert len(chinese.parts) == 2 and len(chinese.parts[0]) <= 1024
        assert chinese.photo_file_id == "poster-file-id"
        sent = await broadcasts.message_for(session, broadcast_id, "ko", member_id=member)
        assert sent.parts == (TEXTS["ko"],)
        await broadcasts.set_announcements(session, member, False)
        with pytest.raises(broadcasts.compose.OptedOut):
            await broadcasts.message_for(session, broadcast_id, "ko", member_id=member)
        with pytest.raises(CoordinatorOnly):
            await broadcasts.preview(session, broadcast_id, world["stranger"])
