"""Async engine and sessions for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import random
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
    dialect: Dialect, error: Exception, statement: str, parameters: Sequence[Any]
) -> DBAPIError:
    """A driver's exception as SQLAlchemy raises it from `execute` (IntegrityError, …)."""
    return DBAPIError.instance(statement, parameters, error, dialect.loaded_dbapi.Error)


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A statement compiled for one dialect, with the converter of each positional parameter."""

    compiled: SQLCompiler
    sql: str
    parameters: tuple[tuple[str, Callable[[Any], Any] | None], ...]

    @classmethod
    def compile(cls, dialect: Dialect, statement: Executable, keys: tuple[str, ...]) -> _Prepared:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        assert isinstance(compiled, SQLCompiler)
        if (
            compiled.insert_prefetch
            or compiled.update_prefetch
            or compiled.post_compile_params
            or compiled.literal_execute_params
            or compiled.positiontup is None
        ):
            raise ValueError(f"run this statement with Connection.execute: {compiled}")
        parameters = tuple(
            (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in compiled.positiontup
        )
        return cls(compiled, compiled.string, parameters)

    def values(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        given = self.compiled.construct_params(params, escape_names=False)
        return tuple(
            given[name] if convert is None else convert(given[name])
            for name, convert in self.parameters
        )


_prepared: WeakKeyDictionary[Dialect, dict[tuple[Executable, tuple[str, ...]], _Prepared]] = (
    WeakKeyDictionary()
)


async def fetch_rows(
    conn: AsyncConnection, statement: Executable, params: Mapping[str, Any]
) -> Sequence[tuple[Any, ...]]:
    """Execute a Core statement in the connection's transaction and return its rows.

    On PostgreSQL this is `conn.execute(statement, params)`. On SQLite, SQLAlchemy spends up
    to four hops to aiosqlite's thread on a statement (cursor, execute, fetch, close) and as
    long again in its own Python (cache key, execution context, result); here the statement
    is compiled once per engine and parameter names, its parameters converted by their types,
    and the SQL handed to aiosqlite in one call. Rows hold the driver's values, unconverted:
    use it for statements whose results are numbers or text. Errors are SQLAlchemy's, as from
    `conn.execute`; engine events and echo do not see these statements.
    """
    dialect = conn.dialect
    if dialect.name != "sqlite":
        result = await conn.execute(statement, params)
        return result.all() if result.returns_rows else []
    keys = tuple(params)
    per_dialect = _prepared.setdefault(dialect, {})
    prepared = per_dialect.get((statement, keys))
    if prepared is None:
        prepared = per_dialect[statement, keys] = _Prepared.compile(dialect, statement, keys)
    values = prepared.values(params)
    driver = (await conn.get_raw_connection()).driver_connection
    try:
        return await driver.execute_fetchall(prepared.sql, values)
    except dialect.loaded_dbapi.Error as error:
        raise _driver_error(dialect, error, prepared.sql, values) from error


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
