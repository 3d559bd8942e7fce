"""Fixtures for the ledger tests: a database migrated once, fresh for every test.

By default the tests run on SQLite: the migrations run once into a template file and
each test gets a copy of it. With TIMEBANK_DATABASE_URL set to a postgresql:// URL they
run on that server instead: a throwaway database `ledger_test_<random>` is created and
migrated once, emptied before each test, and dropped at the end. Ids keep counting up
across tests on PostgreSQL, so tests name a missing row with UNKNOWN, never a small id.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import SQLModel

from core import migrate
from core.config import async_database_url
from core.db import create_engine, session_factory
from core.ledger import atomically, grant, open_member_account
from core.ledger.tables import LedgerAccount, LedgerEntry, LedgerHold, LedgerTransaction
from core.models import Branch, Member

T = TypeVar("T")


class LedgerDatabase:
    """Hands out engines on an empty, migrated database."""

    def __init__(self, url: str, template: Path | None, scratch: Path) -> None:
        self.url = url
        self.template = template
        self.scratch = scratch
        self._copies = itertools.count()

    @property
    def is_postgresql(self) -> bool:
        return self.template is None

    async def open(self) -> AsyncEngine:
        if self.template is not None:
            copy = self.scratch / f"ledger-{next(self._copies)}.db"
            shutil.copyfile(self.template, copy)
            return create_engine(async_database_url(f"sqlite:///{copy}"))
        engine = create_engine(self.url)
        async with engine.begin() as connection:
            # DELETE, children first, takes milliseconds where TRUNCATE takes a tenth of a
            # second. The migrations may lag the metadata, so only tables that exist.
            existing = set(
                await connection.scalars(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
                )
            )
            for table in reversed(SQLModel.metadata.sorted_tables):
                if table.name in existing:
                    await connection.execute(table.delete())
        return engine


def _server_dsn() -> str | None:
    url = os.environ.get("TIMEBANK_DATABASE_URL", "")
    return url if url.startswith("postgres") else None


async def _on_server(dsn: str, statement: str) -> None:
    plain = make_url(async_database_url(dsn)).set(drivername="postgresql")
    connection = await asyncpg.connect(plain.render_as_string(hide_password=False))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def ledger_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LedgerDatabase]:
    scratch = tmp_path_factory.mktemp("ledger")
    dsn = _server_dsn()
    if dsn is None:
        template = scratch / "template.db"
        migrate.upgrade(async_database_url(f"sqlite:///{template}"))
        with sqlite3.connect(template) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        yield LedgerDatabase(str(template), template, scratch)
        return
    name = f"ledger_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_on_server(dsn, f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(async_database_url(dsn)).set(database=name)
        rendered = url.render_as_string(hide_password=False)
        migrate.upgrade(rendered)
        yield LedgerDatabase(rendered, None, scratch)
    finally:
        asyncio.run(_on_server(dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def engine(ledger_database: LedgerDatabase) -> AsyncIterator[AsyncEngine]:
    engine = await ledger_database.open()
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


class World:
    """Branches and members with accounts, and a way to run ledger calls, for the tests."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self._codes = itertools.count(1)

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        return await atomically(self.sessions, work)

    async def read(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with self.sessions() as session, session.begin():
            return await work(session)

    async def branch(self) -> int:
        code = f"b{next(self._codes)}"
        async with self.sessions() as session, session.begin():
            branch = Branch(code=code, names={"en": code}, time_zone="UTC", default_language="en")
            session.add(branch)
            await session.flush()
            assert branch.id is not None
            return branch.id

    async def member(self, branch_id: int) -> int:
        async with self.sessions() as session, session.begin():
            member = Member(name=f"m{next(self._codes)}", branch_id=branch_id)
            session.add(member)
            await session.flush()
            assert member.id is not None
            return member.id

    async def account(self, branch_id: int, *, granted: int = 0) -> int:
        """A new member's account, with `granted` minutes of start grant."""
        member_id = await self.member(branch_id)
        account = await self.run(lambda s: open_member_account(s, member_id, branch_id))
        if granted:
            await self.run(lambda s: grant(s, account.id, granted, key=f"start:{account.id}"))
        return account.id

    async def counts(self) -> dict[str, Any]:
        """Row counts and cached sums: equal before and after a refused call."""

        async def count(session: AsyncSession) -> dict[str, Any]:
            counted = {}
            for table in (LedgerTransaction, LedgerEntry, LedgerHold, LedgerAccount):
                counted[table.__tablename__] = await session.scalar(
                    select(func.count()).select_from(table)
                )
            accounts = LedgerAccount.__table__
            counted["balances"] = (
                await session.execute(
                    select(accounts.c.id, accounts.c.balance, accounts.c.held).order_by(
                        accounts.c.id
                    )
                )
            ).all()
            return counted

        return await self.read(count)


@pytest.fixture
def world(sessions: async_sessionmaker[AsyncSession]) -> World:
    return World(sessions)
