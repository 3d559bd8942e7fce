"""Postings: transfers, grants, adjustments and reversals, each recorded once per key."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import overload

from sqlalchemy import (
    ColumnElement,
    Insert,
    Select,
    Update,
    bindparam,
    exists,
    insert,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.db import in_sqlite_thread, prepare, utcnow
from core.ledger import inputs
from core.ledger.accounts import get_account, issuance_account
from core.ledger.balances import balances_after, move_params, move_statement
from core.ledger.errors import (
    AlreadyReversed,
    CannotReverseReversal,
    CoordinatorRequired,
    SameAccount,
    UnknownTransaction,
)
from core.ledger.idempotency import check_same, fingerprint, insert_once
from core.ledger.tables import LedgerEntry, LedgerTransaction
from core.ledger.values import (
    SYSTEM,
    TRANSFER_KINDS,
    Actor,
    Entry,
    Posting,
    PostingKind,
)

transactions = LedgerTransaction.__table__
entries = LedgerEntry.__table__

_TRANSACTION_COLUMNS = (
    transactions.c.id,
    transactions.c.kind,
    transactions.c.memo,
    transactions.c.actor_id,
    transactions.c.order_id,
    transactions.c.redemption_id,
    transactions.c.reverses_id,
    transactions.c.created_at,
    transactions.c.fingerprint,
)


@dataclass(frozen=True, slots=True)
class PostingRequest:
    """Everything needed to record one posting; `legs` are sorted by account id."""

    kind: PostingKind
    legs: list[tuple[int, int]]
    key: str
    fingerprint: str
    memo: str = ""
    actor_id: int | None = None
    order_id: int | None = None
    redemption_id: int | None = None
    reverses_id: int | None = None


def _claim_values(request: PostingRequest, now: datetime) -> dict[str, object]:
    return {
        "kind": request.kind,
        "memo": request.memo,
        "actor_id": request.actor_id,
        "order_id": request.order_id,
        "redemption_id": request.redemption_id,
        "reverses_id": request.reverses_id,
        "idempotency_key": request.key,
        "fingerprint": request.fingerprint,
        "created_at": now,
    }


_CLAIM_COLUMNS = (
    "kind",
    "memo",
    "actor_id",
    "order_id",
    "redemption_id",
    "reverses_id",
    "idempotency_key",
    "fingerprint",
    "created_at",
)


@cache
def _entries_statement(legs: int) -> Insert:
    """One INSERT of a posting's entries: leg i moves d<i> minutes on a<i>, leaving b<i>."""
    return insert(entries).values(
        [
            {
                "transaction_id": bindparam("tx"),
                "account_id": bindparam(f"a{i}"),
                "amount": bindparam(f"d{i}"),
                "balance_after": bindparam(f"b{i}"),
            }
            for i in range(legs)
        ]
    )


def _posting(
    transaction_id: int, request: PostingRequest, now: datetime, balances: list[int]
) -> Posting:
    return Posting(
        id=transaction_id,
        kind=request.kind,
        memo=request.memo,
        actor_id=request.actor_id,
        order_id=request.order_id,
        redemption_id=request.redemption_id,
        reverses_id=request.reverses_id,
        created_at=now,
        entries=tuple(
            Entry(account_id, amount, balance)
            for (account_id, amount), balance in zip(request.legs, balances, strict=True)
        ),
    )


async def replay(conn: AsyncConnection, request: PostingRequest) -> Posting:
    """The posting first recorded under the request's key, if it asked for the same thing."""
    found = await _find(conn, transactions.c.idempotency_key == request.key)
    if found is None and request.reverses_id is not None:
        # The key is free, so the conflict was on `reverses_id`: someone reversed it first.
        reversal = await _find(conn, transactions.c.reverses_id == request.reverses_id)
        if reversal is not None:
            raise AlreadyReversed(transaction_id=request.reverses_id, reversal_id=reversal[0].id)
    if found is None:
        raise RuntimeError(f"key {request.key!r} conflicted, yet no transaction holds it")
    posting, stored_fingerprint = found
    check_same(stored_fingerprint, request.fingerprint)
    # The same request, so the same accounts: its entries in the order the request gave its
    # legs, as the first answer had them (PostgreSQL stores them in whatever order its
    # one statement moved the balances).
    leg_order = {account_id: i for i, (account_id, _) in enumerate(request.legs)}
    entries_ = sorted(posting.entries, key=lambda entry: leg_order.get(entry.account_id, 0))
    return replace(posting, entries=tuple(entries_))


