"""Spending hours at partner shops: the shelf, a code held against credit, and its use.

Redeeming an item reserves one of its stock and places a ledger hold for its price, and
gives a single-use code (short, to type) and a token (for the QR deep link that opens the
bot on the staff's phone). Staff of that shop confirm it: the hold is posted to the shop's
account and the item leaves the shelf. A code ends once — confirmed, cancelled by the
member, or expired by the sweep — each by an UPDATE conditioned on it still pending, so a
double tap or two staff confirming at once post once.
"""

from __future__ import annotations

import io
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import segno
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import ledger, members, outbox
from core.db import utcnow
from core.errors import N_, DomainError, NotFound
from core.ledger import Actor, InsufficientCredit, PostingKind, inputs
from core.logs import log_event
from core.matching import distance_m
from core.models import Member, Neighbourhood
from core.notices import Kind
from core.rewards import hot_path
from core.rewards.merchants import (
    CATEGORIES,
    CategoryInvalid,
    get_merchant,
    settings_of,
    staff_merchant,
)
from core.rewards.tables import Merchant, Redemption, RedemptionStatus, RewardItem

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no I, O, 0 or 1 to misread
CODE_LENGTH = 8
START_PREFIX = "rdm-"
PAGE_SIZE = 5
log = logging.getLogger("timebank.rewards")
# The ledger's own expiry of a redemption's hold, after the code's: a backstop only.
HOLD_GRACE = timedelta(days=1)


class SoldOut(DomainError):
    key = N_("Sorry, this is all gone now. Please choose something else.")


class ItemNotAvailable(DomainError):
    key = N_("Sorry, this is not offered at the moment.")


class CodeNotValid(NotFound):
    key = N_("That code does not work. Please check it and try again.")


class NotYourShop(DomainError):
    key = N_("This code is for another shop.")


class CodeUsed(DomainError):
    key = N_("This code has already been used.")


class CodeExpired(DomainError):
    key = N_("This code has expired. The hours were not taken.")


class CodeCancelled(DomainError):
    key = N_("This code was cancelled. The hours were not taken.")


def first_name(name: str) -> str:
    """What a shop may see of a member: the given name only ("Wei" of "Li Wei" is not
    guessable, so the first word; "秀英" of "王秀英", "영희" of "김영희")."""
    words = name.split()
    if not words:
        return ""
    if len(words) == 1 and len(words[0]) >= 2 and not words[0].isascii():
        return words[0][1:]
    return words[0]


def deep_link(bot_username: str, token: str) -> str:
    return f"https://t.me/{bot_username}?start={START_PREFIX}{token}"


def qr_png(link: str, *, scale: int = 8) -> bytes:
    """The deep link as a QR code PNG that a phone camera reads at arm's length."""
    buffer = io.BytesIO()
    segno.make(link, error="m").save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def shown_code(code: str) -> str:
    """ "ABCDEFGH" shown as "ABCD-EFGH", easier to read out and type."""
    return f"{code[:4]}-{code[4:]}"


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _reference(text: str) -> tuple[str, str] | None:
    """A typed code or a start payload as ("code" | "token", value); None if it is neither."""
    text = text.strip()
    if text.startswith(START_PREFIX):
        token = text[len(START_PREFIX) :]
        return ("token", token) if re.fullmatch(r"[A-Za-z0-9_-]{16,32}", token) else None
    code = re.sub(r"[\s\-]", "", text).upper()
    return ("code", code) if re.fullmatch(f"[{CODE_ALPHABET}]{{{CODE_LENGTH}}}", code) else None


# ---------------------------------------------------------------- the shelf


@dataclass(frozen=True, slots=True)
class ShelfItem:
    item_id: int
    merchant_id: int
    merchant_name: str
    category: str
    names: dict[str, str]
    descriptions: dict[str, str]
    photo_file_id: str | None
    price_minutes: int
    left: int | None  # None: unlimited
    distance_m: int | None  # None: the member or the shop has no place on the map
    affordable: bool


@dataclass(frozen=True, slots=True)
class Shelf:
    """One page of "Spend my hours". `spendable` is what rewards may take now."""

    available: int
    spendable: int
    items: tuple[ShelfItem, ...]
    offset: int
    has_more: bool


async def home_of(session: AsyncSession, member: Member) -> tuple[float, float] | None:
    if member.home_latitude is not None and member.home_longitude is not None:
        return member.home_latitude, member.home_longitude
    if member.neighbourhood_id is not None:
        area = await session.get(Neighbourhood, member.neighbourhood_id)
        if area is not None:
            return area.latitude, area.longitude
    return None


