"""Volunteer teams: a coordinator forms them (Qingdao formed six), a leader writes to them.

A team has a name in each language the bot speaks, a leader and members, all of the
branch. The leader's (or a coordinator's) message reaches every other member through the
outbox, which sends at the broadcast rate; its key makes a retry send nothing twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core import coordinators, memberships, outbox
from core.errors import N_, DomainError, InvalidInput, NotFound
from core.languages import LANGUAGES
from core.ledger.tables import LedgerAccount, LedgerEntry, LedgerTransaction
from core.ledger.values import AccountKind, PostingKind
from core.models import Member, Membership, Team, TeamMember, VolunteerProfile
from core.notices import Kind

MAX_NAME = 64
MAX_MESSAGE = 1000


class UnknownTeam(NotFound):
    pass


class TeamNameInvalid(InvalidInput):
    key = N_("Please type a short name, up to 64 letters.")


class NotOfTheBranch(InvalidInput):
    pass


class LeaderOnly(DomainError):
    pass


def clean_name(text: str) -> str:
    """A team's name in one language, as typed: spaces tidied, up to MAX_NAME letters."""
    name = " ".join(text.split())
    if not name or len(name) > MAX_NAME or name.startswith("/"):
        raise TeamNameInvalid()
    return name


def _names(names: dict[str, str]) -> dict[str, str]:
    return {code: clean_name(names.get(code) or "") for code in LANGUAGES}


async def _branch_member(session: AsyncSession, member_id: int, branch_id: int) -> Member:
    """A member of the branch: at home there, or there too through a membership."""
    member = await session.get(Member, member_id)
    if (
        member is None
        or member.erased_at is not None
        or not await memberships.belongs(session, member, branch_id)
    ):
        raise NotOfTheBranch()
    return member


MAX_CANDIDATES = 40


async def candidates(session: AsyncSession, coordinator_id: int) -> tuple[int, list[Member]]:
    """The branch the coordinator works in and its volunteers (at home there or by a
    membership), by name: whom a new team may have as leader and members."""
    _coordinator, branch_id = await coordinators.working_branch(session, coordinator_id)
    others = select(Membership.member_id).where(Membership.branch_id == branch_id)
    people = await session.scalars(
        select(Member)
        .where(
            (Member.branch_id == branch_id) | Member.id.in_(others),
            Member.is_volunteer.is_(True),
            Member.erased_at.is_(None),
        )
        .order_by(Member.name, Member.id)
        .limit(MAX_CANDIDATES)
    )
    return branch_id, list(people)


async def _team(session: AsyncSession, team_id: int) -> Team:
    team = await session.get(Team, team_id)
    if team is None:
        raise UnknownTeam()
    return team


async def create_team(
    session: AsyncSession,
    *,
    coordinator_id: int,
    branch_id: int,
    names: dict[str, str],
    leader_id: int,
    member_ids: list[int],
    key: str,
) -> Team:
    """A team of a branch the coordinator coordinates; the leader is one of its members.

    The same key again returns the team it made and changes nothing."""
    found = await session.scalar(select(Team).where(Team.idempotency_key == key))
    if found is not None:
        return found
    await coordinators.coordinator_of(session, coordinator_id, branch_id)
    cleaned = _names(names)
    everyone = list(dict.fromkeys([leader_id, *member_ids]))
    for member_id in everyone:
        await _branch_member(session, member_id, branch_id)
    team = Team(branch_id=branch_id, names=cleaned, leader_id=leader_id, idempotency_key=key)
    session.add(team)
    await session.flush()
    for member_id in everyone:
        session.add(TeamMember(team_id=team.id, member_id=member_id))
    await session.flush()
    return team


async def _may_manage(session: AsyncSession, team: Team, member_id: int) -> None:
    member = await session.get(Member, member_id)
    if member is None or member.erased_at is not None:
        raise LeaderOnly()
    if member.id == team.leader_id:
        return
    if not await coordinators.coordinates(session, member, team.branch_id):
        raise LeaderOnly()


async def add_member(session: AsyncSession, *, team_id: int, by_id: int, member_id: int) -> None:
    team = await _team(session, team_id)
    await _may_manage(session, team, by_id)
    await _branch_member(session, member_id, team.branch_id)
    if await session.get(TeamMember, (team.id, member_id)) is None:
        session.add(TeamMember(team_id=team.id, member_id=member_id))
        await session.flush()


