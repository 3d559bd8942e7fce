"""Async engine and sessions for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError, InvalidatePoolError, OperationalError
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
# On PostgreSQL, a pooled connection that sat unused this long is pinged before it is used.
PING_IDLE_AFTER = 10.0
# SQLite's page cache per connection, in KiB (its default is 2000). In WAL mode a connection
# drops its whole cache when it begins a read after another connection committed, which in
# the bot is nearly every transaction, so a bigger cache mostly holds the pages of one
# transaction's scan (a broadcast, a sweep); freed, they stay resident in the malloc arena
# of the connection's thread. With 15 connections that was up to 30 MB of a worker's
# RSS on a 100,000-member city.
SQLITE_CACHE_KIB = 512
# Prepared statements sqlite3 keeps per connection (its default 128). Each connection keeps
# its own, ~8-13 KB each for the ORM's selects: at 128 the 15 connections held 20-25 MB by
# the end of a city day. A statement not kept is prepared again (~35 µs for a 21-column
# select), which did not show in the city day's CPU per update.
SQLITE_CACHED_STATEMENTS = 64


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
    there and back (tens of microseconds), so on SQLite a transaction's BEGIN waits for its
    first statement and goes with it (`_SQLiteConnection`), a COMMIT or ROLLBACK is sent only
    when a transaction is open (one that ran no statement has nothing to end), and a
    connection comes back to the pool without the ROLLBACK the pool would send after every
    COMMIT: `_reset` rolls back only a connection still inside a transaction.
    """
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {
            "timeout": 30,
            "cached_statements": SQLITE_CACHED_STATEMENTS,
            **kwargs.get("connect_args", {}),
            "factory": _SQLiteConnection,
        }
        kwargs.setdefault("pool_reset_on_return", None)
        if ":memory:" not in url and "mode=memory" not in url:
            # Connections kept open: one past the pool would start and stop a thread.
            kwargs.setdefault("pool_size", 15)
            kwargs.setdefault("max_overflow", 0)
            # The connection returned last is taken first: each connection holds its own
            # prepared statements (up to SQLITE_CACHED_STATEMENTS, ~13 KB each for the
            # ORM's selects), so taking them in turn had all 15 prepare every statement.
            kwargs.setdefault("pool_use_lifo", True)
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
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(connection: Any) -> None:
            immediate = connection.get_execution_options().get(WRITE_OPTION)
            _sqlite3(connection.connection).begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

        @event.listens_for(engine.sync_engine, "reset")
        def _reset(dbapi_connection: Any, _record: Any, state: PoolResetState) -> None:
            _sqlite3(dbapi_connection).begin = None
            if state.asyncio_safe and dbapi_connection.driver_connection.in_transaction:
                dbapi_connection.rollback()

        dialect = engine.sync_engine.dialect
        commit, rollback = dialect.do_commit, dialect.do_rollback

        def do_commit(dbapi_connection: Any) -> None:
            if _transaction_open(dbapi_connection):
                commit(dbapi_connection)

        def do_rollback(dbapi_connection: Any) -> None:
            if _transaction_open(dbapi_connection):
                rollback(dbapi_connection)

        dialect.do_commit = do_commit  # type: ignore[method-assign]
        dialect.do_rollback = do_rollback  # type: ignore[method-assign]
        return engine
    kwargs.setdefault("pool_size", 20)
    kwargs.setdefault("max_overflow", 10)
    engine = create_async_engine(url, **kwargs)
    _ping_idle_connections(engine)
    return engine


