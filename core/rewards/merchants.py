"""Partner merchants: registered by a coordinator, staffed by invite, with a catalogue.

A merchant belongs to one branch and has a ledger account of the merchant kind, where the
hours members spend there arrive. Its staff join with a one-day code a coordinator gives
them; a member serves at one shop at most. Items are priced in whole minutes, named in the
bank's languages, and a coordinator may hide one (it stays for the redemptions made of it).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import ledger, members, typed
from core.coordinators import coordinator_of
from core.db import utcnow
from core.errors import N_, DomainError, InvalidInput, NotFound
from core.languages import LANGUAGES
from core.rewards.tables import (
    Merchant,
    MerchantInvite,
    MerchantStaff,
    RewardItem,
    RewardSettings,
)

INVITE_TTL = timedelta(hours=24)
INVITE_DIGITS = 8
MAX_PRICE_MINUTES = 100 * 60
MAX_STOCK = 100_000
MAX_CODE_MINUTES = 7 * 24 * 60

# The shelves of "Spend my hours", in the order they are offered.
CATEGORIES: dict[str, dict[str, str]] = {
    "groceries": {"zh_Hans": "粮油日用", "ko": "식료품·생활용품", "en": "Groceries"},
    "meals": {"zh_Hans": "餐饮", "ko": "식사", "en": "Meals"},
    "services": {"zh_Hans": "生活服务", "ko": "생활 서비스", "en": "Services"},
    "leisure": {"zh_Hans": "文体休闲", "ko": "문화·여가", "en": "Leisure"},
}


class CoordinatorOfBranchOnly(DomainError):
    key = N_("Only a coordinator of this branch can do this.")


class StaffOnly(DomainError):
    key = N_("Only people who serve at a partner shop can do this.")


class MerchantInviteNotValid(NotFound):
    key = N_(
        "That code does not work. Codes last one day; please ask the coordinator for a new one."
    )


class AlreadyStaff(DomainError):
    key = N_("You already serve at a partner shop.")


class ShopTextInvalid(InvalidInput):
    key = N_("Please type it as a short text, up to {maximum} letters.")


class ItemNamesInvalid(InvalidInput):
    key = N_("Please give the item a name of up to 100 letters.")


class PriceInvalid(InvalidInput):
    key = N_("Please give the price as a whole number of minutes from 1 to {maximum}.")


class StockInvalid(InvalidInput):
    key = N_("Please give the stock as a whole number from 0 to {maximum}, or leave it unlimited.")


class ValidityInvalid(InvalidInput):
    key = N_("The end of the offer must come after its start.")


class CategoryInvalid(InvalidInput):
    key = N_("Please choose one of the buttons.")


def clean_text(text: str, maximum: int, *, required: bool = True) -> str:
    cleaned = " ".join(text.split())
    if len(cleaned) > maximum or (required and not cleaned) or cleaned.startswith("/"):
        raise ShopTextInvalid(maximum=maximum)
    return cleaned


def clean_code(text: str) -> str:
    """A code as typed: spaces and dashes do not matter."""
    return typed.digits(text)


async def settings_of(session: AsyncSession, branch_id: int) -> RewardSettings:
    """The branch's reward rules; the defaults (not stored) when it has set none."""
    found = await session.get(RewardSettings, branch_id)
    return found if found is not None else RewardSettings(branch_id=branch_id)


async def set_reward_settings(
    session: AsyncSession,
    coordinator_id: int,
    branch_id: int,
    *,
    rewards_may_overdraw: bool | None = None,
    code_minutes: int | None = None,
    classes_paid_by: str | None = None,
    parking_minutes_per_hour: int | None = None,
) -> RewardSettings:
    """Change the branch's reward rules; what is not given stays as it is."""
    await coordinator_of(session, coordinator_id, branch_id)
    current = await settings_of(session, branch_id)
    values = {
        "rewards_may_overdraw": current.rewards_may_overdraw,
        "code_minutes": current.code_minutes,
        "classes_paid_by": current.classes_paid_by,
        "parking_minutes_per_hour": current.parking_minutes_per_hour,
    }
    if rewards_may_overdraw is not None:
        values["rewards_may_overdraw"] = bool(rewards_may_overdraw)
    if code_minutes is not None:
        if type(code_minutes) is not int or not 1 <= code_minutes <= MAX_CODE_MINUTES:
            raise InvalidInput()
        values["code_minutes"] = code_minutes
    if classes_paid_by is not None:
        if classes_paid_by not in ("pool", "attendees"):
            raise InvalidInput()
        values["classes_paid_by"] = classes_paid_by
    if parking_minutes_per_hour is not None:
        values["parking_minutes_per_hour"] = check_price(parking_minutes_per_hour, zero=True)
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    upsert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    now = utcnow()
    await session.execute(
        upsert(RewardSettings)
        .values(branch_id=branch_id, updated_at=now, **values)
        .on_conflict_do_update(index_elements=["branch_id"], set_={**values, "updated_at": now})
    )
    return RewardSettings(branch_id=branch_id, updated_at=now, **values)


