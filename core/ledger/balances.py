"""Cached balances: each change is one conditional UPDATE that enforces the overdraft limit.

A posting's accounts are locked in account id order (PostgreSQL), so two postings over
the same accounts cannot deadlock each other; the `WHERE` clause re-checks the limit
against the latest committed balance after any wait, which keeps concurrent debits honest.
SQLite has no row locks; there a write transaction holds the whole database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache

from sqlalchemy import (
    BigInteger,
    BindParameter,
    Case,
    ColumnElement,
    Exists,
    Integer,
    Update,
    bindparam,
    case,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.errors import DomainError
from core.ledger.errors import InsufficientCredit, UnknownAccount
from core.ledger.tables import LedgerAccount
from core.ledger.values import AccountKind, Balance

accounts = LedgerAccount.__table__


def _within_limit(change: ColumnElement[int]) -> ColumnElement[bool]:
    """True when `balance - held` may change by `change` without passing the overdraft limit."""
    return or_(
        accounts.c.overdraft_limit.is_(None),
        accounts.c.balance - accounts.c.held + change >= -accounts.c.overdraft_limit,
    )


def _minutes(name: str) -> BindParameter[int]:
    return bindparam(name, type_=BigInteger())


_this_account = accounts.c.id == bindparam("account")
RESERVE = (
    update(accounts)
    .where(_this_account, _within_limit(-_minutes("amount")))
    .values(held=accounts.c.held + _minutes("amount"))
    .returning(accounts.c.id)
)
_RELEASE = (
    update(accounts)
    .where(_this_account)
    .values(held=accounts.c.held - _minutes("amount"))
    .returning(accounts.c.id)
)
_READ = select(
    accounts.c.id, accounts.c.balance, accounts.c.held, accounts.c.overdraft_limit
).where(_this_account)


@cache
def move_statement(legs: int, unhold: bool = False, only_if: Exists | None = None) -> Update:
    """The UPDATE that applies `legs` legs at once, RETURNING (id, balance, amount).

    On PostgreSQL the CTE first locks the rows in account id order. Leg i changes account
    `a<i>`'s balance by `d<i>` and, when posting a hold, releases `r<i>` held minutes; the
    limit is checked where the available balance would go down (`c<i>` = d<i> + r<i> < 0).
    `only_if` (another CTE's rows exist) lets a bigger statement skip the move entirely.
    """
    ids = [bindparam(f"a{i}", type_=Integer()) for i in range(legs)]

    def per_leg(prefix: str) -> Case[int]:
        return case({ids[i]: _minutes(f"{prefix}{i}") for i in range(legs)}, value=accounts.c.id)

    locking = select(accounts.c.id).where(accounts.c.id.in_(ids))
    if only_if is not None:
        locking = locking.where(only_if)
    locked = locking.order_by(accounts.c.id).with_for_update().cte("locked")
    change = per_leg("c")
    delta = per_leg("d")
    values = {accounts.c.balance: accounts.c.balance + delta}
    if unhold:
        values[accounts.c.held] = accounts.c.held - per_leg("r")
    return (
        update(accounts)
        .where(accounts.c.id == locked.c.id, or_(change >= 0, _within_limit(change)))
        .values(values)
        .returning(accounts.c.id, accounts.c.balance, delta.label("amount"))
    )


def move_params(
    legs: Sequence[tuple[int, int]], unhold: Mapping[int, int] | None = None
) -> dict[str, int]:
    params: dict[str, int] = {}
    for i, (account_id, delta) in enumerate(legs):
        released = unhold.get(account_id, 0) if unhold else 0
        params.update(
            {f"a{i}": account_id, f"d{i}": delta, f"r{i}": released, f"c{i}": delta + released}
        )
    return params


async def balances_after(
    conn: AsyncConnection, legs: Sequence[tuple[int, int]], moved: Mapping[int, int]
) -> list[int]:
    """Each leg's balance after the move, or the reason a leg's account did not move."""
    for account_id, delta in legs:
        if account_id not in moved:
            raise await refusal(conn, account_id, -delta)
    return [moved[account_id] for account_id, _ in legs]


async def release(conn: AsyncConnection, account_id: int, amount: int) -> None:
    params = {"account": account_id, "amount": amount}
    if (await conn.execute(_RELEASE, params)).scalar() is None:
        raise UnknownAccount(account_id=account_id)


async def refusal(conn: AsyncConnection, account_id: int, needed: int) -> DomainError:
    """Why a conditional update matched no row: no such account, or not enough credit."""
    current = await read(conn, account_id)
    if current is None:
        return UnknownAccount(account_id=account_id)
    return InsufficientCredit(account_id=account_id, available=current.spendable, needed=needed)


async def read(conn: AsyncConnection, account_id: int) -> Balance | None:
    row = (await conn.execute(_READ, {"account": account_id})).first()
    return None if row is None else Balance(*row)


_MEMBER_READ = select(
    accounts.c.id, accounts.c.balance, accounts.c.held, accounts.c.overdraft_limit
).where(accounts.c.kind == AccountKind.MEMBER, accounts.c.owner_id == bindparam("member"))


async def member_balance(session: AsyncSession, member_id: int) -> Balance | None:
    """The member's balance (`account_id` their account) in one read, or None if their
    account was never opened. Writes nothing."""
    row = (await (await session.connection()).execute(_MEMBER_READ, {"member": member_id})).first()
    return None if row is None else Balance(*row)


async def balance_of(session: AsyncSession, account_id: int) -> Balance:
    """An account's balance, what its pending holds set aside, and what is left to spend."""
    current = await read(await session.connection(), account_id)
    if current is None:
        raise UnknownAccount(account_id=account_id)
    return current
