"""What spending hours, the shop's counter, the shop admin and recognition look like: plain
text-and-button functions, in the reader's language. Every shop, item and member name is
escaped: they are typed by members."""

from __future__ import annotations

from datetime import date, datetime
from html import escape
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.keyboard import InlineKeyboardBuilder
from babel.dates import format_skeleton

from bot.handlers.rewards.callbacks import (
    Counter,
    CounterAct,
    Honour,
    HonourAct,
    Mine,
    MineAct,
    ShopAdmin,
    ShopAdminAct,
    Spend,
    SpendAct,
)
from bot.kit import labels
from bot.kit.formatters import distance_text, duration_text, language
from bot.kit.times import clock, day_text
from core.catalog import localized
from core.rewards.merchants import CATEGORIES
from core.rewards.recognition import Leader
from core.rewards.redemption import AtCounter, Issued, Shelf, ShelfItem
from core.rewards.shop_reports import Sales
from core.rewards.tables import Merchant, MerchantInvite, RewardItem

ALL_CATEGORIES = __("🛍 Everything")
GET_CODE = __("🎟 Get a code")
MY_CODES = __("🎟 My codes")
CANCEL_CODE = __("✖️ Give this code back")
CANCEL_CODE_YES = __("Yes, give it back")
KEEP_CODE = __("↩️ Keep it")
SHOW_CODE = __("🎟 {item}")
CONFIRM_HANDOVER = __("✅ Hand it over")
TYPE_CODE = __("⌨️ Type a code")
MY_ITEMS = __("📦 My items")
ADD_ITEM = __("➕ Add an item")
SALES_TODAY = __("🧾 Today")
SALES_MONTH = __("📅 This month")
THIS_MONTH_PDF = __("📄 This month (PDF)")
THIS_MONTH_CSV = __("📊 This month (CSV)")
LAST_MONTH_PDF = __("📄 Last month (PDF)")
LAST_MONTH_CSV = __("📊 Last month (CSV)")
REGISTER_SHOP = __("➕ Add a partner shop")
ALL_SHOPS = __("⬅️ All shops")
INVITE_STAFF = __("🔑 A code for someone who works there")
SETTLE = __("💱 Settle hours")
HIDE_ITEM = __("🙈 Hide {item}")
SHOW_ITEM = __("👁 Show {item}")
SEND_CERTIFICATES = __("🏅 Send certificates")
THIS_YEAR = __("This year")
LAST_YEAR = __("Last year")
THIS_MONTH = __("This month")
LAST_MONTH = __("Last month")
OFF_LEADERBOARD = __("🙈 Keep me off the leaderboard")
ON_LEADERBOARD = __("🏅 I may appear on the leaderboard")

CATEGORY_EMOJI = {"groceries": "🛒", "meals": "🍜", "services": "🧺", "leisure": "🎬"}


def hours(minutes: int) -> str:
    return duration_text(minutes)


def item_name(names: dict[str, str]) -> str:
    return escape(localized(names, language()))


def category_name(code: str) -> str:
    return f"{CATEGORY_EMOJI.get(code, '🛍')} {localized(CATEGORIES[code], language())}"


def local_time(at: datetime, time_zone: str, now: datetime) -> str:
    """ "Today, 3 December at 15:30" in the branch's time zone."""
    zone = ZoneInfo(time_zone)
    shown = at.astimezone(zone)
    day = day_text(shown.date(), now.astimezone(zone).date(), short=True)
    return _("{day} at {time}").format(day=day, time=clock(shown.time()))


def local_day(at: datetime | date, time_zone: str) -> str:
    shown = at.astimezone(ZoneInfo(time_zone)).date() if isinstance(at, datetime) else at
    return format_skeleton("yMMMd", shown, locale=language())


# ---------------------------------------------------------------- the shelf


def _left(left: int | None) -> str:
    if left is None:
        return ""
    if left == 0:
        return _("all gone")
    return _("{count} left").format(count=left)


def shelf_line(item: ShelfItem) -> str:
    parts = [hours(item.price_minutes)]
    if item.left is not None:
        parts.append(_left(item.left))
    if item.distance_m is not None:
        parts.append(distance_text(item.distance_m))
    mark = "✅" if item.affordable else "▫️"
    return f"{mark} <b>{item_name(item.names)}</b>\n    {escape(item.merchant_name)} · " + (
        " · ".join(parts)
    )


