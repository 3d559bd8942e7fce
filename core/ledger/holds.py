"""Holds: credit set aside for a beneficiary, then posted (in full or less), voided or expired.

A hold's status leaves `pending` only through an UPDATE conditioned on `status =
'pending'`, so of a post, a void and an expiry racing for the same hold exactly one wins.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from functools import cache

from sqlalchemy import Row, Select, bindparam, exists, or_, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.db import in_sqlite_thread, prepare, utcnow
from core.ledger import inputs
from core.ledger.balances import RESERVE, accounts, refusal, release
from core.ledger.errors import (
    HoldExpired,
    HoldNotPending,
    IdempotencyConflict,
    PostExceedsHold,
    SameAccount,
    UnknownAccount,
    UnknownHold,
)
from core.ledger.idempotency import check_same, fingerprint, insert_once
from core.ledger.postings import PostingRequest, Settlement, record
from core.ledger.tables import LedgerHold
from core.ledger.values import (
    SYSTEM,
    TRANSFER_KINDS,
    Account,
    Actor,
    Hold,
    HoldStatus,
    Posting,
    PostingKind,
)

holds = LedgerHold.__table__

_HOLD_COLUMNS = (
    holds.c.id,
    holds.c.account_id,
    holds.c.beneficiary_id,
    holds.c.amount,
    holds.c.kind,
    holds.c.status,
    holds.c.memo,
    holds.c.order_id,
    holds.c.redemption_id,
    holds.c.expires_at,
    holds.c.transaction_id,
)
_pending = holds.c.status == HoldStatus.PENDING
_this_hold = holds.c.id == bindparam("hold")
_SETTLE = (
    update(holds)
    .where(
        _this_hold,
        _pending,
        or_(holds.c.expires_at.is_(None), holds.c.expires_at > bindparam("now")),
    )
    .values(status=HoldStatus.POSTED, closed_at=bindparam("now"))
    .returning(holds.c.id)
)
_VOID = (
    update(holds)
    .where(_this_hold, _pending)
    .values(status=HoldStatus.VOIDED, void_key=bindparam("key"), closed_at=bindparam("now"))
    .returning(*_HOLD_COLUMNS)
)


def _hold(row: Row, *, replayed: bool = False) -> Hold:
    values = row._mapping
    return Hold(
        id=values["id"],
        account_id=values["account_id"],
        beneficiary_id=values["beneficiary_id"],
        amount=values["amount"],
        kind=PostingKind(values["kind"]),
        status=HoldStatus(values["status"]),
        memo=values["memo"],
        order_id=values["order_id"],
        redemption_id=values["redemption_id"],
        expires_at=values["expires_at"],
        transaction_id=values["transaction_id"],
        replayed=replayed,
    )


async def _read(conn: AsyncConnection, hold_id: int) -> Hold:
    row = (await conn.execute(select(*_HOLD_COLUMNS).where(holds.c.id == hold_id))).first()
    if row is None:
        raise UnknownHold(hold_id=hold_id)
    return _hold(row)


async def get_hold(session: AsyncSession, hold_id: int) -> Hold:
    return await _read(await session.connection(), hold_id)


_ORDER_HOLD = (
    select(*_HOLD_COLUMNS)
    .where(holds.c.order_id == bindparam("order"), _pending)
    .order_by(holds.c.id.desc())
    .limit(1)
)


async def pending_order_hold(session: AsyncSession, order_id: int) -> Hold | None:
    """The order's latest pending hold, if it has one."""
    row = (await (await session.connection()).execute(_ORDER_HOLD, {"order": order_id})).first()
    return None if row is None else _hold(row)


_HOLD_VALUES = (
    "account_id",
    "beneficiary_id",
    "amount",
    "kind",
    "status",
    "memo",
    "actor_id",
    "order_id",
    "redemption_id",
    "expires_at",
    "idempotency_key",
    "fingerprint",
    "created_at",
)


@cache
def _hold_in_one_statement() -> Select:
    """PostgreSQL: insert the hold and set its minutes aside in one statement. When the key
    is taken nothing is reserved (no row); when the limit refuses, the reserved id is NULL
    and the caller raises (rolling the insert back with the rest)."""
    inserted = insert_once(holds, postgresql.insert, _HOLD_VALUES, "h_").cte("inserted")
    reserved = (
        RESERVE.where(exists(inserted.select())).cte("reserved")  # type: ignore[attr-defined]
    )
    return select(inserted.c.id, reserved.c.id).select_from(inserted.outerjoin(reserved, true()))


