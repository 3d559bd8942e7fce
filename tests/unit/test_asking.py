"""The rules of a help request as a conversation asks it (`core.asking`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from core import asking, orders
from core.asking import Answer
from core.errors import DomainError, InvalidInput
from core.orders import Place, Repeat
from core.schedule import TimeInPast, TooFarAhead, When

# 10:00 in Shanghai on Wednesday 25 November 2026, and 19:00 the same day.
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
EVENING = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)
ZONE = "Asia/Shanghai"
TODAY = date(2026, 11, 25)

COMPLETE = {
    "category_id": 3,
    "described": True,
    "description": "the kitchen tap",
    "when": When.asap().to_dict(),
    "place": Place.typed("1 Main Street").to_dict(),
    "minutes": 60,
}


def test_the_questions_come_in_order_and_the_review_after_the_last() -> None:
    assert asking.following(Answer.WHAT, {}) == Answer.DESCRIBE
    assert asking.following(Answer.DESCRIBE, {}) == Answer.WHEN
    assert asking.following(Answer.WHEN, {}) == Answer.WHERE
    assert asking.following(Answer.WHERE, {}) is None
    assert asking.following(Answer.DURATION, {}) is None


def test_an_answer_changed_from_the_review_goes_back_to_the_review() -> None:
    assert asking.following(Answer.WHAT, {"to_review": True}) is None


def test_back_goes_one_question_back_and_not_before_the_first() -> None:
    assert asking.preceding(Answer.WHERE) == Answer.WHEN
    assert asking.preceding(Answer.WHAT) is None
    assert asking.preceding(Answer.DURATION) is None


def test_the_first_missing_answer_is_asked_before_the_review() -> None:
    assert asking.first_missing(COMPLETE) is None
    assert asking.first_missing({**COMPLETE, "when": None}) == Answer.WHEN
    assert asking.first_missing({}) == Answer.WHAT
    assert asking.first_missing({k: v for k, v in COMPLETE.items() if k != "minutes"}) == (
        Answer.DURATION
    )


def test_a_complete_draft_is_a_request_and_a_mangled_one_is_refused() -> None:
    request = asking.to_request(COMPLETE)
    assert request.category_id == 3 and request.estimated_minutes == 60
    assert request.place == Place.typed("1 Main Street")
    with pytest.raises(InvalidInput):
        asking.to_request({**COMPLETE, "minutes": "lots"})
    with pytest.raises(InvalidInput):
        asking.to_request({**COMPLETE, "when": None})


def test_a_voice_request_fills_in_the_rest_and_home_only_when_there_is_one() -> None:
    with_home = asking.by_voice(9, has_home=True)
    assert with_home["category_id"] == 9
    assert with_home["when"] == When.asap().to_dict()
    assert with_home["place"] == Place.home().to_dict()
    assert with_home["minutes"] == orders.DEFAULT_ESTIMATE
    assert asking.by_voice(9, has_home=False)["place"] is None


def test_same_as_last_time_asks_the_time_again_and_drops_a_home_no_longer_on_file() -> None:
    last = Repeat(
        category_id=2, description="shopping", voice_file_id=None, place=Place.home(),
        estimated_minutes=120,
    )  # fmt: skip
    again = asking.repeated(last, has_home=True)
    assert again["when"] is None and again["to_review"] and again["minutes"] == 120
    assert again["place"] == Place.home().to_dict()
    assert asking.repeated(last, has_home=False)["place"] is None


def test_a_long_description_is_cut_to_the_limit_and_said_so() -> None:
    kept, cut = asking.description("x" * (orders.MAX_DESCRIPTION + 5))
    assert cut and len(kept) == orders.MAX_DESCRIPTION
    assert asking.description("  a tap  ") == ("a tap", False)


def test_one_tap_times_that_have_passed_are_neither_offered_nor_taken() -> None:
    assert asking.quick_times_open(ZONE, NOW)[0] == (0, "morning")
    late = asking.quick_times_open(ZONE, EVENING)
    assert (0, "morning") not in late and (0, "afternoon") not in late
    assert (1, "morning") in late
    assert asking.quick_time(1, "morning", ZONE, EVENING) == When.day_part(
        date(2026, 11, 26), "morning"
    )
    with pytest.raises(TimeInPast):
        asking.quick_time(0, "morning", ZONE, EVENING)
    with pytest.raises(InvalidInput):
        asking.quick_time(5, "morning", ZONE, NOW)


def test_a_day_is_today_or_within_two_weeks() -> None:
    days = asking.calendar_days(ZONE, NOW)
    assert days[0] == TODAY and len(days) == 15


def test_a_part_of_a_day_or_a_typed_time() -> None:
    assert asking.on_day(TODAY, "evening", "", ZONE, NOW) == When.day_part(TODAY, "evening")
    assert asking.on_day(TODAY, None, "14:30", ZONE, NOW) == When.exact(TODAY, time(14, 30))
    with pytest.raises(TimeInPast):
        asking.on_day(TODAY, None, "9:00", ZONE, NOW)
    with pytest.raises(InvalidInput):
        asking.on_day(TODAY, None, "teatime", ZONE, NOW)


def test_how_long_is_one_of_the_offered_estimates() -> None:
    assert asking.estimate(120) == 120
    for wrong in (None, 45, 0):
        with pytest.raises(orders.EstimateInvalid):
            asking.estimate(wrong)


@pytest.mark.parametrize(
    ("error", "answer"),
    [
        (TimeInPast(), Answer.WHEN),
        (TooFarAhead(), Answer.WHEN),
        (orders.NoHomeAddress(), Answer.WHERE),
        (orders.PlaceInvalid(), Answer.WHERE),
        (orders.UnknownCategory(), Answer.WHAT),
        (orders.DescriptionTooLong(maximum=1000), Answer.DESCRIBE),
        (orders.TooManyOpenOrders(maximum=3), None),
        (DomainError(), None),
    ],
)
def test_a_refused_draft_asks_again_the_answer_it_was_refused_for(
    error: DomainError, answer: Answer | None
) -> None:
    assert asking.asked_again(error) == answer
