"""A branch's figures for a period match a month of activity worked out by hand."""

from __future__ import annotations

from datetime import date

import pytest

from core.stats import Counts, PeriodInvalid, PeriodKind, branch_figures, period_of
from tests.figures import EXPECTED, seed_november

NOVEMBER = period_of("custom", date(2026, 12, 3), date(2026, 11, 1), date(2026, 11, 30))


async def test_a_month_of_figures_in_the_branch_time_zone(sessions) -> None:
    ids = await seed_november(sessions)
    async with sessions() as s:
        figures = await branch_figures(s, ids["branch"], NOVEMBER)
    totals = figures.totals
    assert {
        "asked": totals.asked,
        "covered": totals.covered,
        "done": totals.done,
        "lapsed": totals.lapsed,
        "cancelled": totals.cancelled,
        "disputed": totals.disputed,
        "minutes": totals.minutes,
        "active_volunteers": figures.active_volunteers,
        "active_residents": figures.active_residents,
        "new_members": figures.new_members,
    } == EXPECTED
    assert figures.by_category == {
        ids["category_0"]: Counts(asked=3, covered=2, done=1, lapsed=1, disputed=1, minutes=90),
        ids["category_1"]: Counts(asked=2, covered=2, done=1, minutes=60),
    }
    assert figures.by_neighbourhood[ids["area"]] == Counts(asked=2, covered=2, disputed=1)
    assert sum(c.asked for c in figures.by_neighbourhood.values()) == 5
    # 1 November 2026 is a Sunday: its week starts on Monday 26 October.
    assert list(figures.by_week) == [
        date(2026, 10, 26), date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16),
        date(2026, 11, 23), date(2026, 11, 30),
    ]  # fmt: skip
    assert figures.by_week[date(2026, 10, 26)] == Counts(asked=1, covered=1, done=1)
    assert figures.by_week[date(2026, 11, 9)] == Counts(asked=1, covered=1, done=1, minutes=90)
    assert figures.by_week[date(2026, 11, 23)] == Counts(
        asked=3, covered=2, lapsed=1, disputed=1, minutes=60
    )


async def test_a_week_with_nothing_in_it(sessions) -> None:
    ids = await seed_november(sessions)
    quiet = period_of("custom", date(2026, 12, 3), date(2026, 11, 2), date(2026, 11, 8))
    async with sessions() as s:
        figures = await branch_figures(s, ids["branch"], quiet)
    assert figures.totals == Counts()
    assert figures.active_volunteers == figures.new_members == 0
    assert figures.by_week == {date(2026, 11, 2): Counts()}


def test_periods() -> None:
    today = date(2026, 12, 3)  # a Thursday
    assert period_of("week", today).first == date(2026, 11, 30)
    assert period_of("month", today).first == date(2026, 12, 1)
    year = period_of("year", today)
    assert (year.kind, year.first, year.last) == (PeriodKind.YEAR, date(2026, 1, 1), today)
    for bad in [
        ("fortnight", None, None),
        ("custom", None, None),
        ("custom", date(2026, 5, 2), date(2026, 5, 1)),
        ("custom", date(2025, 1, 1), date(2026, 5, 1)),
    ]:
        with pytest.raises(PeriodInvalid):
            period_of(bad[0], today, bad[1], bad[2])
