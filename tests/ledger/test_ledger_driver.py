"""How the ledger meets the SQLite driver: transactions begun, connections handed back."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import OperationalError

from core.db import WRITE_OPTION, is_retryable


@pytest.fixture
def sqlite_only(ledger_database):
    if ledger_database.is_postgresql:
        pytest.skip("about SQLite and aiosqlite")


async def test_a_locked_database_at_begin_is_a_retryable_error(engine, sqlite_only):
    other_process = sqlite3.connect(engine.url.database, isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")
    try:
        async with engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            await driver.execute_fetchall("PRAGMA busy_timeout = 0")
            await connection.execution_options(**{WRITE_OPTION: True})
            with pytest.raises(OperationalError) as caught:
                await connection.begin()
            assert is_retryable(caught.value)
            await connection.invalidate()
    finally:
        other_process.close()


async def test_a_connection_handed_back_inside_a_transaction_is_rolled_back(engine, sqlite_only):
    async with engine.connect() as connection:
        # Behind SQLAlchemy's back, so it does not know to roll back on close.
        driver = (await connection.get_raw_connection()).driver_connection
        await driver.execute_fetchall("BEGIN IMMEDIATE")
        assert driver.in_transaction
    assert not driver.in_transaction
