"""Typed inline-button payloads of coordinators working through the needs survey.

aiogram rejects data that does not parse into these.
"""

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class NeedAct(StrEnum):
    OVERVIEW = "overview"  # the categories with their counts
    CATEGORY = "category"  # value: the category's needs
    VIEW = "view"  # value: one need
    PLANNED = "planned"  # value: the need; a note is asked next
    DONE = "done"  # value: the need; a note is asked next
    VOICE = "voice"  # value: the need's voice message, played
    SAME_AS = "same_as"  # value: the need; the others of its category are offered
    MERGE = "merge"  # value: the duplicate, into: the need kept


class NeedAction(CallbackData, prefix="nd"):
    action: NeedAct
    value: int = 0
    into: int = 0
