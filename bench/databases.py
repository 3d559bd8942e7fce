"""The databases a benchmark runs on: a scratch SQLite file and a scratch PostgreSQL
database, each migrated, given to the same benchmark function and dropped afterwards, with
the load average printed around each (other work on the machine moves the figures)."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
from sqlalchemy.engine import URL, make_url

from core import migrate
from core.config import async_database_url

Bench = Callable[[str], Awaitable[list[str]]]  # database URL -> report lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    configured = os.environ.get("TIMEBANK_DATABASE_URL", "")
    server = configured if configured.startswith("postgres") else "postgresql://postgres@127.0.0.1/"
    parser.add_argument("--postgres", default=server, help="server URL")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")


def run_on_each(
    args: argparse.Namespace, name: str, bench: Bench, *, sqlite_note: str = ""
) -> None:
    """`bench` on SQLite and on PostgreSQL, as `add_arguments`' options ask; prints as it goes."""
    print(load_average(), flush=True)
    if not args.no_sqlite:
        print("\n".join(on_sqlite(name, bench, sqlite_note)), flush=True)
        print(load_average(), flush=True)
    if not args.no_postgres:
        print("\n".join(on_postgres(make_url(args.postgres), name, bench)), flush=True)
        print(load_average(), flush=True)


def on_sqlite(name: str, bench: Bench, note: str = "") -> list[str]:
    scratch = Path(tempfile.mkdtemp(prefix=f"{name}-bench-"))
    try:
        url = async_database_url(f"sqlite:///{scratch / f'{name}.db'}")
        migrate.upgrade(url)
        lines = asyncio.run(bench(url))
    finally:
        shutil.rmtree(scratch)
    setup = "; ".join(filter(None, ["file, WAL, synchronous=NORMAL", note]))
    return [f"SQLite {sqlite3.sqlite_version} ({setup})", *lines]


def on_postgres(server: URL, name: str, bench: Bench) -> list[str]:
    database = f"{name}_bench_{uuid.uuid4().hex[:8]}"
    version = asyncio.run(_admin(server, f'CREATE DATABASE "{database}"'))
    try:
        url = async_database_url(_plain_dsn(server.set(database=database)))
        migrate.upgrade(url)
        lines = asyncio.run(bench(url))
    finally:
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    return [f"PostgreSQL {version} at {server.host}:{server.port or 5432}", *lines]


def _plain_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(server: URL, statement: str) -> str:
    connection = await asyncpg.connect(_plain_dsn(server))
    try:
        await connection.execute(statement)
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"  load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"
