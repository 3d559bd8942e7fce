"""How things read, one wording per idea: durations, balances, distances, stars, categories,
descriptions, places and domain errors, in the reader's language. Times are `bot.kit.times`."""

from __future__ import annotations

from html import escape

from aiogram.utils.i18n import get_i18n
from aiogram.utils.i18n import gettext as _
from babel.numbers import format_decimal

from core import catalog
from core.errors import DomainError
from core.models import Category
from core.orders import Place


def language() -> str:
    return get_i18n().current_locale


def duration_text(minutes: int) -> str:
    """Whole minutes as people say them: "1 hour 30 min", "2 hours", "−45 min"."""
    sign = "−" if minutes < 0 else ""
    hours, rest = divmod(abs(minutes), 60)
    if hours == 0:
        text = _("{minutes} min").format(minutes=rest)
    elif hours == 1:
        text = _("1 hour") if rest == 0 else _("1 hour {minutes} min").format(minutes=rest)
    elif rest == 0:
        text = _("{hours} hours").format(hours=hours)
    else:
        text = _("{hours} hours {minutes} min").format(hours=hours, minutes=rest)
    return sign + text


def balance_text(minutes: int | None) -> str:
    return _("Your balance: {balance}").format(balance=duration_text(minutes or 0))


def distance_text(metres: int) -> str:
    hundreds = round(metres, -2)
    if hundreds < 1000:
        return _("{metres} m").format(metres=max(100, hundreds))
    km = format_decimal(hundreds / 1000, locale=language())
    return _("{km} km").format(km=km)


def stars(n: int) -> str:
    return "⭐" * n


def category_text(category: Category) -> str:
    return f"{category.emoji} {catalog.localized(category.names, language())}".strip()


def description_text(description: str, voice_file_id: str | None) -> str:
    if voice_file_id:
        return _("🎤 A voice message")
    if description:
        return f"💬 {escape(description)}"
    return _("💬 No details given")


def place_text(kind: str, address: str | None, *, show_address: bool) -> str:
    if kind == Place.LOCATION:
        return _("📍 At the location that was shared")
    if not show_address:
        return _("📍 The address is shown only to the volunteer who accepts")
    if kind == Place.HOME and not address:
        return _("🏠 At home. The volunteer who says yes will ask for the exact address.")
    if kind == Place.HOME:
        return _("🏠 At home: {address}").format(address=escape(address))
    return _("📍 {address}").format(address=escape(address or ""))


def error_text(error: DomainError) -> str:
    return _(error.key).format(**error.params)
