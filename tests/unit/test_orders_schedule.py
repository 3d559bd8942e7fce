"""When help is wanted: local-time windows, time zones, and the limits of past and future."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from core import schedule
from core.errors import InvalidInput
from core.schedule import TimeInPast, TooFarAhead, When

HOUR = timedelta(hours=1)


def _utc(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


# 10:00 in Shanghai and 11:00 in Seoul on Wednesday 25 November 2026.
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def test_asap_starts_now_and_lasts_a_few_hours() -> None:
    start, end = schedule.window(When.asap(), "Asia/Seoul", NOW, HOUR)
    assert start == NOW and end == NOW + schedule.ASAP_WINDOW


def test_afternoon_is_local_afternoon_in_each_branch() -> None:
    day = date(2026, 11, 26)
    shanghai = schedule.window(When.day_part(day, "afternoon"), "Asia/Shanghai", NOW, HOUR)
    seoul = schedule.window(When.day_part(day, "afternoon"), "Asia/Seoul", NOW, HOUR)
    assert shanghai == (_utc(26, 4), _utc(26, 9))
    assert seoul == (_utc(26, 3), _utc(26, 8))


def test_a_part_of_today_already_begun_starts_now() -> None:
    today = date(2026, 11, 25)
    start, end = schedule.window(When.day_part(today, "morning"), "Asia/Shanghai", NOW, HOUR)
    assert start == NOW and end == datetime(2026, 11, 25, 4, tzinfo=UTC)


def test_a_part_of_today_that_is_over_is_refused() -> None:
    evening = datetime(2026, 11, 25, 13, 30, tzinfo=UTC)  # 21:30 in Shanghai
    with pytest.raises(TimeInPast):
        schedule.window(
            When.day_part(date(2026, 11, 25), "evening"), "Asia/Shanghai", evening, HOUR
        )


def test_the_local_date_decides_what_today_is() -> None:
    # 23:30 UTC on the 25th is already the 26th in Seoul: the 25th is the past there.
    late = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
    assert schedule.local_today("Asia/Seoul", late) == date(2026, 11, 26)
    assert schedule.local_today("Europe/London", late) == date(2026, 11, 25)
    with pytest.raises(TimeInPast):
        schedule.check(When.day_part(date(2026, 11, 25), "evening"), "Asia/Seoul", late)
    schedule.check(When.day_part(date(2026, 11, 26), "morning"), "Asia/Seoul", late)


def test_exact_time_lasts_the_estimate() -> None:
    when = When.exact(date(2026, 11, 27), time(9, 30))
    start, end = schedule.window(when, "Asia/Seoul", NOW, 2 * HOUR)
    assert start == datetime(2026, 11, 27, 0, 30, tzinfo=UTC)
    assert end - start == 2 * HOUR


def test_exact_time_earlier_today_is_refused() -> None:
    with pytest.raises(TimeInPast):
        schedule.window(When.exact(date(2026, 11, 25), time(9)), "Asia/Shanghai", NOW, HOUR)


def test_two_weeks_ahead_is_the_limit() -> None:
    last = date(2026, 11, 25) + timedelta(days=schedule.BOOKING_DAYS)
    schedule.check(When.day_part(last, "evening"), "Asia/Shanghai", NOW)
    with pytest.raises(TooFarAhead):
        schedule.check(When.day_part(last + timedelta(days=1), "morning"), "Asia/Shanghai", NOW)
    with pytest.raises(TimeInPast):
        schedule.check(When.day_part(date(2026, 11, 24), "evening"), "Asia/Shanghai", NOW)


def test_calendar_offers_the_next_fourteen_days_all_bookable() -> None:
    days = schedule.bookable_days("Asia/Seoul", NOW)
    assert len(days) == 14 and days[0] == date(2026, 11, 26)
    for day in days:
        schedule.check(When.day_part(day, "morning"), "Asia/Seoul", NOW)


def test_open_parts_drop_what_is_over() -> None:
    today = date(2026, 11, 25)
    assert schedule.open_parts(today, "Asia/Shanghai", NOW) == ["morning", "afternoon", "evening"]
    afternoon = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # 14:00 in Shanghai
    assert schedule.open_parts(today, "Asia/Shanghai", afternoon) == ["afternoon", "evening"]
    late = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # 22:00
    assert schedule.open_parts(today, "Asia/Shanghai", late) == []
    assert len(schedule.open_parts(date(2026, 11, 26), "Asia/Shanghai", late)) == 3


def test_when_survives_json() -> None:
    for when in (
        When.asap(),
        When.day_part(date(2026, 11, 26), "evening"),
        When.exact(date(2026, 11, 27), time(14, 30)),
    ):
        assert When.from_dict(when.to_dict()) == when


def test_unknown_part_is_refused() -> None:
    with pytest.raises(InvalidInput):
        When.day_part(date(2026, 11, 26), "midnight")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("14:30", time(14, 30)), ("9.15", time(9, 15)), ("9", time(9)), ("0930", time(9, 30)),
     ("14：05", time(14, 5)), (" 7:00 ", time(7)), ("14h30", time(14, 30)),
     ("下午3点", time(15)), ("下午3点半", time(15, 30)), ("上午9点15分", time(9, 15)),
     ("晚上8点", time(20)), ("中午12点", time(12)), ("10点", time(10)),
     ("오후 3시", time(15)), ("오후 3시 반", time(15, 30)), ("오전 9시 30분", time(9, 30)),
     ("3pm", time(15)), ("3:30 p.m.", time(15, 30)), ("12 am", time(0)), ("9 am", time(9))],
)  # fmt: skip
def test_parse_time(typed: str, expected: time) -> None:
    assert schedule.parse_time(typed) == expected


@pytest.mark.parametrize(
    "typed", ["", "noon", "25:00", "12:75", "1:2:3", "-1", "下午", "오후 25시", "3:30pm3"]
)
def test_parse_time_refuses_nonsense(typed: str) -> None:
    with pytest.raises(InvalidInput):
        schedule.parse_time(typed)
