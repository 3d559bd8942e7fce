"""Races at the counter, on SQLite and PostgreSQL: the last bottles, double confirmation,
and a cancel meeting a confirmation. Each run is a real write transaction per caller."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from core import ledger
from core.db import transaction
from core.ledger import HoldStatus, atomically
from core.ledger.tables import LedgerHold, LedgerTransaction
from core.rewards import merchants, redemption
from core.rewards.tables import Redemption, RewardItem
from tests.rewards.conftest import add_member, give, shop_balance

RACERS = 30
BOTTLES = 5


confirm = redemption.confirm_redemption


async def _outcomes(calls) -> list[object]:
    return await asyncio.gather(*calls, return_exceptions=True)


async def test_thirty_members_race_for_the_last_five_bottles(sessions, town) -> None:
    async with transaction(sessions, write=True) as session:
        await merchants.set_stock(session, town.staff, town.oil, BOTTLES)
        racers = []
        for i in range(RACERS):
            racer = await add_member(session, town.branch, f"Racer {i}")
            await give(session, racer, town.branch, 90)
            racers.append(racer)

    results = await _outcomes(
        atomically(
            sessions,
            lambda s, racer=racer: redemption.redeem(s, racer, town.oil, key=f"race:{racer}"),
        )
        for racer in racers
    )
    issued = [r for r in results if isinstance(r, redemption.Issued)]
    sold_out = [r for r in results if isinstance(r, redemption.SoldOut)]
    assert len(issued) == BOTTLES and len(sold_out) == RACERS - BOTTLES, results
    assert all(str(r) == redemption.SoldOut.key for r in sold_out)
    async with sessions() as session:
        holds = list(await session.scalars(select(LedgerHold)))
        assert len(holds) == BOTTLES and {h.status for h in holds} == {HoldStatus.PENDING}
        item = await session.get(RewardItem, town.oil)
        assert (item.stock, item.reserved) == (BOTTLES, BOTTLES)

    confirmed = await _outcomes(
        atomically(
            sessions, lambda s, code=i.code: redemption.confirm_redemption(s, town.staff, code)
        )
        for i in issued
    )
    assert all(isinstance(c, redemption.AtCounter) and not c.replayed for c in confirmed)
    assert await shop_balance(sessions, town.shop, town.branch) == BOTTLES * 60
    async with sessions() as session:
        item = await session.get(RewardItem, town.oil)
        assert (item.stock, item.reserved) == (0, 0)
        pending = await session.scalar(
            select(func.count()).select_from(LedgerHold).where(LedgerHold.status == "pending")
        )
        assert pending == 0
    report = await ledger.verify_ledger(sessions)
    assert report.ok, report.summary


async def test_a_code_confirmed_twice_at_once_posts_once(sessions, town) -> None:
    async with transaction(sessions, write=True) as session:
        second_staff = await add_member(session, town.branch, "Second")
        invite = await merchants.invite_staff(session, town.coordinator, town.shop)
        await merchants.join_staff(session, second_staff, invite.code)
    for round_ in range(3):
        issued = await atomically(
            sessions,
            lambda s, r=round_: redemption.redeem(s, town.residents[0], town.coupon, key=f"d{r}"),
        )
        taps = [town.staff, town.staff, second_staff, second_staff]
        results = await _outcomes(
            atomically(sessions, lambda s, who=who, code=issued.code: confirm(s, who, code))
            for who in taps
        )
        assert all(isinstance(r, redemption.AtCounter) for r in results), results
        assert sum(not r.replayed for r in results) == 1
        assert len({r.posting_id for r in results}) == 1
    async with sessions() as session:
        postings = await session.scalar(
            select(func.count())
            .select_from(LedgerTransaction)
            .where(LedgerTransaction.kind == "redemption")
        )
        assert postings == 3
    assert await shop_balance(sessions, town.shop, town.branch) == 90
    report = await ledger.verify_ledger(sessions)
    assert report.ok, report.summary


async def test_cancel_confirm_and_expiry_racing_end_a_code_once(sessions, town) -> None:
    member = town.residents[1]
    for round_ in range(4):
        issued = await atomically(
            sessions, lambda s, r=round_: redemption.redeem(s, member, town.coupon, key=f"r{r}")
        )
        code, number, later = issued.code, issued.redemption_id, issued.expires_at

        async def confirming(s, code=code):
            return await confirm(s, town.staff, code)

        async def cancelling(s, number=number):
            return await redemption.cancel_redemption(s, member, number)

        async def sweeping(s, later=later):
            return await redemption.expire_due_redemptions(s, now=later)

        results = await _outcomes(
            atomically(sessions, work) for work in (confirming, cancelling, sweeping)
        )
        async with sessions() as session:
            row = await session.get(Redemption, issued.redemption_id)
            hold = await session.get(LedgerHold, row.hold_id)
        ended = {"confirmed": "posted", "cancelled": "voided", "expired": "voided"}
        assert hold.status == ended[row.status], (row.status, hold.status, results)
    async with sessions() as session:
        item = await session.get(RewardItem, town.coupon)
        assert item.reserved == 0
    report = await ledger.verify_ledger(sessions)
    assert report.ok, report.summary


async def test_members_redeeming_while_the_shop_confirms(sessions, town) -> None:
    """Redeeming and confirming the same item at once lock its row and the accounts in
    one order, so neither waits for the other in a circle (PostgreSQL deadlock)."""
    async with transaction(sessions, write=True) as session:
        people = []
        for i in range(12):
            person = await add_member(session, town.branch, f"Buyer {i}")
            await give(session, person, town.branch, 300)
            people.append(person)

    async def redeem_and_confirm(person: int, round_: int) -> None:
        issued = await atomically(
            sessions,
            lambda s: redemption.redeem(s, person, town.coupon, key=f"m:{person}:{round_}"),
        )
        await atomically(sessions, lambda s: confirm(s, town.staff, issued.code))

    await asyncio.gather(*(redeem_and_confirm(p, r) for p in people for r in range(3)))
    assert await shop_balance(sessions, town.shop, town.branch) == 12 * 3 * 30
    report = await ledger.verify_ledger(sessions)
    assert report.ok, report.summary
