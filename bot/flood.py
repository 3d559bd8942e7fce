"""Flood protection: a sender who writes or taps faster than a person can is slowed down on
their own chat, and nobody else notices.

Each sender has a leaky bucket (aiolimiter): `flood_burst` updates at once, then
`flood_burst / flood_seconds` a second. An update over the limit is dropped first thing,
before the chat lock, the database or any handler: a script sending 50 messages a second
costs one check per message, and other members' updates never wait behind it. The sender
is told once per `flood_seconds`, kindly and in their Telegram's language; a tapped button
is always answered, or its spinner would turn on. The buckets sit in a bounded cache
(cachetools) that forgets a sender quiet for two periods.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update, User
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import lazy_gettext as __
from aiolimiter import AsyncLimiter
from cachetools import TTLCache

from core.languages import match_language
from core.logs import log_event

log = logging.getLogger("timebank.flood")
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
# Senders tracked at once; beyond it the least recently seen is forgotten first.
MAX_SENDERS = 100_000

SLOW_DOWN = __("You are sending messages very quickly. Please wait a moment, then try again.")


class FloodMiddleware(BaseMiddleware):
    def __init__(self, i18n: I18n, burst: int, seconds: float) -> None:
        self.i18n = i18n
        self.burst = burst
        self.seconds = seconds
        self.buckets: TTLCache[int, AsyncLimiter] = TTLCache(MAX_SENDERS, ttl=2 * seconds)
        self.warned: TTLCache[int, bool] = TTLCache(MAX_SENDERS, ttl=seconds)
        self.dropped = 0

    async def allows(self, user_id: int) -> bool:
        """Takes one drop from the sender's bucket if it has room; never waits."""
        bucket = self.buckets.get(user_id) or AsyncLimiter(self.burst, self.seconds)
        self.buckets[user_id] = bucket  # seen now: kept for another two periods
        if not bucket.has_capacity():
            return False
        await bucket.acquire()  # with room, it takes the drop at once
        return True

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if self.burst <= 0 or user is None or user.is_bot or await self.allows(user.id):
            return await handler(event, data)
        self.dropped += 1
        first = user.id not in self.warned
        if first:
            self.warned[user.id] = True
            log_event(log, "sender slowed down", dropped=self.dropped)
        assert isinstance(event, Update)
        text = self._text(user)
        if event.callback_query is not None:
            await event.callback_query.answer(text if first else None)
        elif first and event.message is not None:
            await event.message.answer(text)
        return None

    def _text(self, user: User) -> str:
        language = match_language(user.language_code) or self.i18n.default_locale
        with self.i18n.context(), self.i18n.use_locale(language):
            return str(SLOW_DOWN)
