"""Background work of a bot process: the sweep (APScheduler, persistent job store in the
app's database) and the outbox sender (a loop of its own).

`Settings.sweep_seconds` (TIMEBANK_SWEEP_SECONDS) sets the sweep's interval; 0 turns the
scheduled sweep off, for tests that drive the sweep themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from aiogram import Bot
from aiogram.utils.i18n import I18n
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.sender import Sender
from core import nudges
from core.config import Settings
from core.ledger import atomically
from core.logs import log_event

log = logging.getLogger("timebank.scheduler")
SWEEP_JOB = "sweep"
_current: dict[str, async_sessionmaker[AsyncSession]] = {}


def sync_url(url: str) -> str:
    """The job store's (synchronous) URL for the app's database."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


async def run_sweep() -> None:
    """The scheduled job (referenced by name in the job store, so it survives restarts)."""
    sessions = _current.get("sessions")
    if sessions is None:
        return
    report = await atomically(sessions, lambda s: nudges.sweep(s))
    if report.waves or report.expired or report.escalated or report.reminders:
        log_event(log, "sweep", waves=len(report.waves), expired=len(report.expired))


@dataclass
class Background:
    scheduler: AsyncIOScheduler | None
    sender_task: asyncio.Task

    async def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        self.sender_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.sender_task
        _current.clear()


def start_background(
    bot: Bot, sessions: async_sessionmaker[AsyncSession], i18n: I18n, settings: Settings
) -> Background:
    _current["sessions"] = sessions
    seconds = settings.sweep_seconds
    scheduler = None
    if seconds > 0:
        scheduler = AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=sync_url(settings.database_url))}
        )
        scheduler.add_job(
            run_sweep,
            "interval",
            seconds=seconds,
            id=SWEEP_JOB,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=seconds,
        )
        scheduler.start()
    sender = Sender(bot, sessions, i18n)
    return Background(scheduler, asyncio.create_task(sender.run()))
