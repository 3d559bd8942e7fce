"""The outbox sender: delivers queued messages within Telegram's limits, claiming each
one only as its request leaves and recording Telegram's answers in small batches.

Each lane of the outbox (`core.outbox.Priority`: nudges and notices, then broadcasts) has
a reader and up to `in_flight` deliveries at once. The reader reads the lane's due
messages in order, a page (`PAGE`) at a time without claiming them, renders the page in
one session (members, chats and blocks read in one statement each; what the renderers
read, a broadcast or an order, read once for the page), each message in its member's
language, and hands them to deliveries as places come free. A chat's messages go in the
order read: each delivery waits until the one before it to the same chat is done with.
A delivery waits for room in its chat (`Pace.room`, outside the lane's gate, so that a
chat's one-a-second never holds up the lane), then for its turn of the bot's pace
(`bot.pace`: shared with the handlers' replies, which go first; a waiting broadcast gets
at least one turn in `pace.BROADCAST_SHARE`; counted as the turn is taken), then claims
its row in a short transaction and sends it at once. Telegram's answer is recorded:
sent messages together, every `RECORD_EVERY` (at once past `RECORD_MOST`, and before the
reader reads a page, so that an edit rendered there finds its message's id) in one
transaction (`outbox.mark_sent_many`); the rest in a transaction of their own: blocked (a
403 marks the member), refused, flood control (a 429 puts the message back with its
`retry_after` and holds the pace that long) or to be tried again later. Its calls go
out once (`retried_by_caller`), so that a 429 holds every send rather than one.

A lane lets one delivery at a time from its turn to its request leaving (the pace's
gate), so it has at most one message claimed that has not left, and that only from the
claim's commit to the request's leaving: the claim comes after the turn, so nothing
(a reply that came meanwhile, a progress edit) is let go in between, and what remains is
the commit's return and the HTTP client's write (timed: `Timings`, claim_to_leave). Up
to `in_flight` more may have left and be waiting for their answers, and up to a batch's
worth be answered and not yet recorded. Killed (kill -9), the sender leaves all those
claimed; once their lease runs out, the next run counts them as sent, unconfirmed
(`outbox.settle_unconfirmed`): a batch's messages were sent, so nothing is lost or sent
twice, only their message ids (a later edit of one of them is skipped). Stopped gently,
it lets the deliveries finish (`drain`), records what was answered, and gives back a
message claimed whose request had not left yet.

The trade-off of a kill: Telegram's sendMessage has no idempotency key and a bot cannot
ask whether a message arrived, so a claim left unrecorded is either sent again or counted
as sent. Sent again, it is a duplicate whenever its request had left, the likely case (a
message spends milliseconds waiting for its answer, and up to `RECORD_EVERY` waiting for
its record); counted as sent, it is a miss only when the kill came between the claim's
commit and the request (hundredths of a ms, at most half a ms in `bench.broadcast`). The
sender counts it as sent (at most once: nobody gets a message twice), and keeps the
window before the request as short as a claim that must commit first allows.

Broadcasts (`Kind.BROADCAST`) may go as Telegram's paid broadcasts (`allow_paid_broadcast`,
`paid_rate` a second, a bucket of the pace beside the free 30): off unless `paid_rate`
is given. A broadcast longer than a message goes in parts; a photo carries the first part
as its caption.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
)
from aiogram.types import BufferedInputFile
from aiogram.utils.i18n import I18n
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import notices
from bot.kit import telegram
from bot.lean_session import sent_message_id, unread_results
from bot.middlewares import PLATFORM
from bot.pace import Departure, Lane, departing, pace_of
from bot.retry import retried_by_caller
from core import outbox
from core.ledger import atomically
from core.logs import log_event
from core.models import BlockedMember, Identity, Member
from core.notices import Kind

log = logging.getLogger("timebank.sender")
RELEASE_SECONDS = 2.0
TIMEOUT = 20  # seconds a call to Telegram may take (well inside `outbox.LEASE`)
SETTLE_EVERY = 5.0  # seconds between looks for claims a killed sender left
TIMINGS_EVERY = 500  # messages between two logs of the sender's timings
PAGE = 8  # due messages read and rendered at once (claimed one by one as they leave)
RECORD_EVERY = 0.2  # seconds between two records of the messages sent meanwhile
RECORD_MOST = 32  # messages sent that are recorded at once, without waiting RECORD_EVERY
# `_prepare`'s chat for a member who blocked the bot (chat ids are numbers).
AWAY = "away"


class NotClaimed(Exception):
    """The message was no longer due when its turn came (another worker sent it, or it
    was called off or paused)."""


@dataclass(frozen=True)
class Ready:
    row: outbox.Due
    chat: str | None
    message: notices.Send | notices.Edit | None


class Timings:
    """How long the sender's messages spend in each step, in ms: from the claim's commit
    until the request leaves (a kill there loses the message: settled as sent, it never
    went), from leaving until Telegram's answer, from the answer until it is recorded (a
    kill in either: settled as sent, unconfirmed)."""

    def __init__(self, keep: int = TIMINGS_EVERY) -> None:
        self.steps: dict[str, deque[float]] = {
            name: deque(maxlen=keep)
            for name in ("claim_to_leave", "leave_to_answer", "answer_to_record")
        }

    def add(self, name: str, seconds: float) -> None:
        self.steps[name].append(seconds * 1000)

    def summary(self) -> dict[str, str]:
        def figures(values: deque[float]) -> str:
            ordered = sorted(values)
            if not ordered:
                return "-"
            p = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
            return f"{p(0.5):.2f}/{p(0.95):.2f}/{ordered[-1]:.2f}"

        return {name: figures(values) for name, values in self.steps.items()}


class Sender:
    def __init__(
        self,
        bot: Bot,
        sessions: async_sessionmaker[AsyncSession],
        i18n: I18n,
        *,
        in_flight: int = 8,
        idle: float = 0.25,
        paid_rate: float | None = None,
        drain: float = 3.0,
    ) -> None:
        self.bot, self.sessions, self.i18n = bot, sessions, i18n
        self.pace = pace_of(bot)
        if paid_rate:
            self.pace.allow_paid(paid_rate)
        self.paid = bool(paid_rate)
        self.in_flight = in_flight
        self.idle = idle
        self.drain = drain
        self._held: set[int] = set()  # ids read and not yet finished with
        self._gates = {lane: asyncio.Lock() for lane in Lane}
        self._tasks: set[asyncio.Task] = set()
        self._chats: dict[str, asyncio.Future[None]] = {}  # a chat's last message read
        self._answered: list[tuple[outbox.Sent, float]] = []  # sent, not yet recorded
        self._record_now = asyncio.Event()
        self.timings = Timings()
        self.sent = 0
        self.throttled = 0

    async def run(self) -> None:
        readers = [asyncio.create_task(self._read(priority)) for priority in outbox.Priority]
        recorder = asyncio.create_task(self._record())
        try:
            while True:
                try:
                    await self.settle()
                except Exception as error:  # settled on the next round
                    log_event(log, "sender error", logging.ERROR, error=repr(error))
                await asyncio.sleep(SETTLE_EVERY)
        finally:
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            # The deliveries under way finish (a second or so), so that none is cut off
            # after Telegram took it but before it was recorded; those still unfinished
            # after `drain` are stopped (see `_deliver`).
            in_flight = list(self._tasks)
            if in_flight:
                _finished, unfinished = await asyncio.wait(in_flight, timeout=self.drain)
                for task in unfinished:
                    task.cancel()
                await asyncio.gather(*unfinished, return_exceptions=True)
            recorder.cancel()
            await asyncio.gather(recorder, return_exceptions=True)
            # Brief, as a release is: what is left unrecorded is settled as sent.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.record(), RELEASE_SECONDS)

    async def settle(self) -> list[int]:
        """Settle the claims a killed sender left (see `outbox.settle_unconfirmed`)."""
        settled = await atomically(self.sessions, outbox.settle_unconfirmed)
        for outbox_id in settled:
            log_event(
                log, "message in flight when its sender died counted as sent", outbox_id=outbox_id
            )
        return settled

    async def _read(self, priority: outbox.Priority) -> None:
        """The lane's due messages, read a page at a time in order and handed to
        deliveries, at most `in_flight` at once; waits `idle` when there are none."""
        places = asyncio.Semaphore(self.in_flight)
        loop = asyncio.get_running_loop()
        while True:
            try:
                # What a page renders may need a message this sender sent (an edit needs
                # its id): what is answered is recorded first.
                await self.record()
                async with self.sessions() as session:
                    rows = await outbox.due(session, limit=PAGE, priority=priority, skip=self._held)
                if not rows:
                    await asyncio.sleep(self.idle)
                    continue
                self._held.update(row.id for row in rows)
                try:
                    page = await self._prepare(rows)
                except BaseException:
                    self._held.difference_update(row.id for row in rows)
                    raise
                for n, ready in enumerate(page):
                    try:
                        await places.acquire()
                    except BaseException:
                        self._held.difference_update(r.row.id for r in page[n:])
                        raise
                    # A chat's messages leave in the order they were read: each waits for
                    # the one before it to be done with (`_deliver`).
                    after = self._chats.get(ready.chat) if ready.chat else None
                    done: asyncio.Future[None] = loop.create_future()
                    if ready.chat:
                        self._chats[ready.chat] = done
                    task = asyncio.create_task(
                        self._deliver(ready, Lane[priority.name], after=after)
                    )
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                    task.add_done_callback(
                        lambda _, ready=ready, done=done: self._done_with(ready, done)
                    )
                    task.add_done_callback(lambda _: places.release())
            except asyncio.CancelledError:
                raise
            except Exception as error:  # keep delivering whatever one message did
                log_event(log, "sender error", logging.ERROR, error=repr(error))
                await asyncio.sleep(1)

    def _done_with(self, ready: Ready, done: asyncio.Future[None]) -> None:
        self._held.discard(ready.row.id)
        done.set_result(None)
        if ready.chat and self._chats.get(ready.chat) is done:
            del self._chats[ready.chat]

    async def paced(self) -> None:
        """Wait for a slot of the overall rate, for a call made beside the outbox (the
        broadcasts' progress messages), so that it never pushes the bot over the limit. It
        takes a turn of the broadcast lane, through its gate, so that it goes after the
        replies and nudges and never between a broadcast message's claim and its request."""
        async with self._gates[Lane.BROADCAST]:
            await self.pace.turn(None, Lane.BROADCAST)

    async def _prepare(self, rows: list[outbox.Due]) -> list[Ready]:
        """A page of messages rendered in one session, each in its member's language: their
        members, chats and blocks read in one statement each, and what the renderers read
        (a broadcast, an order) read once for the page (the session's identity map)."""
        wanted = {row.member_id for row in rows}
        async with self.sessions() as session:
            members = {
                member.id: member
                for member in await session.scalars(select(Member).where(Member.id.in_(wanted)))
            }
            chats = dict(
                (
                    await session.execute(
                        select(Identity.member_id, Identity.external_id).where(
                            Identity.member_id.in_(wanted), Identity.platform == PLATFORM
                        )
                    )
                ).all()
            )
            blocked = set(
                await session.scalars(
                    select(BlockedMember.member_id).where(BlockedMember.member_id.in_(wanted))
                )
            )
            page = []
            for row in rows:
                member, chat = members.get(row.member_id), chats.get(row.member_id)
                if row.member_id in blocked:
                    page.append(Ready(row, AWAY, None))
                    continue
                if member is None or chat is None:
                    page.append(Ready(row, None, None))
                    continue
                language = member.language
                if language not in self.i18n.available_locales:
                    language = self.i18n.default_locale
                with self.i18n.context(), self.i18n.use_locale(language):
                    page.append(Ready(row, chat, await notices.render(session, row, member)))
            return page

    async def _claim(self, row: outbox.Due) -> None:
        if not await atomically(self.sessions, lambda s: outbox.claim(s, row.id)):
            raise NotClaimed()

    async def _deliver(
        self, ready: Ready, lane: Lane, *, after: asyncio.Future[None] | None = None
    ) -> None:
        try:
            if after is not None:
                await asyncio.wait([after])
            await self._send(ready, lane)
        except NotClaimed:
            pass
        except asyncio.CancelledError:
            raise
        except Exception as error:  # keep delivering whatever one message did
            log_event(log, "sender error", logging.ERROR, error=repr(error))

    async def _send(self, ready: Ready, lane: Lane) -> None:
        row, chat, message = ready.row, ready.chat, ready.message
        if chat is None or chat == AWAY or message is None:
            await self._claim(row)
            if chat == AWAY and row.kind in outbox.KEPT_FOR_RETURN:
                await atomically(self.sessions, lambda s: outbox.mark_away(s, row.id))
            else:
                await atomically(self.sessions, lambda s: outbox.mark_skipped(s, row.id, "nothing"))
            return
        loop = asyncio.get_running_loop()
        claiming = False
        claimed_at = None

        async def claim() -> None:
            nonlocal claiming, claimed_at
            claiming = True
            await self._claim(row)
            claimed_at = loop.time()

        paid = self.paid and row.kind == Kind.BROADCAST
        departure = Departure(lane, before=claim, gate=self._gates[lane])
        attempts = row.attempts + 1
        try:
            with departing(departure), retried_by_caller(), unread_results():
                message_id, sent_as = await self._call(int(chat), message, paid=paid)
        except asyncio.CancelledError:
            if claiming and departure.left_at is None:
                # Best effort, and brief: a stopping bot must not wait on a locked database;
                # a message not given back is settled as sent once its lease runs out.
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(
                        atomically(self.sessions, lambda s: outbox.release(s, row.id)),
                        RELEASE_SECONDS,
                    )
            raise
        except TelegramRetryAfter as retry:
            self.throttled += 1
            after = float(retry.retry_after)
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
        except NotClaimed:
            raise
        except Exception as failure:
            why = repr(failure)
            await atomically(
                self.sessions,
                lambda s: outbox.retry_later(
                    s, row.id, after=2.0**attempts, error=why, attempts=attempts
                ),
            )
            return
        answered_at = loop.time()
        if claimed_at is not None and departure.left_at is not None:
            self.timings.add("claim_to_leave", departure.left_at - claimed_at)
            self.timings.add("leave_to_answer", answered_at - departure.left_at)
        self._answered.append((outbox.Sent(row.id, chat, message_id, sent_as), answered_at))
        if len(self._answered) >= RECORD_MOST:
            self._record_now.set()

    async def _record(self) -> None:
        """Record the answered messages every `RECORD_EVERY` (at once when `RECORD_MOST`
        wait), in one transaction."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._record_now.wait(), RECORD_EVERY)
            self._record_now.clear()
            try:
                await self.record()
            except Exception as error:  # kept, and recorded with the next ones
                log_event(log, "sender error", logging.ERROR, error=repr(error))

    async def record(self) -> None:
        """Record the messages Telegram took since the last time, in one transaction. A
        sender killed before it leaves them claimed: settled as sent, once."""
        if not self._answered:
            return
        batch, self._answered = self._answered, []
        try:
            await atomically(
                self.sessions, lambda s: outbox.mark_sent_many(s, [sent for sent, _ in batch])
            )
        except BaseException:
            self._answered[:0] = batch
            raise
        self._count([answered_at for _, answered_at in batch])

    def _count(self, answered: list[float]) -> None:
        recorded_at = asyncio.get_running_loop().time()
        for answered_at in answered:
            self.timings.add("answer_to_record", recorded_at - answered_at)
        before, self.sent = self.sent, self.sent + len(answered)
        if self.sent // TIMINGS_EVERY > before // TIMINGS_EVERY:
            log_event(
                log, "sender timings (ms, p50/p95/max)", sent=self.sent, **self.timings.summary()
            )

    async def _call(
        self, chat: int, message: notices.Send | notices.Edit, *, paid: bool = False
    ) -> tuple[int | None, str | None]:
        """Telegram's call for the message; returns its message id and the form it went in."""
        if isinstance(message, notices.Edit):
            with contextlib.suppress(TelegramBadRequest):  # not modified, or gone
                if message.caption:
                    await self.bot.edit_message_caption(
                        chat_id=int(message.chat_id),
                        message_id=message.message_id,
                        caption=message.text,
                        reply_markup=None,
                        request_timeout=TIMEOUT,
                    )
                else:
                    await self.bot.edit_message_text(
                        text=message.text,
                        chat_id=int(message.chat_id),
                        message_id=message.message_id,
                        reply_markup=None,
                        request_timeout=TIMEOUT,
                    )
            return message.message_id, None
        if message.voice:
            try:
                sent = await self.bot.send_voice(
                    chat,
                    message.voice,
                    caption=message.text,
                    reply_markup=telegram.markup(message.markup),
                    request_timeout=TIMEOUT,
                )
                return sent_message_id(sent), "voice"
            except TelegramBadRequest as refused:
                # Their privacy settings refuse voice notes, or the file is gone: the words
                # still go, so that the message is not lost.
                log_event(log, "voice not delivered, sent as text", reason=str(refused))
        if message.photo or message.more or paid:
            return await self._call_in_parts(chat, message, paid=paid)
        sent = await self.bot.send_message(
            chat,
            message.text,
            reply_markup=telegram.markup(message.markup),
            request_timeout=TIMEOUT,
        )
        for attachment in message.attachments:
            await self._send_file(chat, attachment)
        return sent_message_id(sent), None

    async def _call_in_parts(
        self, chat: int, message: notices.Send, *, paid: bool
    ) -> tuple[int | None, str | None]:
        """A photo with the first part as its caption, or the first part alone, then the
        rest; the buttons under the last. Returns the first message's id."""
        flags = {"allow_paid_broadcast": True} if paid else {}
        last = not message.more
        markup = telegram.markup(message.markup) if last else None
        if message.photo:
            first = await self.bot.send_photo(
                chat,
                message.photo,
                caption=message.text,
                reply_markup=markup,
                request_timeout=TIMEOUT,
                **flags,
            )
            sent_as: str | None = "photo"
        else:
            first = await self.bot.send_message(
                chat, message.text, reply_markup=markup, request_timeout=TIMEOUT, **flags
            )
            sent_as = None
        for index, part in enumerate(message.more):
            markup = telegram.markup(message.markup) if index == len(message.more) - 1 else None
            await self.bot.send_message(
                chat, part, reply_markup=markup, request_timeout=TIMEOUT, **flags
            )
        return sent_message_id(first), sent_as

    async def _send_file(self, chat: int, attachment: notices.Attachment) -> None:
        data = await asyncio.to_thread(attachment.make)
        upload = BufferedInputFile(data, attachment.file_name)
        if attachment.photo:
            await self.bot.send_photo(chat, upload, request_timeout=TIMEOUT)
        else:
            await self.bot.send_document(chat, upload, request_timeout=TIMEOUT)
