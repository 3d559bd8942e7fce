"""The coordinator's "find someone": the wider list, asking one volunteer, another round."""

from __future__ import annotations

from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from core import coordination, helping, ledger, matching, nudges, volunteers
from core.coordination import Why
from core.db import transaction
from core.demo import DEMO_POOL_MINUTES
from core.errors import NotFound
from core.models import (
    BlockedMember,
    Branch,
    Member,
    Nudge,
    NudgeStatus,
    Order,
    OrderEvent,
    OrderFunding,
    OrderProgress,
    OutboxMessage,
    VolunteerProfile,
)
from core.volunteers import CoordinatorOnly
from tests.unit.test_matching import NOW, _setup

RULES = nudges.Rules(wave_size=5, wave_minutes=10, max_waves=1)


async def _coordinator(sessions, branch_code: str = "luoshan") -> int:
    async with transaction(sessions, write=True) as s:
        branch = await s.scalar(select(Branch).where(Branch.code == branch_code))
        row = Member(name="Coord", branch_id=branch.id, is_coordinator=True)
        s.add(row)
        await s.flush()
        return row.id


async def _sweep(sessions, now) -> nudges.SweepReport:
    async with transaction(sessions, write=True) as s:
        return await nudges.sweep(s, now=now, rules=RULES)


async def _find(sessions, ctx, coordinator: int, now=NOW) -> coordination.Finding:
    async with sessions() as s:
        return await coordination.candidates_for_coordinator(
            s, order_id=ctx["order"], coordinator_id=coordinator, now=now
        )


async def test_wider_than_the_waves_and_says_why(sessions) -> None:
    # 110 m apart going north, up to ~900 m; v8 at 4.4 km; v9 at 6.7 km, beyond anyone's 5 km.
    spots = [(0.001 * (n + 1), 0) for n in range(8)] + [(0.04, 0), (0.06, 0)]
    ctx = await _setup(sessions, spots)
    v = ctx["volunteers"]
    coordinator = await _coordinator(sessions)
    async with transaction(sessions, write=True) as s:
        (await s.get(VolunteerProfile, v[1])).paused = True
        (await s.get(VolunteerProfile, v[2])).max_distance_m = 100
        (await s.get(VolunteerProfile, v[3])).availability = 0
        (await s.get(Member, v[4])).verified = False
        s.add(BlockedMember(member_id=v[5], platform="telegram"))
        (await s.get(Member, v[6])).erased_at = NOW
        quiet = await s.get(VolunteerProfile, v[7])
        quiet.quiet_start, quiet.quiet_end = 0, 24 * 60 - 1
        # The resident volunteers too, but is never offered their own order.
        resident = await s.get(Member, ctx["resident"])
        resident.is_volunteer, resident.verified = True, True
        resident.home_latitude, resident.home_longitude = 31.2135, 121.5560
        order = await s.get(Order, ctx["order"])
        (await volunteers.profile(s, resident.id)).skills = matching.skill_bit(order.category_id)
    await _sweep(sessions, NOW)  # v0 and v8 are nudged
    async with transaction(sessions, write=True) as s:
        nudge = await s.scalar(select(Nudge).where(Nudge.member_id == v[8]))
        await helping.decline(s, nudge_id=nudge.id, member_id=v[8])

    finding = await _find(sessions, ctx, coordinator)
    reasons = {row.member_id: row.reasons for row in finding.candidates}
    assert set(reasons) == {v[0], v[1], v[2], v[3], v[7], v[8], v[9]}
    assert reasons[v[0]] == (Why.ASKED,)
    assert reasons[v[1]] == (Why.PAUSED,)
    assert reasons[v[2]] == (Why.FAR,)
    assert reasons[v[3]] == (Why.NOT_FREE,)
    assert reasons[v[7]] == (Why.QUIET,)
    assert reasons[v[8]] == (Why.DECLINED,)
    assert reasons[v[9]] == (Why.FAR,)
    # The lighter the reason, the higher, then by distance; "said not this time" last.
    ranked = [row.member_id for row in finding.candidates]
    assert ranked == [v[0], v[2], v[7], v[9], v[3], v[1], v[8]]
    assert finding.candidates[3].distance_m == pytest.approx(6672, abs=5)
    assert finding.brief.asked == 2
    assert finding.brief.area is not None and finding.brief.area.code == "luoshan-1"


