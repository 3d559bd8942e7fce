"""The schema is built by migrations only, and the migrations match the models."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

import core.tables  # noqa: F401
from core import migrate
from core.db import create_engine
from tests.conftest import fresh_database


async def _inspect(url: str) -> tuple[set[str], list]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:

            def read(sync_connection) -> tuple[set[str], list]:
                tables = set(inspect(sync_connection).get_table_names())
                context = MigrationContext.configure(
                    sync_connection, opts={"compare_type": True}
                )
                return tables, compare_metadata(context, SQLModel.metadata)

            return await connection.run_sync(read)
    finally:
        await engine.dispose()


def test_upgrade_downgrade_upgrade_and_no_drift(tmp_path) -> None:
    for url in fresh_database(tmp_path):
        migrate.upgrade(url)
        tables, drift = asyncio.run(_inspect(url))
        assert set(SQLModel.metadata.tables) <= tables
        assert drift == [], f"models and migrations differ: {drift}"

        migrate.downgrade(url, "base")
        tables, _ = asyncio.run(_inspect(url))
        assert tables <= {"alembic_version"}

        migrate.upgrade(url)
        tables, drift = asyncio.run(_inspect(url))
        assert set(SQLModel.metadata.tables) <= tables
        assert drift == []
