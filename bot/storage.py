"""FSM storage in the database, so a conversation survives a restart of the bot.

While an update is handled, state changes join that update's unit of work (see
`bot.middlewares`), so the new step and the effects of the answer commit together.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StorageKey
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import transaction, utcnow, with_retries
from core.models import ConversationState

update_session: ContextVar[AsyncSession | None] = ContextVar("update_session", default=None)


def storage_key(key: StorageKey) -> str:
    parts = [key.bot_id, key.chat_id, key.user_id, key.thread_id, key.business_connection_id]
    return ":".join("" if p is None else str(p) for p in parts) + f":{key.destiny}"


class SqlStorage(BaseStorage):
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def _upsert(self, key: StorageKey, **values: Any) -> None:
        dialect = self.sessions.kw["bind"].dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        values["updated_at"] = utcnow()
        row = {"key": storage_key(key), "state": None, "data": {}, **values}
        statement = insert(ConversationState).values(**row)
        statement = statement.on_conflict_do_update(index_elements=["key"], set_=values)

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
        await self._upsert(key, state=value)

    async def get_state(self, key: StorageKey) -> str | None:
        row = await self._row(key)
        return row.state if row else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._upsert(key, data=dict(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        row = await self._row(key)
        return dict(row.data) if row else {}

    async def close(self) -> None:
        pass
