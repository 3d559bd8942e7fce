"""Opening and finding accounts; a member's opens with the overdraft limit of their branch.

Opening is get-or-create and safe to race: the row is inserted with ON CONFLICT DO
NOTHING on (kind, owner) and read back, so two callers get the same account.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.db import utcnow
from core.ledger.errors import UnknownAccount, UnknownBranch, UnknownMember
from core.ledger.idempotency import InsertOnce
from core.ledger.policy import (
    POLICY_COLUMNS,
    accounts,
    branches,
    ensure_branch,
    members,
    set_branch_policy,
    settings,
)
from core.ledger.values import Account, AccountKind, Actor, BranchPolicy

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


# What opening a member's account needs, in one read: whether the member exists and is a
# resident, whether the branch exists, and its policy (all None when it has none of its own).
_OPENING = (
    select(members.c.is_resident, branches.c.id, *POLICY_COLUMNS)
    .select_from(
        members.outerjoin(branches, branches.c.id == bindparam("branch")).outerjoin(
            settings, settings.c.branch_id == branches.c.id
        )
    )
    .where(members.c.id == bindparam("member"))
)
_MEMBER_ACCOUNTS = select(*_ACCOUNT_COLUMNS).where(
    accounts.c.kind == AccountKind.MEMBER,
    accounts.c.owner_id.in_(bindparam("members", expanding=True)),
)


async def _open_member(conn: AsyncConnection, member_id: int, branch_id: int) -> Account:
    """A member's account that was not found: opened with the limit the branch gives them,
    in two statements (what it needs to know, the insert), or found again if a concurrent
    call opened it first."""
    row = (await conn.execute(_OPENING, {"member": member_id, "branch": branch_id})).first()
    if row is None:
        raise UnknownMember(member_id=member_id)
    is_resident, known_branch, *policy = row
    if known_branch is None:
        raise UnknownBranch(branch_id=branch_id)
    found = BranchPolicy() if policy[0] is None else BranchPolicy(*policy)
    limit = found.overdraft_limit(is_resident=bool(is_resident))
    values = {
        "kind": AccountKind.MEMBER,
        "branch_id": branch_id,
        "owner_id": member_id,
        "overdraft_limit": limit,
        "balance": 0,
        "held": 0,
        "created_at": utcnow(),
    }
    account_id = await _insert_account(conn, values)
    if account_id is not None:
        return Account(account_id, AccountKind.MEMBER, branch_id, member_id, limit)
    opened = await _find(conn, AccountKind.MEMBER, member_id)
    if opened is None:
        raise RuntimeError(f"member account of {member_id} neither inserted nor found")
    return opened


async def open_member_account(session: AsyncSession, member_id: int, branch_id: int) -> Account:
    """The member's one account, opened in `branch_id` with the limit the branch gives them.

    A member who already has an account gets it back as it is, wherever it was opened.
    """
    conn = await session.connection()
    found = await _find(conn, AccountKind.MEMBER, member_id)
    if found is not None:
        return found
    return await _open_member(conn, member_id, branch_id)


async def open_member_accounts(
    session: AsyncSession, branches_of: Mapping[int, int]
) -> dict[int, Account]:
    """`open_member_account` for several members ({member id: branch id}) with one read
    for those whose accounts exist (an order's payer and volunteer, say)."""
    conn = await session.connection()
    rows = await conn.execute(_MEMBER_ACCOUNTS, {"members": sorted(branches_of)})
    found = {account.owner_id: account for account in map(_account, rows)}
    for member_id in sorted(branches_of.keys() - found.keys()):
        found[member_id] = await _open_member(conn, member_id, branches_of[member_id])
    return found


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


async def set_member_overdraft_limit(
    session: AsyncSession, branch_id: int, minutes: int, *, actor: Actor
) -> None:
    """Set how far the branch's members may overdraw (residents keep a larger own limit)."""
    await set_branch_policy(session, branch_id, actor=actor, member_overdraft_limit=minutes)
