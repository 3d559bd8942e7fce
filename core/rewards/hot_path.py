"""Redeeming and confirming a code in few statements: the hot path of `core.rewards.redemption`.

A statement costs a round trip on PostgreSQL and, on SQLite, up to four hops to aiosqlite's
thread and back, plus SQLAlchemy's ORM Python; the ORM version of a redemption sent about
forty. Here each step is one read of everything it needs and one write: on SQLite both run
back to back in aiosqlite's thread in one call (`core.db.in_sqlite_thread`, as the ledger's
postings do); on PostgreSQL the write is one statement of data-modifying CTEs. The read
takes the new rows' ids (the redemption's, its hold's, the posting's) so that each row is
written once, complete: from their sequences on PostgreSQL, on SQLite as the table's
highest id + 1, which no one else can take before this transaction ends (one writer at a
time; a transaction that read before another's write cannot write after it).

An unlimited item's row is only read: its codes promise no stock (`Redemption.reserved`).

What the write does is exactly what the ORM version did, row for row: the stock's share and
the ledger hold on redeeming; on confirming, the code's status, the shelf, the ledger
posting (claimed once by its key, the hold settled, the balances moved in account id order
and the entries written, as `core.ledger` records one) and both receipts. Anything off the
straight path (a replayed key, an account not yet opened, a code no longer pending) returns
None and the ORM version answers it, with its kind refusals.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Integer,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from core.db import UTCDateTime, in_sqlite_thread, prepare
from core.ledger.balances import move_params, move_statement
from core.ledger.idempotency import fingerprint
from core.ledger.tables import LedgerAccount, LedgerEntry, LedgerHold, LedgerTransaction
from core.ledger.values import AccountKind, HoldStatus, PostingKind
from core.models import Member, OutboxMessage
from core.outbox import OutboxStatus, Priority
from core.rewards.tables import (
    Merchant,
    MerchantStaff,
    Redemption,
    RedemptionStatus,
    RewardItem,
    RewardSettings,
)

T = TypeVar("T")
Execute = Callable[[Executable, Mapping[str, Any]], list[tuple]]

redemptions = Redemption.__table__
items = RewardItem.__table__
shops = Merchant.__table__
staff = MerchantStaff.__table__
settings = RewardSettings.__table__
members = Member.__table__
accounts = LedgerAccount.__table__
holds = LedgerHold.__table__
transactions = LedgerTransaction.__table__
entries = LedgerEntry.__table__
outbox = OutboxMessage.__table__

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
HOLD_GRACE = timedelta(days=1)  # as `redemption.HOLD_GRACE`
DEFAULT_CODE_MINUTES = RewardSettings.model_fields["code_minutes"].default


def _now() -> Any:
    return bindparam("now", type_=UTCDateTime())


async def in_one_call(conn: AsyncConnection, work: Callable[[Execute], T]) -> T:
    """Run `work(execute)`: on SQLite every statement in aiosqlite's thread in one call,
    elsewhere through SQLAlchemy's synchronous facade, one round trip each."""
    dialect = conn.dialect
    if dialect.name == "sqlite":

        def in_thread(db: Any) -> T:
            def execute(statement: Executable, params: Mapping[str, Any]) -> list[tuple]:
                prepared = prepare(dialect, statement)
                return prepared.rows(db.execute(prepared.sql, prepared.values(params)).fetchall())

            return work(execute)

        return await in_sqlite_thread(conn, in_thread)

    def through_sqlalchemy(sync: Any) -> T:
        def execute(statement: Executable, params: Mapping[str, Any]) -> list[tuple]:
            result = sync.execute(statement, params)
            return list(result.all()) if result.returns_rows else []

        return work(execute)

    return await conn.run_sync(through_sqlalchemy)


def _new_id(table: Any, postgres: bool) -> Any:
    """The id of the table's next row: from its sequence (PostgreSQL), or its highest + 1
    (SQLite, which has one writer at a time; see the module's docstring)."""
    if postgres:
        return func.nextval(func.pg_get_serial_sequence(table.name, "id"))
    return select(func.coalesce(func.max(table.c.id), 0) + 1).scalar_subquery()


# ---------------------------------------------------------------- redeeming


