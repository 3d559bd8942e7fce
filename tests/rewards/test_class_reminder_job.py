"""The bot's leader reminds everyone with a seat before each session: a job beside the sweep."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.scheduler import CLASS_REMINDERS_JOB, run_class_reminders, start_sweeps
from core.models import OutboxMessage
from core.notices import Kind
from tests.rewards.test_classes import course  # noqa: F401  (the fixture)


async def test_the_sweeps_schedule_class_reminders(sessions) -> None:
    scheduler = start_sweeps(sessions, 30)
    try:
        assert scheduler.get_job(CLASS_REMINDERS_JOB) is not None
    finally:
        scheduler.shutdown(wait=False)


async def test_a_run_reminds_the_teacher_once(sessions, town, course) -> None:  # noqa: F811
    for _ in range(2):
        await run_class_reminders(sessions)
    async with sessions() as session:
        told = await session.scalar(
            select(func.count()).where(OutboxMessage.kind == Kind.CLASS_REMINDER)
        )
    assert told == 1  # the teacher; nobody has a seat yet
