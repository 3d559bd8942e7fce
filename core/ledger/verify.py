"""`timebank ledger verify`: prove the ledger adds up, from its rows alone.

Each check is one set-based query, run together in one read snapshot, so concurrent
postings cannot make a sound ledger look broken.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, fields
from pathlib import Path

from sqlalchemy import Select, func, literal, or_, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.config import async_database_url
from core.db import create_engine, session_factory
from core.ledger.accounts import accounts
from core.ledger.holds import holds
from core.ledger.postings import entries, transactions
from core.ledger.values import HoldStatus

SHOWN_IDS = 20


@dataclass(frozen=True, slots=True)
class VerifyReport:
    transactions: int
    accounts: int
    # The offending ids, one tuple per broken rule.
    unbalanced_transactions: tuple[int, ...] = ()
    balance_mismatches: tuple[int, ...] = ()
    held_mismatches: tuple[int, ...] = ()
    below_limit: tuple[int, ...] = ()
    orphan_holds: tuple[int, ...] = ()
    running_balance_breaks: tuple[int, ...] = ()

    @property
    def offending_ids(self) -> dict[str, tuple[int, ...]]:
        return {
            field.name: getattr(self, field.name)
            for field in fields(self)
            if field.name not in ("transactions", "accounts") and getattr(self, field.name)
        }

    @property
    def ok(self) -> bool:
        return not self.offending_ids

    @property
    def summary(self) -> str:
        checked = f"{self.transactions} transactions, {self.accounts} accounts"
        if self.ok:
            return f"ledger ok: {checked} checked"
        lines = [f"ledger NOT ok ({checked} checked):"]
        for name, ids in self.offending_ids.items():
            shown = ", ".join(str(i) for i in ids[:SHOWN_IDS])
            more = f" … and {len(ids) - SHOWN_IDS} more" if len(ids) > SHOWN_IDS else ""
            lines.append(f"  {name.replace('_', ' ')} ({len(ids)}): {shown}{more}")
        return "\n".join(lines)


def _unbalanced() -> Select:
    """Transactions with fewer than two entries, or whose entries do not sum to zero."""
    return (
        select(transactions.c.id)
        .outerjoin(entries, entries.c.transaction_id == transactions.c.id)
        .group_by(transactions.c.id)
        .having(
            or_(
                func.count(entries.c.id) < 2,
                func.coalesce(func.sum(entries.c.amount), 0) != 0,
            )
        )
    )


def _balance_mismatches() -> Select:
    sums = (
        select(entries.c.account_id, func.sum(entries.c.amount).label("total"))
        .group_by(entries.c.account_id)
        .subquery()
    )
    return (
        select(accounts.c.id)
        .outerjoin(sums, sums.c.account_id == accounts.c.id)
        .where(accounts.c.balance != func.coalesce(sums.c.total, 0))
    )


def _held_mismatches() -> Select:
    pending = (
        select(holds.c.account_id, func.sum(holds.c.amount).label("total"))
        .where(holds.c.status == HoldStatus.PENDING)
        .group_by(holds.c.account_id)
        .subquery()
    )
    return (
        select(accounts.c.id)
        .outerjoin(pending, pending.c.account_id == accounts.c.id)
        .where(accounts.c.held != func.coalesce(pending.c.total, 0))
    )


def _below_limit() -> Select:
    return select(accounts.c.id).where(
        accounts.c.overdraft_limit.is_not(None),
        accounts.c.balance - accounts.c.held < -accounts.c.overdraft_limit,
    )


def _orphan_holds() -> Select:
    """Pending holds on a missing account; posted holds whose transaction is missing."""
    payer = accounts.alias("payer")
    beneficiary = accounts.alias("beneficiary")
    return (
        select(holds.c.id)
        .outerjoin(payer, payer.c.id == holds.c.account_id)
        .outerjoin(beneficiary, beneficiary.c.id == holds.c.beneficiary_id)
        .outerjoin(transactions, transactions.c.id == holds.c.transaction_id)
        .where(
            or_(
                (holds.c.status == HoldStatus.PENDING)
                & or_(payer.c.id.is_(None), beneficiary.c.id.is_(None)),
                (holds.c.status == HoldStatus.POSTED) & transactions.c.id.is_(None),
            )
        )
    )


def _running_balance_breaks() -> Select:
    """Entries whose `balance_after` is not the one before it plus its amount."""
    before = (
        func.lag(entries.c.balance_after, 1, literal(0))
        .over(partition_by=entries.c.account_id, order_by=entries.c.id)
        .label("before")
    )
    chained = select(entries.c.id, entries.c.amount, entries.c.balance_after, before).subquery()
    return select(chained.c.id).where(
        chained.c.balance_after != chained.c.before + chained.c.amount
    )


async def verify_ledger(sessions: async_sessionmaker[AsyncSession]) -> VerifyReport:
    """Check every rule the ledger promises; the report lists what breaks which."""
    async with sessions() as session, session.begin():
        conn = await session.connection()
        if conn.dialect.name == "postgresql":
            # One snapshot for all the checks (SQLite's read transaction already is one).
            await conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")

        async def ids(query: Select) -> tuple[int, ...]:
            return tuple(sorted((await conn.execute(query)).scalars()))

        counted = await conn.execute(
            select(
                select(func.count()).select_from(transactions).scalar_subquery(),
                select(func.count()).select_from(accounts).scalar_subquery(),
            )
        )
        transaction_count, account_count = counted.one()
        return VerifyReport(
            transactions=transaction_count,
            accounts=account_count,
            unbalanced_transactions=await ids(_unbalanced()),
            balance_mismatches=await ids(_balance_mismatches()),
            held_mismatches=await ids(_held_mismatches()),
            below_limit=await ids(_below_limit()),
            orphan_holds=await ids(_orphan_holds()),
            running_balance_breaks=await ids(_running_balance_breaks()),
        )


async def _verify_database(database_url: str) -> VerifyReport:
    engine = create_engine(database_url)
    try:
        return await verify_ledger(session_factory(engine))
    finally:
        await engine.dispose()


def _missing_sqlite_file(database_url: str) -> str | None:
    """The path of a SQLite database file that does not exist (opening would create it)."""
    url = make_url(database_url)
    path = url.database
    if url.get_backend_name() != "sqlite" or not path or path == ":memory:":
        return None
    return None if Path(path).exists() else path


def main_verify(database_url: str) -> int:
    """Print the verification summary; return 0 if the ledger is sound, 1 if not, 2 if the
    database cannot be read (with one line on stderr)."""
    try:
        url = async_database_url(database_url)
        missing = _missing_sqlite_file(url)
        if missing is not None:
            raise OSError(f"no database file at {missing}")
        report = asyncio.run(_verify_database(url))
    except (DBAPIError, OSError, ValueError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        print(f"ledger verify: cannot read the database: {reason}", file=sys.stderr)
        return 2
    print(report.summary)
    return 0 if report.ok else 1
