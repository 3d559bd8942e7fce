"""Ledger throughput on SQLite and PostgreSQL, next to what the raw driver and pgbench reach.

    python -m bench.ledger [--postings 2000] [--repeat 3] [--postgres URL | --no-postgres]

For each database: transfers between random member accounts, one task and eight tasks,
with the p50/p99 latency of one posting (each a whole write transaction through
`core.ledger.atomically`). In the same run, the raw driver (sqlite3 / asyncpg) commits as
many transactions of the same rows (one transaction row, two entry rows) as a baseline,
and on PostgreSQL `pgbench`'s built-in TPC-B-like script runs with the same client count
as the ceiling. Each ledger figure is the median of `--repeat` runs: other work on the
machine moves single runs a lot, so the load average is printed around each database too.
Scratch databases are created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

import asyncpg
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import migrate
from core.config import async_database_url
from core.db import create_engine, session_factory
from core.ledger import PostingKind, atomically, grant, open_member_account, transfer
from core.models import Branch, Member

ACCOUNTS = 1000
START_GRANT = 1_000_000
CONCURRENCY = 8
PGBENCH_SECONDS = 10
GOAL_SQLITE = 1000  # postings/s with 8 tasks
GOAL_PGBENCH_SHARE = 0.5


@dataclass(frozen=True)
class Run:
    rate: float  # per second
    p50_ms: float
    p99_ms: float
    p95_ms: float = 0.0
    cpu_ms: float = 0.0  # this process's CPU per call


def _median_run(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda run: run.rate)[len(runs) // 2]


def _summary(latencies: list[float], elapsed: float) -> Run:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return Run(len(ordered) / elapsed, statistics.median(ordered) * 1e3, p99 * 1e3, p95 * 1e3)


async def _timed(total: int, tasks: int, one: Callable[[int], Awaitable[object]]) -> Run:
    """Call `one(i)` for i in range(total) from `tasks` concurrent tasks."""
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        for i in counter:
            started = time.perf_counter()
            await one(i)
            latencies.append(time.perf_counter() - started)

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    run = _summary(latencies, time.perf_counter() - started)
    return replace(run, cpu_ms=(time.process_time() - cpu) * 1e3 / max(1, total))


async def _open_accounts(sessions: async_sessionmaker[AsyncSession]) -> list[int]:
    async def setup(session: AsyncSession) -> list[int]:
        branch = Branch(code="bench", names={"en": "Bench"}, time_zone="UTC", default_language="en")
        session.add(branch)
        await session.flush()
        assert branch.id is not None
        members = [Member(name=f"member {i}", branch_id=branch.id) for i in range(ACCOUNTS)]
        session.add_all(members)
        await session.flush()
        ids = []
        for member in members:
            assert member.id is not None
            account = await open_member_account(session, member.id, branch.id)
            await grant(session, account.id, START_GRANT, key=f"start:{account.id}")
            ids.append(account.id)
        return ids

    return await atomically(sessions, setup)


async def _ledger_runs(url: str, postings: int, repeat: int) -> dict[str, Run]:
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        accounts = await _open_accounts(sessions)
        rng = random.Random(1)

        async def one(i: int, run: str) -> None:
            source, destination = rng.sample(accounts, 2)
            await atomically(
                sessions,
                lambda s: transfer(
                    s, source, destination, 1, kind=PostingKind.GIFT, key=f"{run}:{i}"
                ),
            )

        results: dict[str, Run] = {}
        for tasks in (1, CONCURRENCY):
            runs = []
            for attempt in range(repeat):
                run = f"{tasks}:{attempt}"
                runs.append(await _timed(postings, tasks, lambda i, run=run: one(i, run)))
            results[f"ledger, {tasks} task{'s' if tasks > 1 else ''}"] = _median_run(runs)
        return results
    finally:
        await engine.dispose()


# The same rows a posting inserts, without the ledger: the driver's own ceiling.
RAW_TABLES = (
    "CREATE TABLE raw_transactions (id {serial} PRIMARY KEY, kind VARCHAR(16) NOT NULL,"
    " idempotency_key VARCHAR(128) NOT NULL UNIQUE, created_at TIMESTAMP NOT NULL)",
    "CREATE TABLE raw_entries (id {serial} PRIMARY KEY, transaction_id BIGINT NOT NULL,"
    " account_id INTEGER NOT NULL, amount BIGINT NOT NULL, balance_after BIGINT NOT NULL)",
)


def _raw_sqlite(path: Path, postings: int) -> Run:
    connection = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        connection.execute(f"PRAGMA {pragma}")
    for ddl in RAW_TABLES:
        connection.execute(ddl.format(serial="INTEGER"))
    latencies = []
    started = time.perf_counter()
    for i in range(postings):
        begun = time.perf_counter()
        connection.execute("BEGIN IMMEDIATE")
        (tx,) = connection.execute(
            "INSERT INTO raw_transactions (kind, idempotency_key, created_at)"
            " VALUES ('gift', ?, ?) RETURNING id",
            (f"raw:{i}", time.time()),
        ).fetchone()
        connection.executemany(
            "INSERT INTO raw_entries (transaction_id, account_id, amount, balance_after)"
            " VALUES (?, ?, ?, ?)",
            [(tx, 1, -1, 0), (tx, 2, 1, 0)],
        )
        connection.execute("COMMIT")
        latencies.append(time.perf_counter() - begun)
    run = _summary(latencies, time.perf_counter() - started)
    connection.close()
    return run


async def _raw_postgres(dsn: str, postings: int, tasks: int) -> Run:
    connections = [await asyncpg.connect(dsn) for _ in range(tasks)]
    try:
        for ddl in RAW_TABLES:
            await connections[0].execute(ddl.format(serial="BIGSERIAL"))
        free = asyncio.Queue()
        for connection in connections:
            free.put_nowait(connection)

        async def one(i: int) -> None:
            connection = await free.get()
            try:
                async with connection.transaction():
                    tx = await connection.fetchval(
                        "INSERT INTO raw_transactions (kind, idempotency_key, created_at)"
                        " VALUES ('gift', $1, now()) RETURNING id",
                        f"raw:{i}",
                    )
                    await connection.executemany(
                        "INSERT INTO raw_entries"
                        " (transaction_id, account_id, amount, balance_after)"
                        " VALUES ($1, $2, $3, $4)",
                        [(tx, 1, -1, 0), (tx, 2, 1, 0)],
                    )
            finally:
                free.put_nowait(connection)

        return await _timed(postings, tasks, one)
    finally:
        for connection in connections:
            await connection.close()


def _plain_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _pgbench(url: URL) -> float:
    env = {**os.environ, "PGPASSWORD": url.password or ""}
    target = [
        "-h", url.host or "127.0.0.1",
        "-p", str(url.port or 5432),
        "-U", url.username or "postgres",
        url.database or "postgres",
    ]  # fmt: skip
    subprocess.run(["pgbench", "-i", "-q", *target], env=env, check=True, capture_output=True)
    jobs = ["-c", str(CONCURRENCY), "-j", "2", "-T", str(PGBENCH_SECONDS)]
    done = subprocess.run(
        ["pgbench", *jobs, *target], env=env, check=True, capture_output=True, text=True
    )
    found = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
    if found is None:
        raise RuntimeError(f"pgbench printed no tps:\n{done.stdout}{done.stderr}")
    return float(found.group(1))


def _row(name: str, run: Run, unit: str = "postings/s") -> str:
    return (
        f"  {name:<26} {run.rate:>9,.0f} {unit:<12}"
        f" p50 {run.p50_ms:6.2f} ms  p99 {run.p99_ms:6.2f} ms"
    )


def bench_sqlite(postings: int, repeat: int) -> list[str]:
    scratch = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    try:
        url = async_database_url(f"sqlite:///{scratch / 'ledger.db'}")
        migrate.upgrade(url)
        ledger = asyncio.run(_ledger_runs(url, postings, repeat))
        raw = _median_run([_raw_sqlite(scratch / f"raw{i}.db", postings) for i in range(repeat)])
    finally:
        shutil.rmtree(scratch)
    concurrent = ledger[f"ledger, {CONCURRENCY} tasks"]
    lines = [f"SQLite {sqlite3.sqlite_version} (file, WAL, synchronous=NORMAL)"]
    lines += [_row(name, run) for name, run in ledger.items()]
    lines.append(_row("raw sqlite3, 1 connection", raw, "tx/s"))
    lines.append(
        f"  ledger/raw: {concurrent.rate / raw.rate:.3f} ({CONCURRENCY} tasks vs raw);"
        f" goal >= {GOAL_SQLITE} postings/s with {CONCURRENCY} tasks:"
        f" {'met' if concurrent.rate >= GOAL_SQLITE else 'NOT met'}"
    )
    return lines


async def _admin(server: URL, statement: str) -> None:
    connection = await asyncpg.connect(_plain_dsn(server))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def bench_postgres(server: URL, postings: int, repeat: int) -> list[str]:
    suffix = uuid.uuid4().hex[:8]
    ledger_db, raw_db, pgbench_db = (f"ledger_bench_{suffix}_{n}" for n in ("l", "r", "p"))
    for name in (ledger_db, raw_db, pgbench_db):
        asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(async_database_url(_plain_dsn(server.set(database=ledger_db))))
        rendered = url.render_as_string(hide_password=False)
        migrate.upgrade(rendered)
        ledger = asyncio.run(_ledger_runs(rendered, postings, repeat))
        raw_dsn = _plain_dsn(server.set(database=raw_db))
        raw = {}
        for tasks in (1, CONCURRENCY):
            runs = []
            for _ in range(repeat):
                runs.append(asyncio.run(_raw_postgres(raw_dsn, postings, tasks)))
                asyncio.run(_admin(server.set(database=raw_db), "DROP TABLE raw_entries"))
                asyncio.run(_admin(server.set(database=raw_db), "DROP TABLE raw_transactions"))
            raw[tasks] = _median_run(runs)
        ceiling = _pgbench(server.set(database=pgbench_db))
        version = asyncio.run(_server_version(server))
    finally:
        for name in (ledger_db, raw_db, pgbench_db):
            asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    concurrent = ledger[f"ledger, {CONCURRENCY} tasks"]
    lines = [f"PostgreSQL {version} at {server.host}:{server.port or 5432}"]
    lines += [_row(name, run) for name, run in ledger.items()]
    lines.append(_row("raw asyncpg, 1 connection", raw[1], "tx/s"))
    lines.append(_row(f"raw asyncpg, {CONCURRENCY} connections", raw[CONCURRENCY], "tx/s"))
    lines.append(
        f"  ledger/raw: {ledger['ledger, 1 task'].rate / raw[1].rate:.2f} (1 task),"
        f" {concurrent.rate / raw[CONCURRENCY].rate:.2f} ({CONCURRENCY} tasks)"
    )
    share = concurrent.rate / ceiling
    lines.append(
        f"  pgbench TPC-B-like, -c {CONCURRENCY} -j 2 -T {PGBENCH_SECONDS}: {ceiling:,.0f} tps;"
        f" ledger/pgbench: {share:.2f}; goal >= {GOAL_PGBENCH_SHARE:.2f}:"
        f" {'met' if share >= GOAL_PGBENCH_SHARE else 'NOT met'}"
    )
    return lines


async def _server_version(server: URL) -> str:
    connection = await asyncpg.connect(_plain_dsn(server))
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


def _default_postgres() -> str:
    configured = os.environ.get("TIMEBANK_DATABASE_URL", "")
    return configured if configured.startswith("postgres") else "postgresql://postgres@127.0.0.1/"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postings", type=int, default=2000, help="postings per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median kept)")
    parser.add_argument("--postgres", default=_default_postgres(), help="server URL")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    print(f"{args.postings} postings per run, median of {args.repeat} runs, {ACCOUNTS} accounts")
    print(_load(), flush=True)
    print("\n".join(bench_sqlite(args.postings, args.repeat)), flush=True)
    print(_load(), flush=True)
    if not args.no_postgres:
        print("\n".join(bench_postgres(make_url(args.postgres), args.postings, args.repeat)))
        print(_load())


def _load() -> str:
    """The machine's load average: the figures only mean something on a quiet machine."""
    one, five, fifteen = os.getloadavg()
    return f"  load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


if __name__ == "__main__":
    main()
