"""Guards every feature shares: who may use a handler, and the one place where a domain
error becomes a kind, localized answer.

A handler runs inside a savepoint of the update's unit of work (`bot.middlewares`). When a
service refuses with a `DomainError`, the savepoint undoes whatever the handler wrote, the
unit of work still commits (so the update counts as handled and a redelivery is skipped),
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


class ErrorBoundary(BaseMiddleware):
    """Runs the handler in a savepoint; a `DomainError` rolls it back and goes to the
    dispatcher's error handlers inside the same unit of work."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher

    async def __call__(self, handler: Handler, event_: TelegramObject, data: dict[str, Any]) -> Any:
        session: AsyncSession = data["session"]
        try:
            async with session.begin_nested():
                return await handler(event_, data)
        except DomainError as error:
            answered = await self.dispatcher.propagate_event(
                update_type="error",
                event=ErrorEvent(update=data["event_update"], exception=error),
                **data,
            )
            if answered is UNHANDLED:
                raise
            return answered


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
