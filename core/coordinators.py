"""Who coordinates which branch: the check behind every coordinator's action.

A coordinator coordinates their home branch (`Member.branch_id`) and every branch where a
membership gives them the coordinator's role. They work in one at a time: the one they
chose with /branch (`Member.working_branch_id`), else their home.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import members
from core.errors import N_, DomainError
from core.models import Member, Membership, MembershipRole


class CoordinatorOnly(DomainError):
    key = N_("Only a coordinator can do that.")


def coordinator_branches(coordinator: Member) -> tuple[int, ...]:
    """The branch the coordinator works in now (the one a coordinator's screens are for)."""
    if not coordinator.is_coordinator or coordinator.branch_id is None:
        return ()
    return (coordinator.working_branch_id or coordinator.branch_id,)


async def coordinated_branches(session: AsyncSession, coordinator: Member) -> tuple[int, ...]:
    """Every branch the member coordinates: home first, then the others by id."""
    if not coordinator.is_coordinator or coordinator.branch_id is None:
        return ()
    others = await session.scalars(
        select(Membership.branch_id)
        .where(
            Membership.member_id == coordinator.id,
            Membership.role == MembershipRole.COORDINATOR,
            Membership.branch_id != coordinator.branch_id,
        )
        .order_by(Membership.branch_id)
    )
    return (coordinator.branch_id, *others)


async def coordinates(session: AsyncSession, coordinator: Member, branch_id: int | None) -> bool:
    """The one rule: does the member coordinate `branch_id` (their home, or a branch where a
    membership makes them a coordinator)? Every coordinator's right is checked with it."""
    return branch_id is not None and branch_id in await coordinated_branches(session, coordinator)


async def coordinator_of(session: AsyncSession, member_id: int, branch_id: int) -> Member:
    """The member, if they coordinate `branch_id`; otherwise a kind refusal."""
    member = await members.get_member(session, member_id)
    if not await coordinates(session, member, branch_id):
        raise CoordinatorOnly()
    return member


async def working_branch(session: AsyncSession, member_id: int) -> tuple[Member, int]:
    """The coordinator and the branch they work in now; a kind refusal for anyone else."""
    member = await members.get_member(session, member_id)
    branches = await coordinated_branches(session, member)
    if not branches:
        raise CoordinatorOnly()
    chosen = member.working_branch_id
    return member, chosen if chosen in branches else branches[0]


async def switch_branch(session: AsyncSession, member_id: int, branch_id: int) -> Member:
    """Work in `branch_id` from now on, if the member coordinates it."""
    member = await coordinator_of(session, member_id, branch_id)
    member.working_branch_id = None if branch_id == member.branch_id else branch_id
    await session.flush()
    return member
