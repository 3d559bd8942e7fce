"""An update's replies go out after its transaction commits.

While an update is handled (see `bot.middlewares.UnitOfWorkMiddleware`), the Bot API calls
that show something to a user (sends, edits, callback answers, deletions) are queued instead
of sent, and the handler gets a stand-in result at once. After the commit the queue goes out
in order, outside any transaction: the database's write lock is held only for the database
work, and a 429 is waited out without it. A rollback (a raising handler, a racing twin of the
update) sends nothing.

Handlers need not know. A stand-in `Message` carries a negative placeholder `message_id`;
once the real message exists, the placeholder is replaced in the queued calls that follow and
in the conversation's FSM data, where a handler keeps the id of a message it will edit later
(the request review). What a handler did when a call failed is done here for it: an edit that
cannot be made is sent as a new message with the same text ("message is not modified" is
left alone), and other failures are logged.

The queued calls' answers are not parsed into aiogram's types (`bot.lean_session`): nothing
reads them but a sent message's id. Calls that read something (getFile, getChat, …) are
never queued. A call made after the
queue went out (a task that outlives its update) is sent at once.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import logging
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteMessage,
    EditMessageCaption,
    EditMessageReplyMarkup,
    EditMessageText,
    Response,
    SendAudio,
    SendChatAction,
    SendDocument,
    SendLocation,
    SendMessage,
    SendPhoto,
    SendVenue,
    SendVoice,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType
from aiogram.types import Chat, Message

from bot.lean_session import sent_message_id, unread_results
from core.logs import log_event

log = logging.getLogger("timebank.replies")

SENDS = (SendMessage, SendDocument, SendPhoto, SendVoice, SendAudio, SendLocation, SendVenue)
EDITS = (EditMessageText, EditMessageCaption, EditMessageReplyMarkup)
QUEUED = (*SENDS, *EDITS, AnswerCallbackQuery, DeleteMessage, SendChatAction)

_placeholders = itertools.count(-1, -1)
_current: ContextVar[Replies | None] = ContextVar("update_replies", default=None)


class Replies:
    """The queued calls of one update, in the order the handler made them."""

    def __init__(self) -> None:
        self.calls: list[tuple[TelegramMethod[Any], int | None]] = []  # with its placeholder
        self.placeholders: dict[int, int | None] = {}  # placeholder → real id once sent
        self.kept = False  # a placeholder went into the conversation's FSM data
        self.kept_data: dict[str, Any] = {}  # the data as the update last set it
        self.open = True

    @contextlib.contextmanager
    def collecting(self) -> Iterator[Replies]:
        token = _current.set(self)
        try:
            yield self
        finally:
            _current.reset(token)

    def discard(self) -> None:
        self.calls.clear()
        self.open = False

    def queue(self, method: TelegramMethod[Any], bot: Bot) -> Any:
        """Queue the call; what it would have returned, as far as a handler can use it now."""
        if not isinstance(method, SENDS):
            self.calls.append((method, None))
            return True
        placeholder = next(_placeholders)
        self.placeholders[placeholder] = None
        self.calls.append((method, placeholder))
        chat_id = method.chat_id
        return Message(
            message_id=placeholder,
            date=datetime.now(UTC),
            chat=Chat(id=chat_id if isinstance(chat_id, int) else 0, type="private"),
            text=getattr(method, "text", None),
        ).as_(bot)

    async def send(self, bot: Bot, state: FSMContext | None) -> None:
        """Send the queue in order; each failure is handled on its own, never raised."""
        self.open = False
        calls, self.calls = self.calls, []
        for method, placeholder in calls:
            message_id = getattr(method, "message_id", None)
            if isinstance(message_id, int) and message_id < 0:
                real = self.placeholders.get(message_id)
                if real is None:
                    continue  # the message it would change was never sent
                method.message_id = real
            try:
                with unread_results():
                    result = await bot(method)
            except TelegramAPIError as error:
                await self._failed(bot, method, error)
                continue
            if placeholder is not None:
                self.placeholders[placeholder] = sent_message_id(result)
        if state is not None and self.kept and any(self.placeholders.values()):
            await self._record_ids(state)

    async def _failed(self, bot: Bot, method: TelegramMethod[Any], error: TelegramAPIError) -> None:
        name = type(method).__name__
        if isinstance(error, TelegramBadRequest) and "not modified" in error.message:
            return
        text = _text_of(method)
        if isinstance(error, TelegramBadRequest) and isinstance(method, EDITS) and text:
            try:
                fallback = SendMessage(
                    chat_id=method.chat_id or 0, text=text, reply_markup=method.reply_markup
                )
                with unread_results():
                    await bot(fallback)
                return
            except TelegramAPIError as again:
                error = again
        log_event(
            log, "reply not delivered", logging.WARNING, method=name, reason=error.message[:200]
        )

    async def _record_ids(self, state: FSMContext) -> None:
        """Put the real ids where the handler kept placeholders: a small write of its own.
        The data is the update's last (the committed one: its chat's next update waits for
        these replies), so it is not read again."""
        data = self.kept_data
        fixed = {key: self._real(value) for key, value in data.items()}
        if fixed != data:
            await state.set_data(fixed)

    def _real(self, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            return self.placeholders.get(value) or value
        return value


def note_kept(data: Mapping[str, Any]) -> None:
    """Called by the FSM storage as it saves data: whether a placeholder id is kept there,
    to be replaced once the message is sent (so updates that keep none pay nothing)."""
    replies = _current.get()
    if replies is not None and replies.placeholders:
        replies.kept_data = copy.deepcopy(dict(data))
        if any(isinstance(v, int) and v in replies.placeholders for v in data.values()):
            replies.kept = True


def _text_of(method: TelegramMethod[Any]) -> str | None:
    if isinstance(method, EditMessageText):
        return method.text
    if isinstance(method, EditMessageCaption):
        return method.caption
    return None


class DeferringMiddleware(BaseRequestMiddleware):
    """Queues an update's user-facing calls (see the module's docstring)."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        replies = _current.get()
        if replies is None or not replies.open or not isinstance(method, QUEUED):
            return await make_request(bot, method)
        # A session's chain returns the call's result itself, whatever the annotation says.
        return replies.queue(method, bot)  # type: ignore[no-any-return]
