"""Which database failures `timebank run` waits out at start-up: the connection's, only."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from core import db
from core.db import create_engine, fetch_first, is_connection_error, session_factory
from core.models import Member


async def test_a_statement_the_database_rejects_is_not_a_connection_error(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as connection:
        with pytest.raises(DBAPIError) as rejected:
            await connection.execute(text("SELECT * FROM no_such_table"))
    assert not is_connection_error(rejected.value)


async def test_a_connection_killed_midway_is_a_connection_error(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("a server connection to kill: run with TIMEBANK_DATABASE_URL=postgresql://")
    async with engine.connect() as victim:
        pid = await victim.scalar(text("SELECT pg_backend_pid()"))
        async with engine.connect() as admin:
            await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(DBAPIError) as killed:
            await victim.execute(text("SELECT 1"))
    assert is_connection_error(killed.value)


def test_a_refused_connection_is_a_connection_error() -> None:
    assert is_connection_error(ConnectionRefusedError(111, "Connect call failed"))


async def test_a_read_ahead_of_the_transaction_raises_as_sqlalchemy_does(
    engine: AsyncEngine,
) -> None:
    """`fetch_first(..., ahead=True)` goes around SQLAlchemy's execution; its errors do not."""
    sessions = session_factory(engine)
    async with sessions() as session:
        with pytest.raises(DBAPIError) as rejected:
            await fetch_first(session, text("SELECT id FROM no_such_table"), {}, ahead=True)
    assert not is_connection_error(rejected.value)
    if engine.dialect.name != "postgresql":
        return
    async with sessions() as session:
        driver = (await (await session.connection()).get_raw_connection()).driver_connection
        async with engine.connect() as admin:
            await admin.execute(
                text("SELECT pg_terminate_backend(:pid)"), {"pid": driver.get_server_pid()}
            )
        with pytest.raises(DBAPIError) as killed:
            await fetch_first(session, select(Member.id), {}, ahead=True)
    assert is_connection_error(killed.value)


async def test_a_connection_killed_while_idle_is_replaced_before_use(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pooled PostgreSQL connections are pinged only after sitting idle (`PING_IDLE_AFTER`):
    one whose server went away meanwhile is replaced, and the statement goes through."""
    if engine.dialect.name != "postgresql":
        pytest.skip("a server connection to kill: run with TIMEBANK_DATABASE_URL=postgresql://")
    async with engine.connect() as victim:
        pid = await victim.scalar(text("SELECT pg_backend_pid()"))
    admin = create_engine(engine.url.render_as_string(hide_password=False))
    try:
        async with admin.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await admin.dispose()
    monkeypatch.setattr(db, "PING_IDLE_AFTER", 0.0)
    async with engine.connect() as connection:
        assert await connection.scalar(text("SELECT pg_backend_pid()")) != pid


async def test_a_connection_in_steady_use_is_not_pinged(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("pings are PostgreSQL's")
    pings = []
    original = engine.sync_engine.dialect.do_ping
    engine.sync_engine.dialect.do_ping = lambda connection: pings.append(1) or original(connection)
    try:
        for _ in range(3):
            async with engine.connect() as connection:
                await connection.scalar(text("SELECT 1"))
    finally:
        del engine.sync_engine.dialect.do_ping
    assert pings == []