def shelf_text(shelf: Shelf, category: str) -> str:
    lines = [_("🎁 <b>Spend my hours</b>")]
    if category:
        lines.append(category_name(category))
    lines.append(_("You can spend {hours} now.").format(hours=hours(shelf.spendable)))
    if shelf.available != shelf.spendable:
        lines.append(
            _("Your balance less what is set aside: {hours}").format(hours=hours(shelf.available))
        )
    lines.append("")
    if not shelf.items:
        lines.append(_("Nothing is offered here at the moment."))
        return "\n".join(lines)
    lines += [shelf_line(item) for item in shelf.items]
    lines += ["", _("✅ you have enough hours for it. Tap an item to see more.")]
    return "\n".join(lines)


def shelf_buttons(shelf: Shelf, category: str, *, has_codes: bool) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    sizes = []
    for item in shelf.items:
        buttons.button(
            text=f"{localized(item.names, language())} · {hours(item.price_minutes)}",
            callback_data=Spend(
                action=SpendAct.ITEM, item_id=item.item_id, category=category, offset=shelf.offset
            ),
        )
        sizes.append(1)
    nav = 0
    if shelf.offset > 0:
        buttons.button(
            text="◀",
            callback_data=Spend(
                action=SpendAct.SHELF, category=category, offset=max(0, shelf.offset - 5)
            ),
        )
        nav += 1
    if shelf.has_more:
        buttons.button(
            text="▶",
            callback_data=Spend(
                action=SpendAct.SHELF, category=category, offset=shelf.offset + len(shelf.items)
            ),
        )
        nav += 1
    if nav:
        sizes.append(nav)
    for code in ("", *CATEGORIES):
        if code == category:
            continue
        text = str(ALL_CATEGORIES) if not code else category_name(code)
        buttons.button(text=text, callback_data=Spend(action=SpendAct.SHELF, category=code))
    sizes += [2, 2]
    if has_codes:
        buttons.button(text=str(MY_CODES), callback_data=Spend(action=SpendAct.MINE))
        sizes.append(1)
    buttons.adjust(*sizes)
    return buttons.as_markup()


def item_text(item: ShelfItem) -> str:
    lines = [f"<b>{item_name(item.names)}</b>"]
    description = localized(item.descriptions, language()) if item.descriptions else ""
    if description:
        lines.append(escape(description))
    lines.append("")
    lines.append(_("🏪 {shop}").format(shop=escape(item.merchant_name)))
    if item.distance_m is not None:
        lines.append(
            _("📍 {distance} from your home").format(distance=distance_text(item.distance_m))
        )
    lines.append(_("⏳ Price: {hours}").format(hours=hours(item.price_minutes)))
    if item.left is not None:
        lines.append(_("📦 {left}").format(left=_left(item.left)))
    if not item.affordable and item.left != 0:
        lines += [
            "",
            _("You do not have enough hours for this yet. Helping a neighbour earns more."),
        ]
    return "\n".join(lines)


def item_buttons(item: ShelfItem, category: str, offset: int) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    if item.affordable:
        buttons.button(
            text=str(GET_CODE), callback_data=Spend(action=SpendAct.REDEEM, item_id=item.item_id)
        )
    buttons.button(
        text=str(labels.BACK),
        callback_data=Spend(action=SpendAct.SHELF, category=category, offset=offset),
    )
    buttons.adjust(1)
    return buttons.as_markup()


def code_caption(issued: Issued, time_zone: str, now: datetime) -> str:
    return "\n".join(
        [
            _("🎟 Your code for <b>{item}</b>").format(item=item_name(issued.item_names)),
            "",
            f"<b><code>{issued.code}</code></b>",
            "",
            _("🏪 {shop}").format(shop=escape(issued.merchant_name)),
            *([f"📍 {escape(issued.merchant_address)}"] if issued.merchant_address else []),
            _("⏳ {hours} are set aside for it.").format(hours=hours(issued.minutes)),
            _("Valid until {time}.").format(time=local_time(issued.expires_at, time_zone, now)),
            "",
            _("Show this picture at the shop, or read them the code. It works once."),
        ]
    )


