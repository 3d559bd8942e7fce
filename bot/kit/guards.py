"""Guards every feature shares: who may use a handler, and the one place where a domain
error becomes a kind, localized answer.

A handler's writes are undone when a service refuses with a `DomainError` (`ErrorBoundary`:
a savepoint of the update's unit of work, `bot.middlewares`, taken only when needed); the
unit of work goes on (an update that wrote before the handler still commits and counts as
handled; one that wrote nothing is answered again if redelivered, as any read-only update),
and the dispatcher's error handler answers: an alert under a tapped button, a reply to a
message. Handlers only catch a `DomainError` when they answer it differently.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Dispatcher
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.filters import ExceptionTypeFilter, Filter
from aiogram.types import ErrorEvent, TelegramObject
from sqlalchemy.ext.asyncio import AsyncSession

from bot.kit.formatters import error_text
from core.db import write_mark, wrote_since
from core.errors import DomainError
from core.models import Member

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class SignedUp(Filter):
    """Passes a member who has finished signing up. A stranger's or a half-signed-up
    member's update goes on to the next handler (in the end, the fallback's kind pointer)."""

    async def __call__(self, event: TelegramObject, member: Member | None = None) -> bool:
        return member is not None and member.onboarded_at is not None


class Known(Filter):
    """Passes anyone with a member account, signed up or not."""

    async def __call__(self, event: TelegramObject, member: Member | None = None) -> bool:
        return member is not None


class SavepointFirst(Exception):
    """A `DomainError` came after the handler wrote, with no savepoint to undo just that: the
    unit of work (`bot.middlewares`) rolls the attempt back and handles the update again
    with the savepoint taken before the handler."""


SAVEPOINT_FIRST = "timebank_savepoint_first"  # in an update's data: take it before the handler
UPDATE_CONNECTION = "timebank_update_connection"  # the unit of work's connection


async def answering_refusals(
    handler: Handler,
    event_: TelegramObject,
    data: dict[str, Any],
    answer: Callable[[DomainError], Awaitable[Any]],
    answers: Callable[[DomainError], Awaitable[bool]] | None = None,
) -> Any:
    """Run the handler; a `DomainError` it raises (that `answers`, by default every one) is
    answered with `answer` once what the handler wrote is undone.

    Most refusals come before any write, and most updates are never refused, so the
    savepoint (two hops through SQLAlchemy's greenlet and its nested transaction's
    bookkeeping, even when SQLAlchemy sends no SAVEPOINT) is not taken up front: a refusal
    of a handler that wrote nothing has nothing to undo. One that had written raises
    `SavepointFirst`, and the update is handled again from the start, its first attempt
    rolled back and its replies dropped, with the savepoint taken before the handler.
    """
    session: AsyncSession = data["session"]
    if data.get(SAVEPOINT_FIRST):
        try:
            async with session.begin_nested():
                return await handler(event_, data)
        except DomainError as error:
            if answers is not None and not await answers(error):
                raise
            return await answer(error)
    conn = data.get(UPDATE_CONNECTION)
    mark = await write_mark(session, conn)
    try:
        return await handler(event_, data)
    except DomainError as error:
        if answers is not None and not await answers(error):
            raise
        if await wrote_since(session, mark, conn):
            raise SavepointFirst from error
        return await answer(error)


class ErrorBoundary(BaseMiddleware):
    """A `DomainError` undoes what the handler wrote and goes to the dispatcher's error
    handlers inside the same unit of work (`answering_refusals`)."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher

    async def __call__(self, handler: Handler, event_: TelegramObject, data: dict[str, Any]) -> Any:
        async def answer(error: DomainError) -> Any:
            answered = await self.dispatcher.propagate_event(
                update_type="error",
                event=ErrorEvent(update=data["event_update"], exception=error),
                **data,
            )
            if answered is UNHANDLED:
                raise error
            return answered

        return await answering_refusals(handler, event_, data, answer)


async def on_domain_error(event: ErrorEvent) -> None:
    """The refusal in the reader's words: an alert for a tapped button, else a reply."""
    assert isinstance(event.exception, DomainError)
    text = error_text(event.exception)
    if event.update.callback_query is not None:
        await event.update.callback_query.answer(text, show_alert=True)
    elif event.update.message is not None:
        await event.update.message.answer(text)


def install_error_boundary(dispatcher: Dispatcher) -> None:
    boundary = ErrorBoundary(dispatcher)
    dispatcher.message.outer_middleware(boundary)
    dispatcher.callback_query.outer_middleware(boundary)
    dispatcher.errors.register(on_domain_error, ExceptionTypeFilter(DomainError))