async def test_only_the_branch_coordinators(sessions) -> None:
    ctx = await _setup(sessions, [(0.001, 0)])
    elsewhere = await _coordinator(sessions, "mapo")
    with pytest.raises(CoordinatorOnly):
        await _find(sessions, ctx, ctx["volunteers"][0])
    with pytest.raises(NotFound):
        await _find(sessions, ctx, elsewhere)
    async with sessions() as s:
        with pytest.raises(NotFound):
            await coordination.ask_volunteer(
                s,
                order_id=ctx["order"],
                coordinator_id=elsewhere,
                volunteer_id=ctx["volunteers"][0],
            )
        assert await coordination.waiting_orders(s, elsewhere, now=NOW) == []


async def test_ask_sends_one_nudge_and_accept_works_unchanged(sessions) -> None:
    ctx = await _setup(sessions, [(0.001, 0), (0.002, 0)])
    v = ctx["volunteers"]
    coordinator = await _coordinator(sessions)
    await _sweep(sessions, NOW)
    async with transaction(sessions, write=True) as s:
        nudge = await s.scalar(select(Nudge).where(Nudge.member_id == v[0]))
        await helping.decline(s, nudge_id=nudge.id, member_id=v[0])
    await _sweep(sessions, NOW + timedelta(minutes=11))  # escalated
    async with sessions() as s:
        [waiting] = await coordination.waiting_orders(s, coordinator, now=NOW)
        assert waiting.escalated and waiting.order.id == ctx["order"]
    for _ in range(2):  # a double tap
        async with transaction(sessions, write=True) as s:
            asked = await coordination.ask_volunteer(
                s, order_id=ctx["order"], coordinator_id=coordinator, volunteer_id=v[0], now=NOW
            )
    assert asked.replayed
    async with sessions() as s:
        sent = await s.scalar(
            select(func.count()).where(OutboxMessage.key.like(f"ask:{ctx['order']}:%"))
        )
        assert sent == 1
        nudge = await s.scalar(select(Nudge).where(Nudge.member_id == v[0]))
        assert nudge.status == NudgeStatus.SENT
        assert (await s.get(OutboxMessage, nudge.outbox_id)).kind == "nudge"
    async with transaction(sessions, write=True) as s:
        accepted = await helping.accept(s, nudge_id=nudge.id, member_id=v[0])
        assert accepted.order.volunteer_id == v[0]
    async with transaction(sessions, write=True) as s:
        with pytest.raises(coordination.VolunteerFound):
            await coordination.ask_volunteer(
                s, order_id=ctx["order"], coordinator_id=coordinator, volunteer_id=v[1]
            )
        with pytest.raises(coordination.VolunteerFound):
            await coordination.another_round(
                s, order_id=ctx["order"], coordinator_id=coordinator, after_round=1
            )
        assert await coordination.waiting_orders(s, coordinator, now=NOW) == []


async def test_ask_someone_outside_the_list_is_refused(sessions) -> None:
    ctx = await _setup(sessions, [(0.001, 0)])
    coordinator = await _coordinator(sessions)
    async with transaction(sessions, write=True) as s:
        (await s.get(Member, ctx["volunteers"][0])).verified = False
        for volunteer_id in (ctx["volunteers"][0], ctx["resident"]):
            with pytest.raises(NotFound):
                await coordination.ask_volunteer(
                    s, order_id=ctx["order"], coordinator_id=coordinator, volunteer_id=volunteer_id
                )


async def test_another_round_reaches_those_not_asked_yet(sessions) -> None:
    ctx = await _setup(sessions, [(0.001, 0), (0.002, 0)])
    v = ctx["volunteers"]
    coordinator = await _coordinator(sessions)
    async with transaction(sessions, write=True) as s:
        (await s.get(Member, v[1])).verified = False
    await _sweep(sessions, NOW)
    report = await _sweep(sessions, NOW + timedelta(minutes=11))
    assert report.escalated == [ctx["order"]]
    async with transaction(sessions, write=True) as s:
        with pytest.raises(coordination.NobodyNew):
            await coordination.another_round(
                s, order_id=ctx["order"], coordinator_id=coordinator, after_round=1, now=NOW
            )
    async with transaction(sessions, write=True) as s:
        (await s.get(Member, v[1])).verified = True
    later = NOW + timedelta(minutes=20)
    for _ in range(2):  # a double tap starts one round
        async with transaction(sessions, write=True) as s:
            progress = await coordination.another_round(
                s, order_id=ctx["order"], coordinator_id=coordinator, after_round=1, now=later
            )
    assert progress.round == 2 and progress.escalated_at is None
    report = await _sweep(sessions, later)
    assert report.waves == [(ctx["order"], 1)] and report.nudged == 1
    async with sessions() as s:
        nudge = await s.scalar(select(Nudge).where(Nudge.member_id == v[1]))
        assert nudge.round == 2
    report = await _sweep(sessions, later + timedelta(minutes=11))
    assert report.escalated == [ctx["order"]]
    async with sessions() as s:
        alerts = await s.scalar(
            select(func.count()).where(
                OutboxMessage.kind == "escalated", OutboxMessage.member_id == coordinator
            )
        )
        assert alerts == 2
        assert (await s.get(OrderProgress, ctx["order"])).round == 2
        assert (await s.get(Order, ctx["order"])).status == "open"


