"""Shared fixtures: a migrated database on SQLite (default) or PostgreSQL.

Set TIMEBANK_DATABASE_URL to a postgresql:// URL to run the suite on PostgreSQL: a
throwaway database is created on that server for the run and dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import SQLModel

import core.tables  # noqa: F401  (every table, for emptying)
import tests.profiles  # noqa: F401  (the Hypothesis profile in force)
from core import migrate
from core.config import async_database_url
from core.db import create_engine, session_factory


def _server_url() -> str | None:
    url = os.environ.get("TIMEBANK_DATABASE_URL", "")
    return async_database_url(url) if url.startswith("postgres") else None


DATABASE_FIXTURES = {"database_url", "ledger_database"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL run only the tests that use a database: those whose fixtures include
    one (`database_url`, `ledger_database`) or that are marked `database` (they read
    TIMEBANK_DATABASE_URL themselves). The rest run the same on either, in the SQLite run."""
    if _server_url() is None:
        return
    keep, skip = [], []
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        uses = fixtures & DATABASE_FIXTURES or item.get_closest_marker("database")
        (keep if uses else skip).append(item)
    if skip:
        config.hook.pytest_deselected(items=skip)
        items[:] = keep


async def _admin(server_url: str, statement: str) -> None:
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def fresh_database(tmp_dir: Path) -> Iterator[str]:
    """A new, empty database URL; dropped afterwards on PostgreSQL."""
    server = _server_url()
    if server is None:
        yield async_database_url(f"sqlite:///{tmp_dir / 'timebank.db'}")
        return
    name = f"timebank_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One migrated database for the whole run; tests get it emptied by `engine`."""
    for url in fresh_database(tmp_path_factory.mktemp("db")):
        migrate.upgrade(url)
        yield url


async def _empty_tables(engine: AsyncEngine) -> None:
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            quoted = ", ".join(f'"{name}"' for name in tables)
            await connection.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                await connection.execute(text(f'DELETE FROM "{name}"'))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await _empty_tables(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


def broken_upgrade(path: Path) -> str:
    """A SQLite database at revision 0004 whose identity points at no member: the
    upgrade's foreign key check refuses it."""
    url = async_database_url(f"sqlite:///{path}")
    migrate.upgrade(url, "0004")
    with sqlite3.connect(path) as connection:
        connection.execute(
            "INSERT INTO identities (id, platform, external_id, member_id, created_at)"
            " VALUES (1, 'telegram', '1', 99, '2026-11-20 08:00:00')"
        )
    return url
