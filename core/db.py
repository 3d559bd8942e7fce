"""Async engine and sessions for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import PoolResetState
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import DateTime, TypeDecorator

T = TypeVar("T")
WRITE_OPTION = "timebank_write"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC was expected")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create the engine; SQLite gets WAL, foreign keys and a busy timeout on every connection.

    A transaction opened with `transaction(..., write=True)` starts with BEGIN IMMEDIATE on
    SQLite, so a writer queues for the write lock up front instead of failing with
    "database is locked" when a read transaction tries to upgrade.

    aiosqlite runs each connection in a thread of its own, and every call into it is a hop
    there and back (tens of microseconds), so on SQLite BEGIN goes to the driver in one call,
    and a connection comes back to the pool without the ROLLBACK the pool would send after
    every COMMIT: `_reset` rolls back only a connection still inside a transaction.
    """
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30})
        kwargs.setdefault("pool_reset_on_return", None)
        engine = create_async_engine(url, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            if ":memory:" not in url and "mode=memory" not in url:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(connection: Any) -> None:
            immediate = connection.get_execution_options().get(WRITE_OPTION)
            statement = "BEGIN IMMEDIATE" if immediate else "BEGIN"
            dialect = connection.dialect
            try:
                connection.connection.dbapi_connection.run_async(
                    lambda driver: driver.execute_fetchall(statement)
                )
            except dialect.loaded_dbapi.Error as error:
                raise _driver_error(dialect, error, statement, ()) from error

        @event.listens_for(engine.sync_engine, "reset")
        def _reset(dbapi_connection: Any, _record: Any, state: PoolResetState) -> None:
            if state.asyncio_safe and dbapi_connection.driver_connection.in_transaction:
                dbapi_connection.rollback()

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def _driver_error(
    dialect: Dialect, error: Exception, statement: str | None, parameters: Sequence[Any]
) -> DBAPIError:
    """A driver's exception as SQLAlchemy raises it from `execute` (IntegrityError, …)."""
    return DBAPIError.instance(statement, parameters, error, dialect.loaded_dbapi.Error)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A Core statement compiled for one dialect, for a driver's own `execute`.

    `values(params)` gives the positional parameters, each converted by its type as
    SQLAlchemy would (a UTC datetime becomes SQLite's text form, for instance). Results are
    not converted: meant for statements that return numbers or text.
    """

    compiled: SQLCompiler
    sql: str
    converters: tuple[tuple[str, Callable[[Any], Any] | None], ...]

    def values(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        given = self.compiled.construct_params(params, escape_names=False)
        return tuple(
            given[name] if convert is None else convert(given[name])
            for name, convert in self.converters
        )


_prepared: WeakKeyDictionary[Dialect, dict[Executable, Prepared]] = WeakKeyDictionary()


def prepare(dialect: Dialect, statement: Executable) -> Prepared:
    """`statement` compiled once per dialect; its values must be bind parameters or literals."""
    per_dialect = _prepared.setdefault(dialect, {})
    found = per_dialect.get(statement)
    if found is not None:
        return found
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    if (
        compiled.insert_prefetch
        or compiled.update_prefetch
        or compiled.post_compile_params
        or compiled.literal_execute_params
        or compiled.positiontup is None
    ):
        raise ValueError(f"needs SQLAlchemy's execution to run: {compiled}")
    converters = tuple(
        (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
        for name in compiled.positiontup
    )
    per_dialect[statement] = found = Prepared(compiled, compiled.string, converters)
    return found


async def in_sqlite_thread(conn: AsyncConnection, work: Callable[[sqlite3.Connection], T]) -> T:
    """Run `work` on the connection's sqlite3 connection in aiosqlite's thread, in one call.

    `conn.execute` costs up to four hops to that thread and back for each statement
    (cursor, execute, fetch, close), plus SQLAlchemy's own Python; `work` can run several
    statements (see `Prepared`) for one hop, inside the connection's current transaction.
    Errors come out as SQLAlchemy's. aiosqlite's public calls each run one statement, so this
    queues `work` the way they do, through its `_execute` and `_conn`; the ledger's tests
    run every posting through here and fail at once if aiosqlite changes them.
    """
    driver = (await conn.get_raw_connection()).driver_connection
    try:
        return await driver._execute(work, driver._conn)
    except sqlite3.Error as error:
        raise _driver_error(conn.dialect, error, None, ()) from error


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession], *, write: bool = False
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit on success, roll back on any error.

    `write=True` marks a transaction that will write, so SQLite takes its lock at BEGIN.
    """
    async with sessions() as session, session.begin():
        if write:
            await session.connection(execution_options={WRITE_OPTION: True})
        yield session


def is_retryable(exc: BaseException) -> bool:
    """Serialization failures, deadlocks (PostgreSQL) and a busy database (SQLite)."""
    if isinstance(exc, DBAPIError):
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        if code in ("40001", "40P01"):
            return True
        if isinstance(exc, OperationalError) and "locked" in str(exc.orig).lower():
            return True
    return False


async def with_retries(
    work: Callable[[], Awaitable[T]], *, attempts: int = 8, base_delay: float = 0.005
) -> T:
    """Run `work` again after a retryable database conflict, with jittered backoff."""
    for attempt in range(attempts):
        try:
            return await work()
        except DBAPIError as exc:
            if not is_retryable(exc) or attempt == attempts - 1:
                raise
            await asyncio.sleep(base_delay * (2**attempt) * (0.5 + random.random()))
    raise AssertionError("unreachable")


async def check_connection(engine: AsyncEngine) -> None:
    from sqlalchemy import text

    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
