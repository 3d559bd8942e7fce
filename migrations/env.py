"""Alembic environment: runs migrations over the app's async engine."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import core.tables  # noqa: F401  (registers every table on the metadata)
from core.config import load_settings
from core.db import create_engine
from core.migrate import include_name

target_metadata = SQLModel.metadata


def _url() -> str:
    return context.config.attributes.get("database_url") or load_settings().database_url


def _configure(connection: Connection) -> None:
    with _sqlite_foreign_keys_off(connection):
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_name=include_name,
        )
        with context.begin_transaction():
            context.run_migrations()


@contextmanager
def _sqlite_foreign_keys_off(connection: Connection) -> Iterator[None]:
    """On SQLite, run the migrations with foreign keys off, in one transaction, as SQLite's
    procedure for table rebuilds says: batch mode rebuilds a table by copy, drop and rename,
    and the drop of a table other rows point at fails while they are on.

    The PRAGMA does nothing inside a transaction, so it goes to the driver before one begins
    (`Connection.exec_driver_sql` would begin one: see core.db's "begin" listener). Before
    the commit, `PRAGMA foreign_key_check` must find no row pointing nowhere; the keys are
    on again afterwards, also for a connection that goes back to its pool.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    if connection.in_transaction():
        raise RuntimeError(
            "SQLite migrations need a connection outside any transaction, "
            "to turn foreign keys off while tables are rebuilt"
        )
    driver = connection.connection.dbapi_connection
    _pragma(driver, "PRAGMA foreign_keys=OFF")
    try:
        with connection.begin():
            yield
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                found = ", ".join(f"{row[0]} row {row[1]} -> {row[2]}" for row in broken[:5])
                raise RuntimeError(
                    f"after the migrations {len(broken)} rows point at rows that do not "
                    f"exist ({found}); nothing was changed"
                )
    finally:
        _pragma(driver, "PRAGMA foreign_keys=ON")


def _pragma(driver: Any, statement: str) -> None:
    cursor = driver.cursor()
    try:
        cursor.execute(statement)
    finally:
        cursor.close()


async def _run_online() -> None:
    engine = create_engine(_url())
    async with engine.connect() as connection:
        await connection.run_sync(_configure)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
    else:
        asyncio.run(_run_online())
