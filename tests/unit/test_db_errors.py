"""Which database failures `timebank run` waits out at start-up: the connection's, only."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import is_connection_error


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