# ---------------------------------------------------------------- merchants and staff


async def register_merchant(
    session: AsyncSession,
    coordinator_id: int,
    branch_id: int,
    *,
    name: str,
    address: str = "",
    latitude: float | None = None,
    longitude: float | None = None,
    contact: str = "",
) -> Merchant:
    """A new partner shop of the branch, with its (empty) ledger account opened."""
    await coordinator_of(session, coordinator_id, branch_id)
    if (latitude is None) != (longitude is None) or (
        latitude is not None and not (-90 <= latitude <= 90 and -180 <= longitude <= 180)
    ):
        raise InvalidInput()
    merchant = Merchant(
        branch_id=branch_id,
        name=clean_text(name, 100),
        address=clean_text(address, 300, required=False),
        latitude=latitude,
        longitude=longitude,
        contact=clean_text(contact, 100, required=False),
        created_by_id=coordinator_id,
    )
    session.add(merchant)
    await session.flush()
    assert merchant.id is not None
    await ledger.merchant_account(session, merchant.id, branch_id)
    return merchant


async def get_merchant(session: AsyncSession, merchant_id: int) -> Merchant:
    merchant = await session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound()
    return merchant


async def merchants_of_branch(session: AsyncSession, branch_id: int) -> list[Merchant]:
    return list(
        await session.scalars(
            select(Merchant).where(Merchant.branch_id == branch_id).order_by(Merchant.name)
        )
    )


async def invite_staff(
    session: AsyncSession, coordinator_id: int, merchant_id: int, *, now: datetime | None = None
) -> MerchantInvite:
    """A single-use code, valid one day, for one person who serves at the shop."""
    now = now or utcnow()
    merchant = await get_merchant(session, merchant_id)
    await coordinator_of(session, coordinator_id, merchant.branch_id)
    for _attempt in range(10):
        code = "".join(secrets.choice("0123456789") for _ in range(INVITE_DIGITS))
        invite = MerchantInvite(
            code=code,
            merchant_id=merchant.id,
            created_by_id=coordinator_id,
            expires_at=now + INVITE_TTL,
        )
        try:
            async with session.begin_nested():
                session.add(invite)
                await session.flush()
        except IntegrityError:
            continue
        return invite
    raise DomainError()


@dataclass(frozen=True, slots=True)
class Joined:
    merchant: Merchant
    replayed: bool


async def join_staff(
    session: AsyncSession, member_id: int, code: str, *, now: datetime | None = None
) -> Joined:
    """The member enters a shop's invite code and serves there from now on.

    Entering the same code again (a retry) is answered as the first time.
    """
    now = now or utcnow()
    await members.get_member(session, member_id)
    invite = await session.scalar(
        select(MerchantInvite).where(MerchantInvite.code == clean_code(code)).with_for_update()
    )
    if invite is None or invite.expires_at <= now:
        raise MerchantInviteNotValid()
    serving = await session.get(MerchantStaff, member_id)
    if invite.used_at is not None:
        if invite.used_by_id == member_id and serving is not None:
            return Joined(await get_merchant(session, invite.merchant_id), replayed=True)
        raise MerchantInviteNotValid()
    if serving is not None:
        raise AlreadyStaff()
    invite.used_at = now
    invite.used_by_id = member_id
    session.add(MerchantStaff(member_id=member_id, merchant_id=invite.merchant_id, joined_at=now))
    await session.flush()
    return Joined(await get_merchant(session, invite.merchant_id), replayed=False)


async def merchant_of_staff(session: AsyncSession, member_id: int) -> Merchant | None:
    """The shop the member serves at, if any: whether they have the merchant role."""
    return await session.scalar(
        select(Merchant)
        .join(MerchantStaff, MerchantStaff.merchant_id == Merchant.id)
        .where(MerchantStaff.member_id == member_id)
    )


async def staff_merchant(session: AsyncSession, member_id: int) -> Merchant:
    merchant = await merchant_of_staff(session, member_id)
    if merchant is None:
        raise StaffOnly()
    return merchant


