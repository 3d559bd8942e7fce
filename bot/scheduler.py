"""Background work of a bot process: the jobs (APScheduler, each on an interval) and the
outbox sender (a loop of its own).

The jobs keep their truth in the database (waves sent, reminders due, orders expired,
broadcasts expanded), so their schedule needs no store of its own: APScheduler's memory job
store keeps it, and nothing on the event loop waits for the database to plan the next run.
A round that fails (the database locked for longer than the busy timeout, a lost
connection) is logged and runs again at its next interval; a round still busy when the next
is due lets that one go by.

- the sweep (nudge waves, reminders, expiries), the market-day reminders and the expiry of
  unused shop codes every `Settings.sweep_seconds` (TIMEBANK_SWEEP_SECONDS; 0 turns every
  job off, for tests that drive them themselves);
- the broadcasts every few seconds: scheduled ones started, sending ones expanded into the
  outbox, finished ones marked done, their authors' progress messages edited;
- the class reminders every quarter of an hour, the weekly digests due every five minutes,
  retention hourly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import astuple, dataclass, fields, is_dataclass

from aiogram import Bot
from aiogram.utils.i18n import I18n
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.handlers.broadcasts.progress import ProgressBoard
from bot.leader import lead
from bot.sender import Sender
from core import broadcasts, digests, market, nudges, retention
from core.config import Settings
from core.ledger import atomically
from core.logs import log_event
from core.rewards import classes, redemption

log = logging.getLogger("timebank.scheduler")
Sessions = async_sessionmaker[AsyncSession]
SWEEP_JOB = "sweep"
MARKET_REMINDERS_JOB = "market_reminders"
BROADCASTS_JOB = "broadcasts"
BROADCASTS_SECONDS = 3
CLASS_REMINDERS_JOB = "class_reminders"
CLASS_REMINDERS_SECONDS = 900
DIGEST_JOB = "digests"
DIGEST_SECONDS = 300
REDEMPTIONS_JOB = "redemptions"
RETENTION_JOB = "retention"
RETENTION_SECONDS = 3600


def _figures(result: object) -> dict[str, int]:
    """What a round did, worth a log line when not all zero: a count, or a report's
    figures (its lists counted)."""
    if isinstance(result, int):
        return {"count": result} if result else {}
    if is_dataclass(result):
        counted = {
            field.name: len(value) if isinstance(value, list | tuple) else value
            for field, value in zip(fields(result), astuple(result), strict=True)
        }
        return {name: value for name, value in counted.items() if value}
    return {}


async def _round(event: str, work: Callable[[], Awaitable[object]]) -> None:
    """One round of a job; a failure is logged here, so the schedule goes on to the next."""
    try:
        result = await work()
    except Exception as error:
        log_event(
            log,
            f"{event} failed",
            logging.ERROR,
            failure=type(error).__name__,
            # The driver's own words: SQLAlchemy's would carry the statement's parameters.
            reason=str(getattr(error, "orig", None) or error)[:200],
        )
        return
    if figures := _figures(result):
        log_event(log, event, **figures)


async def run_sweep(sessions: Sessions) -> None:
    await _round("sweep", lambda: nudges.sweep_in_turns(sessions))


async def run_market_reminders(sessions: Sessions) -> None:
    """Market-day reminders due (the day before, an hour before); each goes once."""
    await _round(
        "market reminders", lambda: atomically(sessions, lambda s: market.send_reminders(s))
    )


async def run_class_reminders(sessions: Sessions) -> None:
    """Everyone with a seat, and the teacher, reminded of the next day's sessions."""
    await _round(
        "class reminders", lambda: atomically(sessions, lambda s: classes.remind_sessions(s))
    )


async def run_broadcasts(sessions: Sessions, board: ProgressBoard | None) -> None:
    """Broadcasts due, expanded and finished; then their progress messages brought up to date."""

    async def work() -> int:
        made = await broadcasts.sweep(sessions)
        if board is not None:
            await board.refresh()
        return made

    await _round("broadcast sweep", work)


async def run_redemption_expiry(sessions: Sessions) -> None:
    """Shop codes whose time passed expired and their holds released (each member is told)."""
    await _round(
        "redemption expiry",
        lambda: atomically(sessions, lambda s: redemption.expire_due_redemptions(s)),
    )


async def run_digests(sessions: Sessions) -> None:
    """The weekly digests now due; each member's once a week, whatever runs again."""
    await _round("digests", lambda: atomically(sessions, lambda s: digests.queue_due_digests(s)))


async def run_retention(sessions: Sessions, periods: retention.Periods) -> None:
    """Forget what is kept only for a while (core.retention)."""
    await _round(
        "retention", lambda: atomically(sessions, lambda s: retention.forget_expired(s, periods))
    )


@dataclass
class Background:
    scheduler: AsyncIOScheduler | None
    sender_task: asyncio.Task
    leader_task: asyncio.Task | None = None

    async def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        for task in (self.sender_task, self.leader_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


def start_sweeps(
    sessions: Sessions,
    seconds: float,
    periods: retention.Periods | None = None,
    board: ProgressBoard | None = None,
) -> AsyncIOScheduler:
    """Every job on its interval (the sweep's is `seconds`); retention only when its
    `periods` are given."""
    jobs: list[tuple[str, float, Callable[..., Awaitable[None]], list[object]]] = [
        (SWEEP_JOB, seconds, run_sweep, [sessions]),
        (MARKET_REMINDERS_JOB, seconds, run_market_reminders, [sessions]),
        (BROADCASTS_JOB, min(seconds, BROADCASTS_SECONDS), run_broadcasts, [sessions, board]),
        (CLASS_REMINDERS_JOB, CLASS_REMINDERS_SECONDS, run_class_reminders, [sessions]),
        (REDEMPTIONS_JOB, seconds, run_redemption_expiry, [sessions]),
        (DIGEST_JOB, max(seconds, DIGEST_SECONDS), run_digests, [sessions]),
    ]
    if periods is not None:
        jobs.append((RETENTION_JOB, RETENTION_SECONDS, run_retention, [sessions, periods]))
    scheduler = AsyncIOScheduler()
    for job_id, every, run, args in jobs:
        scheduler.add_job(
            run,
            "interval",
            args=args,
            seconds=every,
            id=job_id,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
    scheduler.start()
    return scheduler


def start_background(
    bot: Bot, sessions: async_sessionmaker[AsyncSession], i18n: I18n, settings: Settings
) -> Background:
    """The outbox sender runs in every worker (each row is claimed by a conditional update
    from pending to sending, `outbox.claim`, which one worker alone can win); on
    PostgreSQL, where several workers may share the database, the sweeps run in the one that
    leads (`bot.leader`)."""
    seconds = settings.sweep_seconds
    paid_rate = settings.paid_broadcast_rate if settings.allow_paid_broadcast else None
    sender = Sender(bot, sessions, i18n, paid_rate=paid_rate)
    sender_task = asyncio.create_task(sender.run())
    engine = sessions.kw["bind"]
    if seconds <= 0:
        return Background(None, sender_task)
    periods = retention.Periods.from_settings(settings)
    board = ProgressBoard(bot, sessions, i18n, sender)
    if engine.dialect.name != "postgresql":
        return Background(start_sweeps(sessions, seconds, periods, board), sender_task)
    leading = lead(
        engine,
        lambda: start_sweeps(sessions, seconds, periods, board),
        lambda s: s.shutdown(wait=False),
    )
    return Background(None, sender_task, asyncio.create_task(leading))
