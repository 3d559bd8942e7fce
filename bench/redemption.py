"""Redemption throughput on SQLite and PostgreSQL, next to the ledger's own transfers.

    python -m bench.redemption [--redemptions 1000] [--no-postgres] [--no-sqlite]

One redemption is what a member and a shop do: `redeem` (reserve stock, place the hold,
issue a code) then `confirm_redemption` (post the hold to the shop, take the item off the
shelf, queue both receipts), each a write transaction through `core.ledger.atomically`.
Each redemption ends in one posting, so redemptions/s are postings/s.

A market day spreads its redemptions over many items and shops: members pick among
SHOPS shops of ITEMS_PER_SHOP items each (half with stock, half unlimited), and each shop's
own staff confirm. That is the figure compared with `bench.ledger`'s transfers (between
random accounts) in the same run and database: expected within 2x, as a redemption is two
transactions and a transfer one. A separate line redeems one single item at one shop, the
worst case: on PostgreSQL every redemption then waits for the item's row and the shop's
account. CPU is this process's time per posting, which other work on the machine moves
less than the wall clock (PostgreSQL's own work is in its server processes).
"""

from __future__ import annotations

import argparse
import random

from sqlalchemy.ext.asyncio import AsyncSession

from bench.databases import add_arguments, run_on_each
from bench.ledger import CONCURRENCY, Run, _ledger_runs, _timed
from core.db import create_engine, session_factory
from core.ledger import atomically, grant, open_member_account
from core.models import Branch, Member
from core.rewards import merchants, redemption

MEMBERS = 1000
START_GRANT = 100_000
SHOPS = 20
ITEMS_PER_SHOP = 10
STOCK = 100_000

Shelf = list[tuple[int, int]]  # (item id, id of a staff member of its shop)


async def _market(sessions) -> tuple[Shelf, list[int]]:
    """A branch with its shops, their staff and items, and members with credit."""

    async def setup(session: AsyncSession) -> tuple[Shelf, list[int]]:
        branch = Branch(
            code="redeem", names={"en": "Redeem"}, time_zone="UTC", default_language="en"
        )
        session.add(branch)
        await session.flush()
        coordinator = Member(name="coordinator", branch_id=branch.id, is_coordinator=True)
        staff = [Member(name=f"staff {i}", branch_id=branch.id) for i in range(SHOPS)]
        people = [Member(name=f"member {i}", branch_id=branch.id) for i in range(MEMBERS)]
        session.add_all([coordinator, *staff, *people])
        await session.flush()
        shelf = []
        for n, seller in enumerate(staff):
            shop = await merchants.register_merchant(
                session, coordinator.id, branch.id, name=f"Shop {n}"
            )
            invite = await merchants.invite_staff(session, coordinator.id, shop.id)
            await merchants.join_staff(session, seller.id, invite.code)
            for i in range(ITEMS_PER_SHOP):
                item = await merchants.add_item(
                    session, seller.id, category="groceries", names={"en": f"Item {n}.{i}"},
                    price_minutes=1 + i % 3, stock=STOCK if i % 2 else None,
                )  # fmt: skip
                shelf.append((item.id, seller.id))
        for member in people:
            account = await open_member_account(session, member.id, branch.id)
            await grant(session, account.id, START_GRANT, key=f"start:{account.id}")
        return shelf, [member.id for member in people]

    return await atomically(sessions, setup)


async def _redemption_runs(url: str, total: int) -> dict[tuple[str, int], Run]:
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        shelf, people = await _market(sessions)
        rng = random.Random(1)

        async def one(i: int, run: str, choice: tuple[int, int]) -> None:
            item, staff = choice
            member = people[i % len(people)]
            issued = await atomically(
                sessions, lambda s: redemption.redeem(s, member, item, key=f"{run}:{i}")
            )
            await atomically(
                sessions, lambda s: redemption.confirm_redemption(s, staff, issued.code)
            )

        results = {}
        for tasks in (1, CONCURRENCY):
            results["market", tasks] = await _timed(
                total, tasks, lambda i, t=tasks: one(i, f"m{t}", rng.choice(shelf))
            )
            results["hot", tasks] = await _timed(
                total, tasks, lambda i, t=tasks: one(i, f"h{t}", shelf[0])
            )
        return results
    finally:
        await engine.dispose()


def _row(name: str, run: Run) -> str:
    return (
        f"  {name:<36} {run.rate:>6,.0f} postings/s  p50 {run.p50_ms:7.2f} ms"
        f"  p95 {run.p95_ms:7.2f} ms  cpu {run.cpu_ms:5.2f} ms/posting"
    )


def bench(total: int):
    async def on(url: str) -> list[str]:
        redeemed = await _redemption_runs(url, total)
        transfers = await _ledger_runs(url, total, 1)
        lines = []
        for tasks in (1, CONCURRENCY):
            name = f"{tasks} task{'s' if tasks > 1 else ''}"
            transfer = transfers[f"ledger, {name}"]
            market, hot = redeemed["market", tasks], redeemed["hot", tasks]
            lines += [
                _row(f"redemption, market day, {name}", market),
                _row(f"redemption, one hot item, {name}", hot),
                _row(f"ledger transfer, {name}", transfer),
                f"  market day/transfer: {market.rate / transfer.rate:.2f} (expected >= 0.50),"
                f" CPU {transfer.cpu_ms / market.cpu_ms:.2f};"
                f" one hot item/transfer: {hot.rate / transfer.rate:.2f}",
            ]
        return lines

    return on


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redemptions", type=int, default=1000, help="per run")
    add_arguments(parser)
    args = parser.parse_args()
    print(
        f"{args.redemptions} redemptions per run (market day: {SHOPS} shops,"
        f" {SHOPS * ITEMS_PER_SHOP} items) and as many transfers"
    )
    run_on_each(args, "redemption", bench(args.redemptions))


if __name__ == "__main__":
    main()
