"""Every message the bot sends must be one Telegram accepts: at most 4,096 characters of
text, 1,024 of a caption (a voice note's words).

Texts are written to be short, so this is a last guard, not a layout tool: a text that is
still too long loses its formatting (cutting HTML could leave a tag open) and is trimmed.
"""

from __future__ import annotations

import html
import logging
import re

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import (
    EditMessageCaption,
    EditMessageText,
    Response,
    SendMessage,
    SendVoice,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType

from core.logs import log_event

log = logging.getLogger("timebank.telegram")
LIMIT = 4096
CAPTION_LIMIT = 1024
# The field holding a method's words, and Telegram's limit for it.
WORDS = {
    SendMessage: ("text", LIMIT),
    EditMessageText: ("text", LIMIT),
    SendVoice: ("caption", CAPTION_LIMIT),
    EditMessageCaption: ("caption", CAPTION_LIMIT),
}
_TAG = re.compile(r"<[^>]*>")


def utf16_length(text: str) -> int:
    """Telegram counts UTF-16 code units: an emoji outside the BMP counts as two."""
    return len(text.encode("utf-16-le")) // 2


def fit(text: str, limit: int = LIMIT) -> str:
    """The plain text, trimmed with an ellipsis to `limit` UTF-16 units."""
    plain = html.unescape(_TAG.sub("", text))
    if utf16_length(plain) <= limit:
        return plain
    while utf16_length(plain) > limit - 1:
        plain = plain[: len(plain) - max(1, (utf16_length(plain) - limit + 1) // 2)]
    return plain + "…"


class FitMiddleware(BaseRequestMiddleware):
    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        field, limit = WORDS.get(type(method), ("", 0))
        words = getattr(method, field, None) if field else None
        if isinstance(words, str) and utf16_length(html.unescape(_TAG.sub("", words))) > limit:
            log_event(log, "message trimmed", logging.WARNING, method=type(method).__name__)
            method = method.model_copy(update={field: fit(words, limit), "parse_mode": None})
        return await make_request(bot, method)
