"""Running one ledger call (or a caller's own unit of work) as a retried write transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.db import transaction, with_retries

T = TypeVar("T")

_sqlite_writers: WeakKeyDictionary[Any, WeakKeyDictionary[Any, asyncio.Lock]] = WeakKeyDictionary()


def _writer_turn(sessions: async_sessionmaker[AsyncSession]) -> AbstractAsyncContextManager:
    """On SQLite, this process's writers take turns here before BEGIN IMMEDIATE.

    SQLite admits one writer at a time anyway; a writer that finds the database locked
    waits in SQLite's busy handler, which sleeps and polls, so eight tasks writing at once
    spend most of their time asleep. Queueing on an asyncio lock (one per event loop and
    engine) hands the database over at once instead. Other processes still meet the busy
    handler. Do not nest these units: the inner one would wait for the outer forever.
    """
    engine = sessions.kw.get("bind")
    if not isinstance(engine, AsyncEngine) or engine.dialect.name != "sqlite":
        return nullcontext()
    per_loop = _sqlite_writers.setdefault(asyncio.get_running_loop(), WeakKeyDictionary())
    return per_loop.setdefault(engine.sync_engine, asyncio.Lock())


async def atomically(
    sessions: async_sessionmaker[AsyncSession], work: Callable[[AsyncSession], Awaitable[T]]
) -> T:
    """Run `work(session)` in a write transaction, from the start again after a deadlock,
    serialization failure or busy SQLite database. A DomainError rolls back and propagates.

    Services that change their own rows and post in the same transaction do the same:
    `await atomically(sessions, lambda s: confirm_and_pay(s, order_id))`.
    """

    async def attempt() -> T:
        async with _writer_turn(sessions), transaction(sessions, write=True) as session:
            return await work(session)

    return await with_retries(attempt)