async def spending_power(session: AsyncSession, member: Member) -> tuple[int, int]:
    """(available, spendable): balance less holds, and what a reward may take — the
    branch's overdraft only where the branch lets rewards use it."""
    account = await ledger.find_member_account(session, member.id)
    if account is None:
        return 0, 0
    balance = await ledger.balance_of(session, account.id)
    settings = await settings_of(session, account.branch_id)
    if settings.rewards_may_overdraw and balance.spendable is not None:
        return balance.available, balance.spendable
    return balance.available, max(0, balance.available)


def _on_offer(now: datetime):
    return (
        RewardItem.hidden_at.is_(None),
        (RewardItem.valid_from.is_(None)) | (RewardItem.valid_from <= now),
        (RewardItem.valid_until.is_(None)) | (RewardItem.valid_until > now),
    )


async def spend_my_hours(
    session: AsyncSession,
    member_id: int,
    *,
    category: str | None = None,
    offset: int = 0,
    limit: int = PAGE_SIZE,
    now: datetime | None = None,
) -> Shelf:
    """The items of the member's branch on offer now, nearest shop first (from home)."""
    now = now or utcnow()
    member = await members.get_member(session, member_id)
    if category is not None and category not in CATEGORIES:
        raise CategoryInvalid()
    available, spendable = await spending_power(session, member)
    query = (
        select(RewardItem, Merchant)
        .join(Merchant, Merchant.id == RewardItem.merchant_id)
        .where(Merchant.branch_id == member.branch_id, *_on_offer(now))
    )
    if category is not None:
        query = query.where(RewardItem.category == category)
    home = await home_of(session, member)
    shelf = []
    for item, merchant in (await session.execute(query)).all():
        distance = None
        if home is not None and merchant.latitude is not None and merchant.longitude is not None:
            distance = round(distance_m(*home, merchant.latitude, merchant.longitude))
        left = None if item.stock is None else item.stock - item.reserved
        shelf.append(
            ShelfItem(
                item_id=item.id,
                merchant_id=merchant.id,
                merchant_name=merchant.name,
                category=item.category,
                names=dict(item.names),
                descriptions=dict(item.descriptions),
                photo_file_id=item.photo_file_id,
                price_minutes=item.price_minutes,
                left=left,
                distance_m=distance,
                affordable=item.price_minutes <= spendable and left != 0,
            )
        )
    shelf.sort(key=lambda s: (s.distance_m is None, s.distance_m or 0, s.price_minutes, s.item_id))
    offset = max(0, offset)
    page = tuple(shelf[offset : offset + limit])
    return Shelf(available, spendable, page, offset, offset + limit < len(shelf))


# ---------------------------------------------------------------- redeeming


@dataclass(frozen=True, slots=True)
class Issued:
    """A code a member shows at the shop. `code` is as printed ("ABCD-EFGH")."""

    redemption_id: int
    code: str
    token: str
    minutes: int
    expires_at: datetime
    item_names: dict[str, str]
    merchant_name: str
    merchant_address: str
    status: str
    replayed: bool = False


def _issued(redemption: Redemption, item: RewardItem, merchant: Merchant, replayed: bool) -> Issued:
    assert redemption.id is not None
    return Issued(
        redemption_id=redemption.id,
        code=shown_code(redemption.code),
        token=redemption.token,
        minutes=redemption.minutes,
        expires_at=redemption.expires_at,
        item_names=dict(item.names),
        merchant_name=merchant.name,
        merchant_address=merchant.address,
        status=redemption.status,
        replayed=replayed,
    )


async def _reserve_one(session: AsyncSession, item_id: int) -> bool:
    taken = await session.execute(
        update(RewardItem)
        .where(
            RewardItem.id == item_id,
            RewardItem.stock.is_(None) | (RewardItem.stock - RewardItem.reserved >= 1),
        )
        .values(reserved=RewardItem.reserved + 1)
        .returning(RewardItem.id)
        .execution_options(synchronize_session=False)
    )
    return taken.scalar() is not None


async def _replay(session: AsyncSession, key: str, member_id: int, item_id: int) -> Issued | None:
    found = await session.scalar(
        select(Redemption).where(Redemption.key == key).execution_options(populate_existing=True)
    )
    if found is None:
        return None
    if found.member_id != member_id or found.item_id != item_id:
        raise ledger.IdempotencyConflict()
    item = await session.get(RewardItem, found.item_id)
    assert item is not None
    return _issued(found, item, await get_merchant(session, found.merchant_id), replayed=True)


