"""Outgoing Bot API calls that ride out flood control and short network trouble."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

from core.logs import log_event

log = logging.getLogger("timebank.telegram")
_caller_retries: ContextVar[bool] = ContextVar("caller_retries", default=False)


@contextlib.contextmanager
def retried_by_caller() -> Iterator[None]:
    """Calls made inside go out once: the caller (the outbox sender) handles a 429 or a
    failure itself, pausing all its sends instead of one call waiting alone."""
    token = _caller_retries.set(True)
    try:
        yield
    finally:
        _caller_retries.reset(token)


class RetryMiddleware(BaseRequestMiddleware):
    """Waits out 429 `retry_after`; retries 5xx and network errors with backoff."""

    def __init__(self, attempts: int = 5, base_delay: float = 0.5, max_wait: float = 60) -> None:
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_wait = max_wait

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if _caller_retries.get():
            return await make_request(bot, method)
        for attempt in range(1, self.attempts + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                if attempt == self.attempts or exc.retry_after > self.max_wait:
                    raise
                delay = float(exc.retry_after)
            except (TelegramServerError, TelegramNetworkError):
                if attempt == self.attempts:
                    raise
                delay = self.base_delay * 2 ** (attempt - 1)
            log_event(
                log,
                "telegram call retried",
                logging.WARNING,
                method=type(method).__name__,
                attempt=attempt,
                delay=delay,
            )
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")
