"""The schema is built by migrations only, and the migrations match the models."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

import core.tables  # noqa: F401
from core import migrate
from core.db import create_engine
from tests.conftest import fresh_database

pytestmark = pytest.mark.database  # fresh_database: on the server TIMEBANK_DATABASE_URL names


async def _inspect(url: str) -> tuple[set[str], list]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:

            def read(sync_connection) -> tuple[set[str], list]:
                tables = set(inspect(sync_connection).get_table_names())
                context = MigrationContext.configure(
                    sync_connection,
                    opts={"compare_type": True, "include_name": migrate.include_name},
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


async def _sql(url: str, *statements: str) -> list:
    """Run the statements; the rows of the last one."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for statement in statements:
                result = await connection.exec_driver_sql(statement)
            return result.all() if result.returns_rows else []
    finally:
        await engine.dispose()


def test_0005_gives_existing_branches_the_policy_and_residents_the_overdraft(tmp_path) -> None:
    now = "'2026-11-20 08:00:00+00:00'"
    for url in fresh_database(tmp_path):
        migrate.upgrade(url, "0004")
        asyncio.run(
            _sql(
                url,
                "INSERT INTO branches (id, code, names, time_zone, default_language, created_at)"
                f" VALUES (1, 'old', '{{}}', 'UTC', 'en', {now})",
                "INSERT INTO members (id, name, branch_id, is_resident, is_volunteer,"
                " is_coordinator, verified, sponsored, created_at) VALUES"
                f" (1, 'R', 1, TRUE, FALSE, FALSE, FALSE, FALSE, {now}),"
                f" (2, 'V', 1, FALSE, TRUE, FALSE, TRUE, FALSE, {now})",
                "INSERT INTO ledger_accounts (id, kind, branch_id, owner_id, overdraft_limit,"
                f" balance, held, created_at) VALUES (1, 'member', 1, 1, 0, 0, 0, {now}),"
                f" (2, 'member', 1, 2, 0, 0, 0, {now})",
            )
        )
        migrate.upgrade(url)
        policy = asyncio.run(
            _sql(
                url,
                "SELECT welcome_minutes, member_overdraft_limit, resident_overdraft_limit"
                " FROM ledger_branch_settings",
            )
        )
        assert [tuple(row) for row in policy] == [(60, 0, 120)]
        limits = "SELECT owner_id, overdraft_limit FROM ledger_accounts ORDER BY owner_id"
        assert [tuple(row) for row in asyncio.run(_sql(url, limits))] == [(1, 120), (2, 0)]
        # No welcome hours for members who had joined already.
        assert asyncio.run(_sql(url, "SELECT id FROM ledger_transactions")) == []

        migrate.downgrade(url, "0004")
        assert [tuple(row) for row in asyncio.run(_sql(url, limits))] == [(1, 0), (2, 0)]
