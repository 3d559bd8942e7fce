"""A member in several branches: home (`Member.branch_id`) and others (`memberships`).

One person, one account, one balance: the account stays in the home branch whichever
branch the help happens in. A coordinator of the other branch adds the member there, as a
branch office would after meeting them: either on their own, or when the member asks
(`ask_to_join`) and one of them says yes. A coordinator added as one coordinates it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import members, nudges, outbox
from core.coordinators import coordinator_of
from core.errors import N_, DomainError, NotFound
from core.models import Branch, BranchNeighbour, Member, Membership, MembershipRole
from core.notices import Kind


class NotForCoordinatorRole(DomainError):
    key = N_("Only a coordinator can coordinate a second branch.")


class AlreadyInBranch(DomainError):
    key = N_("You are already in this branch.")


async def branches_of(session: AsyncSession, member: Member) -> list[Branch]:
    """The member's branches: home first, then the others by id."""
    if member.branch_id is None:
        return []
    others = select(Membership.branch_id).where(Membership.member_id == member.id)
    rows = await session.scalars(
        select(Branch).where((Branch.id == member.branch_id) | Branch.id.in_(others))
    )
    return sorted(rows, key=lambda branch: (branch.id != member.branch_id, branch.id))


async def belongs(session: AsyncSession, member: Member, branch_id: int) -> bool:
    """Is the member in the branch: their home, or another through a membership?"""
    if member.branch_id == branch_id:
        return True
    return await _membership(session, member.id, branch_id) is not None


async def joinable(session: AsyncSession, member: Member) -> list[Branch]:
    """The branches the member is not in yet, by id."""
    mine = {branch.id for branch in await branches_of(session, member)}
    rows = await session.scalars(select(Branch).order_by(Branch.id))
    return [branch for branch in rows if branch.id not in mine]


async def ask_to_join(session: AsyncSession, member_id: int, branch_id: int) -> int:
    """Ask the coordinators of another branch to add the member there; returns how many
    were asked. Asking again sends nobody a second notice."""
    member = await members.get_member(session, member_id)
    if member.branch_id is None or member.onboarded_at is None:
        raise NotFound()
    if await session.get(Branch, branch_id) is None:
        raise NotFound()
    if branch_id in {branch.id for branch in await branches_of(session, member)}:
        raise AlreadyInBranch()
    coordinators = await nudges.coordinators(session, branch_id)
    for coordinator_id in coordinators:
        await outbox.enqueue(
            session,
            key=f"join:{member_id}:{branch_id}:{coordinator_id}",
            member_id=coordinator_id,
            kind=Kind.JOIN_ASKED,
            payload={"member_id": member_id, "branch_id": branch_id},
        )
    return len(coordinators)


async def approve(
    session: AsyncSession, coordinator_id: int, member_id: int, branch_id: int
) -> Membership:
    """A coordinator of the branch says yes to a member who asked; the member is told once."""
    membership = await add_member(session, coordinator_id, member_id, branch_id)
    await outbox.enqueue(
        session,
        key=f"joined:{member_id}:{branch_id}",
        member_id=member_id,
        kind=Kind.JOINED,
        payload={"branch_id": branch_id},
    )
    return membership


async def add_member(
    session: AsyncSession,
    coordinator_id: int,
    member_id: int,
    branch_id: int,
    *,
    role: MembershipRole = MembershipRole.MEMBER,
) -> Membership:
    """Add the member to a branch besides their home, by a coordinator of that branch.

    Adding again changes nothing (the first row stays); the home branch has no row.
    """
    await coordinator_of(session, coordinator_id, branch_id)
    member = await members.get_member(session, member_id)
    if member.erased_at is not None or member.branch_id is None:
        raise NotFound()
    if member.branch_id == branch_id:
        raise AlreadyInBranch()
    if role == MembershipRole.COORDINATOR and not member.is_coordinator:
        raise NotForCoordinatorRole()
    existing = await _membership(session, member_id, branch_id)
    if existing is not None:
        return existing
    row = Membership(
        member_id=member_id, branch_id=branch_id, role=role, added_by_id=coordinator_id
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        found = await _membership(session, member_id, branch_id)
        assert found is not None
        return found
    return row


async def _membership(session: AsyncSession, member_id: int, branch_id: int) -> Membership | None:
    return await session.scalar(
        select(Membership).where(
            Membership.member_id == member_id, Membership.branch_id == branch_id
        )
    )


async def make_neighbours(session: AsyncSession, branch_id: int, other_id: int) -> None:
    """Record that two branches are next to each other (both ways round); once is enough."""
    for one, other in ((branch_id, other_id), (other_id, branch_id)):
        if await session.get(BranchNeighbour, (one, other)) is None:
            session.add(BranchNeighbour(branch_id=one, neighbour_id=other))
    await session.flush()


class NotItsOwnNeighbour(DomainError):
    key = N_("A branch cannot be its own neighbour.")


@dataclass(frozen=True)
class Neighbours:
    """A branch, the other branches, and which of them are next to it."""

    branch: Branch
    others: list[Branch]
    next_to: frozenset[int]


async def neighbours(session: AsyncSession, coordinator_id: int, branch_id: int) -> Neighbours:
    """What a coordinator of the branch sees to set its neighbours; anyone else is refused."""
    await coordinator_of(session, coordinator_id, branch_id)
    branch = await session.get(Branch, branch_id)
    assert branch is not None
    others = await session.scalars(select(Branch).where(Branch.id != branch_id).order_by(Branch.id))
    next_to = await session.scalars(
        select(BranchNeighbour.neighbour_id).where(BranchNeighbour.branch_id == branch_id)
    )
    return Neighbours(branch, list(others), frozenset(next_to))


async def set_neighbour(
    session: AsyncSession, coordinator_id: int, branch_id: int, other_id: int, *, next_to: bool
) -> None:
    """A coordinator of the branch says another branch is (or is no longer) next to it; the
    same again changes nothing. Each branch still decides with `set_match_neighbours`
    whether its requests go to its neighbours' volunteers."""
    await coordinator_of(session, coordinator_id, branch_id)
    if other_id == branch_id:
        raise NotItsOwnNeighbour()
    if await session.get(Branch, other_id) is None:
        raise NotFound()
    if next_to:
        await make_neighbours(session, branch_id, other_id)
        return
    for one, other in ((branch_id, other_id), (other_id, branch_id)):
        row = await session.get(BranchNeighbour, (one, other))
        if row is not None:
            await session.delete(row)
    await session.flush()


async def set_match_neighbours(
    session: AsyncSession, coordinator_id: int, branch_id: int, allowed: bool
) -> Branch:
    """Let matching for the branch's requests ask neighbouring branches' volunteers too."""
    await coordinator_of(session, coordinator_id, branch_id)
    branch = await session.get(Branch, branch_id)
    assert branch is not None
    branch.match_neighbours = allowed
    await session.flush()
    return branch