@dataclass(frozen=True, slots=True)
class RedeemFacts:
    member_branch: int | None
    member_erased: bool
    item_id: int | None
    merchant_id: int | None
    price: int | None
    on_offer: bool
    shop_branch: int | None
    may_overdraw: bool | None
    code_minutes: int | None
    account_id: int | None
    shop_account_id: int | None
    replayed: int | None
    item_names: dict[str, str] | None
    shop_name: str | None
    shop_address: str | None
    unlimited: bool | None
    redemption_id: int | None = None  # what the new rows' ids will be
    hold_id: int | None = None


member_account = accounts.alias("member_account")
shop_account = accounts.alias("shop_account")


@cache
def _facts_statement(postgres: bool) -> Executable:
    now = _now()
    columns = [
        members.c.branch_id,
        members.c.erased_at.is_not(None),
        items.c.id,
        items.c.merchant_id,
        items.c.price_minutes,
        and_(
            items.c.hidden_at.is_(None),
            or_(items.c.valid_from.is_(None), items.c.valid_from <= now),
            or_(items.c.valid_until.is_(None), items.c.valid_until > now),
        ),
        shops.c.branch_id,
        settings.c.rewards_may_overdraw,
        settings.c.code_minutes,
        member_account.c.id,
        shop_account.c.id,
        select(redemptions.c.id).where(redemptions.c.key == bindparam("key")).scalar_subquery(),
        items.c.names,
        shops.c.name,
        shops.c.address,
        items.c.stock.is_(None),
        _new_id(redemptions, postgres),
        _new_id(holds, postgres),
    ]
    joined = (
        members.outerjoin(items, items.c.id == bindparam("item", type_=Integer()))
        .outerjoin(shops, shops.c.id == items.c.merchant_id)
        .outerjoin(settings, settings.c.branch_id == shops.c.branch_id)
        .outerjoin(
            member_account,
            and_(
                member_account.c.kind == literal(AccountKind.MEMBER.value),
                member_account.c.owner_id == members.c.id,
            ),
        )
        .outerjoin(
            shop_account,
            and_(
                shop_account.c.kind == literal(AccountKind.MERCHANT.value),
                shop_account.c.owner_id == shops.c.id,
            ),
        )
    )
    return select(*columns).select_from(joined).where(members.c.id == bindparam("member"))


def _minutes(name: str) -> Any:
    return bindparam(name, type_=BigInteger())


_RESERVE_ITEM = (
    update(items)
    .where(
        items.c.id == bindparam("item", type_=Integer()),
        items.c.stock.is_(None) | (items.c.stock - items.c.reserved >= 1),
    )
    .values(reserved=items.c.reserved + 1)
    .returning(items.c.id)
)
_UNRESERVE_ITEM = (
    update(items)
    .where(items.c.id == bindparam("item", type_=Integer()))
    .values(reserved=items.c.reserved - 1)
)
# Rewards may take a member below zero only where the branch lets them (`overdraw`).
_CREDIT_LIMIT = or_(
    accounts.c.overdraft_limit.is_(None),
    accounts.c.balance - accounts.c.held - _minutes("price")
    >= -case(
        (bindparam("overdraw", type_=Boolean()), accounts.c.overdraft_limit), else_=literal(0)
    ),
)
_RESERVE_CREDIT = (
    update(accounts)
    .where(accounts.c.id == bindparam("account", type_=Integer()), _CREDIT_LIMIT)
    .values(held=accounts.c.held + _minutes("price"))
    .returning(accounts.c.id)
)
_UNRESERVE_CREDIT = (
    update(accounts)
    .where(accounts.c.id == bindparam("account", type_=Integer()))
    .values(held=accounts.c.held - _minutes("price"))
)
_REDEMPTION_VALUES = {
    "item_id": bindparam("item", type_=Integer()),
    "merchant_id": bindparam("merchant", type_=Integer()),
    "member_id": bindparam("member", type_=Integer()),
    "minutes": _minutes("price"),
    "code": bindparam("code"),
    "token": bindparam("token"),
    "status": literal(RedemptionStatus.PENDING),
    "key": bindparam("key"),
    "expires_at": bindparam("expires", type_=UTCDateTime()),
    "created_at": _now(),
    "reserved": bindparam("reserved", type_=Boolean()),
    "id": bindparam("rid", type_=Integer()),
    "hold_id": bindparam("hid", type_=BigInteger()),
}
_HOLD_VALUES = {
    "account_id": bindparam("account", type_=Integer()),
    "beneficiary_id": bindparam("shop_account", type_=Integer()),
    "amount": _minutes("price"),
    "kind": literal(PostingKind.REDEMPTION.value),
    "status": literal(HoldStatus.PENDING.value),
    "memo": literal(""),
    "actor_id": bindparam("member", type_=Integer()),
    "redemption_id": bindparam("rid", type_=Integer()),
    "expires_at": bindparam("hold_expires", type_=UTCDateTime()),
    "idempotency_key": bindparam("hold_key"),
    "fingerprint": bindparam("hold_fingerprint"),
    "created_at": _now(),
    "id": bindparam("hid", type_=BigInteger()),
}
_INSERT_REDEMPTION = (
    sqlite.insert(redemptions)
    .values(_REDEMPTION_VALUES)
    .on_conflict_do_nothing()
    .returning(redemptions.c.id)
)
_INSERT_HOLD = insert(holds).values(_HOLD_VALUES)
# An unlimited item: there, and nothing to take.
_THE_ITEM = select(items.c.id).where(items.c.id == bindparam("item", type_=Integer()))