async def redeem(
    session: AsyncSession, member_id: int, item_id: int, *, key: str, now: datetime | None = None
) -> Issued:
    """Hold the item's price on the member's credit and give a code, once for `key`.

    Refused kindly (nothing changed) when the item is gone, hidden, out of its dates, of
    another branch, or more than the member may spend on rewards. The straight path is
    `hot_path`'s read and write; whatever is off it (a replay, an account to open, a
    refusal to explain) is answered by `_redeem_by_orm`.
    """
    now = now or utcnow()
    key = inputs.key(key)
    conn = await _flushed_connection(session)
    postgres = conn.dialect.name == "postgresql"
    for _attempt in range(3):
        done = await hot_path.in_one_call(
            conn, hot_path.redeem_work(member_id, item_id, key, now, postgres)
        )
        facts = done.facts
        if done.status == "ok" and facts is not None:
            assert done.redemption_id is not None and done.expires_at is not None
            log_event(log, "redemption issued", redemption_id=done.redemption_id, item_id=item_id)
            return Issued(
                redemption_id=done.redemption_id,
                code=shown_code(done.code),
                token=done.token,
                minutes=facts.price or 0,
                expires_at=done.expires_at,
                item_names=dict(facts.item_names or {}),
                merchant_name=facts.shop_name or "",
                merchant_address=facts.shop_address or "",
                status=RedemptionStatus.PENDING,
            )
        if done.status == "sold_out":
            raise SoldOut()
        if done.status == "short" and facts is not None and facts.account_id is not None:
            raise await _short(session, facts.account_id, facts.price or 0, facts.may_overdraw)
        if done.status != "taken":
            break
    return await _redeem_by_orm(session, member_id, item_id, key=key, now=now)


async def _flushed_connection(session: AsyncSession):
    """The session's connection, with its pending ORM changes written first."""
    if session.new or session.dirty or session.deleted:
        await session.flush()
    return await session.connection()


async def _short(
    session: AsyncSession, account_id: int, price: int, may_overdraw: bool | None
) -> InsufficientCredit:
    """The refusal the ORM path gives: the ledger's own, or the branch's rule that rewards
    come from credit one has."""
    balance = await ledger.balance_of(session, account_id)
    limit = balance.overdraft_limit
    if limit and not may_overdraw and balance.available - price >= -limit:
        return InsufficientCredit(available=max(0, balance.available), needed=price)
    return InsufficientCredit(account_id=account_id, available=balance.spendable, needed=price)


async def _redeem_by_orm(
    session: AsyncSession, member_id: int, item_id: int, *, key: str, now: datetime
) -> Issued:
    """The whole of redeeming through the ORM: replays, opening accounts, and the reason
    for a refusal."""
    member = await members.get_member(session, member_id)
    replayed = await _replay(session, key, member_id, item_id)
    if replayed is not None:
        return replayed
    item = await session.get(RewardItem, item_id, populate_existing=True)
    merchant = None if item is None else await session.get(Merchant, item.merchant_id)
    if item is None or merchant is None or merchant.branch_id != member.branch_id:
        raise NotFound()
    if (
        item.hidden_at is not None
        or (item.valid_from is not None and item.valid_from > now)
        or (item.valid_until is not None and item.valid_until <= now)
    ):
        raise ItemNotAvailable()
    settings = await settings_of(session, merchant.branch_id)
    price = item.price_minutes
    try:
        async with session.begin_nested():
            reserved = item.stock is not None  # an unlimited item's row is left alone
            if reserved and not await _reserve_one(session, item.id):
                raise SoldOut()
            account = await ledger.open_member_account(session, member.id, merchant.branch_id)
            shop = await ledger.merchant_account(session, merchant.id, merchant.branch_id)
            expires_at = now + timedelta(minutes=settings.code_minutes)
            redemption = Redemption(
                item_id=item.id,
                merchant_id=merchant.id,
                member_id=member.id,
                minutes=price,
                code=await _free_code(session),
                token=secrets.token_urlsafe(16),
                key=key,
                expires_at=expires_at,
                created_at=now,
                reserved=reserved,
            )
            session.add(redemption)
            await session.flush()
            hold = await ledger.place_hold(
                session,
                account.id,
                shop.id,
                price,
                key=f"redemption:{redemption.id}",
                kind=PostingKind.REDEMPTION,
                actor=Actor(member_id=member.id),
                redemption_id=redemption.id,
                expires_at=max(expires_at, utcnow()) + HOLD_GRACE,
            )
            if account.overdraft_limit and not settings.rewards_may_overdraw:
                after = await ledger.balance_of(session, account.id)
                if after.available < 0:
                    # Rewards come from credit one has unless the branch says otherwise.
                    raise InsufficientCredit(
                        available=max(0, after.available + price), needed=price
                    )
            redemption.hold_id = hold.id
            await session.flush()
    except IntegrityError:
        # The same key, redeemed at the same moment by a retry: answer as the first did.
        replayed = await _replay(session, key, member_id, item_id)
        if replayed is None:
            raise
        return replayed
    log_event(log, "redemption issued", redemption_id=redemption.id, item_id=item.id)
    return _issued(redemption, item, merchant, replayed=False)


