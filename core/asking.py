"""The rules of asking for help as a conversation: which answer comes after which, what a
draft must hold before it can be sent, the choices of time and length, and which answer a
refusal asks again.

A draft is the conversation's answers as plain JSON values (a chat platform keeps it between
messages, across restarts): `category_id`, `described` (with `description` or
`voice_file_id`), `when` (`When.to_dict()`), `place` (`Place.to_dict()`), `minutes`, and
`to_review` once the member has seen the review. Adapters parse what the member sent and
render the questions; everything that decides lives here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from core import orders, schedule
from core.errors import DomainError, InvalidInput
from core.orders import DEFAULT_ESTIMATE, HelpRequest, Place, Repeat
from core.schedule import TimeInPast, TooFarAhead, When

Draft = Mapping[str, Any]


class Answer(StrEnum):
    """What a request needs answered; the values name the review's ✏️ buttons too."""

    WHAT = "what"
    DESCRIBE = "describe"
    WHEN = "when"
    WHERE = "where"
    DURATION = "duration"


# Asked one after another; how long it takes starts at DEFAULT_ESTIMATE and is changed only
# from the review.
PATH: tuple[Answer, ...] = (Answer.WHAT, Answer.DESCRIBE, Answer.WHEN, Answer.WHERE)
# The draft's key that holds each answer (None there: not answered yet).
KEYS: dict[Answer, str] = {
    Answer.WHAT: "category_id",
    Answer.DESCRIBE: "described",
    Answer.WHEN: "when",
    Answer.WHERE: "place",
    Answer.DURATION: "minutes",
}
# "🎤 Ask by voice" asks for the voice note alone and files it under this category.
VOICE_CATEGORY = "other"
# The one-tap times: (days from today, part of the day).
QUICK_TIMES: tuple[tuple[int, str], ...] = tuple(
    (days, part) for days in (0, 1) for part in schedule.DAY_PARTS
)


def first_missing(draft: Draft) -> Answer | None:
    """The first answer the draft still lacks; None when it can be reviewed."""
    return next((answer for answer in Answer if draft.get(KEYS[answer]) is None), None)


def following(answer: Answer, draft: Draft) -> Answer | None:
    """The question after `answer`; None when the review comes next (the last question was
    answered, or the member came from the review to change one answer)."""
    if draft.get("to_review") or answer not in PATH or answer == PATH[-1]:
        return None
    return PATH[PATH.index(answer) + 1]


def preceding(answer: Answer) -> Answer | None:
    """The question before `answer` on the way to the review; None for the first."""
    if answer not in PATH or answer == PATH[0]:
        return None
    return PATH[PATH.index(answer) - 1]


def to_request(draft: Draft) -> HelpRequest:
    """The finished draft as a request; InvalidInput if something is missing or mangled."""
    try:
        return HelpRequest(
            category_id=int(draft["category_id"]),
            when=When.from_dict(draft["when"]),
            place=Place.from_dict(draft["place"]),
            estimated_minutes=int(draft["minutes"]),
            description=str(draft.get("description") or ""),
            voice_file_id=draft.get("voice_file_id"),
            branch_id=int(draft["branch_id"]) if draft.get("branch_id") else None,
        )
    except (KeyError, TypeError, ValueError):
        raise InvalidInput() from None


def by_voice(voice_category_id: int | None, *, has_home: bool) -> dict[str, Any]:
    """What a voice request says without asking: other help, as soon as possible, at home
    (when there is one on file), about an hour. The review says it in words."""
    return {
        "by_voice": True,
        "category_id": voice_category_id,
        "when": When.asap().to_dict(),
        "place": Place.home().to_dict() if has_home else None,
        "minutes": DEFAULT_ESTIMATE,
    }


def repeated(last: Repeat, *, has_home: bool) -> dict[str, Any]:
    """ "Same as last time": the last request's answers but its time, which is asked again;
    its home only while there is a home on file."""
    place = last.place
    if place is not None and place.kind == Place.HOME and not has_home:
        place = None
    return {
        "category_id": last.category_id,
        "description": last.description,
        "voice_file_id": last.voice_file_id,
        "described": True,
        "place": place.to_dict() if place else None,
        "minutes": last.estimated_minutes,
        "when": None,
        "repeat": True,
        "to_review": True,
    }


def description(text: str) -> tuple[str, bool]:
    """The description as kept (at most MAX_DESCRIPTION characters) and whether it was cut:
    a cut one is offered to the member before it is kept."""
    return orders.shorten_description(text)


def quick_time(days: int, part: str, time_zone: str, now: datetime) -> When:
    """A one-tap time ("this afternoon", "tomorrow morning"), refused once it has passed."""
    if (days, part) not in QUICK_TIMES:
        raise InvalidInput()
    when = When.day_part(schedule.local_today(time_zone, now) + timedelta(days=days), part)
    schedule.check(when, time_zone, now)
    return when


def quick_times_open(time_zone: str, now: datetime) -> list[tuple[int, str]]:
    """The one-tap times still to come: today's parts not over yet, and tomorrow's."""
    open_today = schedule.open_parts(schedule.local_today(time_zone, now), time_zone, now)
    return [(days, part) for days, part in QUICK_TIMES if days or part in open_today]


def calendar_days(time_zone: str, now: datetime) -> list[date]:
    """Today (for a time of its own, like 14:30) and the days that can be booked ahead."""
    return [schedule.local_today(time_zone, now), *schedule.bookable_days(time_zone, now)]


def on_day(day: date, part: str | None, typed: str, time_zone: str, now: datetime) -> When:
    """A part of `day`, or the time typed for it ("14:30"); refused once it has passed."""
    when = When.day_part(day, part) if part else When.exact(day, schedule.parse_time(typed))
    schedule.check(when, time_zone, now)
    return when


def estimate(minutes: int | None) -> int:
    """How long it may take: one of ESTIMATES."""
    return orders.check_estimate(minutes)


def asked_again(error: DomainError) -> Answer | None:
    """Which answer a refusal of the whole draft (at the review, or when sending) asks again;
    None when the refusal ends the request instead."""
    if isinstance(error, TimeInPast | TooFarAhead):
        return Answer.WHEN
    if isinstance(error, orders.NoHomeAddress | orders.PlaceInvalid):
        return Answer.WHERE
    if isinstance(error, orders.UnknownCategory):
        return Answer.WHAT
    if isinstance(error, orders.DescriptionTooLong):
        return Answer.DESCRIBE
    return None
