"""One pace for every message the bot sends, exact against Telegram's limits.

Telegram takes about 30 messages a second from a bot and one a second per chat, short
bursts tolerated; beyond that it answers 429. Both limits are kept here as token buckets
(GCRA: each bucket is the time its next message is due), and a message's time is taken
when its request leaves (`PaceMiddleware` is the session's innermost middleware; an
outbox message's, just before the claim of its row that precedes its request:
`Departure`), so that a busy event loop or a slow database never bunches requests on
the wire:

- overall, `rate` a second (29, under the 30), and a message may go up to `SLACK` of an
  interval before its due time to make up for a late event loop: no second ever holds
  more than floor(rate + SLACK) + 1 = 30 messages, so there is no burst above the limit;
- per chat, one a second with at most `CHAT_BURST` at once (the sandbox, like Telegram,
  tolerates four), counting every message to the chat. A handler's reply is counted but
  never waits for its chat: it answers someone who just wrote or tapped, at their pace
  (`bot.flood` slows down whoever goes faster than a person); the outbox's nudges,
  notices and broadcasts wait for room after the replies in the same chat (at most one
  interval after the last of them);
- Telegram's paid broadcasts (`allow_paid_broadcast`) have an overall bucket of their own.

Who goes first is the lane (`Lane`): a handler's reply, then the outbox's nudges and
notices, then broadcast messages, which fill the room the others leave, except that a
broadcast message waiting while notices take `BROADCAST_SHARE` - 1 turns in a row gets the
next (a steady stream of notices never starves an announcement; replies still go first).
Waiting messages are woken one at a time, the first in lane order whose buckets allow it; a
429's `retry_after` holds every lane. An outbox message waits for room in its chat
(`Pace.room`) before it joins its lane's gate, so that a chat's one-a-second never holds
up the lane's messages to other chats.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import IntEnum

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

from bot.deferred import SENDS

RATE = 29.0  # messages a second overall: Telegram's 30, less one
SLACK = 0.9  # of an interval: how early a message may go to make up for a late one
CHAT_RATE = 1.0  # messages a second to one chat
CHAT_BURST = 3  # messages to one chat at once
BROADCAST_SHARE = 4  # a broadcast waiting gets at least one turn in this many of the outbox's
FORGET_AFTER = 10_000  # chats remembered before the idle ones are forgotten


class Lane(IntEnum):
    """Who goes first: the lower lane."""

    REPLY = 0  # a handler's answer: someone is waiting for it
    NOTICE = 1  # the outbox's nudges, notices and receipts
    BROADCAST = 2  # announcements to many


@dataclass
class Bucket:
    """Telegram's limit as GCRA: `due` is when the next message is due; one may go
    `tolerance` seconds before it."""

    interval: float
    tolerance: float
    due: float = float("-inf")

    def opens_at(self) -> float:
        return self.due - self.tolerance

    def take(self, now: float) -> None:
        self.due = max(self.due, now) + self.interval


@dataclass(order=True)
class _Waiter:
    lane: Lane
    order: int
    chat: int | str | None = field(compare=False)
    paid: bool = field(compare=False)
    wake: asyncio.Future[None] = field(compare=False)


class Pace:
    def __init__(
        self,
        rate: float = RATE,
        *,
        chat_rate: float = CHAT_RATE,
        chat_burst: int = CHAT_BURST,
        paid_rate: float | None = None,
    ) -> None:
        self.rate = rate
        self.overall = Bucket(1.0 / rate, SLACK / rate)
        self.paid = Bucket(1.0 / paid_rate, SLACK / paid_rate) if paid_rate else None
        self.chat_interval = 1.0 / chat_rate
        self.chat_tolerance = (chat_burst - 1) * self.chat_interval
        self._chats: dict[int | str, float] = {}
        self._held_until = float("-inf")
        self._waiting: list[_Waiter] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._notices_passed = 0  # notice turns taken in a row while a broadcast waited

    def allow_paid(self, rate: float) -> None:
        """Paid broadcasts go at `rate` a second, beside the free limit."""
        self.paid = Bucket(1.0 / rate, SLACK / rate)

    def hold(self, seconds: float) -> None:
        """Telegram said wait (a 429's `retry_after`): nothing leaves until then."""
        now = asyncio.get_running_loop().time()
        self._held_until = max(self._held_until, now + seconds)
        self._wake_next(now)

    async def turn(
        self, chat: int | str | None, lane: Lane = Lane.REPLY, *, paid: bool = False
    ) -> None:
        """Wait until a message to `chat` may leave, and count it as leaving now: call it
        right before the request (`chat` None: a call that counts overall only)."""
        loop = asyncio.get_running_loop()
        waiter = _Waiter(lane, next(self._order), chat, paid, loop.create_future())
        self._waiting.append(waiter)
        self._waiting.sort()
        try:
            while True:
                now = loop.time()
                if self._first_open(now) is waiter:
                    self._leave(waiter, now)
                    return
                self._wake_next(now)
                await waiter.wake
                waiter.wake = loop.create_future()
        finally:
            self._waiting.remove(waiter)
            self._wake_next(loop.time())

    async def room(self, chat: int | str) -> None:
        """Wait until `chat`'s bucket lets an outbox message go (the overall one aside): an
        outbox message waits for its chat here, outside its lane's gate. Its turn may
        still wait a little for the chat, if replies went there meanwhile."""
        loop = asyncio.get_running_loop()
        while True:  # a reply to the chat meanwhile moves its time
            wait = self._chat_opens_at(chat) - loop.time()
            if wait <= 0:
                return
            await asyncio.sleep(wait)

    def _chat_opens_at(self, chat: int | str) -> float:
        """When `chat`'s bucket lets an outbox message go (a chat not seen: always)."""
        return self._chats.get(chat, float("-inf")) - self.chat_tolerance

    def _bucket(self, waiter: _Waiter) -> Bucket:
        return self.paid if waiter.paid and self.paid is not None else self.overall

    def _opens_at(self, waiter: _Waiter) -> float:
        at = max(self._held_until, self._bucket(waiter).opens_at())
        if waiter.chat is not None and waiter.lane != Lane.REPLY:
            at = max(at, self._chat_opens_at(waiter.chat))
        return at

    def _first_open(self, now: float) -> _Waiter | None:
        first = next((w for w in self._waiting if self._opens_at(w) <= now), None)
        if (
            first is not None
            and first.lane == Lane.NOTICE
            and self._notices_passed >= BROADCAST_SHARE - 1
        ):
            broadcast = next(
                (w for w in self._waiting if w.lane == Lane.BROADCAST and self._opens_at(w) <= now),
                None,
            )
            return broadcast or first
        return first

    def _leave(self, waiter: _Waiter, now: float) -> None:
        if waiter.lane == Lane.BROADCAST:
            self._notices_passed = 0
        elif waiter.lane == Lane.NOTICE and any(w.lane == Lane.BROADCAST for w in self._waiting):
            self._notices_passed += 1
        self._bucket(waiter).take(now)
        if waiter.chat is not None:
            # Replies beyond the burst (never held) leave the chat full, not in debt: the
            # outbox's next message there waits one interval after the last, not longer.
            due = max(self._chats.get(waiter.chat, now), now) + self.chat_interval
            self._chats[waiter.chat] = min(due, now + self.chat_tolerance + self.chat_interval)
            if len(self._chats) > FORGET_AFTER:
                self._chats = {c: due for c, due in self._chats.items() if due > now}

    def _wake_next(self, now: float) -> None:
        """Wake the first waiter that may go now, or set a timer for when one may."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        first = self._first_open(now)
        if first is not None:
            if not first.wake.done():
                first.wake.set_result(None)
            return
        if self._waiting:
            at = min(self._opens_at(w) for w in self._waiting)
            self._timer = asyncio.get_running_loop().call_at(at, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._wake_next(asyncio.get_running_loop().time())


@dataclass
class Departure:
    """An outbox message on its way: its lane, and what must be done once its turn came
    and before its first request leaves (the claim of its row), so that nothing is claimed
    while it waits. The turn is taken before the claim, so that once claimed the message
    leaves at once, never behind a reply that came meanwhile (a kill between the claim and
    the request loses the message: see `bot.sender`); it is counted a claim's time (a few
    ms) before it leaves, well inside Telegram's tolerance (a burst of 30 overall, of 4 to
    a chat, where the pace keeps 29 and 3). `gate` (one per lane) lets one message at a
    time from waiting for its turn to leaving, so a lane has at most one claimed message
    that has not left. `left_at` is when that request left (the event loop's clock)."""

    lane: Lane
    before: Callable[[], Awaitable[None]] | None = None
    gate: asyncio.Lock | None = None
    left_at: float | None = None


_departure: ContextVar[Departure | None] = ContextVar("departure", default=None)


@contextlib.contextmanager
def departing(departure: Departure) -> Iterator[Departure]:
    """Calls made inside are the outbox sender's, in its lane."""
    token = _departure.set(departure)
    try:
        yield departure
    finally:
        _departure.reset(token)


class PaceMiddleware(BaseRequestMiddleware):
    """Every new message the bot sends waits for its turn (`Pace.turn`) right before its
    request leaves. Edits and callback answers are not counted by Telegram's limit; an
    outbox message's first request, whatever it is, runs the departure's `before` first
    (once its turn is taken, for a message)."""

    def __init__(self, pace: Pace) -> None:
        self.pace = pace

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        departure = _departure.get()
        lane = departure.lane if departure is not None else Lane.REPLY
        before = None
        if departure is not None and departure.before is not None:
            before, departure.before = departure.before, None
        if isinstance(method, SENDS):
            chat = getattr(method, "chat_id", None)
            paid = bool(getattr(method, "allow_paid_broadcast", False))
            gate = departure.gate if departure is not None and before is not None else None
            if gate is not None and chat is not None:
                await self.pace.room(chat)
            async with gate or contextlib.nullcontext():
                await self.pace.turn(chat, lane, paid=paid)
                if before is not None:
                    await before()
        elif before is not None:
            await before()
        if departure is not None and departure.left_at is None:
            departure.left_at = asyncio.get_running_loop().time()
        try:
            return await make_request(bot, method)
        except TelegramRetryAfter as flood:
            self.pace.hold(float(flood.retry_after))
            raise


def pace_of(bot: Bot) -> Pace:
    """The pace the bot's session keeps; a session without one (a bot made in a test or
    a benchmark) is given one, innermost, so that nothing it sends goes unpaced."""
    for middleware in bot.session.middleware:
        if isinstance(middleware, PaceMiddleware):
            return middleware.pace
    pace = Pace()
    bot.session.middleware(PaceMiddleware(pace))
    return pace