_INSERT_HOLD_ON_SQLITE = insert_once(holds, sqlite.insert, _HOLD_VALUES, "h_")

# The new hold's id (None when the key was taken) and whether its minutes were set aside.
Placed = tuple[int | None, bool]


def _hold_in_one_call(
    dialect: Dialect, params: dict[str, object]
) -> Callable[[sqlite3.Connection], Placed]:
    """SQLite: the same two statements in one call into aiosqlite's thread."""
    insert_ = prepare(dialect, _INSERT_HOLD_ON_SQLITE)
    reserve_ = prepare(dialect, RESERVE)
    insert_values, reserve_values = insert_.values(params), reserve_.values(params)

    def run(db: sqlite3.Connection) -> Placed:
        inserted = db.execute(insert_.sql, insert_values).fetchall()
        if not inserted:
            return None, False
        [(hold_id,)] = inserted
        return hold_id, bool(db.execute(reserve_.sql, reserve_values).fetchall())

    return run


async def _insert_and_reserve(conn: AsyncConnection, values: dict[str, object]) -> int | None:
    """Insert the hold and reserve its minutes on its account: one statement on PostgreSQL,
    one call on SQLite. None when the key was taken (nothing reserved)."""
    params: dict[str, object] = {f"h_{k}": v for k, v in values.items()}
    params.update(account=values["account_id"], amount=values["amount"])
    if conn.dialect.name == "postgresql":
        row = (await conn.execute(_hold_in_one_statement(), params)).first()
        hold_id, reserved = (None, False) if row is None else (row[0], row[1] is not None)
    else:
        hold_id, reserved = await in_sqlite_thread(conn, _hold_in_one_call(conn.dialect, params))
    if hold_id is not None and not reserved:
        raise await refusal(conn, int(values["account_id"]), int(values["amount"]))  # type: ignore[call-overload]
    return hold_id


async def place_hold(
    session: AsyncSession,
    account: int | Account,
    beneficiary: int | Account,
    minutes: int,
    *,
    key: str,
    kind: PostingKind = PostingKind.SERVICE,
    memo: str = "",
    actor: Actor = SYSTEM,
    order_id: int | None = None,
    redemption_id: int | None = None,
    expires_at: datetime | None = None,
) -> Hold:
    """Set `minutes` of the account's available credit aside for `beneficiary_id`.

    `kind` is the kind of the posting the hold becomes. Placing it again with the same key
    returns the same hold as it stands now (it may have been posted or voided since);
    `expires_at` is left out of that check, so a retry computing a later expiry replays.
    The accounts are given by id, or as `Account`s read in this transaction (accounts are
    never deleted), which saves reading them again to check that they exist.
    """
    now = utcnow()
    account_id = account.id if isinstance(account, Account) else account
    beneficiary_id = beneficiary.id if isinstance(beneficiary, Account) else beneficiary
    amount = inputs.minutes(minutes)
    checked_kind = inputs.kind(kind, TRANSFER_KINDS)
    checked_key, checked_memo = inputs.key(key), inputs.memo(memo)
    expiry = inputs.expiry(expires_at, now)
    if account_id == beneficiary_id:
        raise SameAccount(account_id=account_id)
    conn = await session.connection()
    unread = {a for a in (account, beneficiary) if not isinstance(a, Account)}
    if unread:
        known = set(
            (await conn.execute(select(accounts.c.id).where(accounts.c.id.in_(unread)))).scalars()
        )
        for needed in (account_id, beneficiary_id):
            if needed in unread and needed not in known:
                raise UnknownAccount(account_id=needed)
    requested = fingerprint(
        "hold", account_id, beneficiary_id, amount, checked_kind, order_id, redemption_id
    )
    values = {
        "account_id": account_id,
        "beneficiary_id": beneficiary_id,
        "amount": amount,
        "kind": checked_kind,
        "status": HoldStatus.PENDING,
        "memo": checked_memo,
        "actor_id": actor.member_id,
        "order_id": order_id,
        "redemption_id": redemption_id,
        "expires_at": expiry,
        "idempotency_key": checked_key,
        "fingerprint": requested,
        "created_at": now,
    }
    hold_id = await _insert_and_reserve(conn, values)
    if hold_id is None:
        row = (
            await conn.execute(
                select(*_HOLD_COLUMNS, holds.c.fingerprint).where(
                    holds.c.idempotency_key == checked_key
                )
            )
        ).one()
        check_same(row.fingerprint, requested)
        return _hold(row, replayed=True)
    return Hold(
        id=hold_id,
        account_id=account_id,
        beneficiary_id=beneficiary_id,
        amount=amount,
        kind=checked_kind,
        status=HoldStatus.PENDING,
        memo=checked_memo,
        order_id=order_id,
        redemption_id=redemption_id,
        expires_at=expiry,
        transaction_id=None,
    )


