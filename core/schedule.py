"""When help is wanted: as soon as possible, part of a day, or an exact time.

Members think in their branch's local time ("tomorrow afternoon"); orders store UTC windows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core import typed
from core.errors import N_, InvalidInput

BOOKING_DAYS = 14
ASAP_WINDOW = timedelta(hours=4)
DAY_PARTS: dict[str, tuple[int, int]] = {
    "morning": (8, 12),
    "afternoon": (12, 17),
    "evening": (17, 21),
}


class TimeInPast(InvalidInput):
    key = N_("That time has already passed. Please choose a later one.")


class TooFarAhead(InvalidInput):
    key = N_("Please choose a day within the next two weeks.")


@dataclass(frozen=True)
class When:
    """`asap`, or a `day` with a `part` of it, or a `day` with an exact time `at`."""

    kind: str
    day: date | None = None
    part: str | None = None
    at: time | None = None

    @classmethod
    def asap(cls) -> When:
        return cls("asap")

    @classmethod
    def day_part(cls, day: date, part: str) -> When:
        if part not in DAY_PARTS:
            raise InvalidInput()
        return cls("part", day=day, part=part)

    @classmethod
    def exact(cls, day: date, at: time) -> When:
        return cls("exact", day=day, at=at)

    def to_dict(self) -> dict[str, str | None]:
        return {
            k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in asdict(self).items()
        }

    @classmethod
    def from_dict(cls, data: dict[str, str | None]) -> When:
        return cls(
            kind=str(data["kind"]),
            day=date.fromisoformat(data["day"]) if data.get("day") else None,
            part=data.get("part"),
            at=time.fromisoformat(data["at"]) if data.get("at") else None,
        )


def window(
    when: When, time_zone: str, now: datetime, duration: timedelta
) -> tuple[datetime, datetime]:
    """The UTC window in which the help should happen; refuses the past and the far future."""
    zone = ZoneInfo(time_zone)
    local_now = now.astimezone(zone)
    if when.kind == "asap":
        return now, now + ASAP_WINDOW
    assert when.day is not None
    if when.day < local_now.date():
        raise TimeInPast()
    if when.day > local_now.date() + timedelta(days=BOOKING_DAYS):
        raise TooFarAhead()
    if when.kind == "part":
        first, last = DAY_PARTS[when.part or ""]
        start = datetime.combine(when.day, time(first), zone)
        end = datetime.combine(when.day, time(last), zone)
        if end <= local_now:
            raise TimeInPast()
        return max(start, local_now).astimezone(now.tzinfo), end.astimezone(now.tzinfo)
    assert when.at is not None
    start = datetime.combine(when.day, when.at, zone)
    if start <= local_now:
        raise TimeInPast()
    return start.astimezone(now.tzinfo), (start + duration).astimezone(now.tzinfo)


# Words around a typed time that say which half of the day it is in.
_AFTERNOON_WORDS = ("下午", "中午", "晚上", "傍晚", "오후", "저녁", "밤", "p.m.", "pm")
_MORNING_WORDS = ("上午", "早上", "早晨", "凌晨", "오전", "아침", "새벽", "a.m.", "am")
# Hour and minute words: 3点半, 下午3点15分, 오후 3시 반, 9시 30분.
_TIME_WORDS = (("点半", ":30"), ("點半", ":30"), ("시반", ":30"), ("点", ":"), ("點", ":"),
               ("时", ":"), ("時", ":"), ("시", ":"), ("分", ""), ("분", ""))  # fmt: skip


def _halves_of_day(text: str) -> tuple[str, bool, bool]:
    """The typed time folded and without spaces, and whether it says afternoon, morning."""
    cleaned = "".join(typed.plain(text).split()).lower()
    afternoon = any(word in cleaned for word in _AFTERNOON_WORDS)
    return cleaned, afternoon, any(word in cleaned for word in _MORNING_WORDS)


def names_half_of_day(text: str) -> bool:
    """Whether a typed time says morning or afternoon (上午, 오후, pm…)."""
    _cleaned, afternoon, morning = _halves_of_day(text)
    return afternoon or morning


def parse_time(text: str) -> time:
    """A time typed by a person: '14:30', '9.15', '9' (hours), '0930', '下午3点半', '오후 3시'."""
    cleaned, afternoon, morning = _halves_of_day(text)
    for word in (*_AFTERNOON_WORDS, *_MORNING_WORDS):
        cleaned = cleaned.replace(word, "")
    for word, replacement in _TIME_WORDS:
        cleaned = cleaned.replace(word, replacement)
    cleaned = cleaned.replace(".", ":").replace("h", ":")
    try:
        if ":" in cleaned:
            hours, minutes = cleaned.split(":", 1)
            at = time(int(hours), int(minutes or 0))
        elif cleaned.isdigit() and len(cleaned) in (3, 4):
            at = time(int(cleaned[:-2]), int(cleaned[-2:]))
        elif cleaned.isdigit():
            at = time(int(cleaned))
        else:
            raise ValueError(cleaned)
        if afternoon != morning and at.hour <= 12:
            if afternoon and at.hour < 12:
                at = at.replace(hour=at.hour + 12)
            elif morning and at.hour == 12:
                at = at.replace(hour=0)
        return at
    except ValueError:
        pass
    raise InvalidInput(N_("Please type a time like 14:30."))


def local_today(time_zone: str, now: datetime) -> date:
    """The date it is now in the branch's time zone."""
    return now.astimezone(ZoneInfo(time_zone)).date()


def bookable_days(time_zone: str, now: datetime) -> list[date]:
    """The days a calendar offers: tomorrow up to two weeks ahead (today has its own button)."""
    today = local_today(time_zone, now)
    return [today + timedelta(days=n) for n in range(1, BOOKING_DAYS + 1)]


def open_parts(day: date, time_zone: str, now: datetime) -> list[str]:
    """The parts of `day` that are not over yet (all of them on a later day)."""
    local_now = now.astimezone(ZoneInfo(time_zone))
    return [
        part
        for part, (_first, last) in DAY_PARTS.items()
        if datetime.combine(day, time(last), local_now.tzinfo) > local_now
    ]


def check(when: When, time_zone: str, now: datetime) -> None:
    """Refuse a time in the past or too far ahead, as `window` would."""
    window(when, time_zone, now, timedelta(0))