def _ping_idle_connections(engine: AsyncEngine) -> None:
    """Ping a PostgreSQL connection before use only when it sat unused for PING_IDLE_AFTER.

    SQLAlchemy's `pool_pre_ping` pings on every checkout: a round trip to the server before
    each update's one read. A connection in steady use is known to be alive; one that sat
    idle may have been closed by a server restart or a proxy, so it is pinged, and a failed
    ping drops the pool's older connections (`InvalidatePoolError`) and takes a new one.
    A server lost while connections are busy fails the statement instead, which the caller
    handles as it handles any lost connection (an update is handled again after a pause)."""
    dialect = engine.sync_engine.dialect

    @event.listens_for(engine.sync_engine.pool, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine.pool, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned_at = record.info.get("returned_at")
        if returned_at is None or time.monotonic() - returned_at < PING_IDLE_AFTER:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            raise InvalidatePoolError(str(error)) from error


class _SQLiteCursor(sqlite3.Cursor):
    connection: _SQLiteConnection

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        self.connection.begin_now()
        return super().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        self.connection.begin_now()
        return super().executemany(sql, parameters)


class _SQLiteConnection(sqlite3.Connection):
    """sqlite3's connection, whose transaction's BEGIN waits for its first statement.

    The "begin" listener leaves the BEGIN in `begin`; the first statement through a cursor,
    `execute` or `executemany` (SQLAlchemy's, or `in_sqlite_thread`'s work) sends it first,
    in the same call into aiosqlite's thread. A locked database at BEGIN IMMEDIATE is raised
    by that statement.
    """

    begin: str | None = None

    def cursor(self, factory: Any = _SQLiteCursor) -> sqlite3.Cursor:
        return super().cursor(factory)

    def begin_now(self) -> None:
        if self.begin is not None:
            statement, self.begin = self.begin, None
            super().execute(statement)

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        self.begin_now()
        return super().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        self.begin_now()
        return super().executemany(sql, parameters)


def _sqlite3(connection: Any) -> _SQLiteConnection:
    """The sqlite3 connection under a pooled connection or aiosqlite's adapter."""
    return connection.driver_connection._conn


def _transaction_open(dbapi_connection: Any) -> bool:
    """Whether SQLite has a transaction to end; a BEGIN still waiting is dropped instead."""
    db = _sqlite3(dbapi_connection)
    if db.begin is not None:
        db.begin = None
        return False
    return db.in_transaction


def _driver_error(
    dialect: Dialect,
    error: Exception,
    statement: str | None,
    parameters: Sequence[Any],
    lost: bool = False,
) -> DBAPIError:
    """A driver's exception as SQLAlchemy raises it from `execute` (IntegrityError, …);
    `lost`: the connection is gone (`is_connection_error`)."""
    return DBAPIError.instance(
        statement, parameters, error, dialect.loaded_dbapi.Error, connection_invalidated=lost
    )


_REQUIRED = object()


@dataclass(frozen=True, slots=True)
class Prepared:
    """A Core statement compiled for one dialect, for a driver's own `execute`.

    `values(params)` gives the positional parameters, each converted by its type as
    SQLAlchemy would (a UTC datetime becomes SQLite's text form, for instance); literals are
    converted once, here. `rows(rows)` types what the driver returned as SQLAlchemy would
    (JSON decoded, timestamps made aware). Both run for every statement of the ledger's and
    the redemptions' hot paths, so they do no more than that: SQLAlchemy's own
    `construct_params` and result processing cost more than SQLite's execution of most of
    these statements.
    """

    compiled: SQLCompiler
    sql: str
    # Per positional parameter: its name, its converted constant (or _REQUIRED), its converter.
    parameters: tuple[tuple[str, Any, Callable[[Any], Any] | None], ...]
    results: tuple[Callable[[Any], Any] | None, ...]

    def values(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        values = []
        for name, constant, convert in self.parameters:
            if name in params:
                value = params[name]
                values.append(value if convert is None else convert(value))
            elif constant is _REQUIRED:
                raise KeyError(f"no value given for the bind parameter {name!r}")
            else:
                values.append(constant)
        return tuple(values)

    def rows(self, rows: list[tuple]) -> list[tuple]:
        if not any(self.results):
            return rows
        return [
            tuple(
                value if p is None else p(value) for p, value in zip(self.results, row, strict=True)
            )
            for row in rows
        ]


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
        or any(bind.callable is not None for bind in compiled.binds.values())
    ):
        raise ValueError(f"needs SQLAlchemy's execution to run: {compiled}")
    parameters = []
    for name in compiled.positiontup:
        bind = compiled.binds[name]
        convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
        constant: Any = _REQUIRED
        if not bind.required:
            constant = bind.value if convert is None else convert(bind.value)
        parameters.append((name, constant, convert))
    results = tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, None)
        for column in getattr(statement, "selected_columns", ())
    )
    per_dialect[statement] = found = Prepared(compiled, compiled.string, tuple(parameters), results)
    return found


