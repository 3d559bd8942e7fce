"""Idempotency: a request's row is inserted once; its key, sent again, finds the first one."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Insert, Table, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from core.ledger.errors import IdempotencyConflict


def fingerprint(*parts: object) -> str:
    """A digest of what a request asked for, compared when its idempotency key comes back."""
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()


def insert_once(
    table: Table,
    dialect_insert: Callable[[Table], Any],
    columns: Iterable[str] = (),
    prefix: str = "",
) -> Insert:
    """`INSERT … ON CONFLICT DO NOTHING RETURNING id` in `dialect_insert`'s dialect.

    With `columns`, each value comes from the parameter named `prefix` + column, so the
    insert can sit in a larger statement (a CTE) beside parameters of its own.
    """
    statement = dialect_insert(table)
    if columns:
        statement = statement.values({column: bindparam(prefix + column) for column in columns})
    return statement.on_conflict_do_nothing().returning(table.c.id)


class InsertOnce:
    """`INSERT … ON CONFLICT DO NOTHING RETURNING id` for one table.

    None means a unique column (the idempotency key) already holds the value. Unlike
    catching an IntegrityError this leaves the caller's transaction usable on PostgreSQL,
    and a concurrent insert of the same key waits for the first to commit or roll back.
    """

    def __init__(self, table: Table) -> None:
        self._statements = {
            "postgresql": insert_once(table, postgresql.insert),
            "sqlite": insert_once(table, sqlite.insert),
        }

    async def __call__(self, conn: AsyncConnection, values: dict[str, Any]) -> int | None:
        statement = self._statements[conn.dialect.name]
        return (await conn.execute(statement, values)).scalar()


def check_same(stored: str, requested: str) -> None:
    if stored != requested:
        raise IdempotencyConflict()