async def _free_code(session: AsyncSession) -> str:
    for _attempt in range(10):
        code = _new_code()
        if await session.scalar(select(Redemption.id).where(Redemption.code == code)) is None:
            return code
    raise DomainError()


async def my_codes(
    session: AsyncSession, member_id: int, *, now: datetime | None = None
) -> list[Issued]:
    """The member's codes still to use, soonest to expire first."""
    now = now or utcnow()
    rows = await session.execute(
        select(Redemption, RewardItem, Merchant)
        .join(RewardItem, RewardItem.id == Redemption.item_id)
        .join(Merchant, Merchant.id == Redemption.merchant_id)
        .where(
            Redemption.member_id == member_id,
            Redemption.status == RedemptionStatus.PENDING,
            Redemption.expires_at > now,
        )
        .order_by(Redemption.expires_at, Redemption.id)
    )
    return [_issued(r, item, merchant, replayed=False) for r, item, merchant in rows.all()]


async def code_of(session: AsyncSession, member_id: int, redemption_id: int) -> Issued:
    """One of the member's own codes, to show it again (with its QR)."""
    redemption = await session.get(Redemption, redemption_id, populate_existing=True)
    if redemption is None or redemption.member_id != member_id:
        raise NotFound()
    item = await session.get(RewardItem, redemption.item_id)
    assert item is not None
    return _issued(redemption, item, await get_merchant(session, redemption.merchant_id), False)


# ---------------------------------------------------------------- ending a code


async def _close(
    session: AsyncSession, redemption_id: int, status: str, now: datetime, **match: object
) -> Redemption | None:
    """Move a pending redemption to `status`; None when it was no longer pending."""
    conditions = [Redemption.id == redemption_id, Redemption.status == RedemptionStatus.PENDING]
    conditions += [getattr(Redemption, name) == value for name, value in match.items()]
    row = (
        await session.execute(
            update(Redemption)
            .where(*conditions)
            .values(status=status, closed_at=now)
            .returning(Redemption.id)
            .execution_options(synchronize_session=False)
        )
    ).scalar()
    if row is None:
        return None
    return await session.get(Redemption, redemption_id, populate_existing=True)


async def _release(session: AsyncSession, redemption: Redemption) -> None:
    """Give back what an unused code held: its share of the stock, if it took one, and
    its hold."""
    if redemption.reserved:
        await session.execute(
            update(RewardItem)
            .where(RewardItem.id == redemption.item_id)
            .values(reserved=RewardItem.reserved - 1)
            .execution_options(synchronize_session=False)
        )
    if redemption.hold_id is None:
        return
    try:
        await ledger.void_hold(session, redemption.hold_id, key=f"redemption:{redemption.id}:void")
    except ledger.HoldNotPending:
        pass  # the ledger's own expiry released it already


def _refusal(redemption: Redemption) -> DomainError:
    if redemption.status == RedemptionStatus.CONFIRMED:
        return CodeUsed()
    if redemption.status == RedemptionStatus.CANCELLED:
        return CodeCancelled()
    return CodeExpired()


async def cancel_redemption(
    session: AsyncSession, member_id: int, redemption_id: int, *, now: datetime | None = None
) -> Issued:
    """The member gives a code back before using it; its hold is released. Cancelling it
    again answers as the first time."""
    now = now or utcnow()
    redemption = await session.get(Redemption, redemption_id)
    if redemption is None or redemption.member_id != member_id:
        raise NotFound()
    closed = await _close(session, redemption_id, RedemptionStatus.CANCELLED, now)
    if closed is None:
        current = await session.get(Redemption, redemption_id, populate_existing=True)
        assert current is not None
        if current.status != RedemptionStatus.CANCELLED:
            raise _refusal(current)
        return await code_of(session, member_id, redemption_id)
    await _release(session, closed)
    return await code_of(session, member_id, redemption_id)


