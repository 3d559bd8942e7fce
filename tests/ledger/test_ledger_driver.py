"""How the ledger meets the driver: calls per posting, driver errors, connections handed back."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError, OperationalError

import core.ledger.postings
from core.db import WRITE_OPTION, is_retryable
from core.ledger import PostingKind, balance_of, get_posting, transfer

GIFT = PostingKind.GIFT
UNKNOWN = 10**9  # an id no row has


@pytest.fixture
def sqlite_only(ledger_database):
    if ledger_database.is_postgresql:
        pytest.skip("about SQLite and aiosqlite")


async def test_a_posting_is_two_calls_into_aiosqlites_thread(world, engine, sqlite_only, caplog):
    branch = await world.branch()
    alice = await world.account(branch, granted=10)
    bob = await world.account(branch)
    ran: list[str] = []

    @event.listens_for(engine.sync_engine, "checkout")
    def trace(dbapi_connection, *_args) -> None:
        dbapi_connection.driver_connection._conn.set_trace_callback(ran.append)

    caplog.set_level(logging.DEBUG, logger="aiosqlite")
    caplog.clear()
    await world.run(lambda s: transfer(s, alice, bob, 1, kind=GIFT, key="k"))
    calls = [record.args for record in caplog.records if record.getMessage().startswith("exec")]
    # The posting (claim the key, move the balances, write the entries) with the BEGIN
    # IMMEDIATE before it in the same call; COMMIT. Each call is a hop to the driver's thread
    # and back, a posting's main cost.
    assert len(calls) == 2, calls
    assert (ran[0], ran[-1]) == ("BEGIN IMMEDIATE", "COMMIT")
    assert len(ran) == 5, ran


async def test_driver_errors_are_raised_as_sqlalchemy_errors(world):
    branch = await world.branch()
    alice = await world.account(branch, granted=10)
    bob = await world.account(branch)
    before = await world.counts()
    with pytest.raises(IntegrityError):  # no such order: a foreign key
        await world.run(lambda s: transfer(s, alice, bob, 1, kind=GIFT, key="k", order_id=UNKNOWN))
    assert await world.counts() == before


async def test_values_are_written_as_sqlalchemy_writes_them(world, sqlite_only, monkeypatch):
    on_the_second = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    monkeypatch.setattr(core.ledger.postings, "utcnow", lambda: on_the_second)
    branch = await world.branch()
    alice = await world.account(branch, granted=10)
    bob = await world.account(branch)
    posting = await world.run(lambda s: transfer(s, alice, bob, 1, kind=GIFT, key="k"))
    stored = await world.read(
        lambda s: s.scalar(
            text("SELECT created_at FROM ledger_transactions WHERE id = :id"), {"id": posting.id}
        )
    )
    # SQLAlchemy's text form for SQLite, microseconds included, not sqlite3's own adapter's.
    assert stored == "2030-01-02 03:04:05.000000"
    assert (await world.read(lambda s: get_posting(s, posting.id))).created_at == on_the_second
    assert (await world.read(lambda s: balance_of(s, bob))).balance == 1


async def test_a_locked_database_at_begin_is_a_retryable_error(engine, sqlite_only):
    other_process = sqlite3.connect(engine.url.database, isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")
    try:
        async with engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            await driver.execute_fetchall("PRAGMA busy_timeout = 0")
            await connection.execution_options(**{WRITE_OPTION: True})
            await connection.begin()
            # BEGIN IMMEDIATE goes with the transaction's first statement.
            with pytest.raises(OperationalError) as caught:
                await connection.execute(text("SELECT 1"))
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