def code_buttons(issued: Issued) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    buttons.button(
        text=str(CANCEL_CODE),
        callback_data=Spend(action=SpendAct.CANCEL, redemption_id=issued.redemption_id),
    )
    return buttons.as_markup()


def cancel_question(issued: Issued) -> tuple[str, InlineKeyboardMarkup]:
    buttons = InlineKeyboardBuilder()
    buttons.button(
        text=str(CANCEL_CODE_YES),
        callback_data=Spend(action=SpendAct.CANCEL_YES, redemption_id=issued.redemption_id),
    )
    buttons.button(
        text=str(KEEP_CODE),
        callback_data=Spend(action=SpendAct.SHOW, redemption_id=issued.redemption_id),
    )
    buttons.adjust(2)
    text = _("Give back your code for {item}? The {hours} set aside come back to you.").format(
        item=item_name(issued.item_names), hours=hours(issued.minutes)
    )
    return text, buttons.as_markup()


def cancelled_text(issued: Issued) -> str:
    return _("Okay, the code for {item} is given back. {hours} are yours to spend again.").format(
        item=item_name(issued.item_names), hours=hours(issued.minutes)
    )


def my_codes(
    codes: list[Issued], time_zone: str, now: datetime
) -> tuple[str, InlineKeyboardMarkup]:
    buttons = InlineKeyboardBuilder()
    if not codes:
        text = _("You have no codes to use at the moment.")
    else:
        lines = [_("🎟 <b>Your codes</b>"), ""]
        for issued in codes:
            lines.append(
                _("{item} at {shop}, until {time}").format(
                    item=item_name(issued.item_names),
                    shop=escape(issued.merchant_name),
                    time=local_time(issued.expires_at, time_zone, now),
                )
            )
            buttons.button(
                text=str(SHOW_CODE).format(item=localized(issued.item_names, language())),
                callback_data=Spend(action=SpendAct.SHOW, redemption_id=issued.redemption_id),
            )
        text = "\n".join(lines)
    buttons.button(text=str(labels.BACK), callback_data=Spend(action=SpendAct.SHELF))
    buttons.adjust(1)
    return text, buttons.as_markup()


# ---------------------------------------------------------------- at the counter


def counter_text(seen: AtCounter, time_zone: str, now: datetime) -> str:
    return "\n".join(
        [
            _("🎟 Code <b>{code}</b>").format(code=seen.code),
            _("Item: <b>{item}</b>").format(item=item_name(seen.item_names)),
            _("For: {name}").format(name=escape(seen.member_first_name)),
            _("Paid with: {hours}").format(hours=hours(seen.minutes)),
            _("Valid until {time}.").format(time=local_time(seen.expires_at, time_zone, now)),
            "",
            _("Hand the item over, then tap the button."),
        ]
    )


def counter_buttons(seen: AtCounter) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    buttons.button(
        text=str(CONFIRM_HANDOVER),
        callback_data=Counter(action=CounterAct.CONFIRM, code=seen.code.replace("-", "")),
    )
    return buttons.as_markup()


def confirmed_text(seen: AtCounter) -> str:
    if seen.replayed:
        return _("This code was already confirmed. Nothing more was taken.")
    return _("✅ Done: {item} for {name}. {hours} are in the shop's account.").format(
        item=item_name(seen.item_names),
        name=escape(seen.member_first_name),
        hours=hours(seen.minutes),
    )


