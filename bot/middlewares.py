"""Per-update plumbing: log context, one unit of work with deduplication, the member."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiogram import BaseMiddleware
from aiogram.fsm.context import FSMContext
from aiogram.fsm.middleware import FSMContextMiddleware
from aiogram.fsm.storage.base import BaseEventIsolation
from aiogram.types import CallbackQuery, Message, TelegramObject, Update, User
from aiogram.utils.i18n import gettext as _
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.deferred import Replies
from bot.kit.guards import SAVEPOINT_FIRST, UPDATE_CONNECTION, SavepointFirst
from bot.lookups import Lookups, working_branch_id
from bot.storage import Conversation, storage_key, update_conversation, update_session
from bot.update_context import UpdateContext, read_update_context
from core import outbox
from core.db import WRITE_OPTION, is_retryable, transaction_begun, write_mark, wrote_since
from core.logs import log_event, member_id_var, update_id_var
from core.models import Member, ProcessedUpdate

log = logging.getLogger("timebank.updates")
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
PLATFORM = "telegram"


CHAT_CONTEXT = "timebank_chat_context"  # the update's FSMContext, resolved once


def chat_context(fsm: FSMContextMiddleware, data: dict[str, Any]) -> FSMContext | None:
    """The update's conversation context (aiogram's `FSMContext`), resolved once per update
    and kept in its data for the middlewares after (each resolution parses the bot's token)."""
    if CHAT_CONTEXT not in data:
        data[CHAT_CONTEXT] = fsm.resolve_event_context(data["bot"], data)
    context: FSMContext | None = data[CHAT_CONTEXT]
    return context


class ChatLockMiddleware(BaseMiddleware):
    """Updates of one chat are handled one at a time, so a double tap cannot race itself."""

    def __init__(self, fsm: FSMContextMiddleware, locks: BaseEventIsolation) -> None:
        self.fsm = fsm
        self.locks = locks

    async def __call__(self, handler: Handler, event_: TelegramObject, data: dict[str, Any]) -> Any:
        context = chat_context(self.fsm, data)
        if context is None:
            return await handler(event_, data)
        async with self.locks.lock(key=context.key):
            return await handler(event_, data)


class UnitOfWorkMiddleware(BaseMiddleware):
    """One database session per update, committed once after the handler (if it began a
    transaction); then its replies.

    Telegram may deliver an update twice. Every handled update is recorded in
    `processed_updates` in the same transaction as its effects, so a redelivery is
    recognised and skipped, and a racing twin fails on the key and rolls back. A handler
    that raises rolls everything back, its record included, so the update can be retried.

    An update that changed nothing in the database (`/help`, a menu that only shows
    something) is not recorded: handling it again only shows it again. The conversation
    state is in the database too (`bot.storage`), so a new step always shows as a write.

    What the update needs before its handler runs (whether it was handled, the sender's
    member and branch versions, the conversation state) is one statement
    (`bot.update_context`); the member and branch come from `bot.lookups`' cache when their
    versions match, and the conversation state is written, just before the commit, only if
    it changed. So `/help` from a known member costs one read and writes nothing.

    The update's replies wait for the commit (`bot.deferred`): a rollback sends nothing, and
    no lock or connection is held while they travel. By long polling, an update that
    changed nothing (/help, a menu) is confirmed only after its replies went out, so a crash
    in between brings it back and it is answered again. One that wrote is confirmed at its
    commit: brought back, it would be recognised as handled and skipped, so waiting for its
    replies would only hold the poller's window (`bot.runner.Poller`) for a Bot API round
    trip. A crash between its commit and its replies loses the replies: the at-least-once
    window moves from "effects twice" to "a reply once lost", which a member fixes by
    tapping again.

    On SQLite an update first runs in a read transaction, which takes no lock, so reads of
    many chats go side by side. If it then writes after another chat's update committed,
    SQLite refuses the write (its snapshot is stale; waiting cannot help): the attempt is
    rolled back, its replies dropped, and the update runs again in a transaction that takes
    the write lock at BEGIN (BEGIN IMMEDIATE), which cannot be refused. A chat whose last
    update wrote starts with the lock (`WriteHints`), so a conversation's steps do not pay
    for a refused first try. PostgreSQL has no such limit. An update refused (`DomainError`)
    after its handler wrote runs again the same way, with the error boundary's savepoint
    taken before the handler (`bot.kit.guards.ErrorBoundary`).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        fsm: FSMContextMiddleware,
        lookups: Lookups,
    ) -> None:
        self.sessions = sessions
        self.fsm = fsm
        self.lookups = lookups
        self.sqlite = sessions.kw["bind"].dialect.name == "sqlite"
        self.hints = WriteHints()

    async def __call__(self, handler: Handler, event_: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event_, Update)
        update_token = update_id_var.set(event_.update_id)
        member_token = member_id_var.set(None)
        context = chat_context(self.fsm, data)
        key = storage_key(context.key) if context is not None else None
        # Called at most once, by whichever comes first (see the class's docstring).
        data["update_committed"] = confirm = _once(data.get("update_committed"))
        try:
            lock = self.sqlite and self.hints.wrote(key)
            while True:
                replies = Replies()
                try:
                    result = await self._attempt(handler, event_, data, replies, key, lock)
                except SavepointFirst:
                    # Refused after it wrote (`bot.kit.guards.ErrorBoundary`): handled again,
                    # from the start, with the savepoint that undoes only the handler's part.
                    data[SAVEPOINT_FIRST] = True
                    lock = self.sqlite
                    continue
                except DBAPIError as error:
                    if lock or not self.sqlite or not is_retryable(error):
                        raise
                    log_event(log, "update run again with the write lock")
                    lock = True
                    continue
                break
            await replies.send(data["bot"], data.get("state"))
            confirm()
            return result
        finally:
            update_id_var.reset(update_token)
            member_id_var.reset(member_token)

    async def _attempt(
        self,
        handler: Handler,
        event_: Update,
        data: dict[str, Any],
        replies: Replies,
        key: str | None,
        lock: bool,
    ) -> Any:
        with replies.collecting():
            async with self.sessions() as session:
                session_token = update_session.set(session)
                try:
                    return await self._handle(session, handler, event_, data, replies, key, lock)
                except BaseException:
                    replies.discard()
                    # Rows of a rolled-back session cannot be read any more; the error's
                    # handlers (and a second attempt) must not find them.
                    for name in ("session", "member", "branch", UPDATE_CONNECTION):
                        data.pop(name, None)
                    raise
                finally:
                    update_session.reset(session_token)

    async def _handle(
        self,
        session: AsyncSession,
        handler: Handler,
        event_: Update,
        data: dict[str, Any],
        replies: Replies,
        key: str | None,
        lock: bool,
    ) -> Any:
        # The session's connection, asked for once: each `session.connection()` is a hop
        # through SQLAlchemy's greenlet. No BEGIN is sent yet (it waits for a statement).
        conn = await session.connection(execution_options={WRITE_OPTION: True} if lock else None)
        user: User | None = data.get("event_from_user")
        identity = (PLATFORM, str(user.id)) if user is not None else None
        found = await read_update_context(
            conn,
            event_.update_id,
            identity,
            self.lookups.cached_branch_id(identity) if identity else None,
            key,
        )
        if found.seen:
            log_event(log, "duplicate update skipped")
            data["update_committed"]()
            return None
        data["session"] = session
        data[UPDATE_CONNECTION] = conn
        data["update_context"] = found
        conversation = Conversation(key, found.state, found.data) if key is not None else None
        conversation_token = update_conversation.set(conversation)
        saved = False
        try:
            mark = await write_mark(session, conn)
            result = await handler(event_, data)
            if conversation is not None:
                saved = await conversation.save(session)
        finally:
            update_conversation.reset(conversation_token)
        # A new step wrote for sure; asking the database again would be a round trip on
        # PostgreSQL (`wrote_since`).
        wrote = saved or await wrote_since(session, mark, conn)
        if not wrote and not transaction_begun(conn):
            # Only the update's read ran, ahead of any BEGIN (/help, a menu): nothing to
            # commit; the session's close ends it.
            self.hints.note(key, wrote)
            return result
        if wrote:
            session.add(ProcessedUpdate(update_id=event_.update_id))
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
            replies.discard()
            log_event(log, "duplicate update rolled back")
        else:
            if wrote:
                data["update_committed"]()
        self.hints.note(key, wrote)
        return result


def _once(call: Callable[[], None] | None) -> Callable[[], None]:
    called = False

    def once() -> None:
        nonlocal called
        if call is not None and not called:
            called = True
            call()

    return once


class ChatStateMiddleware(BaseMiddleware):
    """What aiogram's `FSMContextMiddleware` gives a handler (`state`, `raw_state`,
    `fsm_storage`), from the context the chat lock resolved. Its own lock is not needed: the
    chat lock is taken before the update's unit of work, and the state is the one the
    update's read found (`bot.storage`)."""

    def __init__(self, fsm: FSMContextMiddleware) -> None:
        self.fsm = fsm

    async def __call__(self, handler: Handler, event_: TelegramObject, data: dict[str, Any]) -> Any:
        data["fsm_storage"] = self.fsm.storage
        context = chat_context(self.fsm, data)
        if context is not None:
            data["state"] = context
            data["raw_state"] = await context.get_state()
        return await handler(event_, data)


