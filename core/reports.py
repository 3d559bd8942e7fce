"""A branch's monthly report as a PDF: the month's figures, two charts (requests by week
and by kind of help) and the needs survey, in the coordinator's language, its CJK fonts
embedded (see `core.pdf_fonts`). The figures are `core.stats`'s, as the dashboard shows
them; a month still under way is counted up to today."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton
from sqlalchemy.ext.asyncio import AsyncSession

from core import catalog, charts, needs, pdf_fonts, stats
from core.coordinators import coordinator_of
from core.errors import InvalidInput
from core.models import Branch
from core.statements import Gettext, duration

# How far back a report may be asked for.
MAX_MONTHS_BACK = 36


class MonthInvalid(InvalidInput):
    pass


@dataclass(frozen=True, slots=True)
class MonthReport:
    branch: str
    month: date  # its first day
    figures: stats.Figures
    category_names: dict[int, str]
    needs: list[tuple[str, int, int, int]]  # name, open, planned, done
    time_zone: str


def month_period(first: date, today: date) -> stats.Period:
    """The whole month starting `first`, or up to today for the month under way."""
    if first.day != 1 or first > today or (today - first).days > MAX_MONTHS_BACK * 31:
        raise MonthInvalid()
    following = (first + timedelta(days=32)).replace(day=1)
    return stats.Period(stats.PeriodKind.CUSTOM, first, min(today, following - timedelta(days=1)))


def previous_month(today: date) -> date:
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


async def month_report(
    session: AsyncSession, *, coordinator_id: int, branch_id: int, first: date, language: str
) -> MonthReport:
    """The month's report data, for a coordinator of the branch."""
    await coordinator_of(session, coordinator_id, branch_id)
    branch = await session.get(Branch, branch_id)
    if branch is None:
        raise stats.UnknownBranch()
    period = month_period(first, stats.today_in(ZoneInfo(branch.time_zone)))
    figures = await stats.branch_figures(session, branch_id, period)
    names = {c.id: catalog.localized(c.names, language) for c in await catalog.categories(session)}
    survey = [
        (catalog.localized(c.category.names, language), c.open, c.planned, c.done)
        for c in await needs.needs_by_category(session, branch_id)
    ]
    return MonthReport(
        branch=catalog.localized(branch.names, language),
        month=first,
        figures=figures,
        category_names=names,
        needs=survey,
        time_zone=branch.time_zone,
    )


def _charts(report: MonthReport, language: str, gettext: Gettext) -> list[bytes]:
    figures = report.figures
    weeks = list(figures.by_week.items())
    by_week = charts.bar_chart(
        gettext("Requests by week"),
        [format_skeleton("MMMd", monday, locale=language) for monday, _counts in weeks],
        [
            charts.Series(gettext("Asked"), [counts.asked for _monday, counts in weeks]),
            charts.Series(gettext("Done"), [counts.done for _monday, counts in weeks]),
        ],
        language,
        horizontal=False,
    )
    rows = sorted(figures.by_category.items(), key=lambda item: -item[1].asked)
    by_category = charts.bar_chart(
        gettext("Requests by kind of help"),
        [report.category_names.get(key, "?") for key, _counts in rows],
        [
            charts.Series(gettext("Asked"), [counts.asked for _key, counts in rows]),
            charts.Series(gettext("Done"), [counts.done for _key, counts in rows]),
        ],
        language,
    )
    return [by_week, by_category]


def render_report(
    report: MonthReport, language: str, gettext: Gettext, *, generated_at: datetime
) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, Spacer, Table

    from core.pdf_pages import Typeset

    figures, totals = report.figures, report.figures.totals
    title = gettext("Monthly report")
    heading = f"{report.branch} · {title}"
    month = format_skeleton("yMMMM", report.month, locale=language)
    as_of = gettext("As of {date}").format(
        date=format_skeleton(
            "yMMMd", generated_at.astimezone(ZoneInfo(report.time_zone)), locale=language
        )
    )
    facts = [
        (gettext("Requests asked"), str(totals.asked)),
        (gettext("Found a volunteer"), str(totals.covered)),
        (gettext("Done"), str(totals.done)),
        (gettext("Nobody found in time"), str(totals.lapsed)),
        (gettext("Something went wrong"), str(totals.disputed)),
        (gettext("Hours of help"), duration(totals.minutes, gettext)),
        (gettext("Volunteers who helped"), str(figures.active_volunteers)),
        (gettext("Residents who asked"), str(figures.active_residents)),
        (gettext("New members"), str(figures.new_members)),
    ]
    survey_title = gettext("Needs survey")
    header = [gettext("Kind of need"), gettext("Open"), gettext("Planned"), gettext("Done")]
    survey = [[name, str(a), str(b), str(c)] for name, a, b, c in report.needs]
    fonts = pdf_fonts.document_fonts(
        language,
        [heading, title, month, as_of, survey_title, *header]
        + [text for pair in facts for text in pair]
        + [text for row in survey for text in row],
    )

    typeset = Typeset(fonts, size=10)
    para, cell_font = typeset.para, typeset.cell_font
    buffer = io.BytesIO()
    doc = typeset.document(buffer, title=f"{title} {month}", author=report.branch)
    story: list = [
        para(heading, 16, bold=True),
        para(month, 12),
        para(as_of, 9),
        Spacer(1, 4 * mm),
        typeset.facts(facts, label_width=80 * mm),
        Spacer(1, 4 * mm),
    ]
    for png in _charts(report, language, gettext):
        image = Image(io.BytesIO(png))
        scale = doc.width / image.imageWidth
        image.drawWidth, image.drawHeight = doc.width, image.imageHeight * scale
        story += [image, Spacer(1, 4 * mm)]
    story.append(para(survey_title, 12, bold=True))
    story.append(
        Table(
            [[para(text, bold=True) for text in header]]
            + [[para(text) for text in row] for row in survey],
            colWidths=[80 * mm, 25 * mm, 25 * mm, 25 * mm],
            hAlign="LEFT",
            repeatRows=1,
            style=[
                cell_font,
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
                ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.lightgrey),
            ],
        )
    )
    doc.build(story)
    return buffer.getvalue()


def report_name(branch_code: str, first: date) -> str:
    return f"report-{branch_code}-{first.strftime('%Y-%m')}.pdf"
