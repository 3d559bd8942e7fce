"""What Near me shows: plain texts and buttons, a page at a time, areas and distances and
never an address."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.handlers.market.callbacks import Act, Market
from bot.handlers.nearby.callbacks import Near, NearAction
from bot.handlers.rewards.callbacks import Spend, SpendAct
from bot.kit import labels
from bot.kit.formatters import category_text, distance_text, duration_text, language
from bot.kit.times import order_when_text
from core import catalog
from core.nearby import PAGE, NearbyPage, NearbyRequest

REQUESTS = __("🙋 Requests near me")
OFFERS = __("🤝 Neighbours' offers")
CLASSES = __("🎓 Classes")
SPACES = __("🅿️ Parking spaces")
PREVIOUS = __("◀ Previous")
NEXT = __("Next ▶")
SECTIONS = __("⬅️ Near me")


def area_text(area: dict[str, str] | None) -> str:
    if not area:
        return _("In our neighbourhood")
    return escape(catalog.localized(area, language()))


def far_text(metres: int | None) -> str:
    """How far, or nothing when there is no place on file to measure from."""
    return "" if metres is None else " · " + distance_text(metres)


def sections_text(is_volunteer: bool) -> str:
    lines = [_("📍 <b>Near me</b>"), _("What would you like to see near you?")]
    if is_volunteer:
        lines.append(_("Requests are shown with their area, never the address."))
    return "\n".join(lines)


def sections_buttons(
    is_volunteer: bool, events: Sequence[tuple[int, dict[str, str]]] = ()
) -> InlineKeyboardMarkup:
    """What there is near: requests (volunteers), offers, classes, parking, the shops'
    items ("Spend my hours") and the branch's market days ahead, by name."""
    buttons = InlineKeyboardBuilder()
    if is_volunteer:
        buttons.button(text=str(REQUESTS), callback_data=Near(action=NearAction.REQUESTS))
    buttons.button(text=str(OFFERS), callback_data=Near(action=NearAction.OFFERS))
    buttons.button(text=str(CLASSES), callback_data=Near(action=NearAction.CLASSES))
    buttons.button(text=str(SPACES), callback_data=Near(action=NearAction.SPACES))
    buttons.button(text=str(labels.MENU_SPEND), callback_data=Spend(action=SpendAct.SHELF))
    for event_id, names in events[:3]:
        buttons.button(
            text=f"🎪 {catalog.localized(names, language())}"[:60],
            callback_data=Market(action=Act.EVENT, event=event_id),
        )
    buttons.adjust(1)
    return buttons.as_markup()


def request_line(number: int, found: NearbyRequest) -> str:
    order = found.order
    lines = [
        f"<b>{number}.</b> <b>{escape(category_text(found.category))}</b>",
        "    🕒 " + order_when_text(order, found.time_zone, short=True),
        "    ⏳ " + _("About {duration}").format(duration=duration_text(order.estimated_minutes)),
        "    📍 " + area_text(found.area) + far_text(found.distance_m),
    ]
    if order.voice_file_id:
        lines.append("    " + _("🎤 A voice message"))
    elif order.description:
        lines.append(f"    💬 {escape(order.description[:120])}")
    return "\n".join(lines)


def requests_text(found: NearbyPage) -> str:
    lines = [_("🙋 <b>Requests near you</b>")]
    if not found.requests:
        if found.page:
            lines.append(_("There are no more."))
        else:
            lines.append(_("No open requests near you fit your skills and free times just now."))
        return "\n".join(lines)
    lines.append(_("Nearest first. The address is shown only to the volunteer who accepts."))
    first = found.page * PAGE + 1
    for number, request in enumerate(found.requests, start=first):
        lines += ["", request_line(number, request)]
    return "\n".join(lines)


def navigation(action: NearAction, page: int, has_more: bool) -> list[tuple[str, Near]]:
    """Previous / Next for a list, as (label, payload) pairs."""
    buttons = []
    if page > 0:
        buttons.append((str(PREVIOUS), Near(action=action, page=page - 1)))
    if has_more:
        buttons.append((str(NEXT), Near(action=action, page=page + 1)))
    return buttons


def requests_buttons(found: NearbyPage) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    first = found.page * PAGE + 1
    for number, request in enumerate(found.requests, start=first):
        buttons.button(
            text=_("✅ Accept {number}").format(number=number),
            callback_data=Near(action=NearAction.TAKE, item=request.order.id, page=found.page),
        )
    pairs = navigation(NearAction.REQUESTS, found.page, found.has_more)
    for label, data in pairs:
        buttons.button(text=label, callback_data=data)
    buttons.button(text=str(SECTIONS), callback_data=Near(action=NearAction.SECTIONS))
    buttons.adjust(*([1] * len(found.requests)), *([len(pairs)] if pairs else []), 1)
    return buttons.as_markup()
