"""Matching, waves and the volunteer journey in core: eligibility, ranking, first tap wins."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core import helping, ledger, matching, nudges, volunteers
from core.db import transaction, utcnow
from core.demo import seed_demo
from core.ledger.tables import LedgerHold
from core.models import (
    Branch,
    Category,
    Member,
    Nudge,
    Order,
    OrderStatus,
    OutboxMessage,
    VolunteerProfile,
)

NOW = utcnow().replace(microsecond=0)


async def _setup(sessions, volunteers_at: list[tuple[float, float]], **profile) -> dict:
    async with transaction(sessions, write=True) as s:
        await seed_demo(s)
        branch = await s.scalar(select(Branch).where(Branch.code == "luoshan"))
        repairs = await s.scalar(select(Category).where(Category.code == "repairs"))
        resident = Member(name="Wang", language="zh_Hans", branch_id=branch.id, is_resident=True)
        s.add(resident)
        await s.flush()
        acct = await ledger.open_member_account(s, resident.id, branch.id)
        await ledger.grant(s, acct.id, 600, key=f"grant:{resident.id}", memo="start")
        ids = []
        for n, (dlat, dlon) in enumerate(volunteers_at):
            v = Member(
                name=f"V{n}",
                language="en",
                branch_id=branch.id,
                is_volunteer=True,
                verified=True,
                home_latitude=branch.latitude + dlat,
                home_longitude=branch.longitude + dlon,
            )
            s.add(v)
            await s.flush()
            row = await volunteers.profile(s, v.id)
            row.skills = matching.skill_bit(repairs.id)
            row.max_distance_m = 5000
            for k, val in profile.items():
                setattr(row, k, val)
            ids.append(v.id)
        order = Order(
            branch_id=branch.id,
            requester_id=resident.id,
            beneficiary_id=resident.id,
            category_id=repairs.id,
            window_start=NOW + timedelta(hours=3),
            window_end=NOW + timedelta(hours=8),
            latitude=branch.latitude,
            longitude=branch.longitude,
            estimated_minutes=60,
            idempotency_key="o1",
            address="罗山路 1 号",
        )
        s.add(order)
        await s.flush()
        return {"order": order.id, "volunteers": ids, "resident": resident.id}


async def test_ranked_by_distance_and_filtered(sessions) -> None:
    spots = [(0.02, 0), (0.001, 0), (0.005, 0), (0.3, 0)]  # 2.2 km, 110 m, 550 m, 33 km
    ctx = await _setup(sessions, spots)
    v = ctx["volunteers"]
    async with transaction(sessions, write=True) as s:
        (await s.get(Member, v[2])).verified = False
        order = await s.get(Order, ctx["order"])
        need = await matching.need_for(s, order, NOW)
        ranked = await matching.eligible(s, need, now=NOW, limit=10)
        brute = await matching.eligible_brute_force(s, need, now=NOW, limit=10)
    assert [c.member_id for c in ranked] == [v[1], v[0]]
    assert ranked == brute


async def test_quiet_paused_and_skill(sessions) -> None:
    ctx = await _setup(sessions, [(0.001, 0), (0.002, 0), (0.003, 0)])
    v = ctx["volunteers"]
    async with transaction(sessions, write=True) as s:
        (await s.get(VolunteerProfile, v[0])).paused = True
        (await s.get(VolunteerProfile, v[1])).skills = 0
        quiet = await s.get(VolunteerProfile, v[2])
        quiet.quiet_start, quiet.quiet_end = 0, 24 * 60 - 1
        need = await matching.need_for(s, await s.get(Order, ctx["order"]), NOW)
        assert await matching.eligible(s, need, now=NOW) == []


async def test_eligible_sees_what_the_session_has_not_flushed(sessions) -> None:
    """On SQLite `eligible` reads through the driver, past the session's autoflush: a nudge
    just added and a profile just paused must count all the same."""
    ctx = await _setup(sessions, [(0.001, 0), (0.002, 0), (0.003, 0)])
    v = ctx["volunteers"]
    async with transaction(sessions, write=True) as s:
        profile = await s.get(VolunteerProfile, v[1])
        need = await matching.need_for(s, await s.get(Order, ctx["order"]), NOW)
        s.add(Nudge(order_id=ctx["order"], member_id=v[0], round=1, wave=1, distance_m=111))
        profile.paused = True
        assert [c.member_id for c in await matching.eligible(s, need, now=NOW)] == [v[2]]


async def test_waves_escalation_and_idempotent_sweep(sessions) -> None:
    ctx = await _setup(sessions, [(0.001 * n, 0) for n in range(1, 8)])
    rules = nudges.Rules(wave_size=5, wave_minutes=10, max_waves=2)
    for _ in range(2):
        async with transaction(sessions, write=True) as s:
            await nudges.sweep(s, now=NOW, rules=rules)
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Nudge)) == 5
    for _ in range(2):
        async with transaction(sessions, write=True) as s:
            await nudges.sweep(s, now=NOW + timedelta(minutes=11), rules=rules)
    async with sessions() as s:
        waves = list(await s.scalars(select(Nudge.wave).order_by(Nudge.id)))
    assert waves == [1] * 5 + [2] * 2
    async with transaction(sessions, write=True) as s:
        report = await nudges.sweep(s, now=NOW + timedelta(minutes=22), rules=rules)
    assert report.escalated == [ctx["order"]]
    async with transaction(sessions, write=True) as s:
        report = await nudges.sweep(s, now=NOW + timedelta(hours=9), rules=rules)
    assert report.expired == [ctx["order"]]


async def test_fifty_concurrent_accepts_one_winner_one_hold(sessions) -> None:
    ctx = await _setup(sessions, [(0.0001 * n, 0) for n in range(1, 51)])
    async with transaction(sessions, write=True) as s:
        await nudges.sweep(s, now=NOW, rules=nudges.Rules(wave_size=50))
        nudge_ids = list(await s.scalars(select(Nudge.id).order_by(Nudge.id)))
        owners = {n.id: n.member_id for n in await s.scalars(select(Nudge))}
    assert len(nudge_ids) == 50

    async def tap(nudge_id: int) -> str:
        async def work(s):
            return await helping.accept(s, nudge_id=nudge_id, member_id=owners[nudge_id])

        try:
            await ledger.atomically(sessions, work)
            return "won"
        except helping.AlreadyTaken:
            return "taken"

    results = await asyncio.gather(*(tap(n) for n in nudge_ids))
    assert results.count("won") == 1 and results.count("taken") == 49
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(LedgerHold)) == 1
        order = await s.get(Order, ctx["order"])
        assert order.status == OrderStatus.ACCEPTED
        edits = await s.scalar(select(func.count()).where(OutboxMessage.kind == "nudge_taken"))
        assert edits == 49


async def test_journey_posts_exact_minutes_once(sessions) -> None:
    ctx = await _setup(sessions, [(0.001, 0)])
    [vol] = ctx["volunteers"]
    async with transaction(sessions, write=True) as s:
        await nudges.sweep(s, now=NOW)
        nudge = await s.scalar(select(Nudge))
        with pytest.raises(helping.NotYours):
            await helping.accept(s, nudge_id=nudge.id, member_id=ctx["resident"])
        await helping.accept(s, nudge_id=nudge.id, member_id=vol)
        await helping.accept(s, nudge_id=nudge.id, member_id=vol)  # replay
        await helping.mark_done(s, order_id=ctx["order"], member_id=vol, minutes=90)
        await helping.confirm(s, order_id=ctx["order"], member_id=ctx["resident"], rating=5)
        await helping.confirm(s, order_id=ctx["order"], member_id=ctx["resident"], rating=5)
        assert await helping.balance(s, vol) == 90
        assert await helping.balance(s, ctx["resident"]) == 600 - 90
    report = await ledger.verify_ledger(sessions)
    assert report.ok, report


async def test_the_sweep_in_turns_sends_each_wave_once_with_its_messages(sessions) -> None:
    """The scheduler's sweep: each order's wave in a transaction of its own, the same
    waves as one long sweep, every nudge with its message, nothing twice when repeated."""
    ctx = await _setup(sessions, [(0.001 * n, 0) for n in range(1, 4)])
    async with transaction(sessions, write=True) as s:
        first = await s.get(Order, ctx["order"])
        for key in ("o2", "o3"):
            fields = first.model_dump(exclude={"id", "idempotency_key", "created_at"})
            s.add(Order(**fields, idempotency_key=key))
    rules = nudges.Rules(wave_size=2)
    report = await nudges.sweep_in_turns(sessions, now=NOW, rules=rules)
    orders = [order_id for order_id, _wave in report.waves]
    assert len(orders) == 3 and orders == sorted(orders) and report.nudged == 6
    again = await nudges.sweep_in_turns(sessions, now=NOW, rules=rules)
    assert again.waves == [] and again.nudged == 0
    async with sessions() as s:
        sent = list(await s.execute(select(Nudge.id, Nudge.outbox_id, Nudge.order_id)))
        keys = {i: key for i, key in await s.execute(select(OutboxMessage.id, OutboxMessage.key))}
    assert len(sent) == 6 and {order for _n, _o, order in sent} == set(orders)
    assert all(keys[outbox_id] == f"nudge:{nudge_id}" for nudge_id, outbox_id, _ in sent)


async def test_an_order_whose_wave_fails_holds_up_no_other(sessions, monkeypatch) -> None:
    """A wave that fails (here the first order's) is logged and left to the next sweep; the
    orders after it get theirs in the same sweep."""
    ctx = await _setup(sessions, [(0.001 * n, 0) for n in range(1, 4)])
    async with transaction(sessions, write=True) as s:
        first = await s.get(Order, ctx["order"])
        fields = first.model_dump(exclude={"id", "idempotency_key", "created_at"})
        s.add(Order(**fields, idempotency_key="o2"))
    send_wave = nudges.send_wave

    async def failing_for_the_first(session, order, *args, **kwargs):
        if order.id == ctx["order"]:
            raise RuntimeError("matching broke for this order")
        return await send_wave(session, order, *args, **kwargs)

    monkeypatch.setattr(nudges, "send_wave", failing_for_the_first)
    report = await nudges.sweep_in_turns(sessions, now=NOW, rules=nudges.Rules(wave_size=2))
    assert [order_id for order_id, _wave in report.waves] == [ctx["order"] + 1]
    monkeypatch.setattr(nudges, "send_wave", send_wave)
    again = await nudges.sweep_in_turns(sessions, now=NOW, rules=nudges.Rules(wave_size=2))
    assert [order_id for order_id, _wave in again.waves] == [ctx["order"]]