class WriteHints:
    """The chats (FSM keys) whose last update wrote, most recent last, at most `size`."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self.keys: OrderedDict[str, None] = OrderedDict()

    def wrote(self, key: str | None) -> bool:
        return key is not None and key in self.keys

    def note(self, key: str | None, wrote: bool) -> None:
        if key is None:
            return
        if not wrote:
            self.keys.pop(key, None)
            return
        self.keys[key] = None
        self.keys.move_to_end(key)
        if len(self.keys) > self.size:
            self.keys.popitem(last=False)


class MemberMiddleware(BaseMiddleware):
    """Puts the sender's `member` (or None for a stranger) and their `branch` into the data,
    from `bot.lookups` as checked by the update's read.

    A member who writes or taps a button can be reached again, if they had blocked the bot
    (their unblocking itself is `bot.handlers.account.presence`).
    """

    def __init__(self, lookups: Lookups) -> None:
        self.lookups = lookups

    async def __call__(self, handler: Handler, event_: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        session: AsyncSession = data["session"]
        found: UpdateContext = data["update_context"]
        member = None
        checked_branch = None
        if user is not None:
            identity = (PLATFORM, str(user.id))
            checked_branch = self.lookups.cached_branch_id(identity)
            member = await self.lookups.member(
                session, identity, found.member_id, found.member_version
            )
        data["member"] = member
        # A coordinator of several branches: the one they work in now (`/branch`).
        branch_id = working_branch_id(member) if member is not None else None
        data["branch"] = await self.lookups.branch(
            session, branch_id, found.branch_version if branch_id == checked_branch else None
        )
        if member is not None:
            member_id_var.set(member.id)
            if (
                found.blocked
                and isinstance(event_, Update)
                and (event_.message or event_.callback_query)
            ):
                await outbox.unblock(session, member.id)
        log_event(log, "update", kind=event_.event_type if isinstance(event_, Update) else None)
        return await handler(event_, data)


class ButtonsFromBeforeMiddleware(BaseMiddleware):
    """A button on a message sent before the tapper's account began acts on nothing.

    Someone who erased their account and signed up again keeps the old chat, and its
    buttons; without this an old profile button would act on the new account. Telegram
    gives each tapped message its send date, which a client cannot forge, so a message older
    than the account is from an earlier one. The slack covers the send date's whole seconds
    and the two clocks; nobody erases and signs up again within it.
    """

    SLACK = timedelta(seconds=2)

    async def __call__(self, handler: Handler, event_: TelegramObject, data: dict[str, Any]) -> Any:
        member: Member | None = data.get("member")
        message = event_.message if isinstance(event_, CallbackQuery) else None
        if (
            isinstance(event_, CallbackQuery)
            and member is not None
            and isinstance(message, Message)
            and message.date < member.created_at - self.SLACK
        ):
            log_event(log, "button from an earlier account")
            await event_.answer(
                _(
                    "This button is from before you signed up again, so it does nothing now. "
                    "Please use the menu below."
                ),
                show_alert=True,
            )
            return None
        return await handler(event_, data)
