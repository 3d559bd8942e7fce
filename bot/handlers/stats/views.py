"""How a branch's figures read in the chat: a few lines of text, one chart, and buttons."""

from __future__ import annotations

from html import escape

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.handlers.stats.callbacks import StatsAct, StatsAction
from bot.kit.formatters import duration_text
from bot.kit.times import days_text
from core.charts import Series
from core.stats import Counts, Figures

CSV = __("📄 The requests as CSV")
LAST_MONTH = __("📑 Last month's report")
TOP_CATEGORIES = 5


def stats_text(figures: Figures, branch: str, category_names: dict[int, str]) -> str:
    totals = figures.totals
    period = figures.period
    lines = [
        _("📊 <b>{branch}: this week</b>").format(branch=escape(branch)),
        days_text(period.first, period.last),
        "",
        _("🙋 Requests asked: {count}").format(count=totals.asked),
        _("🤝 Found a volunteer: {count}").format(count=totals.covered),
        _("✅ Done: {count}").format(count=totals.done),
        _("⌛ Nobody found in time: {count}").format(count=totals.lapsed),
        _("⚠️ Something went wrong: {count}").format(count=totals.disputed),
        _("⏳ Hours of help: {duration}").format(duration=duration_text(totals.minutes)),
        _("🙌 Volunteers who helped: {count}").format(count=figures.active_volunteers),
        _("🏠 Residents who asked: {count}").format(count=figures.active_residents),
        _("👋 New members: {count}").format(count=figures.new_members),
    ]
    busiest = _busiest(figures.by_category)
    if busiest:
        lines += ["", _("Most asked for:")]
        lines += [
            f"• {escape(category_names.get(key, '?'))}: {counts.asked}" for key, counts in busiest
        ]
    return "\n".join(lines)


def _busiest(by_category: dict[int, Counts]) -> list[tuple[int, Counts]]:
    asked = [(key, counts) for key, counts in by_category.items() if counts.asked]
    return sorted(asked, key=lambda item: -item[1].asked)[:TOP_CATEGORIES]


def chart_of(
    figures: Figures, category_names: dict[int, str]
) -> tuple[str, list[str], list[Series]]:
    """The chart's title, its category labels and its two series: asked and done."""
    rows = sorted(
        figures.by_category.items(),
        key=lambda item: (-item[1].asked, category_names.get(item[0], "")),
    )
    labels = [category_names.get(key, "?") for key, _counts in rows]
    series = [
        Series(_("Asked"), [counts.asked for _key, counts in rows]),
        Series(_("Done"), [counts.done for _key, counts in rows]),
    ]
    return _("Requests by kind of help"), labels, series


def stats_buttons(last_month_first: str) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    buttons.button(text=str(CSV), callback_data=StatsAction(action=StatsAct.CSV, period="week"))
    buttons.button(
        text=str(LAST_MONTH),
        callback_data=StatsAction(action=StatsAct.REPORT, first=last_month_first),
    )
    buttons.adjust(1)
    return buttons.as_markup()