@cache
def _redeem_in_one_statement(reserve: bool) -> Executable:
    """PostgreSQL: the stock's share (when `reserve`), the credit set aside, the redemption
    and its hold in one statement; each part only when the one before it took effect.
    Returns what took."""
    item = (_RESERVE_ITEM if reserve else _THE_ITEM).cte("item")
    credit = (
        update(accounts)
        .where(
            accounts.c.id == bindparam("account", type_=Integer()),
            _CREDIT_LIMIT,
            exists(item.select()),
        )
        .values(held=accounts.c.held + _minutes("price"))
        .returning(accounts.c.id)
        .cte("credit")
    )
    values = _REDEMPTION_VALUES
    made = (
        postgresql.insert(redemptions)
        .from_select(list(values), select(*values.values()).where(exists(credit.select())))
        .on_conflict_do_nothing()
        .returning(redemptions.c.id)
        .cte("made")
    )
    hold_values = _HOLD_VALUES
    held = (
        insert(holds)
        .from_select(list(hold_values), select(*hold_values.values()).where(exists(made.select())))
        .returning(holds.c.id)
        .cte("held")
    )
    counted = [select(func.count()).select_from(cte).scalar_subquery() for cte in
               (item, credit, made, held)]  # fmt: skip
    return select(*counted)


def _code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


@dataclass(frozen=True, slots=True)
class Redeemed:
    """What redeeming did: `status` ok (with the ids), sold_out, short (not enough credit),
    taken (a code or the key collided: nothing changed), or facts only (off the straight
    path, nothing changed)."""

    status: str
    facts: RedeemFacts | None
    redemption_id: int | None = None
    hold_id: int | None = None
    code: str = ""
    token: str = ""
    expires_at: datetime | None = None


def redeem_work(member_id: int, item_id: int, key: str, now: datetime, postgres: bool):
    """The read and the write of one redemption, for `in_one_call`."""

    def work(execute: Execute) -> Redeemed:
        row = execute(_facts_statement(postgres), {"member": member_id, "item": item_id,
                                                    "key": key, "now": now})  # fmt: skip
        if not row:
            return Redeemed("facts", None)
        values = list(row[0])
        if isinstance(values[12], str):
            values[12] = json.loads(values[12])
        facts = RedeemFacts(*values)
        if (
            facts.member_erased
            or facts.replayed is not None
            or facts.item_id is None
            or facts.shop_branch != facts.member_branch
            or not facts.on_offer
            or facts.account_id is None
            or facts.shop_account_id is None
        ):
            return Redeemed("facts", facts)
        minutes = facts.code_minutes if facts.code_minutes is not None else DEFAULT_CODE_MINUTES
        expires = now + timedelta(minutes=minutes)
        code, token = _code(), secrets.token_urlsafe(16)
        rid, hid, reserve = facts.redemption_id, facts.hold_id, not facts.unlimited
        params: dict[str, Any] = {
            "item": item_id, "merchant": facts.merchant_id, "member": member_id,
            "price": facts.price, "code": code, "token": token, "key": key, "expires": expires,
            "now": now, "account": facts.account_id, "shop_account": facts.shop_account_id,
            "overdraw": bool(facts.may_overdraw), "hold_expires": expires + HOLD_GRACE,
            "reserved": reserve, "rid": rid, "hid": hid, **_hold_identity(facts, rid),
        }  # fmt: skip
        if postgres:
            took = execute(_redeem_in_one_statement(reserve), params)[0]
            if took[0] == 0:
                return Redeemed("sold_out", facts)
            if took[1] == 0 or took[2] == 0:
                if reserve:
                    execute(_UNRESERVE_ITEM, params)
                if took[1] == 0:
                    return Redeemed("short", facts)
                execute(_UNRESERVE_CREDIT, params)
                return Redeemed("taken", facts)
            return Redeemed("ok", facts, rid, hid, code, token, expires)
        if reserve and not execute(_RESERVE_ITEM, params):
            return Redeemed("sold_out", facts)
        if not execute(_RESERVE_CREDIT, params):
            if reserve:
                execute(_UNRESERVE_ITEM, params)
            return Redeemed("short", facts)
        if not execute(_INSERT_REDEMPTION, params):
            if reserve:
                execute(_UNRESERVE_ITEM, params)
            execute(_UNRESERVE_CREDIT, params)
            return Redeemed("taken", facts)
        execute(_INSERT_HOLD, params)
        return Redeemed("ok", facts, rid, hid, code, token, expires)

    return work