async def raw_connection(conn: AsyncConnection) -> Any:
    """The pooled DB-API connection under `conn` (what `get_raw_connection` returns).

    `get_raw_connection` is a hop through SQLAlchemy's greenlet each time; an open
    connection has it in place, so it is read directly, and only a connection that must be
    reconnected first (invalidated, or not yet connected) goes the awaited way.
    """
    sync = conn.sync_connection
    if sync is not None and not sync.closed and not sync.invalidated:
        return sync.connection
    return await conn.get_raw_connection()


async def in_sqlite_thread(conn: AsyncConnection, work: Callable[[sqlite3.Connection], T]) -> T:
    """Run `work` on the connection's sqlite3 connection in aiosqlite's thread, in one call.

    `conn.execute` costs up to four hops to that thread and back for each statement
    (cursor, execute, fetch, close), plus SQLAlchemy's own Python; `work` can run several
    statements (see `Prepared`) for one hop, inside the connection's current transaction.
    Errors come out as SQLAlchemy's. aiosqlite's public calls each run one statement, so this
    queues `work` the way they do, through its `_execute` and `_conn`; the ledger's tests
    run every posting through here and fail at once if aiosqlite changes them.
    """
    driver = (await raw_connection(conn)).driver_connection
    try:
        return await driver._execute(work, driver._conn)
    except sqlite3.Error as error:
        raise _driver_error(conn.dialect, error, None, ()) from error


async def fetch_first(
    session: AsyncSession | AsyncConnection,
    statement: Executable,
    params: Mapping[str, Any],
    *,
    ahead: bool = False,
) -> tuple[Any, ...] | None:
    """The first row of `statement` (see `Prepared`), read through the driver in one call
    on SQLite.

    `ahead=True` reads, on SQLite, before the session's transaction begins if no statement
    ran in it yet: the read is a statement of its own, and the BEGIN waits for the next one.
    An update that needs nothing more from the database then costs this one call: no BEGIN,
    no COMMIT. What the read found may have changed by the time the transaction begins (as
    it may after any read on PostgreSQL). Given the session's connection (`session.connection()`,
    which the caller may need as well), it reads through it.
    """
    conn = session if isinstance(session, AsyncConnection) else await session.connection()
    if conn.dialect.name == "postgresql" and ahead:
        return await _fetch_first_ahead_on_asyncpg(conn, statement, params)
    if conn.dialect.name != "sqlite":
        row = (await conn.execute(statement, params)).first()
        return None if row is None else tuple(row)
    prepared = prepare(conn.dialect, statement)
    values = prepared.values(params)

    def first(db: sqlite3.Connection) -> list[tuple]:
        execute = sqlite3.Connection.execute if ahead else type(db).execute
        return execute(db, prepared.sql, values).fetchmany(1)

    rows = prepared.rows(await in_sqlite_thread(conn, first))
    return rows[0] if rows else None


async def _fetch_first_ahead_on_asyncpg(
    conn: AsyncConnection, statement: Executable, params: Mapping[str, Any]
) -> tuple[Any, ...] | None:
    """`fetch_first(..., ahead=True)` on PostgreSQL: SQLAlchemy's asyncpg adapter sends
    BEGIN with the transaction's first statement and COMMIT only if it did, so a read
    straight through asyncpg before that is one round trip instead of three (BEGIN, the
    read, COMMIT). Inside a transaction already begun, it goes the ordinary way."""
    adapted = (await raw_connection(conn)).dbapi_connection
    if adapted._transaction is not None:
        row = (await conn.execute(statement, params)).first()
        return None if row is None else tuple(row)
    prepared = prepare(conn.dialect, statement)
    values = prepared.values(params)
    try:
        try:
            record = await adapted._connection.fetchrow(prepared.sql, *values)
        except Exception as error:
            adapted._handle_exception(error)  # raises it as the DB-API's error
    except conn.dialect.loaded_dbapi.Error as error:
        lost = adapted._connection.is_closed()
        raise _driver_error(conn.dialect, error, prepared.sql, values, lost) from error
    return None if record is None else prepared.rows([tuple(record)])[0]


