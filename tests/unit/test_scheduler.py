"""The scheduled sweep outlives a locked database and a failing run: the next wave goes
out once the lock is released, and a failure is logged and followed by the next run."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.scheduler import SWEEP_JOB, start_sweeps
from core import nudges
from core.logs import JsonFormatter
from core.models import Nudge
from tests.unit.test_matching import _setup

INTERVAL = 1


async def _nudged(sessions) -> int:
    async with sessions() as s:
        return await s.scalar(select(func.count()).select_from(Nudge))


async def _wave_went_out(sessions) -> bool:
    return await _nudged(sessions) > 0


async def _until(check: Callable[[], Awaitable[bool]], polls: int = 600) -> None:
    for _ in range(polls):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("not within a minute")


@asynccontextmanager
async def _write_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    """Another connection holds the lock writers need: SQLite's write lock (BEGIN
    IMMEDIATE), or on PostgreSQL the orders table, which every sweep reads and writes."""
    if engine.dialect.name == "sqlite":
        other = sqlite3.connect(engine.url.database, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
        return
    async with engine.connect() as other:
        await other.execute(text("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE"))
        try:
            yield
        finally:
            await other.rollback()


async def test_the_next_wave_goes_out_once_the_write_lock_is_released(
    sessions, engine, monkeypatch
) -> None:
    await _setup(sessions, [(0.001, 0)])
    started = asyncio.Event()
    atomically = nudges.atomically  # the sweep's short transactions (`sweep_in_turns`)

    async def watched(*args):
        started.set()
        return await atomically(*args)

    monkeypatch.setattr(nudges, "atomically", watched)
    sweeping = _count_sweeps(monkeypatch)
    async with _write_lock(engine):
        scheduler = start_sweeps(sessions, INTERVAL)
        try:
            await asyncio.wait_for(started.wait(), 60)
            # The sweep waits for the lock off the event loop: this test, on the same
            # loop, goes on, and sees that nothing went out yet.
            await asyncio.sleep(2 * INTERVAL)
            assert await _nudged(sessions) == 0
            assert scheduler.get_job(SWEEP_JOB).next_run_time is not None
        except BaseException:
            scheduler.shutdown(wait=False)
            raise
    try:
        await _until(lambda: _wave_went_out(sessions))
        assert scheduler.running
        assert scheduler.get_job(SWEEP_JOB).next_run_time is not None
    finally:
        scheduler.shutdown(wait=False)
        # A sweep still in its transactions when the test's engine is disposed left, now
        # and then, a connection whose close never ended (the test run hung in teardown).
        await asyncio.wait_for(sweeping.wait_idle(), 60)


class _Sweeps:
    """How many sweeps are running, to wait for none."""

    def __init__(self) -> None:
        self.running = 0
        self.idle = asyncio.Event()
        self.idle.set()

    async def wait_idle(self) -> None:
        await self.idle.wait()


def _count_sweeps(monkeypatch) -> _Sweeps:
    sweeps, sweep = _Sweeps(), nudges.sweep_in_turns

    async def counted(*args, **kwargs):
        sweeps.running += 1
        sweeps.idle.clear()
        try:
            return await sweep(*args, **kwargs)
        finally:
            sweeps.running -= 1
            if not sweeps.running:
                sweeps.idle.set()

    monkeypatch.setattr(nudges, "sweep_in_turns", counted)
    return sweeps


async def test_a_failing_sweep_is_logged_and_runs_again(sessions, monkeypatch, caplog) -> None:
    await _setup(sessions, [(0.001, 0)])
    sweep, runs = nudges.sweep_in_turns, []

    async def failing_once(sessions, **kwargs):
        runs.append(1)
        if len(runs) == 1:
            raise OperationalError("UPDATE orders", {}, sqlite3.OperationalError("disk I/O error"))
        return await sweep(sessions, **kwargs)

    monkeypatch.setattr(nudges, "sweep_in_turns", failing_once)
    sweeping = _count_sweeps(monkeypatch)
    caplog.set_level(logging.INFO, logger="timebank.scheduler")
    scheduler = start_sweeps(sessions, INTERVAL)
    try:
        await _until(lambda: _wave_went_out(sessions))
    finally:
        scheduler.shutdown(wait=False)
        await asyncio.wait_for(sweeping.wait_idle(), 60)
    failures = [r for r in caplog.records if r.getMessage() == "sweep failed"]
    assert [r.levelno for r in failures] == [logging.ERROR]
    event = json.loads(JsonFormatter().format(failures[0]))
    assert event["logger"] == "timebank.scheduler"
    assert event["failure"] == "OperationalError"
    assert "disk I/O error" in event["reason"]
    assert len(runs) >= 2