def _hold_identity(facts: RedeemFacts, redemption_id: int | None) -> dict[str, str]:
    """The hold's key and fingerprint, as `core.ledger.place_hold` makes them."""
    return {
        "hold_key": f"redemption:{redemption_id}",
        "hold_fingerprint": fingerprint(
            "hold", facts.account_id, facts.shop_account_id, facts.price,
            PostingKind.REDEMPTION, None, redemption_id,
        ),
    }  # fmt: skip


# ---------------------------------------------------------------- confirming


@dataclass(frozen=True, slots=True)
class CounterFacts:
    staff_shop: int | None
    redemption_id: int
    merchant_id: int
    member_id: int
    item_id: int
    minutes: int
    status: str
    live: bool
    expires_at: datetime
    hold_id: int | None
    item_names: dict[str, str]
    member_name: str
    merchant_name: str
    hold_account: int | None
    hold_beneficiary: int | None
    hold_amount: int | None
    hold_kind: str | None
    hold_memo: str | None
    hold_order: int | None
    hold_pending: bool
    code: str
    reserved: bool
    transaction_id: int  # what the posting's id will be


@cache
def _counter_statement(by_token: bool, postgres: bool) -> Executable:
    column = redemptions.c.token if by_token else redemptions.c.code
    columns = [
        select(staff.c.merchant_id)
        .where(staff.c.member_id == bindparam("staff", type_=Integer()))
        .scalar_subquery(),
        redemptions.c.id, redemptions.c.merchant_id, redemptions.c.member_id,
        redemptions.c.item_id, redemptions.c.minutes, redemptions.c.status,
        redemptions.c.expires_at > _now(), redemptions.c.expires_at, redemptions.c.hold_id,
        items.c.names, members.c.name, shops.c.name,
        holds.c.account_id, holds.c.beneficiary_id, holds.c.amount, holds.c.kind,
        holds.c.memo, holds.c.order_id,
        and_(
            holds.c.status == literal(HoldStatus.PENDING.value),
            or_(holds.c.expires_at.is_(None), holds.c.expires_at > _now()),
        ),
        redemptions.c.code,
        redemptions.c.reserved,
        _new_id(transactions, postgres),
    ]  # fmt: skip
    return (
        select(*columns)
        .select_from(
            redemptions.join(items, items.c.id == redemptions.c.item_id)
            .join(members, members.c.id == redemptions.c.member_id)
            .join(shops, shops.c.id == redemptions.c.merchant_id)
            .outerjoin(holds, holds.c.id == redemptions.c.hold_id)
        )
        .where(column == bindparam("reference"))
    )


