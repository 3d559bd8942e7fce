"""A coordinator settling a disputed or unconfirmed order: confirm as reported, credit a
corrected time, or no credit; once, by a coordinator of the branch, with both sides told."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core import helping, ledger, nudges, outbox
from core.db import transaction
from core.ledger.tables import LedgerHold
from core.models import Branch, Member, Nudge, Order, OrderEvent, OrderStatus, OutboxMessage
from tests.unit.test_matching import NOW, _setup


async def _coordinator(sessions, name: str, branch_code: str = "luoshan") -> int:
    async with transaction(sessions, write=True) as s:
        branch = await s.scalar(select(Branch).where(Branch.code == branch_code))
        row = Member(name=name, language="en", branch_id=branch.id, is_coordinator=True)
        s.add(row)
        await s.flush()
        return row.id


async def _accepted(sessions) -> dict:
    ctx = await _setup(sessions, [(0.001, 0)])
    [ctx["volunteer"]] = ctx["volunteers"]
    ctx["coordinator"] = await _coordinator(sessions, "Li")
    async with transaction(sessions, write=True) as s:
        await nudges.sweep(s, now=NOW)
        nudge = await s.scalar(select(Nudge))
        await helping.accept(s, nudge_id=nudge.id, member_id=ctx["volunteer"], now=NOW)
    return ctx


async def _disputed(sessions, reported: int = 120) -> dict:
    """Estimated 60, reported `reported` (the hold grows to it), and the resident objects."""
    ctx = await _accepted(sessions)
    async with transaction(sessions, write=True) as s:
        await helping.mark_done(
            s, order_id=ctx["order"], member_id=ctx["volunteer"], minutes=reported, now=NOW
        )
        await helping.dispute(s, order_id=ctx["order"], member_id=ctx["resident"], now=NOW)
    return ctx


async def _balances(sessions, ctx) -> tuple[int, int]:
    async with sessions() as s:
        return (
            await helping.balance(s, ctx["volunteer"]) or 0,
            await helping.balance(s, ctx["resident"]) or 0,
        )


async def _settle(sessions, ctx, minutes: int | None, member_id: int | None = None, reason=""):
    who = member_id or ctx["coordinator"]

    async def work(s):
        if minutes is None:
            return await helping.settle_without_credit(
                s, order_id=ctx["order"], member_id=who, reason=reason
            )
        return await helping.settle_with_credit(
            s, order_id=ctx["order"], member_id=who, minutes=minutes
        )

    return await ledger.atomically(sessions, work)


async def _told(sessions, order_id: int) -> dict[int, dict]:
    async with sessions() as s:
        rows = await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "settled"))
        return {row.member_id: row.payload for row in rows if row.payload["order_id"] == order_id}


async def _pending_holds(sessions) -> int:
    async with sessions() as s:
        return await s.scalar(
            select(func.count()).where(LedgerHold.status == ledger.HoldStatus.PENDING)
        )


async def _verified(sessions) -> None:
    report = await ledger.verify_ledger(sessions)
    assert report.ok, report.summary


async def test_confirm_as_reported(sessions) -> None:
    ctx = await _disputed(sessions, reported=120)
    settled = await _settle(sessions, ctx, 120)
    assert settled.outcome == "confirmed" and settled.reported == 120
    assert await _balances(sessions, ctx) == (120, 600 - 120)
    async with sessions() as s:
        order = await s.get(Order, ctx["order"])
        assert order.status == OrderStatus.CONFIRMED and order.actual_minutes == 120
        event = await s.scalar(select(OrderEvent).where(OrderEvent.key.endswith(":confirm")))
        assert event.actor_id == ctx["coordinator"] and event.from_status == OrderStatus.DONE
    told = await _told(sessions, ctx["order"])
    assert set(told) == {ctx["volunteer"], ctx["resident"]}
    assert told[ctx["volunteer"]]["outcome"] == "confirmed"
    assert await _pending_holds(sessions) == 0
    await _verified(sessions)


async def test_corrected_down_moves_exactly_the_correction(sessions) -> None:
    ctx = await _disputed(sessions, reported=120)
    settled = await _settle(sessions, ctx, 60)
    assert settled.outcome == "corrected" and settled.reported == 120
    assert settled.posting is not None
    assert await _balances(sessions, ctx) == (60, 600 - 60)
    async with sessions() as s:
        account = await ledger.find_member_account(s, ctx["resident"])
        held = await ledger.balance_of(s, account.id)
        assert held.held == 0  # the rest of the 120 held is free again
        event = await s.scalar(select(OrderEvent).where(OrderEvent.key.endswith(":confirm")))
        assert "reported 120" in event.note and "credited 60" in event.note
    assert (await _told(sessions, ctx["order"]))[ctx["resident"]]["reported"] == 120
    await _verified(sessions)


async def test_corrected_up_holds_more_within_the_payers_limits(sessions) -> None:
    ctx = await _disputed(sessions, reported=60)
    await _settle(sessions, ctx, 150)
    assert await _balances(sessions, ctx) == (150, 600 - 150)
    await _verified(sessions)


async def test_more_than_the_payer_can_cover_is_refused_and_changes_nothing(sessions) -> None:
    ctx = await _disputed(sessions, reported=60)
    async with transaction(sessions, write=True) as s:  # the resident spends all but 30 min
        account = await ledger.find_member_account(s, ctx["resident"])
        other = await ledger.open_member_account(s, ctx["coordinator"], account.branch_id)
        spendable = 600 - 60 + account.overdraft_limit  # a resident's overdraft included
        await ledger.transfer(
            s, account.id, other.id, spendable - 30, key="spend", kind=ledger.PostingKind.GIFT
        )
    with pytest.raises(helping.CannotCover) as refused:
        await _settle(sessions, ctx, 120)
    assert refused.value.params["minutes"] == 90  # the 60 held and the 30 left
    async with sessions() as s:
        order = await s.get(Order, ctx["order"])
        assert order.status == OrderStatus.DONE and order.actual_minutes == 60
        hold = await helping.pending_hold(s, ctx["order"])
        assert hold is not None and hold.amount == 60
    assert await _told(sessions, ctx["order"]) == {}
    await _settle(sessions, ctx, 90)
    assert (await _balances(sessions, ctx))[0] == 90
    await _verified(sessions)


async def test_no_credit_voids_the_hold_and_ends_the_order(sessions) -> None:
    ctx = await _disputed(sessions, reported=120)
    settled = await _settle(sessions, ctx, None, reason="  Nobody came.  ")
    assert settled.outcome == "not_credited"
    assert await _balances(sessions, ctx) == (0, 600)
    assert await _pending_holds(sessions) == 0
    async with sessions() as s:
        order = await s.get(Order, ctx["order"])
        assert order.status == OrderStatus.NOT_CREDITED
        event = await s.scalar(select(OrderEvent).where(OrderEvent.key.endswith(":not_credited")))
        assert event.note == "Nobody came." and event.actor_id == ctx["coordinator"]
        account = await ledger.find_member_account(s, ctx["resident"])
        assert (await ledger.balance_of(s, account.id)).held == 0
    told = await _told(sessions, ctx["order"])
    assert set(told) == {ctx["volunteer"], ctx["resident"]}
    assert told[ctx["resident"]]["reason"] == "Nobody came."
    # Nothing moves afterwards: the requester's stars, the volunteer's "done", a coordinator.
    async with transaction(sessions, write=True) as s:
        with pytest.raises(helping.WrongStep):
            await helping.confirm(s, order_id=ctx["order"], member_id=ctx["resident"], rating=5)
    with pytest.raises(helping.AlreadySettled):
        await _settle(sessions, ctx, 60)
    assert await _balances(sessions, ctx) == (0, 600)
    await _verified(sessions)


async def test_only_other_coordinators_of_the_branch_may_settle(sessions) -> None:
    ctx = await _disputed(sessions)
    async with sessions() as s:
        other_branch = await s.scalar(select(Branch.code).where(Branch.code != "luoshan"))
    elsewhere = await _coordinator(sessions, "Park", other_branch)
    async with transaction(sessions, write=True) as s:
        (await s.get(Member, ctx["volunteer"])).is_coordinator = True
    for who, refusal in (
        (ctx["resident"], helping.NotYours),
        (elsewhere, helping.NotYours),
        (ctx["volunteer"], helping.OwnOrder),
    ):
        for minutes in (60, None):
            with pytest.raises(refusal):
                await _settle(sessions, ctx, minutes, member_id=who)
        async with transaction(sessions, write=True) as s:
            with pytest.raises(refusal):
                await helping.may_settle(s, ctx["order"], who)
    async with sessions() as s:
        assert (await s.get(Order, ctx["order"])).status == OrderStatus.DONE
    assert await _balances(sessions, ctx) == (0, 600)
    assert await _told(sessions, ctx["order"]) == {}


async def test_concurrent_taps_settle_once(sessions) -> None:
    ctx = await _disputed(sessions, reported=120)
    second = await _coordinator(sessions, "Zhang")
    taps = [(ctx["coordinator"], 60), (ctx["coordinator"], 60), (second, None), (second, 90)]

    async def tap(who: int, minutes: int | None) -> str:
        try:
            return (await _settle(sessions, ctx, minutes, member_id=who)).outcome
        except helping.AlreadySettled:
            return "already"

    results = await asyncio.gather(*(tap(who, minutes) for who, minutes in taps))
    assert results.count("already") == 3, results
    [outcome] = [r for r in results if r != "already"]
    async with sessions() as s:
        events = await s.scalar(
            select(func.count()).where(
                OrderEvent.order_id == ctx["order"],
                OrderEvent.to_status.in_(helping.SETTLED),
            )
        )
        assert events == 1
        postings = await s.scalar(
            select(func.count())
            .select_from(LedgerHold)
            .where(LedgerHold.transaction_id.is_not(None))
        )
        assert postings == (0 if outcome == "not_credited" else 1)
    volunteer_balance, resident_balance = await _balances(sessions, ctx)
    assert volunteer_balance + resident_balance == 600
    assert volunteer_balance in (0, 60, 90)
    assert len(await _told(sessions, ctx["order"])) == 2
    assert await _pending_holds(sessions) == 0
    await _verified(sessions)


async def test_an_accepted_order_is_settled_only_after_a_dispute(sessions) -> None:
    ctx = await _accepted(sessions)
    with pytest.raises(helping.WrongStep):
        await _settle(sessions, ctx, 60)
    async with transaction(sessions, write=True) as s:
        await helping.dispute(s, order_id=ctx["order"], member_id=ctx["volunteer"], now=NOW)
    settled = await _settle(sessions, ctx, 45)
    assert settled.outcome == "corrected" and settled.reported is None
    assert await _balances(sessions, ctx) == (45, 600 - 45)
    await _verified(sessions)


async def test_a_disputed_order_gets_no_unconfirmed_alert_too(sessions) -> None:
    ctx = await _disputed(sessions)
    later = NOW + timedelta(days=4)
    async with transaction(sessions, write=True) as s:
        report = await nudges.sweep(s, now=later)
    assert report.unconfirmed == []
    async with sessions() as s:
        kinds = set(
            await s.scalars(
                select(OutboxMessage.kind).where(OutboxMessage.member_id == ctx["coordinator"])
            )
        )
    assert kinds == {"dispute"}


async def test_an_unconfirmed_order_is_settled_from_its_alert(sessions) -> None:
    ctx = await _accepted(sessions)
    async with transaction(sessions, write=True) as s:
        await helping.mark_done(
            s, order_id=ctx["order"], member_id=ctx["volunteer"], minutes=90, now=NOW
        )
    async with transaction(sessions, write=True) as s:
        report = await nudges.sweep(s, now=NOW + timedelta(days=4))
    assert report.unconfirmed == [ctx["order"]]
    await _settle(sessions, ctx, 90)
    assert await _balances(sessions, ctx) == (90, 600 - 90)
    # The requester's late stars after the coordinator confirmed: the same result, no more.
    async with transaction(sessions, write=True) as s:
        late = await helping.confirm(s, order_id=ctx["order"], member_id=ctx["resident"], rating=4)
    assert late.replayed
    assert await _balances(sessions, ctx) == (90, 600 - 90)
    await _verified(sessions)


async def test_the_other_coordinators_alerts_are_closed(sessions) -> None:
    ctx = await _accepted(sessions)
    second = await _coordinator(sessions, "Zhang")
    async with transaction(sessions, write=True) as s:
        await helping.mark_done(
            s, order_id=ctx["order"], member_id=ctx["volunteer"], minutes=60, now=NOW
        )
        await helping.dispute(s, order_id=ctx["order"], member_id=ctx["volunteer"], now=NOW)
    await _settle(sessions, ctx, 60)
    async with sessions() as s:
        closed = list(await s.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "alert_settled")))  # fmt: skip
        alert = await outbox.by_key(s, f"dispute:{ctx['order']}:{second}")
        demo = set(await nudges.coordinators(s, (await s.get(Member, second)).branch_id))
    edits = {row.member_id: row.payload["alert_id"] for row in closed}
    assert edits[second] == alert.id and ctx["coordinator"] not in edits
    assert set(edits) == demo - {ctx["coordinator"]}  # the demo's coordinators too


async def test_an_unsettled_dispute_is_announced_again_once_a_day(sessions) -> None:
    ctx = await _disputed(sessions)
    day = timedelta(hours=nudges.Rules().dispute_hours)

    async def sweep(at) -> list[int]:
        async with transaction(sessions, write=True) as s:
            return (await nudges.sweep(s, now=at)).disputes_again

    async def alerts() -> list[OutboxMessage]:
        async with sessions() as s:
            rows = await s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind == "dispute")
                .order_by(OutboxMessage.id)
            )
            return list(rows)

    assert await sweep(NOW + day / 2) == []
    assert await sweep(NOW + day) == [ctx["order"]]
    assert await sweep(NOW + day * 1.5) == []  # once per day
    assert await sweep(NOW + day * 2) == [ctx["order"]]
    first = {a.member_id for a in await alerts() if not a.payload.get("again")}
    again = [(a.member_id, a.payload["again"]) for a in await alerts() if a.payload.get("again")]
    assert ctx["coordinator"] in first
    assert sorted(again) == sorted((c, n) for c in first for n in (1, 2))

    other = await _coordinator(sessions, "Wang")
    await _settle(sessions, ctx, 60, member_id=other)
    async with sessions() as s:
        edited = {
            row.payload["alert_id"]
            for row in await s.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == "alert_settled")
            )
        }
    assert edited == {a.id for a in await alerts()}  # the first alerts and the later ones
    assert await sweep(NOW + day * 3) == []  # settled: nothing more to announce