def shop_panel(merchant: Merchant) -> tuple[str, InlineKeyboardMarkup]:
    text = "\n".join(
        [
            _("🏪 <b>{shop}</b>").format(shop=escape(merchant.name)),
            _("To take a code, scan the member's picture with your phone's camera, or type it."),
        ]
    )
    buttons = InlineKeyboardBuilder()
    for label, data in (
        (TYPE_CODE, Counter(action=CounterAct.TYPE_CODE)),
        (ADD_ITEM, Counter(action=CounterAct.ADD_ITEM)),
        (MY_ITEMS, Counter(action=CounterAct.ITEMS)),
        (SALES_TODAY, Counter(action=CounterAct.SALES, period="today")),
        (SALES_MONTH, Counter(action=CounterAct.SALES, period="month")),
        (THIS_MONTH_PDF, Counter(action=CounterAct.STATEMENT, fmt="pdf")),
        (THIS_MONTH_CSV, Counter(action=CounterAct.STATEMENT, fmt="csv")),
        (LAST_MONTH_PDF, Counter(action=CounterAct.STATEMENT, fmt="pdf", months_back=1)),
        (LAST_MONTH_CSV, Counter(action=CounterAct.STATEMENT, fmt="csv", months_back=1)),
    ):
        buttons.button(text=str(label), callback_data=data)
    buttons.adjust(1, 2, 2, 2, 2)
    return text, buttons.as_markup()


def sales_text(sales: Sales, period: str, now: datetime) -> str:
    title = _("🧾 <b>Today</b>") if period == "today" else _("📅 <b>This month</b>")
    lines = [
        title,
        _("{count} codes taken, {hours} in all.").format(
            count=len(sales.lines), hours=hours(sales.minutes)
        ),
        "",
    ]
    for line in sales.lines[:30]:
        lines.append(
            f"{local_time(line.at, sales.time_zone, now)} · {item_name(line.item_names)}"
            f" · {escape(line.member_first_name)} · {hours(line.minutes)}"
        )
    return "\n".join(lines)


def catalogue_text(items: list[RewardItem]) -> str:
    if not items:
        return _("Your shop has no items yet. Tap “{add}” to add one.").format(add=ADD_ITEM)
    lines = [_("📦 <b>Your items</b>"), ""]
    for item in items:
        left = _("unlimited") if item.stock is None else _left(item.stock - item.reserved)
        hidden = _(" (hidden by the coordinator)") if item.hidden_at is not None else ""
        lines.append(f"• {item_name(item.names)} · {hours(item.price_minutes)} · {left}{hidden}")
    return "\n".join(lines)


# ---------------------------------------------------------------- coordinators


def shops_text(shops: list[Merchant]) -> tuple[str, InlineKeyboardMarkup]:
    buttons = InlineKeyboardBuilder()
    for shop in shops:
        buttons.button(
            text=f"🏪 {shop.name}",
            callback_data=ShopAdmin(action=ShopAdminAct.VIEW, merchant_id=shop.id or 0),
        )
    buttons.button(text=str(REGISTER_SHOP), callback_data=ShopAdmin(action=ShopAdminAct.REGISTER))
    buttons.adjust(1)
    text = (
        _("🏪 <b>Partner shops</b>")
        + "\n"
        + (_("Tap a shop to see it.") if shops else _("No partner shops yet."))
    )
    return text, buttons.as_markup()


def shop_admin(
    shop: Merchant, items: list[RewardItem], staff: int, balance: int
) -> tuple[str, InlineKeyboardMarkup]:
    lines = [_("🏪 <b>{shop}</b>").format(shop=escape(shop.name))]
    if shop.address:
        lines.append(f"📍 {escape(shop.address)}")
    lines.append(_("People who serve there: {count}").format(count=staff))
    lines.append(_("Hours received, not yet settled: {hours}").format(hours=hours(balance)))
    lines.append("")
    buttons = InlineKeyboardBuilder()
    for item in items:
        hidden = item.hidden_at is not None
        lines.append(
            f"{'🙈' if hidden else '•'} {item_name(item.names)} · {hours(item.price_minutes)}"
        )
        label = SHOW_ITEM if hidden else HIDE_ITEM
        buttons.button(
            text=str(label).format(item=localized(item.names, language())),
            callback_data=ShopAdmin(
                action=ShopAdminAct.SHOW if hidden else ShopAdminAct.HIDE,
                merchant_id=shop.id or 0,
                item_id=item.id or 0,
            ),
        )
    buttons.button(
        text=str(INVITE_STAFF),
        callback_data=ShopAdmin(action=ShopAdminAct.INVITE, merchant_id=shop.id or 0),
    )
    buttons.button(
        text=str(SETTLE),
        callback_data=ShopAdmin(action=ShopAdminAct.SETTLE, merchant_id=shop.id or 0),
    )
    buttons.button(text=str(ALL_SHOPS), callback_data=ShopAdmin(action=ShopAdminAct.LIST))
    buttons.adjust(1)
    return "\n".join(lines), buttons.as_markup()


