"""The bot's HTTP session to the Bot API: aiogram's, minus parsing answers nobody reads.

aiogram turns every answer into its pydantic types: a sent message's answer into a whole
`Message` (its chat, sender, entities, keyboard), ~0.1 ms of CPU per reply. An update's
replies go out after its commit (`bot.deferred`) and nothing reads what they return but the
new message's id. Inside `unread_results()` a successful answer is returned as the Bot API's
JSON `result` (a dict, or True) without building aiogram's types. Everything else is aiogram's
own path: an answer that is not a success (400, 403, 429 `retry_after`, a migrated chat, a 5xx)
or is not JSON raises exactly the error aiogram raises, and calls outside return aiogram's
types as before.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from http import HTTPStatus
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

_unread: ContextVar[bool] = ContextVar("telegram_results_unread", default=False)


@contextlib.contextmanager
def unread_results() -> Iterator[None]:
    """Calls made inside return the answer's raw JSON `result` when it succeeded."""
    token = _unread.set(True)
    try:
        yield
    finally:
        _unread.reset(token)


class _Raw:
    """What `make_request` takes from a checked response: its `result`, unparsed."""

    __slots__ = ("result",)

    def __init__(self, result: Any) -> None:
        self.result = result


class LeanSession(AiohttpSession):
    def check_response(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        status_code: int,
        content: str,
    ) -> Response[TelegramType]:
        if _unread.get() and HTTPStatus.OK <= status_code <= HTTPStatus.IM_USED:
            try:
                data = self.json_loads(content)
            except Exception:  # aiogram's own path below says what went wrong
                data = None
            if isinstance(data, dict) and data.get("ok") is True and "result" in data:
                return _Raw(data["result"])  # type: ignore[return-value]
        return super().check_response(bot, method, status_code, content)


def sent_message_id(result: Any) -> int | None:
    """The id of the message a send made, whether its answer was parsed or not."""
    if isinstance(result, dict):
        message_id = result.get("message_id")
        return message_id if isinstance(message_id, int) else None
    message_id = getattr(result, "message_id", None)
    return message_id if isinstance(message_id, int) else None