async def remove_member(session: AsyncSession, *, team_id: int, by_id: int, member_id: int) -> None:
    """Take a member off the team; the leader stays until another leader is named."""
    team = await _team(session, team_id)
    await _may_manage(session, team, by_id)
    if member_id == team.leader_id:
        raise LeaderOnly()
    await session.execute(
        delete(TeamMember).where(TeamMember.team_id == team.id, TeamMember.member_id == member_id)
    )


async def members_of(session: AsyncSession, team_id: int) -> list[Member]:
    return list(
        await session.scalars(
            select(Member)
            .join(TeamMember, TeamMember.member_id == Member.id)
            .where(TeamMember.team_id == team_id, Member.erased_at.is_(None))
            .order_by(Member.name, Member.id)
        )
    )


async def teams_of(session: AsyncSession, member_id: int) -> list[Team]:
    """The teams a member belongs to, for their profile."""
    return list(
        await session.scalars(
            select(Team)
            .join(TeamMember, TeamMember.team_id == Team.id)
            .where(TeamMember.member_id == member_id)
            .order_by(Team.id)
        )
    )


async def message_team(
    session: AsyncSession,
    *,
    team_id: int,
    sender_id: int,
    text: str,
    key: str,
    not_before: datetime | None = None,
) -> int:
    """Queue the message for every other member of the team; returns how many were queued
    now (0 for a retry of the same key)."""
    team = await _team(session, team_id)
    await _may_manage(session, team, sender_id)
    cleaned = text.strip()
    if not cleaned or len(cleaned) > MAX_MESSAGE:
        raise InvalidInput()
    sender = await session.get(Member, sender_id)
    assert sender is not None
    queued = 0
    for member in await members_of(session, team.id):
        if member.id == sender_id:
            continue
        added = await outbox.enqueue(
            session,
            key=f"team:{team.id}:{key}:{member.id}",
            member_id=member.id,
            kind=Kind.TEAM_MESSAGE,
            payload={"team": team.names, "sender": sender.name, "text": cleaned},
            not_before=not_before,
            priority=outbox.Priority.BROADCAST,
        )
        queued += added is not None
    return queued


async def team_of(session: AsyncSession, *, team_id: int, member_id: int) -> Team:
    """A team its member, or a coordinator of its branch, may look at."""
    team = await _team(session, team_id)
    if await session.get(TeamMember, (team.id, member_id)) is None:
        await _may_manage(session, team, member_id)
    return team


async def team_minutes(session: AsyncSession, team_id: int, since: datetime) -> int:
    """The minutes of help the team's members were credited for since `since`: service
    postings to their accounts, reversed ones left out."""
    reversals = aliased(LedgerTransaction)
    total = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0))
        .select_from(LedgerEntry)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .join(
            LedgerAccount,
            (LedgerAccount.id == LedgerEntry.account_id)
            & (LedgerAccount.kind == AccountKind.MEMBER),
        )
        .join(TeamMember, TeamMember.member_id == LedgerAccount.owner_id)
        .outerjoin(reversals, reversals.reverses_id == LedgerTransaction.id)
        .where(
            TeamMember.team_id == team_id,
            LedgerTransaction.kind == PostingKind.SERVICE,
            LedgerTransaction.created_at >= since,
            LedgerEntry.amount > 0,
            reversals.id.is_(None),
        )
    )
    return int(total or 0)


async def teams_to_show(session: AsyncSession, member: Member) -> list[Team]:
    """A member's teams; for a coordinator, every team of the branch they work in too."""
    own = await teams_of(session, member.id)
    if not coordinators.coordinator_branches(member):
        return own
    _coordinator, branch_id = await coordinators.working_branch(session, member.id)
    branch_teams = await session.scalars(select(Team).where(Team.branch_id == branch_id))
    found = {team.id: team for team in [*own, *branch_teams]}
    return [found[team_id] for team_id in sorted(found)]


async def may_lead(session: AsyncSession, team: Team, member_id: int) -> bool:
    """Whether the member may write to the team and see when its members are free."""
    try:
        await _may_manage(session, team, member_id)
    except LeaderOnly:
        return False
    return True


async def availability_of(session: AsyncSession, member_ids: list[int]) -> dict[int, int]:
    """Each volunteer's free times (`VolunteerProfile.availability` bits), by member id."""
    rows = await session.execute(
        select(VolunteerProfile.member_id, VolunteerProfile.availability).where(
            VolunteerProfile.member_id.in_(member_ids)
        )
    )
    return {member_id: availability for member_id, availability in rows}
