"""Figures for a branch's reports: credit issued, exchanged between members, outstanding."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.ledger.accounts import accounts, ensure_branch
from core.ledger.postings import entries, transactions
from core.ledger.values import AccountKind, PostingKind


@dataclass(frozen=True, slots=True)
class BranchTotals:
    branch_id: int
    issued: int  # net credit created by the branch's issuance account
    exchanged: int  # earned by members through services and gifts, reversed ones left out
    outstanding: int  # the balances of the branch's member, pool and merchant accounts
    held: int  # set aside by pending holds


async def branch_totals(session: AsyncSession, branch_id: int) -> BranchTotals:
    conn = await session.connection()
    await ensure_branch(conn, branch_id)
    is_issuance = accounts.c.kind == AccountKind.ISSUANCE
    issued, outstanding, held = (
        await conn.execute(
            select(
                func.coalesce(func.sum(case((is_issuance, -accounts.c.balance), else_=0)), 0),
                func.coalesce(func.sum(case((is_issuance, 0), else_=accounts.c.balance)), 0),
                func.coalesce(func.sum(accounts.c.held), 0),
            ).where(accounts.c.branch_id == branch_id)
        )
    ).one()
    reversals = transactions.alias("reversals")
    exchanged = (
        await conn.execute(
            select(func.coalesce(func.sum(entries.c.amount), 0))
            .select_from(entries)
            .join(accounts, accounts.c.id == entries.c.account_id)
            .join(transactions, transactions.c.id == entries.c.transaction_id)
            .outerjoin(reversals, reversals.c.reverses_id == transactions.c.id)
            .where(
                accounts.c.branch_id == branch_id,
                accounts.c.kind == AccountKind.MEMBER,
                transactions.c.kind.in_((PostingKind.SERVICE, PostingKind.GIFT)),
                entries.c.amount > 0,
                reversals.c.id.is_(None),
            )
        )
    ).scalar_one()
    return BranchTotals(branch_id, int(issued), int(exchanged), int(outstanding), int(held))
