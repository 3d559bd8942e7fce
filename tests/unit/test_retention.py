"""Retention: each kind of row goes once older than its period, and nothing else goes."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.scheduler import run_retention
from core.config import load_settings
from core.db import transaction, utcnow
from core.demo import seed_demo
from core.logs import JsonFormatter
from core.models import (
    Branch,
    Category,
    ConversationState,
    Member,
    Order,
    OrderStatus,
    OutboxMessage,
    OutboxStatus,
    ProcessedUpdate,
)
from core.retention import Forgotten, Periods, forget_expired

NOW = utcnow()
PERIODS = Periods(
    processed_updates=timedelta(days=2),
    sent_messages=timedelta(days=30),
    conversations=timedelta(days=20),
    voice=timedelta(days=10),
)
OLD = {
    "processed_updates": NOW - timedelta(days=3),
    "sent_messages": NOW - timedelta(days=31),
    "conversations": NOW - timedelta(days=21),
    "voice": NOW - timedelta(days=11),
}
YOUNG = NOW - timedelta(days=1)


async def _world(sessions) -> None:
    async with transaction(sessions, write=True) as s:
        await seed_demo(s)
        branch = await s.scalar(select(Branch).where(Branch.code == "luoshan"))
        category = await s.scalar(select(Category).where(Category.code == "repairs"))
        member = Member(name="Wang", branch_id=branch.id, is_resident=True)
        s.add(member)
        await s.flush()

        def order(key: str, status: OrderStatus, updated_at) -> Order:
            return Order(
                branch_id=branch.id,
                requester_id=member.id,
                beneficiary_id=member.id,
                category_id=category.id,
                estimated_minutes=60,
                idempotency_key=key,
                voice_file_id=f"voice-{key}",
                status=status,
                updated_at=updated_at,
            )

        orders = {
            "ended-long-ago": order("ended-long-ago", OrderStatus.CONFIRMED, OLD["voice"]),
            "cancelled-long-ago": order("cancelled-long-ago", OrderStatus.CANCELLED, OLD["voice"]),
            "ended-lately": order("ended-lately", OrderStatus.EXPIRED, YOUNG),
            "open-long-ago": order("open-long-ago", OrderStatus.ACCEPTED, OLD["voice"]),
            "done-long-ago": order("done-long-ago", OrderStatus.DONE, OLD["voice"]),
        }
        s.add_all(orders.values())
        await s.flush()

        def message(key: str, status: OutboxStatus, created_at, about: str | None = None):
            payload = {"order_id": orders[about].id} if about else {}
            return OutboxMessage(
                key=key,
                member_id=member.id,
                kind="notice",
                payload=payload,
                status=status,
                created_at=created_at,
            )

        old = OLD["sent_messages"]
        s.add_all(
            [
                message("sent-old", OutboxStatus.SENT, old),
                message("failed-old", OutboxStatus.FAILED, old, about="ended-long-ago"),
                message("skipped-old", OutboxStatus.SKIPPED, old),
                message("sent-young", OutboxStatus.SENT, YOUNG),
                message("pending-old", OutboxStatus.PENDING, old),
                message("blocked-old", OutboxStatus.BLOCKED, old),
                message("nudge-of-open-order", OutboxStatus.SENT, old, about="open-long-ago"),
                message("nudge-of-done-order", OutboxStatus.SENT, old, about="done-long-ago"),
            ]
        )
        s.add_all(
            [
                ProcessedUpdate(update_id=1, processed_at=OLD["processed_updates"]),
                ProcessedUpdate(update_id=2, processed_at=YOUNG),
                ConversationState(key="old", state="Ask:when", updated_at=OLD["conversations"]),
                ConversationState(key="young", state="Ask:when", updated_at=YOUNG),
            ]
        )


async def _left(sessions) -> dict[str, list]:
    async with sessions() as s:
        return {
            "updates": sorted(await s.scalars(select(ProcessedUpdate.update_id))),
            "messages": sorted(await s.scalars(select(OutboxMessage.key))),
            "conversations": sorted(await s.scalars(select(ConversationState.key))),
            "voices": sorted(
                (await s.execute(select(Order.idempotency_key, Order.voice_file_id))).all()
            ),
        }


async def test_each_kind_is_forgotten_after_its_period_and_only_then(sessions) -> None:
    await _world(sessions)
    async with transaction(sessions, write=True) as s:
        forgotten = await forget_expired(s, PERIODS, NOW)
    assert forgotten == Forgotten(
        processed_updates=1, sent_messages=3, conversations=1, voice_notes=2
    )
    assert await _left(sessions) == {
        "updates": [2],
        "messages": [
            "blocked-old",
            "nudge-of-done-order",
            "nudge-of-open-order",
            "pending-old",
            "sent-young",
        ],
        "conversations": ["young"],
        "voices": [
            ("cancelled-long-ago", None),
            ("done-long-ago", "voice-done-long-ago"),
            ("ended-lately", "voice-ended-lately"),
            ("ended-long-ago", None),
            ("open-long-ago", "voice-open-long-ago"),
        ],
    }


async def test_running_it_again_forgets_nothing_more(sessions) -> None:
    await _world(sessions)
    async with transaction(sessions, write=True) as s:
        await forget_expired(s, PERIODS, NOW)
    left = await _left(sessions)
    async with transaction(sessions, write=True) as s:
        again = await forget_expired(s, PERIODS, NOW)
    assert not again.anything
    assert await _left(sessions) == left


def test_the_periods_come_from_the_settings() -> None:
    settings = load_settings(
        keep_processed_updates_days=3,
        keep_sent_messages_days=40,
        keep_conversations_days=7,
        keep_voice_days=60,
    )
    assert Periods.from_settings(settings) == Periods(
        processed_updates=timedelta(days=3),
        sent_messages=timedelta(days=40),
        conversations=timedelta(days=7),
        voice=timedelta(days=60),
    )


def test_processed_updates_are_kept_while_telegram_could_redeliver() -> None:
    from core.config import ConfigError

    with pytest.raises(ConfigError, match="keep_processed_updates_days"):
        load_settings(keep_processed_updates_days=1)


async def test_the_scheduled_run_logs_what_it_forgot(sessions, caplog) -> None:
    await _world(sessions)
    with caplog.at_level(logging.INFO, logger="timebank.scheduler"):
        await run_retention(sessions, PERIODS)
    events = [json.loads(JsonFormatter().format(r)) for r in caplog.records]
    assert [e["event"] for e in events] == ["retention"]
    assert events[0]["sent_messages"] == 3 and events[0]["voice_notes"] == 2


async def test_the_sweeps_schedule_retention_beside_them(sessions) -> None:
    """What `start_background` starts: at once on SQLite, in the leader on PostgreSQL."""
    from bot.scheduler import RETENTION_JOB, SWEEP_JOB, start_sweeps

    periods = Periods.from_settings(load_settings(keep_voice_days=45))
    scheduler = start_sweeps(sessions, 30, periods)
    try:
        job = scheduler.get_job(RETENTION_JOB)
        assert scheduler.get_job(SWEEP_JOB) is not None
        assert job is not None and job.args[1].voice == timedelta(days=45)
    finally:
        scheduler.shutdown(wait=False)
