"""A request's time as every message tells it: what was asked, in three languages."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from bot.kit import formatters, times
from core.models import Order
from core.schedule import When
from tests.bot.lang import _i18n

ZONE = "Asia/Shanghai"
# Thursday 3 December 2026, 17:11 in Shanghai.
NOW = datetime(2026, 12, 3, 9, 11, tzinfo=UTC)


def say(lang: str, render):
    i18n = _i18n()
    with i18n.context(), i18n.use_locale(lang):
        return render()


def order(when: When | None, *, created: datetime = NOW) -> Order:
    return Order(
        branch_id=1, requester_id=1, beneficiary_id=1, category_id=1, estimated_minutes=60,
        idempotency_key="k", when_asked=when.to_dict() if when else None,
        window_start=datetime(2026, 12, 4, 0, 0, tzinfo=UTC), created_at=created,
    )  # fmt: skip


ASAP = {"zh_Hans": "越快越好", "ko": "가능한 한 빨리", "en": "As soon as possible"}


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
def test_as_soon_as_possible_is_never_a_clock_time(lang) -> None:
    text = say(lang, lambda: times.order_when_text(order(When.asap()), ZONE, NOW))
    assert text == ASAP[lang]
    assert "17:11" not in text and "5:11" not in text


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("zh_Hans", "越快越好，12月2日周三提出"),
        ("ko", "가능한 한 빨리 (12월 2일 (수)에 요청)"),
        ("en", "As soon as possible (asked Wed, Dec 2)"),
    ],
)
def test_an_earlier_days_as_soon_as_possible_says_when_it_was_asked(lang, expected) -> None:
    yesterday = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
    text = say(
        lang, lambda: times.order_when_text(order(When.asap(), created=yesterday), ZONE, NOW)
    )
    assert text == expected


@pytest.mark.parametrize(
    ("lang", "long", "short"),
    [
        ("zh_Hans", "明天 12月4日周五上午 08:00–12:00", "明天 12月4日周五上午"),
        ("ko", "내일, 12월 4일 (금) 오전 (8:00–12:00)", "내일, 12월 4일 (금) 오전"),
        ("en", "Tomorrow, Fri, December 4, in the morning (8:00 AM–12:00 PM)",
         "Tomorrow, Fri, Dec 4, morning"),
    ],
)  # fmt: skip
def test_a_part_of_the_day_reads_as_a_part_not_its_first_hour(lang, long, short) -> None:
    morning = order(When.day_part(date(2026, 12, 4), "morning"))
    text = say(lang, lambda: times.order_when_text(morning, ZONE, NOW))
    assert text.replace("\u202f", " ") == long
    assert say(lang, lambda: times.order_when_text(morning, ZONE, NOW, short=True)) == short


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("zh_Hans", "12月10日周四 09:30"),
        ("ko", "12월 10일 (목) 오전 9:30"),
        ("en", "Thu, December 10 at 9:30 AM"),
    ],
)
def test_an_exact_time_is_said_when_one_was_asked(lang, expected) -> None:
    exact = order(When.exact(date(2026, 12, 10), time(9, 30)))
    text = say(lang, lambda: times.order_when_text(exact, ZONE, NOW))
    assert text.replace("\u202f", " ") == expected


@pytest.mark.parametrize(
    ("metres", "en"),
    [(40, "100 m"), (449, "400 m"), (949, "900 m"), (950, "1 km"), (999, "1 km"),
     (1049, "1 km"), (1250, "1.2 km"), (12_345, "12.3 km")],
)  # fmt: skip
def test_a_distance_never_reads_1000_m(metres, en) -> None:
    assert say("en", lambda: formatters.distance_text(metres)) == en
    assert "1000" not in say("zh_Hans", lambda: formatters.distance_text(metres))


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
@pytest.mark.parametrize(
    "when",
    [
        When.asap(),
        When.day_part(date(2026, 12, 4), "evening"),
        When.exact(date(2026, 12, 3), time(19)),
    ],
)
def test_a_when_has_no_brackets_of_its_own_in_chinese(lang, when) -> None:
    """Chinese sentences put the time in （…）: the time itself must not bring its own."""
    yesterday = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
    for made in (NOW, yesterday):
        text = say(
            lang, lambda made=made: times.order_when_text(order(when, created=made), ZONE, NOW)
        )
        if lang == "zh_Hans":
            assert "（" not in text and "(" not in text, text


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("zh_Hans", "12月5日周六"), ("ko", "12월 5일 (토)"), ("en", "Sat, Dec 5")],
)
def test_the_day_picker_writes_days_as_every_other_message_does(lang, expected) -> None:
    from bot.handlers.asking.views import calendar

    keyboard = say(lang, lambda: calendar("d", [date(2026, 12, 5)]))
    assert keyboard.rows[0][0].text == expected


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("zh_Hans", "12月12日周六，08:00–18:00"),
        ("ko", "12월 12일 (토), 오전 8:00–오후 6:00"),
        ("en", "Sat, Dec 12, 8:00 AM–6:00 PM"),
    ],
)
def test_a_span_of_one_day_has_no_at(lang, expected) -> None:
    start, end = datetime(2026, 12, 12, 0, tzinfo=UTC), datetime(2026, 12, 12, 10, tzinfo=UTC)
    text = say(lang, lambda: times.span_text(start, end, ZONE, NOW))
    assert text.replace("\u202f", " ") == expected
