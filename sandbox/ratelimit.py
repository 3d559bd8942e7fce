"""Telegram-like flood limits: token buckets per bot and per chat."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from .errors import too_many_requests


@dataclass(frozen=True)
class RateLimits:
    """Sending limits of one bot.

    ``global_per_second``/``global_burst``: messages per second over all chats (Telegram: ~30).
    ``chat_per_second``/``chat_burst``: sustained rate and burst to one private chat
    (Telegram: about 1 message per second, short bursts tolerated).
    """

    global_per_second: float = 30.0
    global_burst: int = 30
    chat_per_second: float = 1.0
    chat_burst: int = 4
    enabled: bool = True

    @classmethod
    def relaxed(cls) -> RateLimits:
        """No limits at all (for benchmarks and tests that are not about flood control)."""
        return cls(enabled=False)

    def with_changes(self, **changes: Any) -> RateLimits:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RateLimits:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


class TokenBucket:
    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = max(capacity, 1.0)
        self.tokens = self.capacity
        self.updated = now

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def wait_time(self, now: float) -> float:
        """Seconds until one token is available (0 when available now)."""
        self._refill(now)
        if self.tokens >= 1.0:
            return 0.0
        if self.rate <= 0:
            return math.inf
        return (1.0 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1.0


class RateLimiter:
    """Checks and counts messages; raises ApiError 429 with ``retry_after`` when over the limit."""

    def __init__(
        self, limits: RateLimits | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits or RateLimits()
        self._clock = clock
        self._global: dict[int, TokenBucket] = {}
        self._chats: dict[tuple[int, int], TokenBucket] = {}

    def configure(self, limits: RateLimits) -> None:
        self.limits = limits
        self._global.clear()
        self._chats.clear()

    def reset(self) -> None:
        self._global.clear()
        self._chats.clear()

    def check(self, bot_id: int, chat_id: int) -> None:
        limits = self.limits
        if not limits.enabled:
            return
        now = self._clock()
        global_bucket = self._global.get(bot_id)
        if global_bucket is None:
            global_bucket = TokenBucket(limits.global_per_second, limits.global_burst, now)
            self._global[bot_id] = global_bucket
        chat_bucket = self._chats.get((bot_id, chat_id))
        if chat_bucket is None:
            chat_bucket = TokenBucket(limits.chat_per_second, limits.chat_burst, now)
            self._chats[(bot_id, chat_id)] = chat_bucket
        wait = max(global_bucket.wait_time(now), chat_bucket.wait_time(now))
        if wait > 0:
            retry_after = 3600 if math.isinf(wait) else max(1, math.ceil(wait))
            raise too_many_requests(retry_after)
        global_bucket.take()
        chat_bucket.take()
        if len(self._chats) > 50_000:
            self._chats = {k: b for k, b in self._chats.items() if b.wait_time(now) > 0}