async def staff_of(session: AsyncSession, merchant_id: int) -> list[int]:
    return list(
        await session.scalars(
            select(MerchantStaff.member_id)
            .where(MerchantStaff.merchant_id == merchant_id)
            .order_by(MerchantStaff.member_id)
        )
    )


# ---------------------------------------------------------------- the catalogue


def clean_texts(given: dict[str, str], maximum: int, *, required: bool) -> dict[str, str]:
    texts = {}
    for language, text in given.items():
        if language not in LANGUAGES:
            raise ItemNamesInvalid()
        cleaned = " ".join(text.split())
        if len(cleaned) > maximum:
            raise ShopTextInvalid(maximum=maximum)
        if cleaned:
            texts[language] = cleaned
    if required and not texts:
        raise ItemNamesInvalid()
    return texts


def check_price(minutes: object, *, zero: bool = False) -> int:
    if type(minutes) is not int or not (0 if zero else 1) <= minutes <= MAX_PRICE_MINUTES:
        raise PriceInvalid(maximum=MAX_PRICE_MINUTES)
    return minutes


def check_stock(stock: object) -> int | None:
    if stock is not None and (type(stock) is not int or not 0 <= stock <= MAX_STOCK):
        raise StockInvalid(maximum=MAX_STOCK)
    return stock


async def add_item(
    session: AsyncSession,
    staff_id: int,
    *,
    category: str,
    names: dict[str, str],
    price_minutes: int,
    descriptions: dict[str, str] | None = None,
    photo_file_id: str | None = None,
    stock: int | None = None,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
) -> RewardItem:
    """A staff member adds an item to their shop's catalogue (stock None: unlimited)."""
    merchant = await staff_merchant(session, staff_id)
    if category not in CATEGORIES:
        raise CategoryInvalid()
    if valid_from and valid_until and valid_until <= valid_from:
        raise ValidityInvalid()
    if photo_file_id is not None and not 0 < len(photo_file_id) <= 256:
        raise InvalidInput()
    item = RewardItem(
        merchant_id=merchant.id,
        category=category,
        names=clean_texts(names, 100, required=True),
        descriptions=clean_texts(descriptions or {}, 500, required=False),
        photo_file_id=photo_file_id,
        price_minutes=check_price(price_minutes),
        stock=check_stock(stock),
        valid_from=valid_from,
        valid_until=valid_until,
    )
    session.add(item)
    await session.flush()
    return item


async def _own_item(session: AsyncSession, staff_id: int, item_id: int) -> RewardItem:
    merchant = await staff_merchant(session, staff_id)
    item = await session.get(RewardItem, item_id, with_for_update=True)
    if item is None or item.merchant_id != merchant.id:
        raise NotFound()
    return item


async def set_stock(
    session: AsyncSession, staff_id: int, item_id: int, stock: int | None
) -> RewardItem:
    """What is on the shelf now. Codes already issued keep their share of it."""
    item = await _own_item(session, staff_id, item_id)
    stock = check_stock(stock)
    if stock is not None and stock < item.reserved:
        raise StockInvalid(maximum=MAX_STOCK)
    item.stock = stock
    await session.flush()
    return item


async def set_price(
    session: AsyncSession, staff_id: int, item_id: int, price_minutes: int
) -> RewardItem:
    """A new price, for codes issued from now on."""
    item = await _own_item(session, staff_id, item_id)
    item.price_minutes = check_price(price_minutes)
    await session.flush()
    return item


async def hide_item(
    session: AsyncSession,
    coordinator_id: int,
    item_id: int,
    *,
    hidden: bool = True,
    now: datetime | None = None,
) -> RewardItem:
    """A coordinator takes an item off the shelves (or puts it back). Issued codes still work."""
    item = await session.get(RewardItem, item_id)
    if item is None:
        raise NotFound()
    merchant = await get_merchant(session, item.merchant_id)
    await coordinator_of(session, coordinator_id, merchant.branch_id)
    item.hidden_at = (now or utcnow()) if hidden else None
    item.hidden_by_id = coordinator_id if hidden else None
    await session.flush()
    return item


async def catalogue(session: AsyncSession, staff_id: int) -> list[RewardItem]:
    """The staff member's own shop's items, hidden ones included."""
    merchant = await staff_merchant(session, staff_id)
    return list(
        await session.scalars(
            select(RewardItem).where(RewardItem.merchant_id == merchant.id).order_by(RewardItem.id)
        )
    )