async def test_asking_in_quiet_hours_waits_until_they_end(sessions) -> None:
    ctx = await _setup(sessions, [(0.001, 0)])
    [volunteer_id] = ctx["volunteers"]
    coordinator = await _coordinator(sessions)
    local = NOW.astimezone(ZoneInfo("Asia/Shanghai"))
    minute = local.hour * 60 + local.minute
    async with transaction(sessions, write=True) as s:
        profile = await s.get(VolunteerProfile, volunteer_id)
        profile.quiet_start, profile.quiet_end = (minute - 60) % 1440, (minute + 90) % 1440
        for _ in range(2):
            asked = await coordination.ask_volunteer(
                s, order_id=ctx["order"], coordinator_id=coordinator, volunteer_id=volunteer_id,
                now=NOW,
            )  # fmt: skip
        sent = await s.get(OutboxMessage, asked.nudge.outbox_id)
    ends = (local.replace(second=0) + timedelta(minutes=90)).astimezone(UTC)
    assert asked.replayed and asked.waits_until == ends
    assert sent.not_before == ends


async def _needs_sponsor(sessions, ctx, minutes: int = 60) -> None:
    async with transaction(sessions, write=True) as s:
        order = await s.get(Order, ctx["order"])
        order.funding, order.estimated_minutes = OrderFunding.NEEDS_SPONSOR, minutes


async def _sponsor(sessions, ctx, coordinator: int) -> coordination.Sponsored:
    async with transaction(sessions, write=True) as s:
        return await coordination.sponsor_order(
            s, order_id=ctx["order"], coordinator_id=coordinator, now=NOW
        )


async def test_the_pool_covers_an_order_once_and_then_matching_starts(sessions) -> None:
    ctx = await _setup(sessions, [(0.001, 0), (0.002, 0)])
    await _needs_sponsor(sessions, ctx)
    coordinator = await _coordinator(sessions)
    assert (await _sweep(sessions, NOW)).nudged == 0  # nobody is asked before it is paid for
    async with transaction(sessions, write=True) as s:
        [brief] = await coordination.waiting_orders(s, coordinator, now=NOW)
        assert brief.needs_sponsor and brief.pool_free == DEMO_POOL_MINUTES
        with pytest.raises(coordination.NeedsSponsor):
            await coordination.ask_volunteer(
                s, order_id=ctx["order"], coordinator_id=coordinator,
                volunteer_id=ctx["volunteers"][0], now=NOW,
            )  # fmt: skip

    first, again = (
        await _sponsor(sessions, ctx, coordinator),
        await _sponsor(sessions, ctx, coordinator),
    )
    assert (first.replayed, again.replayed) == (False, True)
    async with transaction(sessions, write=True) as s:
        order = await s.get(Order, ctx["order"])
        assert order.funding == OrderFunding.POOL
        events = await s.scalar(
            select(func.count()).where(
                OrderEvent.order_id == order.id, OrderEvent.actor_id == coordinator
            )
        )
        told = await s.scalar(select(func.count()).where(OutboxMessage.kind == "sponsored"))
        assert (events, told) == (1, 1)
        assert await coordination.pool_free(s, order.branch_id) == DEMO_POOL_MINUTES - 60

    assert (await _sweep(sessions, NOW)).nudged == 2
    async with transaction(sessions, write=True) as s:
        nudge = await s.scalar(select(Nudge).where(Nudge.member_id == ctx["volunteers"][0]))
        accepted = await helping.accept(
            s, nudge_id=nudge.id, member_id=ctx["volunteers"][0], now=NOW
        )
        pool = await ledger.pool_account(s, accepted.order.branch_id)
        balance = await ledger.balance_of(s, pool.id)
        resident = await ledger.balance_of(
            s, (await ledger.find_member_account(s, ctx["resident"])).id
        )
    assert (balance.held, resident.held) == (60, 0)


