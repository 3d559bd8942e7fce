"""Exactly one scheduler among a bot's workers: the one holding a PostgreSQL advisory lock.

Every worker tries the lock every `EVERY` seconds on a connection of its own and the one that
gets it runs the sweeps while it holds it. The lock belongs to that connection, so when the
leader dies (even by SIGKILL) PostgreSQL releases it as the connection drops, and another
worker takes over at its next try, within seconds. A leader that loses its connection stops
its sweeps before it tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.logs import log_event

log = logging.getLogger("timebank.leader")
T = TypeVar("T")
LOCK_KEY = 5_472_016_734_210  # any fixed number, the same in every worker of one database
EVERY = 2.0


async def lead(
    engine: AsyncEngine,
    start: Callable[[], T],
    stop: Callable[[T], None],
    every: float = EVERY,
) -> None:
    """Run forever: `start()` when this process becomes the leader, `stop(it)` when it no
    longer is (cancelled, or its connection lost)."""
    while True:
        try:
            async with engine.connect() as connection:
                while not await connection.scalar(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY}
                ):
                    await connection.rollback()
                    await asyncio.sleep(every)
                await connection.rollback()
                log_event(log, "scheduler leader", pid=os.getpid())
                running = start()
                try:
                    while True:
                        await asyncio.sleep(every)
                        await connection.scalar(text("SELECT 1"))
                        await connection.rollback()
                finally:
                    stop(running)
                    log_event(log, "scheduler leadership ended")
                    with contextlib.suppress(Exception):
                        await asyncio.shield(
                            connection.execute(text("SELECT pg_advisory_unlock_all()"))
                        )
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log_event(
                log,
                "leader lock unavailable",
                logging.WARNING,
                failure=type(error).__name__,
                reason=str(getattr(error, "orig", None) or error)[:200],
            )
            await asyncio.sleep(every)