async def expire_due_redemptions(
    session: AsyncSession, *, now: datetime | None = None, limit: int = 200
) -> list[int]:
    """Expire unused codes whose time has passed, release their holds and tell the members.

    Idempotent: an expired code is no longer pending. On PostgreSQL, codes being confirmed
    this instant are skipped (SKIP LOCKED); confirming checks the time itself.
    """
    now = now or utcnow()
    due = list(
        await session.scalars(
            select(Redemption.id)
            .where(Redemption.status == RedemptionStatus.PENDING, Redemption.expires_at <= now)
            .order_by(Redemption.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    expired = []
    for redemption_id in due:
        closed = await _close(session, redemption_id, RedemptionStatus.EXPIRED, now)
        if closed is None:
            continue
        await _release(session, closed)
        await outbox.enqueue(
            session,
            key=f"redemption:{redemption_id}:expired",
            member_id=closed.member_id,
            kind=Kind.REDEMPTION_EXPIRED,
            payload={"redemption_id": redemption_id, "minutes": closed.minutes},
        )
        expired.append(redemption_id)
    if expired:
        log_event(log, "redemptions expired", count=len(expired))
    return expired


# ---------------------------------------------------------------- at the shop


@dataclass(frozen=True, slots=True)
class AtCounter:
    """What staff see of a code: the item and the member's first name, nothing more."""

    redemption_id: int
    code: str
    item_names: dict[str, str]
    minutes: int
    member_first_name: str
    expires_at: datetime
    status: str
    confirmed_at: datetime | None = None
    posting_id: int | None = None
    replayed: bool = False


async def _for_staff(
    session: AsyncSession, staff_id: int, reference: str
) -> tuple[Redemption, RewardItem, Member, Merchant]:
    merchant = await staff_merchant(session, staff_id)
    parsed = _reference(reference)
    if parsed is None:
        raise CodeNotValid()
    column = Redemption.token if parsed[0] == "token" else Redemption.code
    redemption = await session.scalar(
        select(Redemption).where(column == parsed[1]).execution_options(populate_existing=True)
    )
    if redemption is None:
        raise CodeNotValid()
    if redemption.merchant_id != merchant.id:
        raise NotYourShop()
    item = await session.get(RewardItem, redemption.item_id)
    member = await session.get(Member, redemption.member_id)
    assert item is not None and member is not None
    return redemption, item, member, merchant


def _at_counter(
    redemption: Redemption, item: RewardItem, member: Member, *, replayed: bool = False
) -> AtCounter:
    assert redemption.id is not None
    return AtCounter(
        redemption_id=redemption.id,
        code=shown_code(redemption.code),
        item_names=dict(item.names),
        minutes=redemption.minutes,
        member_first_name=first_name(member.name),
        expires_at=redemption.expires_at,
        status=redemption.status,
        confirmed_at=redemption.confirmed_at,
        posting_id=redemption.transaction_id,
        replayed=replayed,
    )


async def look_up_code(
    session: AsyncSession, staff_id: int, reference: str, *, now: datetime | None = None
) -> AtCounter:
    """A code typed at the counter, or the token of a scanned QR, before confirming it."""
    now = now or utcnow()
    redemption, item, member, _ = await _for_staff(session, staff_id, reference)
    if redemption.status != RedemptionStatus.PENDING or redemption.expires_at <= now:
        raise _refusal(redemption)
    return _at_counter(redemption, item, member)


async def confirm_redemption(
    session: AsyncSession, staff_id: int, reference: str, *, now: datetime | None = None
) -> AtCounter:
    """Staff hand the item over: the hold is posted to the shop, the item leaves the shelf,
    and both sides get a receipt. Confirming a confirmed code again posts nothing and
    answers `replayed`; a code of another shop, expired or cancelled is refused.

    The straight path is `hot_path`'s read and write; a code not pending, of another shop,
    or a race lost to a cancellation goes to `_confirm_by_orm`, which explains it."""
    now = now or utcnow()
    parsed = _reference(reference)
    if parsed is not None:
        conn = await _flushed_connection(session)
        done = await hot_path.in_one_call(
            conn,
            hot_path.confirm_work(
                staff_id, parsed[0] == "token", parsed[1], now,
                conn.dialect.name == "postgresql", _receipts(staff_id),
            ),
        )  # fmt: skip
        facts = done.facts
        if done.status == "hold" and facts is not None:
            raise ledger.HoldExpired(hold_id=facts.hold_id)
        if done.status == "ok" and facts is not None:
            log_event(
                log, "redemption confirmed",
                redemption_id=facts.redemption_id, posting_id=done.transaction_id,
            )  # fmt: skip
            return AtCounter(
                redemption_id=facts.redemption_id,
                code=shown_code(facts.code),
                item_names=dict(facts.item_names),
                minutes=facts.minutes,
                member_first_name=first_name(facts.member_name),
                expires_at=facts.expires_at,
                status=RedemptionStatus.CONFIRMED,
                confirmed_at=now,
                posting_id=done.transaction_id,
            )
    return await _confirm_by_orm(session, staff_id, reference, now=now)


def _receipts(staff_id: int):
    """The outbox rows of both receipts, from what the counter read."""

    def receipts(facts: hot_path.CounterFacts) -> dict[str, object]:
        receipt = {
            "redemption_id": facts.redemption_id,
            "minutes": facts.minutes,
            "item": dict(facts.item_names),
            "merchant": facts.merchant_name,
        }
        prefix = f"redemption:{facts.redemption_id}:receipt"
        return {
            "member_key": f"{prefix}:member",
            "member_to": facts.member_id,
            "member_kind": Kind.REDEMPTION_RECEIPT.value,
            "member_payload": receipt,
            "shop_key": f"{prefix}:shop",
            "shop_to": staff_id,
            "shop_kind": Kind.REDEMPTION_SHOP_RECEIPT.value,
            "shop_payload": {**receipt, "member": first_name(facts.member_name)},
        }

    return receipts


async def _confirm_by_orm(
    session: AsyncSession, staff_id: int, reference: str, *, now: datetime
) -> AtCounter:
    """The whole of confirming through the ORM: replays and the reason for a refusal."""
    redemption, item, member, merchant = await _for_staff(session, staff_id, reference)
    assert redemption.id is not None and redemption.hold_id is not None
    won = (
        await session.execute(
            update(Redemption)
            .where(
                Redemption.id == redemption.id,
                Redemption.status == RedemptionStatus.PENDING,
                Redemption.expires_at > now,
            )
            .values(
                status=RedemptionStatus.CONFIRMED,
                confirmed_at=now,
                confirmed_by_id=staff_id,
                closed_at=now,
            )
            .returning(Redemption.id)
            .execution_options(synchronize_session=False)
        )
    ).scalar()
    if won is None:
        current = await session.get(Redemption, redemption.id, populate_existing=True)
        assert current is not None
        if current.status == RedemptionStatus.CONFIRMED:
            return _at_counter(current, item, member, replayed=True)
        raise _refusal(current)
    # The item's row before the accounts', the order redeeming locks them in (PostgreSQL).
    if redemption.reserved:
        await session.execute(
            update(RewardItem)
            .where(RewardItem.id == item.id)
            .values(
                stock=RewardItem.stock - 1,  # NULL (made unlimited since) stays NULL
                reserved=RewardItem.reserved - 1,
            )
            .execution_options(synchronize_session=False)
        )
    posting = await ledger.post_hold(
        session,
        redemption.hold_id,
        key=f"redemption:{redemption.id}:post",
        actor=Actor(member_id=staff_id),
    )
    redemption.transaction_id = posting.id
    redemption.status = RedemptionStatus.CONFIRMED
    redemption.confirmed_at = redemption.closed_at = now
    redemption.confirmed_by_id = staff_id
    await session.flush()
    receipt = {
        "redemption_id": redemption.id,
        "minutes": redemption.minutes,
        "item": dict(item.names),
        "merchant": merchant.name,
    }
    await outbox.enqueue(
        session,
        key=f"redemption:{redemption.id}:receipt:member",
        member_id=redemption.member_id,
        kind=Kind.REDEMPTION_RECEIPT,
        payload=receipt,
    )
    await outbox.enqueue(
        session,
        key=f"redemption:{redemption.id}:receipt:shop",
        member_id=staff_id,
        kind=Kind.REDEMPTION_SHOP_RECEIPT,
        payload={**receipt, "member": first_name(member.name)},
    )
    log_event(log, "redemption confirmed", redemption_id=redemption.id, posting_id=posting.id)
    return _at_counter(redemption, item, member)