async def write_mark(session: AsyncSession, conn: AsyncConnection | None = None) -> int:
    """Where the session's transaction stands, for `wrote_since`: on SQLite the count of rows
    its connection changed so far (read in this thread, no hop), elsewhere the count of
    statements its connection sent that may have written (`_count_possible_writes`).
    `conn`: the session's connection, if the caller has it (asking the session again is a
    hop through SQLAlchemy's greenlet)."""
    conn = conn or await session.connection()
    if conn.dialect.name != "sqlite":
        return int(conn.info.get(_POSSIBLE_WRITES, 0))
    return int((await raw_connection(conn)).driver_connection.total_changes)


async def wrote_since(
    session: AsyncSession, mark: int, conn: AsyncConnection | None = None
) -> bool:
    """Whether the session's transaction changed anything since `write_mark`: pending ORM
    changes, rows changed on SQLite; on PostgreSQL, when a statement since the mark may
    have written, whether a transaction id was assigned (it is at the first write), so an
    update that only read asks nothing more. `conn` as for `write_mark`: the same one."""
    if session.new or session.dirty or session.deleted:
        return True
    conn = conn or await session.connection()
    if conn.dialect.name == "sqlite":
        return int((await raw_connection(conn)).driver_connection.total_changes) != mark
    if int(conn.info.get(_POSSIBLE_WRITES, 0)) == mark:
        return False
    return bool(await conn.scalar(_XACT_ASSIGNED))


def transaction_begun(conn: AsyncConnection) -> bool:
    """Whether the driver has begun a transaction on `conn`, i.e. sent its BEGIN.

    On SQLite (`_SQLiteConnection`) and asyncpg the BEGIN waits for the transaction's first
    statement, and a read `fetch_first(..., ahead=True)` is not one: a session that ran
    nothing else has nothing to commit, and closing it ends it as well as a commit would,
    without the commit's own machinery. Elsewhere assumed begun. `conn` must be open.
    """
    raw = conn.sync_connection.connection if conn.sync_connection is not None else None
    if raw is None:
        return True
    if conn.dialect.name == "sqlite":
        return bool(_sqlite3(raw).in_transaction)
    if conn.dialect.name == "postgresql":
        return getattr(raw.dbapi_connection, "_transaction", True) is not None
    return True


_POSSIBLE_WRITES = "timebank_possible_writes"
_READS = ("SELECT", "SAVEPOINT", "RELEASE SAVEPOINT")


@event.listens_for(Engine, "before_cursor_execute")
def _count_possible_writes(
    conn: Connection, _cursor: Any, statement: str, *_args: Any, **_kw: Any
) -> None:
    """Counts, per pooled connection, the statements that are not plain reads (for
    `wrote_since`); every statement SQLAlchemy sends passes here, on any engine."""
    if not statement.lstrip()[:17].upper().startswith(_READS):
        conn.info[_POSSIBLE_WRITES] = conn.info.get(_POSSIBLE_WRITES, 0) + 1


_XACT_ASSIGNED = text("SELECT pg_current_xact_id_if_assigned() IS NOT NULL")


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


_CONNECTION_STATES = ("57P01", "57P02", "57P03")  # admin/crash shutdown, cannot connect now


def is_connection_error(exc: BaseException) -> bool:
    """Whether `exc`, or what caused it, is the database's connection failing (refused,
    reset, closed midway, the server shutting down or starting up) rather than a statement
    the database rejected."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError):
            return True
        if isinstance(seen, DBAPIError):
            code = getattr(seen.orig, "sqlstate", None) or getattr(seen.orig, "pgcode", None)
            if seen.connection_invalidated or str(code or "").startswith("08"):
                return True
            if code in _CONNECTION_STATES:
                return True
        seen = seen.__cause__ or seen.__context__
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
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
