"""Typed inline-button payloads of the passbook and gifts.

aiogram rejects data that does not parse into these.
"""

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class PassbookNav(CallbackData, prefix="pb"):
    """A page of the passbook: 0 is the newest; later pages count from `anchor`."""

    page: int
    anchor: str = ""


class PassbookExport(CallbackData, prefix="pbx"):
    fmt: str  # pdf | csv


class Gift(StrEnum):
    """Giving hours to family: start, to (a relative), amount (chosen), typed (type one),
    ok (confirm), no (cancel)."""

    START = "start"
    TO = "to"
    AMOUNT = "amount"
    TYPED = "typed"
    OK = "ok"
    NO = "no"


class GiftStep(CallbackData, prefix="gift"):
    action: Gift
    to: int = 0
    minutes: int = 0
