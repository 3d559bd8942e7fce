"""Per-update plumbing: log context, one unit of work with deduplication, the member."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.fsm.middleware import FSMContextMiddleware
from aiogram.fsm.storage.base import BaseEventIsolation
from aiogram.types import TelegramObject, Update, User
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.storage import update_session
from core import members, outbox
from core.db import WRITE_OPTION
from core.logs import log_event, member_id_var, update_id_var
from core.models import Branch, ProcessedUpdate

log = logging.getLogger("timebank.updates")
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
PLATFORM = "telegram"


class ChatLockMiddleware(BaseMiddleware):
    """Updates of one chat are handled one at a time, so a double tap cannot race itself."""

    def __init__(self, fsm: FSMContextMiddleware, locks: BaseEventIsolation) -> None:
        self.fsm = fsm
        self.locks = locks

    async def __call__(self, handler: Handler, event_: TelegramObject, data: dict[str, Any]) -> Any:
        context = self.fsm.resolve_event_context(data["bot"], data)
        if context is None:
            return await handler(event_, data)
        async with self.locks.lock(key=context.key):
            return await handler(event_, data)


class UnitOfWorkMiddleware(BaseMiddleware):
    """One database session per update, committed once after the handler.

    Telegram may deliver an update twice. Every handled update is recorded in
    `processed_updates` in the same transaction as its effects, so a redelivery is
    recognised and skipped, and a racing twin fails on the key and rolls back. A handler
    that raises rolls everything back, its record included, so the update can be retried.

    On SQLite the transaction takes the write lock at BEGIN: a read transaction that later
    writes could otherwise fail when another chat's update committed in between. Updates
    then commit one at a time, which a neighbourhood's single SQLite process can afford;
    PostgreSQL has no such limit.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self.lock_at_begin = sessions.kw["bind"].dialect.name == "sqlite"

    async def __call__(self, handler: Handler, event_: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event_, Update)
        update_token = update_id_var.set(event_.update_id)
        member_token = member_id_var.set(None)
        async with self.sessions() as session:
            session_token = update_session.set(session)
            try:
                return await self._handle(session, handler, event_, data)
            finally:
                update_session.reset(session_token)
                update_id_var.reset(update_token)
                member_id_var.reset(member_token)

    async def _handle(
        self, session: AsyncSession, handler: Handler, event_: Update, data: dict[str, Any]
    ) -> Any:
        if self.lock_at_begin:
            await session.connection(execution_options={WRITE_OPTION: True})
        if await session.get(ProcessedUpdate, event_.update_id) is not None:
            log_event(log, "duplicate update skipped")
            return None
        data["session"] = session
        result = await handler(event_, data)
        session.add(ProcessedUpdate(update_id=event_.update_id))
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
            log_event(log, "duplicate update rolled back")
        return result


class MemberMiddleware(BaseMiddleware):
    """Puts the sender's `member` (or None for a stranger) and their `branch` into the data.

    A member who writes or taps a button can be reached again, if they had blocked the bot
    (their unblocking itself is `bot.handlers.presence`).
    """

    async def __call__(self, handler: Handler, event_: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        session: AsyncSession = data["session"]
        member = None
        if user is not None:
            member = await members.find_member(session, PLATFORM, str(user.id))
        data["member"] = member
        data["branch"] = (
            await session.get(Branch, member.branch_id) if member and member.branch_id else None
        )
        if member is not None:
            member_id_var.set(member.id)
            if isinstance(event_, Update) and (event_.message or event_.callback_query):
                await outbox.unblock(session, member.id)
        log_event(log, "update", kind=event_.event_type if isinstance(event_, Update) else None)
        return await handler(event_, data)
