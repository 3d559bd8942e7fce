"""Opening and finding accounts, and the overdraft limit each branch gives its members.

Opening is get-or-create and safe to race: the row is inserted with ON CONFLICT DO
NOTHING on (kind, owner) and read back, so two callers get the same account.
"""

from __future__ import annotations

from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.db import utcnow
from core.ledger import inputs
from core.ledger.errors import (
    CoordinatorRequired,
    OverdraftInUse,
    UnknownAccount,
    UnknownBranch,
    UnknownMember,
)
from core.ledger.idempotency import InsertOnce
from core.ledger.tables import LedgerAccount, LedgerBranchSettings
from core.ledger.values import Account, AccountKind, Actor
from core.models import Branch, Member

accounts = LedgerAccount.__table__
settings = LedgerBranchSettings.__table__
branches = Branch.__table__
members = Member.__table__

_insert_account = InsertOnce(accounts)
_ACCOUNT_COLUMNS = (
    accounts.c.id,
    accounts.c.kind,
    accounts.c.branch_id,
    accounts.c.owner_id,
    accounts.c.overdraft_limit,
)


def _account(row: tuple) -> Account:
    account_id, kind, branch_id, owner_id, overdraft_limit = row
    return Account(account_id, AccountKind(kind), branch_id, owner_id, overdraft_limit)


async def _find(conn: AsyncConnection, kind: AccountKind, owner_id: int) -> Account | None:
    row = (
        await conn.execute(
            select(*_ACCOUNT_COLUMNS).where(
                accounts.c.kind == kind, accounts.c.owner_id == owner_id
            )
        )
    ).first()
    return None if row is None else _account(row)


async def _open(
    conn: AsyncConnection,
    kind: AccountKind,
    branch_id: int,
    owner_id: int,
    overdraft_limit: int | None,
) -> Account:
    found = await _find(conn, kind, owner_id)
    if found is not None:
        return found
    await ensure_branch(conn, branch_id)
    values = {
        "kind": kind,
        "branch_id": branch_id,
        "owner_id": owner_id,
        "overdraft_limit": overdraft_limit,
        "balance": 0,
        "held": 0,
        "created_at": utcnow(),
    }
    await _insert_account(conn, values)
    opened = await _find(conn, kind, owner_id)
    if opened is None:
        raise RuntimeError(f"{kind} account of {owner_id} neither inserted nor found")
    return opened


async def _exists(conn: AsyncConnection, table: Table, row_id: int) -> bool:
    return (await conn.execute(select(table.c.id).where(table.c.id == row_id))).first() is not None


async def ensure_branch(conn: AsyncConnection, branch_id: int) -> None:
    if not await _exists(conn, branches, branch_id):
        raise UnknownBranch(branch_id=branch_id)


async def open_member_account(session: AsyncSession, member_id: int, branch_id: int) -> Account:
    """The member's one account, opened in `branch_id` with the branch's overdraft limit.

    A member who already has an account gets it back as it is, wherever it was opened.
    """
    conn = await session.connection()
    found = await _find(conn, AccountKind.MEMBER, member_id)
    if found is not None:
        return found
    if not await _exists(conn, members, member_id):
        raise UnknownMember(member_id=member_id)
    limit = await member_overdraft_limit(session, branch_id)
    return await _open(conn, AccountKind.MEMBER, branch_id, member_id, limit)


async def find_member_account(session: AsyncSession, member_id: int) -> Account | None:
    """The member's account, or None if it was never opened. Writes nothing."""
    return await _find(await session.connection(), AccountKind.MEMBER, member_id)


async def pool_account(session: AsyncSession, branch_id: int) -> Account:
    """The branch's community pool, which pays for sponsored members' orders."""
    return await _open(await session.connection(), AccountKind.POOL, branch_id, branch_id, 0)


async def issuance_account(session: AsyncSession, branch_id: int) -> Account:
    """Where the branch's new credit comes from; it goes negative by all credit issued."""
    return await _open(await session.connection(), AccountKind.ISSUANCE, branch_id, branch_id, None)


async def merchant_account(session: AsyncSession, merchant_id: int, branch_id: int) -> Account:
    return await _open(await session.connection(), AccountKind.MERCHANT, branch_id, merchant_id, 0)


async def payer_account(
    session: AsyncSession, member_id: int, branch_id: int, *, sponsored: bool
) -> Account:
    """Who pays for a member's order: the branch pool if the member is sponsored."""
    if sponsored:
        return await pool_account(session, branch_id)
    return await open_member_account(session, member_id, branch_id)


async def get_account(session: AsyncSession, account_id: int) -> Account:
    conn = await session.connection()
    row = (await conn.execute(select(*_ACCOUNT_COLUMNS).where(accounts.c.id == account_id))).first()
    if row is None:
        raise UnknownAccount(account_id=account_id)
    return _account(row)


async def member_overdraft_limit(session: AsyncSession, branch_id: int) -> int:
    """How far the branch lets a member's available balance go below zero (0 by default)."""
    conn = await session.connection()
    limit = (
        await conn.execute(
            select(settings.c.member_overdraft_limit).where(settings.c.branch_id == branch_id)
        )
    ).scalar()
    if limit is None:
        await ensure_branch(conn, branch_id)
        return 0
    return limit


async def set_member_overdraft_limit(
    session: AsyncSession, branch_id: int, minutes: int, *, actor: Actor
) -> None:
    """Set the branch's member overdraft limit, for its existing and future member accounts.

    Setting a value is idempotent by nature, so it takes no key. A limit that members are
    already below is refused rather than leaving them in breach.
    """
    if not actor.is_coordinator:
        raise CoordinatorRequired()
    minutes = inputs.overdraft_limit(minutes)
    conn = await session.connection()
    await ensure_branch(conn, branch_id)
    members_of_branch = (accounts.c.branch_id == branch_id) & (
        accounts.c.kind == AccountKind.MEMBER
    )
    # Lock the branch's member accounts in id order, as postings do, before judging them.
    available = await conn.scalars(
        select(accounts.c.balance - accounts.c.held)
        .where(members_of_branch)
        .order_by(accounts.c.id)
        .with_for_update()
    )
    below = sum(1 for minutes_left in available if minutes_left < -minutes)
    if below:
        raise OverdraftInUse(count=below, limit=minutes)
    upsert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[conn.dialect.name]
    values = {"branch_id": branch_id, "member_overdraft_limit": minutes, "updated_at": utcnow()}
    statement = upsert(settings).values(values)
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[settings.c.branch_id],
            set_={"member_overdraft_limit": minutes, "updated_at": values["updated_at"]},
        )
    )
    await conn.execute(update(accounts).where(members_of_branch).values(overdraft_limit=minutes))