@dataclass(frozen=True, slots=True)
class Settlement:
    """A row settled by the posting in the same call, such as the hold it turns into credit.

    `statement` is an UPDATE … RETURNING of a table with a `transaction_id` column, which is
    set to the new transaction; when it matches no row (the hold is no longer pending),
    nothing moves. `unhold` gives the held minutes each account releases. The statement is
    a module's constant: the statements built around it are cached by its identity.
    """

    statement: Update
    params: Mapping[str, object]
    unhold: Mapping[int, int]


@cache
def _posting_in_one_statement(legs: int, settling: Update | None) -> Select:
    """PostgreSQL: claim the key, settle, move the balances and write the entries in one
    statement.

    Each statement costs a round trip and, above all, Python time in the driver stack, so
    the hot path sends one. When the key is taken, `claimed` is empty and nothing moves;
    when a debit breaks a limit, fewer rows come back and the caller raises (rolling back).
    """
    claimed = insert_once(transactions, postgresql.insert, _CLAIM_COLUMNS, "t_").cte("claimed")
    go = exists(claimed.select())
    settled: ColumnElement[bool] = true()
    if settling is not None:
        settled_rows = (
            settling.values(transaction_id=select(claimed.c.id).scalar_subquery())
            .where(go)
            .cte("settled")
        )
        go = exists(settled_rows.select())
        settled = go
    moved = move_statement(legs, settling is not None, only_if=go).cte("moved")
    written = insert(entries).from_select(
        ["transaction_id", "account_id", "amount", "balance_after"],
        select(claimed.c.id, moved.c.id, moved.c.amount, moved.c.balance).select_from(
            claimed.join(moved, true())
        ),
    )
    return (
        select(claimed.c.id, settled, moved.c.id, moved.c.balance)
        .select_from(claimed.outerjoin(moved, true()))
        .add_cte(written.cte("written"))
    )


_CLAIM_ON_SQLITE = insert_once(transactions, sqlite.insert, _CLAIM_COLUMNS, "t_")


@cache
def _settling_on_sqlite(settling: Update) -> Update:
    return settling.values(transaction_id=bindparam("tx"))


# The transaction's id (None when the key was taken), whether the settlement matched its
# row, and the balance after of each account that moved (fewer than the legs when a debit
# would break a limit).
Recorded = tuple[int | None, bool, dict[int, int]]


def _posting_in_one_call(
    dialect: Dialect,
    legs: list[tuple[int, int]],
    params: dict[str, object],
    settling: Update | None,
) -> Callable[[sqlite3.Connection], Recorded]:
    """SQLite: the same steps, run back to back in aiosqlite's thread.

    SQLite has no data-modifying CTEs; this is the one-statement posting's equivalent, one
    call into the driver's thread instead of one round trip.
    """
    claim = prepare(dialect, _CLAIM_ON_SQLITE)
    settle = None if settling is None else prepare(dialect, _settling_on_sqlite(settling))
    move = prepare(dialect, move_statement(len(legs), settling is not None))
    write = prepare(dialect, _entries_statement(len(legs)))
    claim_values, move_values = claim.values(params), move.values(params)

    def run(db: sqlite3.Connection) -> Recorded:
        claimed = db.execute(claim.sql, claim_values).fetchall()
        if not claimed:
            return None, False, {}
        [(transaction_id,)] = claimed
        if settle is not None:
            settle_values = settle.values({**params, "tx": transaction_id})
            if not db.execute(settle.sql, settle_values).fetchall():
                return transaction_id, False, {}
        rows = db.execute(move.sql, move_values).fetchall()
        moved = {account_id: balance for account_id, balance, _ in rows}
        if len(moved) == len(legs):
            after = {f"b{i}": moved[account_id] for i, (account_id, _) in enumerate(legs)}
            db.execute(write.sql, write.values({**params, "tx": transaction_id, **after}))
        return transaction_id, True, moved

    return run