async def test_the_pool_cannot_promise_more_than_it_has(sessions) -> None:
    ctx = await _setup(sessions, [(0.001, 0)])
    await _needs_sponsor(sessions, ctx, minutes=DEMO_POOL_MINUTES + 30)
    coordinator = await _coordinator(sessions)
    with pytest.raises(coordination.PoolTooLow):
        await _sponsor(sessions, ctx, coordinator)
    async with transaction(sessions, write=True) as s:
        assert (await s.get(Order, ctx["order"])).funding == OrderFunding.NEEDS_SPONSOR
        posting, free = await coordination.fund_pool(
            s, branch_code="luoshan", minutes=60, reason="a donation", key="gift-1"
        )
        replay, same = await coordination.fund_pool(
            s, branch_code="luoshan", minutes=60, reason="a donation", key="gift-1"
        )
    assert (posting.replayed, replay.replayed, free, same) == (
        False,
        True,
        DEMO_POOL_MINUTES + 60,
        free,
    )
    assert not (await _sponsor(sessions, ctx, coordinator)).replayed


async def test_only_the_branch_coordinators_cover_costs(sessions) -> None:
    ctx = await _setup(sessions, [(0.001, 0)])
    await _needs_sponsor(sessions, ctx)
    elsewhere = await _coordinator(sessions, "mapo")
    with pytest.raises(NotFound):
        await _sponsor(sessions, ctx, elsewhere)
    with pytest.raises(CoordinatorOnly):
        await _sponsor(sessions, ctx, ctx["resident"])
    async with sessions() as s:
        assert (await s.get(Order, ctx["order"])).funding == OrderFunding.NEEDS_SPONSOR


async def _told(sessions, kind: str) -> list[OutboxMessage]:
    async with sessions() as s:
        return list(
            await s.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
            )
        )


async def test_a_personal_ask_says_who_asked_and_only_they_hear_the_answer(sessions) -> None:
    ctx = await _setup(sessions, [(0.001, 0), (0.002, 0)])
    v = ctx["volunteers"]
    asker, other = await _coordinator(sessions), await _coordinator(sessions)
    async with transaction(sessions, write=True) as s:
        (await s.get(VolunteerProfile, v[0])).paused = True  # only a coordinator can ask them
    await _sweep(sessions, NOW)  # v1 is nudged by the wave
    async with transaction(sessions, write=True) as s:
        asked = await coordination.ask_volunteer(
            s, order_id=ctx["order"], coordinator_id=asker, volunteer_id=v[0], now=NOW
        )
        wave_nudge = await s.scalar(select(Nudge).where(Nudge.member_id == v[1]))
        message = await s.get(OutboxMessage, asked.nudge.outbox_id)
        assert message.payload == {"nudge_id": asked.nudge.id, nudges.ASKED_BY: asker}
        assert (await s.get(OutboxMessage, wave_nudge.outbox_id)).payload == {
            "nudge_id": wave_nudge.id
        }
    for _ in range(2):  # a repeated "Not this time" says it once
        async with transaction(sessions, write=True) as s:
            await helping.decline(s, nudge_id=asked.nudge.id, member_id=v[0], now=NOW)
            await helping.decline(s, nudge_id=wave_nudge.id, member_id=v[1], now=NOW)
    [no] = await _told(sessions, "ask_no")
    assert (no.member_id, no.payload) == (
        asker,
        {"order_id": ctx["order"], "nudge_id": asked.nudge.id},
    )
    # They think again and take it from the same message after all; a repeat tap replays.
    for _ in range(2):
        async with transaction(sessions, write=True) as s:
            await helping.accept(s, nudge_id=asked.nudge.id, member_id=v[0], now=NOW)
    [yes] = await _told(sessions, "ask_yes")
    assert yes.member_id == asker and yes.key == f"ask_yes:{asked.nudge.outbox_id}"
    async with sessions() as s:
        to_other = await s.scalar(
            select(func.count()).where(
                OutboxMessage.member_id == other, OutboxMessage.kind.like("ask%")
            )
        )
        assert to_other == 0


