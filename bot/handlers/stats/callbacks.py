"""Typed inline-button payloads of /stats and /report.

aiogram rejects data that does not parse into these.
"""

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class StatsAct(StrEnum):
    WEEK = "week"  # the week's figures and chart, from the coordinator's tools
    CSV = "csv"  # the period's requests as a CSV file
    REPORT = "report"  # the monthly PDF report of the month starting `first`


class StatsAction(CallbackData, prefix="sts"):
    action: StatsAct
    period: str = "week"
    first: str = ""  # ISO date, for a month's report
