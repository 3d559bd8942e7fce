"""Typed inline-button payloads of family links.

aiogram rejects data that does not parse into these.
"""

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class Act(StrEnum):
    MENU = "menu"
    CODE = "code"
    ENTER = "enter"
    UNLINK = "unlink"
    UNLINK_YES = "unlink_yes"


class FamilyAction(CallbackData, prefix="fam"):
    action: Act
    link_id: int = 0


class FamilyAnswer(CallbackData, prefix="famok"):
    link_id: int
    accept: bool
