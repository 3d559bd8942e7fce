"""What standing offers look like in the chat: neighbours' offers nearest first, by kind of
help; "ask for this" and its time; a volunteer's own offers."""

from __future__ import annotations

from html import escape

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.handlers.nearby.callbacks import Near, NearAction
from bot.handlers.nearby.views import SECTIONS, far_text
from bot.handlers.offers.callbacks import OfferAction, OfferCb
from bot.handlers.volunteer_profile.handlers import availability_text
from bot.kit import labels
from bot.kit.formatters import language
from core import catalog
from core.models import Category
from core.rewards.offers import OfferCard
from core.rewards.tables import StandingOffer

MY_OFFERS = __("🤝 My offers")
OFFER_HELP = __("➕ Offer my help")
ALL_KINDS = __("All kinds")
TO_OFFERS = __("⬅️ Neighbours' offers")
# "Ask for this": when the help is wanted, as the request wizard's own buttons say it.
WHEN_CHOICES = (
    labels.ASAP,
    labels.TOMORROW_MORNING,
    labels.TOMORROW_AFTERNOON,
    labels.TOMORROW_EVENING,
)


def kind_text(names: dict[str, str]) -> str:
    return escape(catalog.localized(names, language()))


def offer_line(number: int, card: OfferCard) -> str:
    lines = [
        f"<b>{number}.</b> <b>{kind_text(card.category_names)}</b> · "
        + escape(card.volunteer_first_name)
        + far_text(card.distance_m)
    ]
    if card.description:
        lines.append(f"    💬 {escape(card.description)}")
    lines.append("    🗓 " + availability_text(card.availability))
    return "\n".join(lines)


def list_text(cards: list[OfferCard], page: int, first: int) -> str:
    lines = [_("🤝 <b>Neighbours' offers near you</b>")]
    if not cards:
        lines.append(_("There are no more.") if page else _("No offers of this kind near you yet."))
    else:
        lines.append(_("Tap “Ask” and I will ask that neighbour first."))
    for number, card in enumerate(cards, start=first):
        lines += ["", offer_line(number, card)]
    return "\n".join(lines)


def list_buttons(
    cards: list[OfferCard],
    first: int,
    navigation: list[tuple[str, Near]],
    kinds: list[Category],
    chosen: int,
    *,
    volunteer: bool,
) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    for number, card in enumerate(cards, start=first):
        buttons.button(
            text=_("🙋 Ask {number}").format(number=number),
            callback_data=OfferCb(action=OfferAction.ASK, item=card.offer_id),
        )
    for label, data in navigation:
        buttons.button(text=label, callback_data=data)
    shown_kinds = [kind for kind in kinds if kind.id != chosen][:6]
    if chosen:
        buttons.button(text=str(ALL_KINDS), callback_data=Near(action=NearAction.OFFERS))
    for kind in shown_kinds:
        buttons.button(
            text=f"{kind.emoji} {catalog.localized(kind.names, language())}".strip(),
            callback_data=Near(action=NearAction.OFFERS, item=kind.id),
        )
    extra = 0
    if volunteer:
        buttons.button(text=str(MY_OFFERS), callback_data=OfferCb(action=OfferAction.MINE))
        extra = 1
    buttons.button(text=str(SECTIONS), callback_data=Near(action=NearAction.SECTIONS))
    kind_rows = (len(shown_kinds) + (1 if chosen else 0) + 1) // 2
    buttons.adjust(
        *([2] * ((len(cards) + 1) // 2)),
        *([len(navigation)] if navigation else []),
        *([2] * kind_rows),
        *([1] * extra),
        1,
    )
    return buttons.as_markup()


def when_text(card_name: str) -> str:
    return _("🙋 When would you like {name}'s help?").format(name=escape(card_name))


def when_buttons(offer_id: int) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    for index, label in enumerate(WHEN_CHOICES):
        buttons.button(
            text=str(label),
            callback_data=OfferCb(action=OfferAction.WHEN, item=offer_id, value=index),
        )
    buttons.button(text=str(TO_OFFERS), callback_data=Near(action=NearAction.OFFERS))
    buttons.adjust(1)
    return buttons.as_markup()


def mine_text(offers: list[tuple[StandingOffer, Category]]) -> str:
    lines = [_("🤝 <b>Your offers</b>")]
    if not offers:
        lines.append(_("You offer nothing yet. Tap “➕ Offer my help”."))
    for offer, category in offers:
        line = f"• <b>{kind_text(category.names)}</b>"
        if offer.description:
            line += f": {escape(offer.description)}"
        lines.append(line)
    return "\n".join(lines)


def mine_buttons(offers: list[tuple[StandingOffer, Category]]) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    for offer, category in offers:
        buttons.button(
            text=_("✖️ Stop offering {kind}").format(
                kind=catalog.localized(category.names, language())
            ),
            callback_data=OfferCb(action=OfferAction.WITHDRAW, item=offer.id or 0),
        )
    buttons.button(text=str(OFFER_HELP), callback_data=OfferCb(action=OfferAction.NEW))
    buttons.button(text=str(TO_OFFERS), callback_data=Near(action=NearAction.OFFERS))
    buttons.adjust(1)
    return buttons.as_markup()


def kinds_text() -> str:
    return _("➕ What kind of help would you like to offer?")


def kinds_buttons(kinds: list[Category]) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    for kind in kinds:
        buttons.button(
            text=f"{kind.emoji} {catalog.localized(kind.names, language())}".strip(),
            callback_data=OfferCb(action=OfferAction.CATEGORY, item=kind.id or 0),
        )
    buttons.button(text=str(MY_OFFERS), callback_data=OfferCb(action=OfferAction.MINE))
    buttons.adjust(2)
    return buttons.as_markup()


def sent_text(name: str) -> str:
    return _(
        "✅ Sent! I have asked {name} first. If they cannot come, I will ask other "
        "volunteers near you."
    ).format(name=escape(name))


def sent_for_sponsor_text() -> str:
    return _(
        "✅ Sent. Your balance does not cover it yet, so a coordinator will look for someone "
        "to cover it first, then I will ask the volunteers."
    )