_CONFIRM = (
    update(redemptions)
    .where(
        redemptions.c.id == bindparam("rid", type_=Integer()),
        redemptions.c.status == literal(RedemptionStatus.PENDING),
        redemptions.c.expires_at > _now(),
    )
    .values(
        status=literal(RedemptionStatus.CONFIRMED),
        confirmed_at=_now(),
        confirmed_by_id=bindparam("staff", type_=Integer()),
        closed_at=_now(),
        transaction_id=bindparam("tx", type_=BigInteger()),
    )
    .returning(redemptions.c.id)
)
_OFF_THE_SHELF = (
    update(items)
    .where(items.c.id == bindparam("item", type_=Integer()))
    .values(stock=items.c.stock - 1, reserved=items.c.reserved - 1)  # NULL stock stays NULL
)
_CLAIM_VALUES = {
    "kind": literal(PostingKind.REDEMPTION.value),
    "memo": bindparam("posting_memo"),
    "actor_id": bindparam("staff", type_=Integer()),
    "order_id": bindparam("order", type_=Integer()),
    "redemption_id": bindparam("rid", type_=Integer()),
    "idempotency_key": bindparam("posting_key"),
    "fingerprint": bindparam("posting_fingerprint"),
    "created_at": _now(),
}
_CLAIM = (
    sqlite.insert(transactions)
    .values({"id": bindparam("tx", type_=BigInteger()), **_CLAIM_VALUES})
    .on_conflict_do_nothing()
    .returning(transactions.c.id)
)
_SETTLE_CONDITIONS = (
    holds.c.id == bindparam("hold", type_=BigInteger()),
    holds.c.status == literal(HoldStatus.PENDING.value),
    or_(holds.c.expires_at.is_(None), holds.c.expires_at > _now()),
)
_SETTLE = (
    update(holds)
    .where(*_SETTLE_CONDITIONS)
    .values(
        status=literal(HoldStatus.POSTED.value),
        transaction_id=bindparam("tx", type_=BigInteger()),
        closed_at=_now(),
    )
    .returning(holds.c.id)
)
_ENTRIES = insert(entries).values(
    [
        {
            "transaction_id": bindparam("tx", type_=BigInteger()),
            "account_id": bindparam(f"a{i}", type_=Integer()),
            "amount": _minutes(f"d{i}"),
            "balance_after": _minutes(f"b{i}"),
        }
        for i in range(2)
    ]
)


def _receipt_values(who: str) -> dict[str, Any]:
    return {
        "key": bindparam(f"{who}_key"),
        "member_id": bindparam(f"{who}_to", type_=Integer()),
        "kind": bindparam(f"{who}_kind"),
        "payload": bindparam(f"{who}_payload", type_=OutboxMessage.__table__.c.payload.type),
        "priority": literal(int(Priority.NOTICE)),
        "status": literal(OutboxStatus.PENDING.value),
        "attempts": literal(0),
        "not_before": _now(),
        "error": literal(""),
        "created_at": _now(),
    }


_RECEIPTS = (
    sqlite.insert(outbox)
    .values([_receipt_values("member"), _receipt_values("shop")])
    .on_conflict_do_nothing()
)


@cache
def _confirm_in_one_statement(reserved: bool) -> Executable:
    """PostgreSQL: the code confirmed, the posting claimed, the hold settled, the shelf
    (when the code `reserved` a share of it), the balances and entries, both receipts: one
    statement, each part only when the code was still pending. Returns what took, and each
    account's balance after."""
    won = _CONFIRM.cte("won")
    claimed = (
        postgresql.insert(transactions)
        .from_select(
            ["id", *_CLAIM_VALUES],
            select(bindparam("tx", type_=BigInteger()), *_CLAIM_VALUES.values()).where(
                exists(won.select())
            ),
        )
        .on_conflict_do_nothing()
        .returning(transactions.c.id)
        .cte("claimed")
    )
    settled = (
        update(holds)
        .where(*_SETTLE_CONDITIONS, exists(claimed.select()))
        .values(
            status=literal(HoldStatus.POSTED.value),
            transaction_id=bindparam("tx", type_=BigInteger()),
            closed_at=_now(),
        )
        .returning(holds.c.id)
        .cte("settled")
    )
    gate = settled
    if reserved:
        gate = (
            update(items)
            .where(items.c.id == bindparam("item", type_=Integer()), exists(settled.select()))
            .values(stock=items.c.stock - 1, reserved=items.c.reserved - 1)
            .returning(items.c.id)
            .cte("shelf")
        )
    moved = move_statement(2, True, exists(gate.select())).cte("moved")
    written = insert(entries).from_select(
        ["transaction_id", "account_id", "amount", "balance_after"],
        select(claimed.c.id, moved.c.id, moved.c.amount, moved.c.balance).select_from(
            claimed.join(moved, true())
        ),
    )
    receipts = [_receipt_values("member"), _receipt_values("shop")]
    told = (
        postgresql.insert(outbox)
        .from_select(
            list(receipts[0]),
            select(*receipts[0].values())
            .where(exists(settled.select()))
            .union_all(select(*receipts[1].values()).where(exists(settled.select()))),
        )
        .on_conflict_do_nothing()
        .returning(outbox.c.id)
    )
    counted = [select(func.count()).select_from(cte).scalar_subquery()
               for cte in (won, claimed, settled)]  # fmt: skip
    return (
        select(*counted, moved.c.id, moved.c.balance)
        .select_from(won.outerjoin(moved, true()))
        .add_cte(written.cte("written"))
        .add_cte(told.cte("told"))
    )


