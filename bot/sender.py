"""The outbox sender: delivers queued messages within Telegram's limits.

At most `rate` messages a second overall and one a second per chat; a 429 puts the
message back with its `retry_after` and pauses everything that long; a 403 marks the
member as having blocked the bot. Each message is marked sent (with its message id) in a
transaction of its own right after Telegram answered. Its calls go out once
(`retried_by_caller`): the session's retry middleware would wait out a 429 for one message
while the others kept sending into the flood limit.

Up to `batch` messages are in flight at once, each in a task of its own; as one finishes,
more are claimed, so a message waiting for its chat's turn holds up only itself. A new
message waits first for its chat's turn, then for a slot of the overall pace, so the
overall rate counts actual sends. `batch` is about one second of sends: more in flight
would only lengthen the wait for the pace, which a chat's next message waits out on top of
its one second (at 60, a benchmark's 0.93 of the limit instead of 0.97).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
)
from aiogram.utils.i18n import I18n
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import volunteer_ui
from bot.middlewares import PLATFORM
from bot.retry import retried_by_caller
from core import outbox
from core.ledger import atomically
from core.logs import log_event
from core.models import BlockedMember, Identity, Member

log = logging.getLogger("timebank.sender")


class Sender:
    def __init__(
        self,
        bot: Bot,
        sessions: async_sessionmaker[AsyncSession],
        i18n: I18n,
        *,
        rate: float = 29.0,
        per_chat: float = 1.0,
        batch: int = 30,
        idle: float = 0.25,
    ) -> None:
        self.bot, self.sessions, self.i18n = bot, sessions, i18n
        self.interval = 1.0 / rate
        self.per_chat = per_chat
        self.batch = batch
        self.idle = idle
        self._next = 0.0
        self._chat_free: dict[str, float] = {}
        self._chat_locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task] = set()
        self.sent = 0
        self.throttled = 0

    async def run(self) -> None:
        try:
            while True:
                try:
                    if not await self.drain_once():
                        await asyncio.sleep(self.idle)
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # keep delivering whatever one message did
                    log_event(log, "sender error", logging.ERROR, error=repr(error))
                    await asyncio.sleep(1)
        finally:
            # Stopping stops the deliveries in flight too; their leases run out and another
            # run sends them, as after a crash.
            in_flight = list(self._tasks)
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)

    async def drain_once(self) -> int:
        """Claim due messages for the free places in flight and start delivering them.

        Returns how many were claimed. Doesn't wait for their delivery; only, when all
        `batch` places are taken, for one of them to come free.
        """
        if len(self._tasks) >= self.batch:
            await asyncio.wait(set(self._tasks), return_when=asyncio.FIRST_COMPLETED)
        async with self.sessions() as session:
            if not await outbox.has_due(session):
                return 0
        free = self.batch - len(self._tasks)
        claimed = await atomically(self.sessions, lambda s: outbox.claim(s, limit=free))
        for row in claimed:
            task = asyncio.create_task(self._deliver(row))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(claimed)

    async def _pace(self) -> None:
        """Wait for this call's slot of the overall rate, reserved before sleeping so that
        tasks pacing at the same time get slots of their own."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        slot = max(now, self._next)
        self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)

    async def _prepare(
        self, row: outbox.Claimed
    ) -> tuple[str | None, volunteer_ui.Send | volunteer_ui.Edit | None]:
        async with self.sessions() as session:
            member = await session.get(Member, row.member_id)
            chat = await session.scalar(
                select(Identity.external_id).where(
                    Identity.member_id == row.member_id, Identity.platform == PLATFORM
                )
            )
            blocked = await session.get(BlockedMember, row.member_id)
            if member is None or chat is None or blocked is not None:
                return None, None
            language = member.language
            if language not in self.i18n.available_locales:
                language = self.i18n.default_locale
            with self.i18n.context(), self.i18n.use_locale(language):
                return chat, await volunteer_ui.render(session, row, member)

    async def _deliver(self, row: outbox.Claimed) -> None:
        chat, message = await self._prepare(row)
        if chat is None or message is None:
            await atomically(self.sessions, lambda s: outbox.mark_skipped(s, row.id, "nothing"))
            return
        loop = asyncio.get_running_loop()
        # A chat's messages go one at a time, in order: the next one's turn is counted from
        # when this one actually went out, after its wait for the overall pace, which can
        # be longer than a second when many chats are ready at once.
        is_new = isinstance(message, volunteer_ui.Send)
        turn = self._chat_locks.setdefault(chat, asyncio.Lock()) if is_new else None
        async with turn or contextlib.nullcontext():
            if is_new:
                wait = self._chat_free.get(chat, 0.0) - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
            await self._pace()
            if is_new:
                self._chat_free[chat] = loop.time() + self.per_chat
            try:
                with retried_by_caller():
                    message_id, sent_as = await self._call(int(chat), message)
            except TelegramRetryAfter as retry:
                self.throttled += 1
                after = float(retry.retry_after)
                self._next = max(self._next, loop.time() + after)
                await atomically(self.sessions, lambda s: outbox.throttled(s, row.id, after=after))
                return
            except TelegramForbiddenError:
                await atomically(
                    self.sessions, lambda s: outbox.mark_blocked(s, row.id, row.member_id, PLATFORM)
                )
                log_event(log, "member blocked the bot", member=row.member_id)
                return
            except TelegramBadRequest as bad:
                why = str(bad)
                await atomically(self.sessions, lambda s: outbox.mark_skipped(s, row.id, why))
                return
            except Exception as failure:
                why = repr(failure)
                await atomically(
                    self.sessions,
                    lambda s: outbox.retry_later(
                        s, row.id, after=2.0**row.attempts, error=why, attempts=row.attempts
                    ),
                )
                return
        self.sent += 1
        await atomically(
            self.sessions,
            lambda s: outbox.mark_sent(s, row.id, chat, message_id, sent_as=sent_as),
        )

    async def _call(
        self, chat: int, message: volunteer_ui.Send | volunteer_ui.Edit
    ) -> tuple[int, str | None]:
        """Telegram's call for the message; returns its message id and the form it went in."""
        if isinstance(message, volunteer_ui.Edit):
            with contextlib.suppress(TelegramBadRequest):  # not modified, or gone
                if message.caption:
                    await self.bot.edit_message_caption(
                        chat_id=int(message.chat_id),
                        message_id=message.message_id,
                        caption=message.text,
                        reply_markup=None,
                    )
                else:
                    await self.bot.edit_message_text(
                        text=message.text,
                        chat_id=int(message.chat_id),
                        message_id=message.message_id,
                        reply_markup=None,
                    )
            return message.message_id, None
        if message.voice:
            try:
                sent = await self.bot.send_voice(
                    chat, message.voice, caption=message.text, reply_markup=message.markup
                )
                return sent.message_id, "voice"
            except TelegramBadRequest as refused:
                # Their privacy settings refuse voice notes, or the file is gone: the words
                # still go, so that the message is not lost.
                log_event(log, "voice not delivered, sent as text", reason=str(refused))
                await self._pace()
        sent = await self.bot.send_message(chat, message.text, reply_markup=message.markup)
        return sent.message_id, None