async def post_hold(
    session: AsyncSession,
    hold: int | Hold,
    *,
    key: str,
    minutes: int | None = None,
    memo: str | None = None,
    actor: Actor = SYSTEM,
) -> Posting:
    """Turn a pending hold into a posting of `minutes` (all of it by default, never more).

    What is held beyond `minutes` is released in the same transaction. The hold is given
    by id, or as read in this transaction (what a hold is for never changes, and the
    UPDATE that settles it checks that it is still pending), which saves reading it again.
    A hold no longer pending raises after the posting's row was written: the caller's
    transaction must roll back (as every error in a unit of work does), never commit.
    """
    checked_key = inputs.key(key)
    amount = None if minutes is None else inputs.minutes(minutes)
    conn = await session.connection()
    if not isinstance(hold, Hold):
        hold = await _read(conn, hold)
    hold_id = hold.id
    amount = hold.amount if amount is None else amount
    if amount > hold.amount:
        raise PostExceedsHold(held=hold.amount, amount=amount)
    request = PostingRequest(
        kind=hold.kind,
        legs=sorted([(hold.account_id, -amount), (hold.beneficiary_id, amount)]),
        key=checked_key,
        fingerprint=fingerprint("post_hold", hold_id, amount),
        memo=hold.memo if memo is None else inputs.memo(memo),
        actor_id=actor.member_id,
        order_id=hold.order_id,
        redemption_id=hold.redemption_id,
    )
    settlement = Settlement(
        statement=_SETTLE,
        params={"hold": hold_id, "now": utcnow()},
        unhold={hold.account_id: hold.amount},
    )
    posting = await record(conn, request, settlement)
    if posting is None:
        current = await _read(conn, hold_id)
        if current.status in (HoldStatus.PENDING, HoldStatus.EXPIRED):
            raise HoldExpired(hold_id=hold_id)
        raise HoldNotPending(hold_id=hold_id, status=current.status)
    return posting


async def void_hold(session: AsyncSession, hold_id: int, *, key: str) -> Hold:
    """Release a pending hold (expired or not). Voiding it again with the same key replays."""
    checked_key = inputs.key(key)
    conn = await session.connection()
    used_on = (
        await conn.execute(select(holds.c.id).where(holds.c.void_key == checked_key))
    ).scalar()
    if used_on is not None:
        if used_on != hold_id:
            raise IdempotencyConflict()
        return replace(await _read(conn, hold_id), replayed=True)
    row = (
        await conn.execute(_VOID, {"hold": hold_id, "key": checked_key, "now": utcnow()})
    ).first()
    if row is None:
        current = await _read(conn, hold_id)
        raise HoldNotPending(hold_id=hold_id, status=current.status)
    voided = _hold(row)
    await release(conn, voided.account_id, voided.amount)
    return voided


async def expire_due_holds(
    session: AsyncSession, *, now: datetime | None = None, limit: int = 500
) -> list[int]:
    """Expire up to `limit` pending holds whose time has come; return their ids.

    Idempotent: an expired hold is no longer pending, so a second sweep skips it. On
    PostgreSQL, holds another worker is settling right now are skipped (SKIP LOCKED) and
    left for the next sweep.
    """
    now = now or utcnow()
    conn = await session.connection()
    due = (
        await conn.execute(
            select(holds.c.id, holds.c.account_id, holds.c.amount)
            .where(_pending, holds.c.expires_at <= now)
            .order_by(holds.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not due:
        return []
    ids = [hold_id for hold_id, _, _ in due]
    await conn.execute(
        update(holds)
        .where(holds.c.id.in_(ids), _pending)
        .values(status=HoldStatus.EXPIRED, closed_at=now)
    )
    freed: dict[int, int] = defaultdict(int)
    for _, account_id, amount in due:
        freed[account_id] += amount
    for account_id in sorted(freed):
        await release(conn, account_id, freed[account_id])
    return ids