@overload
async def record(conn: AsyncConnection, request: PostingRequest) -> Posting: ...


@overload
async def record(
    conn: AsyncConnection, request: PostingRequest, settlement: Settlement
) -> Posting | None: ...


async def record(
    conn: AsyncConnection, request: PostingRequest, settlement: Settlement | None = None
) -> Posting | None:
    """Record a posting once: claim its key, settle, move the balances, write the entries.

    The hot path, so it is one call to the database: one statement on PostgreSQL, one call
    into aiosqlite's thread on SQLite, where every call is a hop to that thread and back.
    A key already taken replays the first posting; None when the settlement matched no row
    (the caller says why and rolls back: the transaction row is written by then).
    """
    now = utcnow()
    params: dict[str, object] = {f"t_{k}": v for k, v in _claim_values(request, now).items()}
    params.update(move_params(request.legs, settlement.unhold if settlement else None))
    settling = None
    if settlement is not None:
        params.update(settlement.params)
        settling = settlement.statement
    transaction_id: int | None
    if conn.dialect.name == "postgresql":
        statement = _posting_in_one_statement(len(request.legs), settling)
        rows = (await conn.execute(statement, params)).all()
        transaction_id, settled = (rows[0][0], rows[0][1]) if rows else (None, False)
        moved = {account_id: balance for _, _, account_id, balance in rows if account_id}
    else:
        one_call = _posting_in_one_call(conn.dialect, request.legs, params, settling)
        transaction_id, settled, moved = await in_sqlite_thread(conn, one_call)
    if transaction_id is None:
        return await replay(conn, request)
    if not settled:
        return None
    balances = await balances_after(conn, request.legs, moved)
    return _posting(transaction_id, request, now, balances)


async def _find(
    conn: AsyncConnection, condition: ColumnElement[bool]
) -> tuple[Posting, str] | None:
    row = (await conn.execute(select(*_TRANSACTION_COLUMNS).where(condition))).first()
    if row is None:
        return None
    legs = await conn.execute(
        select(entries.c.account_id, entries.c.amount, entries.c.balance_after)
        .where(entries.c.transaction_id == row.id)
        .order_by(entries.c.id)
    )
    posting = Posting(
        id=row.id,
        kind=PostingKind(row.kind),
        memo=row.memo,
        actor_id=row.actor_id,
        order_id=row.order_id,
        redemption_id=row.redemption_id,
        reverses_id=row.reverses_id,
        created_at=row.created_at,
        entries=tuple(Entry(*leg) for leg in legs),
        replayed=True,
    )
    return posting, row.fingerprint


async def get_posting(session: AsyncSession, transaction_id: int) -> Posting:
    found = await _find(await session.connection(), transactions.c.id == transaction_id)
    if found is None:
        raise UnknownTransaction(transaction_id=transaction_id)
    posting, _ = found
    return posting


async def post(
    session: AsyncSession,
    amounts: Mapping[int, int],
    *,
    kind: PostingKind,
    key: str,
    memo: str = "",
    actor: Actor = SYSTEM,
    order_id: int | None = None,
    redemption_id: int | None = None,
) -> Posting:
    """Record a posting of two or more legs ({account id: minutes}) that sum to zero.

    Like every ledger mutation, it runs in the caller's write transaction (`atomically`)
    and may have written part of its rows when it raises a DomainError: let the error
    roll the transaction back, which is how nothing is written.
    """
    checked_kind = inputs.kind(kind, TRANSFER_KINDS)
    legs = inputs.legs(amounts)
    request = PostingRequest(
        kind=checked_kind,
        legs=legs,
        key=inputs.key(key),
        fingerprint=fingerprint("post", checked_kind, legs, order_id, redemption_id),
        memo=inputs.memo(memo),
        actor_id=actor.member_id,
        order_id=order_id,
        redemption_id=redemption_id,
    )
    return await record(await session.connection(), request)


