"""Holds: credit set aside for a beneficiary, then posted (in full or less), voided or expired.

A hold's status leaves `pending` only through an UPDATE conditioned on `status =
'pending'`, so of a post, a void and an expiry racing for the same hold exactly one wins.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime

from sqlalchemy import Row, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.db import utcnow
from core.ledger import inputs
from core.ledger.balances import accounts, release, reserve
from core.ledger.errors import (
    HoldExpired,
    HoldNotPending,
    IdempotencyConflict,
    PostExceedsHold,
    SameAccount,
    UnknownAccount,
    UnknownHold,
)
from core.ledger.idempotency import InsertOnce, check_same, fingerprint
from core.ledger.postings import PostingRequest, claim, complete, replay
from core.ledger.tables import LedgerHold
from core.ledger.values import (
    SYSTEM,
    TRANSFER_KINDS,
    Actor,
    Hold,
    HoldStatus,
    Posting,
    PostingKind,
)

holds = LedgerHold.__table__

_insert_hold = InsertOnce(holds)
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
    .values(status=HoldStatus.POSTED, transaction_id=bindparam("tx"), closed_at=bindparam("now"))
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


async def place_hold(
    session: AsyncSession,
    account_id: int,
    beneficiary_id: int,
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
    """
    now = utcnow()
    amount = inputs.minutes(minutes)
    checked_kind = inputs.kind(kind, TRANSFER_KINDS)
    checked_key, checked_memo = inputs.key(key), inputs.memo(memo)
    expiry = inputs.expiry(expires_at, now)
    if account_id == beneficiary_id:
        raise SameAccount(account_id=account_id)
    conn = await session.connection()
    known = set(
        (
            await conn.execute(
                select(accounts.c.id).where(accounts.c.id.in_((account_id, beneficiary_id)))
            )
        ).scalars()
    )
    for needed in (account_id, beneficiary_id):
        if needed not in known:
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
    hold_id = await _insert_hold(conn, values)
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
    await reserve(conn, account_id, amount)
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
    hold_id: int,
    *,
    key: str,
    minutes: int | None = None,
    memo: str | None = None,
    actor: Actor = SYSTEM,
) -> Posting:
    """Turn a pending hold into a posting of `minutes` (all of it by default, never more).

    What is held beyond `minutes` is released in the same transaction.
    """
    checked_key = inputs.key(key)
    amount = None if minutes is None else inputs.minutes(minutes)
    conn = await session.connection()
    hold = await _read(conn, hold_id)
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
    now = utcnow()
    transaction_id = await claim(conn, request, now)
    if transaction_id is None:
        return await replay(conn, request)
    settled = await conn.execute(_SETTLE, {"hold": hold_id, "tx": transaction_id, "now": now})
    if settled.scalar() is None:
        current = await _read(conn, hold_id)
        if current.status in (HoldStatus.PENDING, HoldStatus.EXPIRED):
            raise HoldExpired(hold_id=hold_id)
        raise HoldNotPending(hold_id=hold_id, status=current.status)
    return await complete(conn, transaction_id, request, now, {hold.account_id: hold.amount})


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
