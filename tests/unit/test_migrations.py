"""The schema is built by migrations only, and the migrations match the models."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
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


def test_upgrade_keeps_members_and_the_rows_that_point_at_them(tmp_path) -> None:
    """Batch migrations rebuild `members` on SQLite (copy, drop, rename): with the rows that
    reference it in place, the drop fails unless foreign keys are off while it runs."""
    now = "'2026-11-20 08:00:00+00:00'"
    for url in fresh_database(tmp_path):
        migrate.upgrade(url, "0004")
        asyncio.run(
            _sql(
                url,
                "INSERT INTO branches (id, code, names, time_zone, default_language, created_at)"
                f" VALUES (1, 'old', '{{}}', 'UTC', 'en', {now})",
                "INSERT INTO categories (id, code, names, emoji, sort_order)"
                " VALUES (1, 'shop', '{}', 'x', 1)",
                "INSERT INTO members (id, name, branch_id, is_resident, is_volunteer,"
                " is_coordinator, verified, sponsored, created_at) VALUES"
                f" (1, 'R', 1, TRUE, FALSE, FALSE, FALSE, FALSE, {now}),"
                f" (2, 'V', 1, FALSE, TRUE, FALSE, TRUE, FALSE, {now})",
                "INSERT INTO identities (id, platform, external_id, member_id, created_at)"
                f" VALUES (1, 'telegram', '101', 1, {now}), (2, 'telegram', '102', 2, {now})",
                "INSERT INTO family_links (id, member_id, relative_id, status, created_at)"
                f" VALUES (1, 1, 2, 'confirmed', {now})",
                "INSERT INTO orders (id, branch_id, requester_id, beneficiary_id, category_id,"
                " description, estimated_minutes, volunteer_id, status, idempotency_key,"
                f" created_at, updated_at) VALUES (1, 1, 1, 1, 1, 'milk', 30, 2, 'assigned',"
                f" 'k1', {now}, {now})",
                "INSERT INTO order_events (id, order_id, to_status, actor_id, note, at)"
                f" VALUES (1, 1, 'assigned', 2, '', {now})",
            )
        )
        migrate.upgrade(url)
        rows = {
            "members": "SELECT id, name FROM members ORDER BY id",
            "identities": "SELECT member_id, external_id FROM identities ORDER BY id",
            "family_links": "SELECT member_id, relative_id FROM family_links",
            "orders": "SELECT requester_id, volunteer_id FROM orders",
            "order_events": "SELECT order_id, actor_id FROM order_events",
        }
        found = {
            name: [tuple(r) for r in asyncio.run(_sql(url, sql))] for name, sql in rows.items()
        }
        assert found == {
            "members": [(1, "R"), (2, "V")],
            "identities": [(1, "101"), (2, "102")],
            "family_links": [(1, 2)],
            "orders": [(1, 2)],
            "order_events": [(1, 2)],
        }
        if url.startswith("sqlite"):
            assert asyncio.run(_sql(url, "PRAGMA foreign_key_check")) == []
            assert [tuple(r) for r in asyncio.run(_sql(url, "PRAGMA foreign_keys"))] == [(1,)]


async def test_upgrade_engine_gives_back_its_connection_with_foreign_keys_on(tmp_path) -> None:
    """The migrations turn SQLite's foreign keys off on the engine's own pooled connection;
    the app's next transaction on it must have them on again."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'pooled.db'}", pool_size=1)
    try:
        await migrate.upgrade_engine(engine)
        async with engine.connect() as connection:
            assert await connection.scalar(text("PRAGMA foreign_keys")) == 1
    finally:
        await engine.dispose()
