"""`core.db.transaction_begun`: whether a session's connection has a transaction at the
driver (its BEGIN sent), which decides whether an update's unit of work must commit."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import WRITE_OPTION, fetch_first, raw_connection, session_factory, transaction_begun
from core.models import Member, ProcessedUpdate


async def test_a_read_ahead_begins_nothing_and_any_other_statement_does(
    engine: AsyncEngine,
) -> None:
    sessions = session_factory(engine)
    async with sessions() as session:
        conn = await session.connection()
        await fetch_first(conn, select(Member.id), {}, ahead=True)
        assert not transaction_begun(conn)
        await session.scalar(select(Member.id))  # a read through SQLAlchemy sends the BEGIN
        assert transaction_begun(conn)

    async with sessions() as session:
        conn = await session.connection(execution_options={WRITE_OPTION: True})
        await fetch_first(conn, select(Member.id), {}, ahead=True)
        assert not transaction_begun(conn)
        session.add(ProcessedUpdate(update_id=1))
        await session.flush()
        assert transaction_begun(conn)
        await session.commit()
        assert not transaction_begun(await session.connection())

    async with sessions() as session:
        conn = await session.connection()
        await conn.execute(text("SELECT 1"))
        assert transaction_begun(conn)
        await session.rollback()
    async with sessions() as session:
        assert await session.get(ProcessedUpdate, 1) is not None


async def test_the_raw_connection_is_the_one_sqlalchemy_gives(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as session:
        conn = await session.connection()
        assert await raw_connection(conn) is await conn.get_raw_connection()