async def transfer(
    session: AsyncSession,
    source: int,
    destination: int,
    minutes: int,
    *,
    kind: PostingKind,
    key: str,
    memo: str = "",
    actor: Actor = SYSTEM,
    order_id: int | None = None,
    redemption_id: int | None = None,
) -> Posting:
    """Move `minutes` from one account to another (a service paid, a gift, a redemption…)."""
    amount = inputs.minutes(minutes)
    if source == destination:
        raise SameAccount(account_id=source)
    return await post(
        session,
        {source: -amount, destination: amount},
        kind=kind,
        key=key,
        memo=memo,
        actor=actor,
        order_id=order_id,
        redemption_id=redemption_id,
    )


async def grant(
    session: AsyncSession,
    account_id: int,
    minutes: int,
    *,
    key: str,
    memo: str = "",
    actor: Actor = SYSTEM,
) -> Posting:
    """Issue new credit (a start grant) from the account's branch issuance account."""
    amount, key, memo = inputs.minutes(minutes), inputs.key(key), inputs.memo(memo)
    account = await get_account(session, account_id)
    issuance = await issuance_account(session, account.branch_id)
    return await transfer(
        session,
        issuance.id,
        account.id,
        amount,
        kind=PostingKind.GRANT,
        key=key,
        memo=memo,
        actor=actor,
    )


async def adjust(
    session: AsyncSession,
    account_id: int,
    minutes: int,
    *,
    reason: str,
    actor: Actor,
    key: str,
) -> Posting:
    """A coordinator's correction: credit (minutes > 0) or debit (< 0) against issuance."""
    if not actor.is_coordinator:
        raise CoordinatorRequired()
    amount, memo, key = inputs.signed_minutes(minutes), inputs.reason(reason), inputs.key(key)
    account = await get_account(session, account_id)
    issuance = await issuance_account(session, account.branch_id)
    if issuance.id == account.id:
        raise SameAccount(account_id=account_id)
    legs = inputs.legs({account.id: amount, issuance.id: -amount})
    request = PostingRequest(
        kind=PostingKind.ADJUSTMENT,
        legs=legs,
        key=key,
        fingerprint=fingerprint("adjust", legs),
        memo=memo,
        actor_id=actor.member_id,
    )
    return await record(await session.connection(), request)


async def reverse(
    session: AsyncSession,
    transaction_id: int,
    *,
    reason: str,
    actor: Actor,
    key: str,
) -> Posting:
    """Post the mirror of a transaction, once. Its entries are left as they were.

    A second reversal under another key raises AlreadyReversed; the same key returns the
    first reversal. Reversing takes credit back under the usual limits, so a reversal of
    credit already spent raises InsufficientCredit (a coordinator can adjust instead).
    """
    memo = inputs.reason(reason)
    checked_key = inputs.key(key)
    conn = await session.connection()
    found = await _find(conn, transactions.c.id == transaction_id)
    if found is None:
        raise UnknownTransaction(transaction_id=transaction_id)
    original, _ = found
    if original.kind is PostingKind.REVERSAL:
        raise CannotReverseReversal(transaction_id=transaction_id)
    request = PostingRequest(
        kind=PostingKind.REVERSAL,
        legs=sorted((entry.account_id, -entry.amount) for entry in original.entries),
        key=checked_key,
        fingerprint=fingerprint("reverse", transaction_id),
        memo=memo,
        actor_id=actor.member_id,
        order_id=original.order_id,
        redemption_id=original.redemption_id,
        reverses_id=transaction_id,
    )
    return await record(conn, request)
