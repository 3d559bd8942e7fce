"""Idempotency: a request's row is inserted once; its key, sent again, finds the first one."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from core.ledger.errors import IdempotencyConflict


def fingerprint(*parts: object) -> str:
    """A digest of what a request asked for, compared when its idempotency key comes back."""
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()


class InsertOnce:
    """`INSERT … ON CONFLICT DO NOTHING RETURNING id` for one table.

    None means a unique column (the idempotency key) already holds the value. Unlike
    catching an IntegrityError this leaves the caller's transaction usable on PostgreSQL,
    and a concurrent insert of the same key waits for the first to commit or roll back.
    """

    def __init__(self, table: Table) -> None:
        self._statements = {
            "postgresql": postgresql.insert(table).on_conflict_do_nothing().returning(table.c.id),
            "sqlite": sqlite.insert(table).on_conflict_do_nothing().returning(table.c.id),
        }

    async def __call__(self, conn: AsyncConnection, values: dict[str, Any]) -> int | None:
        statement = self._statements[conn.dialect.name]
        return (await conn.execute(statement, values)).scalar()


def check_same(stored: str, requested: str) -> None:
    if stored != requested:
        raise IdempotencyConflict()
