"""A branch's credit policy: welcome hours for newcomers and how far members may overdraw.

A time bank that starts everyone at zero sends every first request to a coordinator. So
each branch gives new members welcome hours (issued once per person, see
`core.members.finish_onboarding`) and lets residents, who mostly receive help, go below
zero by an overdraft; other members may overdraw by the branch's member limit. A branch
without a policy row of its own follows `BranchPolicy()`.

An account's `overdraft_limit` is what postings and `timebank ledger verify` check; it is
set from the policy when the account opens, when the policy changes and when the member's
role changes, and never lowered below what the account already uses.
"""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import Table, case, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.db import utcnow
from core.ledger import inputs
from core.ledger.errors import CoordinatorRequired, OverdraftInUse, UnknownBranch
from core.ledger.tables import LedgerAccount, LedgerBranchSettings
from core.ledger.values import AccountKind, Actor, BranchPolicy
from core.models import Branch, Member

accounts = LedgerAccount.__table__
settings = LedgerBranchSettings.__table__
branches = Branch.__table__
members = Member.__table__


async def _exists(conn: AsyncConnection, table: Table, row_id: int) -> bool:
    return (await conn.execute(select(table.c.id).where(table.c.id == row_id))).first() is not None


async def ensure_branch(conn: AsyncConnection, branch_id: int) -> None:
    if not await _exists(conn, branches, branch_id):
        raise UnknownBranch(branch_id=branch_id)


POLICY_COLUMNS = (
    settings.c.welcome_minutes,
    settings.c.member_overdraft_limit,
    settings.c.resident_overdraft_limit,
)


async def branch_policy(session: AsyncSession, branch_id: int) -> BranchPolicy:
    """The branch's policy; the default one if it never set its own."""
    conn = await session.connection()
    query = select(*POLICY_COLUMNS).where(settings.c.branch_id == branch_id)
    row = (await conn.execute(query)).first()
    if row is None:
        await ensure_branch(conn, branch_id)
        return BranchPolicy()
    return BranchPolicy(*row)


async def member_overdraft_limit(session: AsyncSession, branch_id: int) -> int:
    """How far the branch lets a member who is not a resident go below zero."""
    return (await branch_policy(session, branch_id)).member_overdraft_limit


async def overdraft_limit_of(session: AsyncSession, member_id: int, branch_id: int) -> int:
    """The overdraft limit the branch's policy gives this member, by their role."""
    is_resident = await session.scalar(
        select(members.c.is_resident).where(members.c.id == member_id)
    )
    policy = await branch_policy(session, branch_id)
    return policy.overdraft_limit(is_resident=bool(is_resident))


async def set_branch_policy(
    session: AsyncSession,
    branch_id: int,
    *,
    actor: Actor,
    welcome_minutes: int | None = None,
    member_overdraft_limit: int | None = None,
    resident_overdraft_limit: int | None = None,
) -> BranchPolicy:
    """Change the given parts of the branch's policy; member accounts follow the new limits.

    Setting a value is idempotent by nature, so it takes no key. Limits that members are
    already below are refused rather than leaving them in breach. Welcome hours already
    given stay; the new amount is for members who join from now on.
    """
    if not actor.is_coordinator:
        raise CoordinatorRequired()
    current = await branch_policy(session, branch_id)
    changes = {
        name: inputs.overdraft_limit(value)
        for name, value in (
            ("welcome_minutes", welcome_minutes),
            ("member_overdraft_limit", member_overdraft_limit),
            ("resident_overdraft_limit", resident_overdraft_limit),
        )
        if value is not None
    }
    policy = BranchPolicy(**{**asdict(current), **changes})
    conn = await session.connection()
    of_branch = (accounts.c.branch_id == branch_id) & (accounts.c.kind == AccountKind.MEMBER)
    residents = select(members.c.id).where(members.c.is_resident.is_(True))
    new_limit = case(
        (accounts.c.owner_id.in_(residents), policy.overdraft_limit(is_resident=True)),
        else_=policy.member_overdraft_limit,
    )
    # Lock the branch's member accounts in id order, as postings do, before judging them.
    judged = await conn.execute(
        select(accounts.c.balance - accounts.c.held, new_limit)
        .where(of_branch)
        .order_by(accounts.c.id)
        .with_for_update()
    )
    below = sum(1 for available, limit in judged if available < -limit)
    if below:
        raise OverdraftInUse(count=below, limit=policy.member_overdraft_limit)
    upsert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[conn.dialect.name]
    values = {"branch_id": branch_id, **asdict(policy), "updated_at": utcnow()}
    await conn.execute(
        upsert(settings)
        .values(values)
        .on_conflict_do_update(
            index_elements=[settings.c.branch_id],
            set_={name: value for name, value in values.items() if name != "branch_id"},
        )
    )
    await conn.execute(update(accounts).where(of_branch).values(overdraft_limit=new_limit))
    return policy


async def follow_role(session: AsyncSession, member_id: int) -> None:
    """Give the member's account the overdraft limit of their role, after it changed.

    A member who no longer is a resident keeps the larger limit while they use it, so the
    change never leaves them in breach.
    """
    branch_id = await session.scalar(
        select(accounts.c.branch_id).where(
            accounts.c.kind == AccountKind.MEMBER, accounts.c.owner_id == member_id
        )
    )
    if branch_id is None:
        return
    limit = await overdraft_limit_of(session, member_id, branch_id)
    conn = await session.connection()
    await conn.execute(
        update(accounts)
        .where(
            accounts.c.kind == AccountKind.MEMBER,
            accounts.c.owner_id == member_id,
            accounts.c.balance - accounts.c.held >= -limit,
        )
        .values(overdraft_limit=limit)
    )
