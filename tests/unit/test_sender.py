"""The outbox sender against a wire that answers at once: sent messages recorded in batches,
a sender killed between Telegram's answer and the record counts its messages once, and a
broadcast keeps its share of the pace under a steady stream of notices."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.methods import SendMessage
from aiogram.types import Chat, Message
from sqlalchemy import select

from bot import notices
from bot import sender as sender_module
from bot.i18n import create_i18n
from bot.middlewares import PLATFORM
from bot.pace import Pace, PaceMiddleware
from bot.sender import Sender
from core import outbox
from core.db import transaction, utcnow
from core.models import Branch, Identity, Member, OutboxMessage, OutboxStatus


class Wire(BaseSession):
    """Telegram, answering every sendMessage at once; `sent` is (chat, text) in order."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[int, str]] = []
        self.more = asyncio.Event()

    async def close(self) -> None:
        pass

    async def make_request(self, bot, method, timeout=None):  # type: ignore[override]  # noqa: ASYNC109
        assert isinstance(method, SendMessage)
        self.sent.append((int(method.chat_id), method.text))
        self.more.set()
        return Message(
            message_id=len(self.sent),
            date=datetime.now(UTC),
            chat=Chat(id=int(method.chat_id), type="private"),
            text=method.text,
        )

    async def stream_content(self, *args, **kwargs):  # type: ignore[override]
        raise NotImplementedError
        yield b""


def wired(rate: float = 500.0) -> tuple[Bot, Wire]:
    wire = Wire()
    wire.middleware(PaceMiddleware(Pace(rate, chat_rate=rate)))
    return Bot("42:TEST", session=wire), wire


@pytest.fixture(autouse=True)
def plain_text(monkeypatch) -> None:
    """Every message renders as its payload's text."""

    async def render(session, row, member) -> notices.Send:
        return notices.Send(row.payload["text"])

    monkeypatch.setattr(notices, "render", render)


async def _enqueue(sessions, notices_: int, broadcasts: int = 0) -> dict[int, int]:
    """`notices_` notices then `broadcasts` broadcast messages, each to a member of its
    own; returns chat -> outbox id."""
    chats: dict[int, int] = {}
    async with transaction(sessions, write=True) as session:
        branch = Branch(code="s", names={"en": "S"}, time_zone="UTC", default_language="en")
        session.add(branch)
        await session.flush()
        for n in range(notices_ + broadcasts):
            member = Member(name=f"M{n}", branch_id=branch.id, is_resident=True, language="en")
            session.add(member)
            await session.flush()
            chat = 1000 + n
            session.add(Identity(platform=PLATFORM, external_id=str(chat), member_id=member.id))
            broadcast = n >= notices_
            chats[chat] = await outbox.enqueue(
                session,
                key=f"s{n}",
                member_id=member.id,
                kind="relay",
                payload={"text": f"{'broadcast' if broadcast else 'notice'} {n}"},
                priority=outbox.Priority.BROADCAST if broadcast else outbox.Priority.NOTICE,
            )
    return chats


async def _statuses(sessions) -> dict[int, tuple[str, str]]:
    async with sessions() as session:
        rows = await session.scalars(select(OutboxMessage))
        return {row.id: (row.status, row.error) for row in rows}


async def _run_until_sent(sender: Sender, sessions, total: int, within: float = 20) -> None:
    running = asyncio.create_task(sender.run())
    deadline = asyncio.get_running_loop().time() + within
    try:
        while asyncio.get_running_loop().time() < deadline:
            statuses = await _statuses(sessions)
            if sum(status == OutboxStatus.SENT for status, _ in statuses.values()) == total:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"not all sent: {await _statuses(sessions)}")
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def test_sent_messages_are_recorded_in_batches_each_once(sessions, monkeypatch) -> None:
    chats = await _enqueue(sessions, 60)
    batches: list[int] = []
    record = outbox.mark_sent_many

    async def counted(session, sent):
        batches.append(len(sent))
        await record(session, sent)

    monkeypatch.setattr(outbox, "mark_sent_many", counted)
    bot, wire = wired()
    await _run_until_sent(Sender(bot, sessions, create_i18n("en")), sessions, 60)
    assert sorted(chat for chat, _ in wire.sent) == sorted(chats)
    assert sum(batches) == 60 and len(batches) < 60 / 2
    async with sessions() as session:
        for chat, outbox_id in chats.items():
            row = await session.get(OutboxMessage, outbox_id)
            assert (row.status, row.chat_id) == (OutboxStatus.SENT, str(chat))
            assert row.message_id is not None and row.lease_until is None


async def test_killed_between_the_answer_and_the_record_each_counted_once(
    sessions, monkeypatch
) -> None:
    """Telegram took them, the records never committed (the sender died): once their
    lease runs out they are settled as sent, and the next sender sends none again."""
    chats = await _enqueue(sessions, 12)
    cannot_record = asyncio.Event()
    record = outbox.mark_sent_many

    async def dies(session, sent):
        cannot_record.set()
        raise ConnectionError("killed")

    monkeypatch.setattr(outbox, "mark_sent_many", dies)
    monkeypatch.setattr(sender_module, "RECORD_EVERY", 5.0)
    bot, wire = wired()
    first = asyncio.create_task(Sender(bot, sessions, create_i18n("en")).run())
    while len(wire.sent) < 12:
        await wire.more.wait()
        wire.more.clear()
    first.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await first
    assert cannot_record.is_set()
    statuses = await _statuses(sessions)
    assert {status for status, _ in statuses.values()} == {OutboxStatus.SENDING}

    monkeypatch.setattr(outbox, "mark_sent_many", record)
    async with transaction(sessions, write=True) as session:
        later = utcnow() + outbox.LEASE + timedelta(seconds=1)
        assert sorted(await outbox.settle_unconfirmed(session, now=later)) == sorted(chats.values())
    again, wire_again = wired()
    second = asyncio.create_task(Sender(again, sessions, create_i18n("en")).run())
    await asyncio.sleep(0.5)
    second.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await second
    assert wire_again.sent == []
    assert sorted(chat for chat, _ in wire.sent) == sorted(chats)
    assert set((await _statuses(sessions)).values()) == {(OutboxStatus.SENT, outbox.UNCONFIRMED)}


async def test_a_broadcast_keeps_a_share_of_the_pace_under_a_steady_stream_of_notices(
    sessions,
) -> None:
    await _enqueue(sessions, 80, broadcasts=20)
    bot, wire = wired(rate=40)  # the pace, not the database, holds the notices back
    await _run_until_sent(Sender(bot, sessions, create_i18n("en")), sessions, 100)
    kinds = [text.split()[0] for _, text in wire.sent]
    last_notice = max(n for n, kind in enumerate(kinds) if kind == "notice")
    during = kinds[: last_notice + 1].count("broadcast")
    # At least one turn in four while notices wait; the notices still go first mostly.
    assert during >= 15, kinds
    assert kinds[: last_notice + 1].count("notice") == 80
    assert during <= (last_notice + 1) // 4 + 1, kinds
