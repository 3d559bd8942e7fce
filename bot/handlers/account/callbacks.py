"""Typed inline-button payloads of erasing the account.

aiogram rejects data that does not parse into these.
"""

from aiogram.filters.callback_data import CallbackData


class EraseChoice(CallbackData, prefix="erase"):
    confirm: bool
