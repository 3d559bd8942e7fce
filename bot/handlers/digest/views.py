"""How the weekly digest reads: the choice of hour, and the digest itself."""

from __future__ import annotations

from datetime import time
from html import escape
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.keyboard import InlineKeyboardBuilder
from babel.dates import format_skeleton

from bot.handlers.digest.callbacks import DigestAct, DigestAction
from bot.kit.formatters import language
from bot.kit.times import clock
from core.catalog import localized
from core.digests import HOURS, Digest
from core.models import DigestSubscription

STOP = __("🔕 Stop the weekly news")


def choice_text(subscription: DigestSubscription | None) -> str:
    lines = [
        _("📰 <b>Weekly news</b>"),
        _(
            "Once a week, on Monday, a short message: requests you could help with, "
            "market days and what became of residents' needs."
        ),
    ]
    if subscription is None:
        lines.append(_("At what time would you like it? Tap one."))
    else:
        lines.append(
            _("You get it on Mondays at {time}. Tap another time to change it.").format(
                time=clock(time(subscription.local_hour))
            )
        )
    return "\n".join(lines)


def choice_buttons(subscription: DigestSubscription | None) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    for hour in HOURS:
        mark = "✅ " if subscription is not None and subscription.local_hour == hour else ""
        buttons.button(
            text=mark + clock(time(hour)),
            callback_data=DigestAction(action=DigestAct.ON, hour=hour),
        )
    if subscription is not None:
        buttons.button(text=str(STOP), callback_data=DigestAction(action=DigestAct.OFF))
    buttons.adjust(3, 3, 1)
    return buttons.as_markup()


def digest_text(digest: Digest) -> str:
    lang = language()
    zone = ZoneInfo(digest.time_zone)
    lines = [_("📰 <b>This week in your time bank</b>")]
    if digest.requests:
        lines += ["", _("🙋 Requests you could help with:")]
        for names, when in digest.requests:
            day = format_skeleton("MMMEd", when.astimezone(zone), locale=lang) if when else ""
            lines.append(f"• {escape(localized(names, lang))}" + (f" · {day}" if day else ""))
    if digest.market_days:
        lines += ["", _("🎪 Market days coming:")]
        for names, starts in digest.market_days:
            day = format_skeleton("MMMEd", starts.astimezone(zone), locale=lang)
            lines.append(f"• {escape(localized(names, lang))} · {day}")
    if digest.needs_moved:
        lines += [
            "",
            _("📝 Residents' needs planned or done this week: {count}").format(
                count=digest.needs_moved
            ),
        ]
    if len(lines) == 1:
        lines.append(_("A quiet week. Thank you for being part of it."))
    lines += ["", _("/digest changes the time or stops these messages.")]
    return "\n".join(lines)