@dataclass(frozen=True, slots=True)
class Confirmed:
    """`status` ok (with the posting's id and each leg's balance after), lost (the code was
    no longer pending: nothing changed), hold (its hold would not settle: the caller must
    roll back), or facts (off the straight path: nothing changed)."""

    status: str
    facts: CounterFacts | None
    transaction_id: int | None = None
    legs: tuple[tuple[int, int, int], ...] = ()  # (account, amount, balance after)


def confirm_work(
    staff_id: int, by_token: bool, reference: str, now: datetime, postgres: bool,
    receipts: Callable[[CounterFacts], dict[str, Any]],
):  # fmt: skip
    """The read and the write of one confirmation, for `in_one_call`. `receipts` gives the
    outbox rows' parameters (the notices' payloads) from what was read."""

    def work(execute: Execute) -> Confirmed:
        params: dict[str, Any] = {"staff": staff_id, "reference": reference, "now": now}
        row = execute(_counter_statement(by_token, postgres), params)
        if not row:
            return Confirmed("facts", None)
        values = list(row[0])
        if isinstance(values[10], str):
            values[10] = json.loads(values[10])
        facts = CounterFacts(*values)
        if (
            facts.staff_shop != facts.merchant_id
            or facts.status != RedemptionStatus.PENDING
            or not facts.live
            or facts.hold_id is None
            or not facts.hold_pending
        ):
            return Confirmed("facts", facts)
        assert facts.hold_account is not None and facts.hold_beneficiary is not None
        amount = facts.minutes if facts.hold_amount is None else facts.hold_amount
        legs = sorted([(facts.hold_account, -amount), (facts.hold_beneficiary, amount)])
        params.update(
            rid=facts.redemption_id, item=facts.item_id, hold=facts.hold_id,
            posting_memo=facts.hold_memo or "", order=facts.hold_order,
            posting_key=f"redemption:{facts.redemption_id}:post",
            posting_fingerprint=fingerprint("post_hold", facts.hold_id, amount),
            tx=facts.transaction_id,
            **move_params(legs, {facts.hold_account: amount}), **receipts(facts),
        )  # fmt: skip
        if postgres:
            rows = execute(_confirm_in_one_statement(facts.reserved), params)
            if not rows:  # its rows come from `won`: the code was no longer pending
                return Confirmed("lost", facts)
            won, claimed, settled = rows[0][:3]
            if won == 0:
                return Confirmed("lost", facts)
            if claimed == 0 or settled == 0:
                return Confirmed("hold", facts)
            after = {account: balance for *_, account, balance in rows}
            return Confirmed(
                "ok", facts, facts.transaction_id,
                tuple((a, d, after[a]) for a, d in legs),
            )  # fmt: skip
        if not execute(_CONFIRM, params):
            return Confirmed("lost", facts)
        if not execute(_CLAIM, params) or not execute(_SETTLE, params):
            return Confirmed("hold", facts)
        if facts.reserved:
            execute(_OFF_THE_SHELF, params)
        moved = {account: balance for account, balance, _ in
                 execute(move_statement(2, True), params)}  # fmt: skip
        for i, (account, _) in enumerate(legs):
            params[f"b{i}"] = moved[account]
        execute(_ENTRIES, params)
        execute(_RECEIPTS, params)
        return Confirmed("ok", facts, params["tx"], tuple((a, d, moved[a]) for a, d in legs))

    return work
