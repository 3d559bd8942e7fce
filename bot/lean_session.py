"""The bot's HTTP session to the Bot API: aiogram's, with a JSON body, minus parsing answers
nobody reads.

aiogram turns every answer into its pydantic types: a sent message's answer into a whole
`Message` (its chat, sender, entities, keyboard), ~0.1 ms of CPU per reply. An update's
replies go out after its commit (`bot.deferred`) and nothing reads what they return but the
new message's id. Inside `unread_results()` a successful answer is returned as the Bot API's
JSON `result` (a dict, or True) without building aiogram's types. Everything else is aiogram's
own path: an answer that is not a success (400, 403, 429 `retry_after`, a migrated chat, a 5xx)
or is not JSON raises exactly the error aiogram raises, and calls outside return aiogram's
types as before.

A call without a file goes as one JSON body (`application/json`, which the Bot API takes for
every method) instead of aiogram's form, whose every field is JSON first and then quoted
character by character: ~0.2 ms of CPU for /help's text and keyboard, a third of that as
JSON. The fields are aiogram's own (`prepare_value`: the bot's defaults, dates, enums); a
field the form would leave out (None, an empty string) is left out. A call with a file goes
as aiogram's multipart form.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from http import HTTPStatus
from typing import Any, cast

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import InputFile
from aiohttp import ClientError

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


_JSON = {"Content-Type": "application/json"}


class LeanSession(AiohttpSession):
    """aiogram's `AiohttpSession` (3.31) with a JSON body and answers left unparsed where
    unread. `make_request` follows aiogram's own (its timeout and network errors, said in the
    same words); a change of aiogram's is caught by tests/bot/test_lean_session.py, which
    compares the two."""

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 - aiogram's signature
    ) -> TelegramType:
        files: dict[str, InputFile] = {}
        fields = {}
        for key, value in method.model_dump(warnings=False).items():
            value = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            if value is not None and value != "":
                fields[key] = value
        if files:
            return await super().make_request(bot, method, timeout)
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        try:
            async with session.post(
                url,
                data=self.json_dumps(fields),
                headers=_JSON,
                timeout=self.timeout if timeout is None else timeout,
            ) as resp:
                raw_result = await resp.text()
        except TimeoutError as e:
            raise TelegramNetworkError(method=method, message="Request timeout error") from e
        except ClientError as e:
            raise TelegramNetworkError(method=method, message=f"{type(e).__name__}: {e}") from e
        response = self.check_response(
            bot=bot, method=method, status_code=resp.status, content=raw_result
        )
        return cast(TelegramType, response.result)

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