async def test_a_volunteer_reached_by_a_wave_answers_nobody_in_particular(sessions) -> None:
    ctx = await _setup(sessions, [(0.001, 0)])
    await _coordinator(sessions)
    await _sweep(sessions, NOW)
    async with transaction(sessions, write=True) as s:
        nudge = await s.scalar(select(Nudge))
        await helping.accept(s, nudge_id=nudge.id, member_id=ctx["volunteers"][0], now=NOW)
    assert await _told(sessions, "ask_yes") == []


async def test_a_request_nobody_covered_lapses_honestly(sessions) -> None:
    ctx = await _setup(sessions, [(0.001, 0)])
    await _needs_sponsor(sessions, ctx)
    await _coordinator(sessions)
    elsewhere = await _coordinator(sessions, "mapo")
    async with sessions() as s:
        order = await s.get(Order, ctx["order"])
        window_end = order.window_end
        coordinators = await nudges.coordinators(s, order.branch_id)
    assert len(coordinators) >= 2 and elsewhere not in coordinators
    for _ in range(2):
        report = await _sweep(sessions, window_end)
    assert report.expired == []  # the second sweep finds nothing more to do
    async with sessions() as s:
        assert (await s.get(Order, ctx["order"])).status == "expired"
    assert await _told(sessions, "expired") == []
    [requester] = await _told(sessions, "expired_uncovered")
    assert requester.member_id == ctx["resident"]
    lapsed = await _told(sessions, "lapsed_uncovered")
    assert sorted(m.member_id for m in lapsed) == coordinators
    assert all(m.payload == {"order_id": ctx["order"]} for m in lapsed)


async def test_a_request_the_waves_could_not_fill_expires_as_before(sessions) -> None:
    ctx = await _setup(sessions, [(0.001, 0)])
    await _coordinator(sessions)
    await _sweep(sessions, NOW)
    async with sessions() as s:
        window_end = (await s.get(Order, ctx["order"])).window_end
    await _sweep(sessions, window_end)
    [told] = await _told(sessions, "expired")
    assert told.member_id == ctx["resident"]
    assert await _told(sessions, "lapsed_uncovered") == []
    assert await _told(sessions, "expired_uncovered") == []


async def test_when_a_request_expires_its_alerts_lose_their_buttons(sessions) -> None:
    ctx = await _setup(sessions, [(0.001, 0)])
    coordinator = await _coordinator(sessions)
    await _sweep(sessions, NOW)
    await _sweep(sessions, NOW + timedelta(minutes=RULES.wave_minutes + 1))
    escalated = await _told(sessions, "escalated")
    assert coordinator in {alert.member_id for alert in escalated}
    async with sessions() as s:
        window_end = (await s.get(Order, ctx["order"])).window_end
    for _ in range(2):
        await _sweep(sessions, window_end)
    closed = await _told(sessions, "alert_expired")
    assert sorted(m.payload["alert_id"] for m in closed) == sorted(a.id for a in escalated)
    assert all(m.member_id == a.member_id for m, a in zip(closed, escalated, strict=True))


@pytest.mark.parametrize("funding", [OrderFunding.OWN, OrderFunding.NEEDS_SPONSOR])
async def test_a_request_whose_time_passed_is_no_longer_open_to_coordinators(
    sessions, funding
) -> None:
    ctx = await _setup(sessions, [(0.001, 0)])
    coordinator = await _coordinator(sessions)
    async with transaction(sessions, write=True) as s:
        order = await s.get(Order, ctx["order"])
        order.funding = funding
        late = order.window_end  # the sweep has not marked it expired yet
    async with transaction(sessions, write=True) as s:
        with pytest.raises(coordination.NotWaiting):
            await _find(sessions, ctx, coordinator, now=late)
        with pytest.raises(coordination.NotWaiting):
            await coordination.ask_volunteer(
                s, order_id=ctx["order"], coordinator_id=coordinator,
                volunteer_id=ctx["volunteers"][0], now=late,
            )  # fmt: skip
        with pytest.raises(coordination.NotWaiting):
            await coordination.sponsor_order(
                s, order_id=ctx["order"], coordinator_id=coordinator, now=late
            )
        assert await coordination.waiting_orders(s, coordinator, now=late) == []
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        assert (await s.get(Order, ctx["order"])).funding == funding
