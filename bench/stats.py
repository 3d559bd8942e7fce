"""A branch's figures for a month over a seeded year, on SQLite and PostgreSQL.

    python -m bench.stats [--members 10000] [--orders 100000] [--postings 300000]
                          [--runs 60] [--postgres URL | --no-postgres] [--no-sqlite]

Seeds a year (2026) across the demo's three branches with bulk inserts: members, their
ledger accounts, orders with their progress rows (some disputed), a service posting for
each request done or confirmed and gifts between members for the rest of the postings.
Then times `core.stats.branch_figures` for Luoshan over random months of that year, each
call in a session of its own as the dashboard makes it, and prints p50/p95, with one
year's figures as a comparison. Balances are not kept in step with the seeded entries:
the figures read entries, not balances. Scratch databases are created and dropped.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from bench.databases import add_arguments, run_on_each
from core import matching
from core.db import create_engine, session_factory, transaction
from core.demo import seed_demo
from core.ledger.tables import LedgerAccount, LedgerEntry, LedgerTransaction
from core.models import Branch, Category, Member, Neighbourhood, Order, OrderProgress
from core.stats import branch_figures, period_of

YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
SECONDS_IN_YEAR = 365 * 24 * 3600
STATUSES = ["confirmed"] * 55 + ["done"] * 15 + ["expired"] * 10 + ["cancelled"] * 8
STATUSES += ["accepted"] * 6 + ["open"] * 4 + ["not_credited"] * 2
BATCH = 5000


def _moment(rng: random.Random) -> datetime:
    return YEAR_START + timedelta(seconds=rng.randrange(SECONDS_IN_YEAR))


async def _bulk(conn: AsyncConnection, table, rows: list[dict]) -> None:
    for start in range(0, len(rows), BATCH):
        await conn.execute(insert(table), rows[start : start + BATCH])


async def seed_year(url: str, members: int, orders: int, postings: int, seed: int = 7) -> int:
    """The year's rows; returns Luoshan's branch id."""
    rng = random.Random(seed)
    engine = create_engine(url)
    try:
        async with transaction(session_factory(engine), write=True) as session:
            await seed_demo(session)
        async with engine.begin() as conn:
            branches = list((await conn.execute(select(Branch.id).order_by(Branch.id))).scalars())
            categories = list((await conn.execute(select(Category.id))).scalars())
            areas: dict[int, list[int]] = {b: [] for b in branches}
            for area, branch in await conn.execute(
                select(Neighbourhood.id, Neighbourhood.branch_id)
            ):
                areas[branch].append(area)
            first_member = int(await conn.scalar(text("SELECT max(id) FROM members")) or 0) + 1
            first_account = (
                int(await conn.scalar(text("SELECT max(id) FROM ledger_accounts")) or 0) + 1
            )
            first_order = int(await conn.scalar(text("SELECT max(id) FROM orders")) or 0) + 1
            first_tx = (
                int(await conn.scalar(text("SELECT max(id) FROM ledger_transactions")) or 0) + 1
            )
            first_entry = (
                int(await conn.scalar(text("SELECT max(id) FROM ledger_entries")) or 0) + 1
            )

            member_rows, account_rows, branch_of = [], [], {}
            for n in range(members):
                member_id, branch = first_member + n, rng.choice(branches)
                branch_of[member_id] = branch
                volunteer = n % 3 == 0
                member_rows.append(
                    {
                        "id": member_id, "name": f"Member {member_id}", "language": "zh_Hans",
                        "branch_id": branch, "is_resident": not volunteer,
                        "is_volunteer": volunteer, "is_coordinator": False,
                        "phone": f"+86138{member_id:08d}", "address": None,
                        "neighbourhood_id": rng.choice(areas[branch] or [None]),
                        "verified": volunteer, "sponsored": False, "thanked_in_public": False,
                        "created_at": _moment(rng),
                    }
                )  # fmt: skip
                account_rows.append(
                    {
                        "id": first_account + n, "kind": "member", "branch_id": branch,
                        "owner_id": member_id, "overdraft_limit": None, "balance": 0, "held": 0,
                        "created_at": YEAR_START,
                    }
                )  # fmt: skip
            await _bulk(conn, Member.__table__, member_rows)
            await _bulk(conn, LedgerAccount.__table__, account_rows)
            volunteers = [m for m in range(first_member, first_member + members, 3)]
            residents = [m for m in range(first_member, first_member + members) if m % 3]

            def account(member_id: int) -> int:
                return first_account + member_id - first_member

            order_rows, progress_rows, tx_rows, entry_rows = [], [], [], []

            def posting(kind: str, at: datetime, source: int, to: int, minutes: int, order):
                tx_id = first_tx + len(tx_rows)
                tx_rows.append(
                    {
                        "id": tx_id, "kind": kind, "memo": "", "order_id": order,
                        "idempotency_key": f"bench:{tx_id}", "fingerprint": "bench",
                        "created_at": at,
                    }
                )  # fmt: skip
                for leg, (acc, amount) in enumerate(((source, -minutes), (to, minutes))):
                    entry_rows.append(
                        {
                            "id": first_entry + len(entry_rows), "transaction_id": tx_id,
                            "account_id": acc, "amount": amount, "balance_after": amount * leg,
                        }
                    )  # fmt: skip

            for n in range(orders):
                order_id, resident = first_order + n, rng.choice(residents)
                status, created = rng.choice(STATUSES), _moment(rng)
                helped = status not in ("open", "expired", "cancelled")
                volunteer = rng.choice(volunteers) if helped else None
                minutes = rng.choice((30, 60, 60, 90, 120))
                order_rows.append(
                    {
                        "id": order_id, "branch_id": branch_of[resident],
                        "requester_id": resident, "beneficiary_id": resident,
                        "category_id": rng.choice(categories), "description": "",
                        "estimated_minutes": minutes, "volunteer_id": volunteer,
                        "status": status, "place_kind": "home", "funding": "own",
                        "idempotency_key": f"bench:order:{order_id}",
                        "created_at": created, "updated_at": created,
                    }
                )  # fmt: skip
                disputed = created + timedelta(days=2) if status == "not_credited" else None
                progress_rows.append(
                    {
                        "order_id": order_id, "round": 1, "waves": 1, "accepts": int(helped),
                        "reminded_day": False, "reminded_hour": False, "disputed_at": disputed,
                        "thanks": "",
                    }
                )  # fmt: skip
                if status in ("done", "confirmed") and len(tx_rows) < postings:
                    paid = created + timedelta(days=rng.randint(1, 5))
                    posting(
                        "service", paid, account(resident), account(volunteer), minutes, order_id
                    )
            while len(tx_rows) < postings:
                giver, taker = rng.sample(range(first_member, first_member + members), 2)
                posting(
                    "gift", _moment(rng), account(giver), account(taker), rng.randint(5, 60), None
                )
            await _bulk(conn, Order.__table__, order_rows)
            await _bulk(conn, OrderProgress.__table__, progress_rows)
            await _bulk(conn, LedgerTransaction.__table__, tx_rows)
            await _bulk(conn, LedgerEntry.__table__, entry_rows)
        if engine.dialect.name == "postgresql":
            async with engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("VACUUM ANALYZE"))
        await matching.optimize(engine)  # what the bot does at start-up on SQLite
        return branches[0]
    finally:
        await engine.dispose()


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def bench(args: argparse.Namespace):
    async def run(url: str) -> list[str]:
        began = time.perf_counter()
        branch = await seed_year(url, args.members, args.orders, args.postings)
        seeded = time.perf_counter() - began
        # One connection, so on PostgreSQL its server process's CPU can be read from /proc.
        engine = create_engine(url, **({} if "sqlite" in url else {"pool_size": 1}))
        sessions = session_factory(engine)
        rng = random.Random(11)
        try:
            cpu_times: list[float] = []

            async def timed(period) -> tuple[float, object]:
                start, cpu = time.perf_counter(), time.process_time()
                async with sessions() as session:
                    figures = await branch_figures(session, branch, period)
                cpu_times.append((time.process_time() - cpu) * 1000)
                return (time.perf_counter() - start) * 1000, figures

            months = [
                period_of("custom", date(2027, 1, 1), date(2026, m, 1), _month_end(2026, m))
                for m in range(1, 13)
            ]
            await timed(months[0])  # warm the pool and the statement cache
            cpu_times.clear()
            times, figures = [], None
            server = await _server_pid(engine)
            server_cpu = _process_cpu(server)
            for _ in range(args.runs):
                elapsed, figures = await timed(rng.choice(months))
                times.append(elapsed)
            server_cpu = _process_cpu(server) - server_cpu
            year, year_figures = await timed(period_of("year", date(2026, 12, 31)))
        finally:
            await engine.dispose()
        totals = year_figures.totals
        return [
            f"  seeded {args.members:,} members, {args.orders:,} orders, "
            f"{args.postings:,} postings in {seeded:.1f} s",
            f"  one branch's month figures, {args.runs} runs: "
            f"p50 {statistics.median(times):.1f} ms, p95 {_percentile(times, 0.95):.1f} ms, "
            f"max {max(times):.1f} ms",
            f"  CPU of this process (all of SQLite's work; PostgreSQL's is elsewhere): "
            f"p50 {statistics.median(cpu_times):.1f} ms, p95 {_percentile(cpu_times, 0.95):.1f} ms",
            *(
                [f"  PostgreSQL server process CPU per call, mean: {server_cpu / args.runs:.1f} ms"]
                if server
                else []
            ),
            f"  {_contention()}",
            f"  the same branch's year figures: {year:.1f} ms (asked {totals.asked:,}, "
            f"done {totals.done:,}, {totals.minutes // 60:,} hours, "
            f"{year_figures.active_volunteers:,} volunteers active)",
            f"  last month timed: asked {figures.totals.asked:,}, "
            f"{figures.totals.minutes // 60:,} hours",
        ]

    return run


async def _server_pid(engine) -> int | None:
    if engine.dialect.name != "postgresql":
        return None
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT pg_backend_pid()")))


def _process_cpu(pid: int | None) -> float:
    """A local process's user and system CPU so far, in ms (0 when it is not ours to read)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def _contention() -> str:
    """How much other work on the machine slows this process: a loop's wall time over CPU."""
    wall, cpu = time.perf_counter(), time.process_time()
    sum(range(3_000_000))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return f"contention: a CPU-bound loop ran {wall / cpu:.1f}x slower than its CPU time"


def _month_end(year: int, month: int) -> date:
    following = date(year + month // 12, month % 12 + 1, 1)
    return following - timedelta(days=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--postings", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=60)
    add_arguments(parser)
    args = parser.parse_args()
    run_on_each(args, "stats", bench(args))


if __name__ == "__main__":
    main()
