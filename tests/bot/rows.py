"""What the database holds, for tests that check a tap changed nothing."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import SQLModel

import core.tables  # noqa: F401  (every table)

# Bookkeeping that any handled update touches: which updates were handled, the chat's
# conversation state, and how far each outbox message has got.
IGNORED = {"processed_updates", "conversation_states"}
OUTBOX_FACTS = ("id", "kind", "key", "member_id")


async def snapshot(sessions) -> dict[str, list[tuple]]:
    """Every row of every domain table, in primary-key order; of the outbox, which messages
    exist (not how far their delivery has got)."""
    rows: dict[str, list[tuple]] = {}
    async with sessions() as session:
        for table in SQLModel.metadata.sorted_tables:
            if table.name in IGNORED:
                continue
            columns = (
                [table.c[name] for name in OUTBOX_FACTS] if table.name == "outbox" else table.c
            )
            query = select(*columns).order_by(*table.primary_key.columns)
            rows[table.name] = [tuple(row) for row in (await session.execute(query)).all()]
    return rows
