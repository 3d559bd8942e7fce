"""FSM storage in the database, so a conversation survives a restart of the bot.

While an update is handled, its chat's conversation is the one the update's read found
(`bot.update_context`): reading it costs no statement, and changes to it are kept in memory
and written once, in the update's unit of work just before it commits (see
`bot.middlewares`), and only if they differ from what was read. So the new step and the
effects of the answer commit together, a step that sets the same state again writes
nothing, and a read-only update reads its state without a write. Another key, or a call
outside an update (a task, the replies after commit), reads and writes the row at once.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StorageKey
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.deferred import note_kept
from core.db import transaction, utcnow, with_retries
from core.models import ConversationState

update_session: ContextVar[AsyncSession | None] = ContextVar("update_session", default=None)


def storage_key(key: StorageKey) -> str:
    parts = [key.bot_id, key.chat_id, key.user_id, key.thread_id, key.business_connection_id]
    return ":".join("" if p is None else str(p) for p in parts) + f":{key.destiny}"


def _upsert_statement(dialect: str, key: str, **values: Any) -> Any:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    values["updated_at"] = utcnow()
    row = {"key": key, "state": None, "data": {}, **values}
    statement = insert(ConversationState).values(**row)
    return statement.on_conflict_do_update(index_elements=["key"], set_=values)


class Conversation:
    """One chat's conversation state during an update: as read, and as it is now."""

    def __init__(self, key: str, state: str | None, data: dict[str, Any] | None) -> None:
        self.key = key
        self.read = (state, data or {})
        self.state = state
        self.data: dict[str, Any] = copy.deepcopy(self.read[1])

    @property
    def changed(self) -> bool:
        return (self.state, self.data) != self.read

    async def save(self, session: AsyncSession) -> bool:
        """Write the state if it changed since it was read; nothing otherwise. Whether it
        wrote (an upsert always does: the unit of work need not ask the database)."""
        if not self.changed:
            return False
        dialect = session.bind.dialect.name
        statement = _upsert_statement(dialect, self.key, state=self.state, data=dict(self.data))
        await session.execute(statement)
        self.read = (self.state, copy.deepcopy(self.data))
        return True


update_conversation: ContextVar[Conversation | None] = ContextVar(
    "update_conversation", default=None
)


class SqlStorage(BaseStorage):
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @staticmethod
    def _current(key: StorageKey) -> Conversation | None:
        conversation = update_conversation.get()
        if conversation is not None and conversation.key == storage_key(key):
            return conversation
        return None

    async def _upsert(self, key: StorageKey, **values: Any) -> None:
        dialect = self.sessions.kw["bind"].dialect.name
        statement = _upsert_statement(dialect, storage_key(key), **values)
        session = update_session.get()
        if session is not None:
            await session.execute(statement)
            return

        async def write() -> None:
            async with transaction(self.sessions, write=True) as own:
                await own.execute(statement)

        await with_retries(write)

    async def _row(self, key: StorageKey) -> ConversationState | None:
        query = select(ConversationState).where(ConversationState.key == storage_key(key))
        session = update_session.get()
        if session is not None:
            return await session.scalar(query.execution_options(populate_existing=True))
        async with self.sessions() as own:
            return await own.scalar(query)

    async def set_state(self, key: StorageKey, state: str | State | None = None) -> None:
        value = state.state if isinstance(state, State) else state
        conversation = self._current(key)
        if conversation is not None:
            conversation.state = value
            return
        await self._upsert(key, state=value)

    async def get_state(self, key: StorageKey) -> str | None:
        conversation = self._current(key)
        if conversation is not None:
            return conversation.state
        row = await self._row(key)
        return row.state if row else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        conversation = self._current(key)
        if conversation is not None:
            note_kept(data)  # the update's own chat: another chat's data keeps no reply of it
            conversation.data = copy.deepcopy(dict(data))
            return
        await self._upsert(key, data=dict(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        conversation = self._current(key)
        if conversation is not None:
            return copy.deepcopy(conversation.data)
        row = await self._row(key)
        return dict(row.data) if row else {}

    async def close(self) -> None:
        pass
