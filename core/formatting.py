"""Dates and times in the member's language and the branch's time zone (Babel)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime


def format_date(moment: datetime, time_zone: str, language: str) -> str:
    return babel_format_date(moment.astimezone(ZoneInfo(time_zone)), "long", locale=language)


def format_datetime(moment: datetime, time_zone: str, language: str) -> str:
    local = moment.astimezone(ZoneInfo(time_zone))
    return babel_format_datetime(local, "medium", tzinfo=local.tzinfo, locale=language)