def invite_text(
    shop: Merchant, invite: MerchantInvite, link: str, time_zone: str, now: datetime
) -> str:
    return "\n".join(
        [
            _("🔑 A code for one person who serves at {shop}:").format(shop=escape(shop.name)),
            "",
            f"<b><code>{invite.code}</code></b>",
            "",
            _("They open this link on their phone, or send me /start {payload}:").format(
                payload=f"mst-{invite.code}"
            ),
            escape(link),
            _("Valid until {time}, for one person.").format(
                time=local_time(invite.expires_at, time_zone, now)
            ),
        ]
    )


# ---------------------------------------------------------------- recognition


def periods(today: date) -> list[tuple[str, date, date]]:
    """This year, last year, this month, last month: (label, start, end exclusive)."""
    month_start = today.replace(day=1)
    next_month = date(month_start.year + (month_start.month == 12), month_start.month % 12 + 1, 1)
    last_month = date(
        month_start.year - (month_start.month == 1), (month_start.month - 2) % 12 + 1, 1
    )
    return [
        (str(THIS_YEAR), date(today.year, 1, 1), date(today.year + 1, 1, 1)),
        (str(LAST_YEAR), date(today.year - 1, 1, 1), date(today.year, 1, 1)),
        (str(THIS_MONTH), month_start, next_month),
        (str(LAST_MONTH), last_month, month_start),
    ]


def period_buttons(today: date, data: type[Honour] | type[Mine]) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    for label, start, end in periods(today):
        if data is Honour:
            callback = Honour(action=HonourAct.PERIOD, start=start.toordinal(), end=end.toordinal())
        else:
            callback = Mine(
                action=MineAct.CERTIFICATE, start=start.toordinal(), end=end.toordinal()
            )
        buttons.button(text=label, callback_data=callback)
    buttons.adjust(2)
    return buttons.as_markup()


def period_text(start: date, end: date) -> str:
    last = date.fromordinal(end.toordinal() - 1)
    return _("{start} to {end}").format(
        start=format_skeleton("yMMMd", start, locale=language()),
        end=format_skeleton("yMMMd", last, locale=language()),
    )


def leaderboard(
    leaders: list[Leader], chosen: set[int], start: date, end: date
) -> tuple[str, InlineKeyboardMarkup]:
    lines = [_("🏅 <b>Hours given, {period}</b>").format(period=period_text(start, end)), ""]
    buttons = InlineKeyboardBuilder()
    if not leaders:
        lines.append(_("Nobody has given hours in this period yet."))
    for rank, leader in enumerate(leaders, 1):
        mark = "☑️" if leader.member_id in chosen else "▫️"
        lines.append(f"{rank}. {escape(leader.name)} · {hours(leader.minutes)}")
        buttons.button(
            text=f"{mark} {leader.name}",
            callback_data=Honour(
                action=HonourAct.TOGGLE,
                start=start.toordinal(),
                end=end.toordinal(),
                member_id=leader.member_id,
            ),
        )
    if leaders:
        lines += ["", _("Tap the names of those to honour, then send their certificates.")]
    if chosen:
        buttons.button(
            text=str(SEND_CERTIFICATES),
            callback_data=Honour(
                action=HonourAct.SEND, start=start.toordinal(), end=end.toordinal()
            ),
        )
    buttons.adjust(1)
    return "\n".join(lines), buttons.as_markup()


def leaderboard_choice(off: bool) -> tuple[str, InlineKeyboardMarkup]:
    buttons = InlineKeyboardBuilder()
    if off:
        text = _("🏅 You are kept off the branch's leaderboard of hours given.")
        buttons.button(text=str(ON_LEADERBOARD), callback_data=Mine(action=MineAct.LEADERBOARD_ON))
    else:
        text = _("🏅 Your hours given may appear on the branch's leaderboard.")
        buttons.button(
            text=str(OFF_LEADERBOARD), callback_data=Mine(action=MineAct.LEADERBOARD_OFF)
        )
    return text, buttons.as_markup()
