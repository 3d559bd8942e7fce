"""Typed inline-button payloads. aiogram rejects data that does not parse into these."""

from aiogram.filters.callback_data import CallbackData


class EraseChoice(CallbackData, prefix="erase"):
    confirm: bool
