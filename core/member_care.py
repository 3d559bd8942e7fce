"""What a coordinator does with one member from the dashboard: open their address (which
is logged, without the address), and record an adjustment of their time with a reason.
Verifying a volunteer is `core.volunteers.verify`, as in the chat."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from core import ledger, members
from core.coordinators import coordinator_of
from core.errors import NotFound
from core.ledger import Posting
from core.logs import log_event
from core.models import Member

log = logging.getLogger("timebank.members")


async def _of_branch(session: AsyncSession, coordinator_id: int, member_id: int) -> Member:
    """The member, if the coordinator coordinates their branch; else NotFound or a refusal."""
    member = await members.get_member(session, member_id)
    if member.branch_id is None or member.erased_at is not None:
        raise NotFound()
    await coordinator_of(session, coordinator_id, member.branch_id)
    return member


async def open_address(session: AsyncSession, *, coordinator_id: int, member_id: int) -> str | None:
    """The member's home address, for their branch's coordinator; the opening is logged
    (who opened whose), the address itself never."""
    member = await _of_branch(session, coordinator_id, member_id)
    log_event(
        log,
        "address opened",
        coordinator_id=coordinator_id,
        member_id=member.id,
        had_address=member.address is not None,
    )
    return member.address


async def adjust_time(
    session: AsyncSession,
    *,
    coordinator_id: int,
    member_id: int,
    minutes: int,
    reason: str,
    key: str,
) -> Posting:
    """Credit (minutes > 0) or debit (< 0) a member's time with the reason on record; the
    same key again returns the first posting."""
    member = await _of_branch(session, coordinator_id, member_id)
    assert member.branch_id is not None
    account = await ledger.open_member_account(session, member.id, member.branch_id)
    posting = await ledger.adjust(
        session,
        account.id,
        minutes,
        reason=reason,
        actor=ledger.Actor(member_id=coordinator_id, is_coordinator=True),
        key=f"adjust:{member.id}:{key}",
    )
    log_event(
        log,
        "time adjusted",
        coordinator_id=coordinator_id,
        member_id=member.id,
        minutes=minutes,
        replayed=posting.replayed,
    )
    return posting
