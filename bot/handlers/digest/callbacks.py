"""Typed inline-button payloads of the weekly digest.

aiogram rejects data that does not parse into these.
"""

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class DigestAct(StrEnum):
    ON = "on"  # hour: the local hour to get it at
    OFF = "off"


class DigestAction(CallbackData, prefix="dg"):
    action: DigestAct
    hour: int = 0
