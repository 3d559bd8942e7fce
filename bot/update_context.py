"""What an update needs to know before its handler runs, read in one statement.

Whether it was handled already, who sent it (the member's id and row version, whether the
bot may not reach them), the version of the branch their cached entry names
(`bot.lookups`), and the chat's conversation state (`bot.storage`). One round trip to the
database per update instead of one per question; on SQLite one call into the driver's thread,
ahead of the update's transaction (`core.db.fetch_first`), so an update that needs nothing
more from the database sends it nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, exists, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.db import fetch_first
from core.models import BlockedMember, Branch, ConversationState, Identity, Member, ProcessedUpdate


@dataclass(frozen=True, slots=True)
class UpdateContext:
    seen: bool
    member_id: int | None
    member_version: int | None
    blocked: bool
    branch_version: int | None
    state: str | None
    data: dict[str, Any] | None  # None: the chat has no conversation row


def _statement() -> Any:
    identity = (
        select(Identity.member_id)
        .where(
            Identity.platform == bindparam("platform"),
            Identity.external_id == bindparam("external_id"),
        )
        .scalar_subquery()
    )
    conversation = ConversationState.key == bindparam("key")
    return select(
        exists().where(ProcessedUpdate.update_id == bindparam("update_id")),
        identity,
        select(Member.version).where(Member.id == identity).scalar_subquery(),
        exists().where(BlockedMember.member_id == identity),
        select(Branch.version).where(Branch.id == bindparam("branch_id")).scalar_subquery(),
        select(ConversationState.state).where(conversation).scalar_subquery(),
        select(ConversationState.data).where(conversation).scalar_subquery(),
    )


_READ = _statement()


async def read_update_context(
    session: AsyncSession | AsyncConnection,
    update_id: int,
    identity: tuple[str, str] | None,
    cached_branch_id: int | None,
    conversation_key: str | None,
) -> UpdateContext:
    """The update's context; no identity (a channel post) finds no member, no key no state."""
    platform, external_id = identity or ("", "")
    row = await fetch_first(
        session,
        _READ,
        {
            "update_id": update_id,
            "platform": platform,
            "external_id": external_id,
            "branch_id": cached_branch_id,
            "key": conversation_key or "",
        },
        ahead=True,
    )
    assert row is not None
    return UpdateContext(
        seen=bool(row[0]),
        member_id=row[1],
        member_version=row[2],
        blocked=bool(row[3]),
        branch_version=row[4],
        state=row[5],
        data=row[6],
    )
