"""Typed inline-button payloads of several branches.

aiogram rejects data that does not parse into these.
"""

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class Act(StrEnum):
    MENU = "menu"
    SWITCH = "switch"
    JOIN_MENU = "join_menu"
    JOIN = "join"
    CLOSE = "close"


class BranchStep(CallbackData, prefix="brn"):
    action: Act
    branch_id: int = 0


class JoinAnswer(CallbackData, prefix="brnok"):
    """A coordinator of the branch says yes to a member who asked to join it."""

    member_id: int
    branch_id: int


class NbrAct(StrEnum):
    VIEW = "view"  # the branch's neighbours, a button each to mark or unmark one
    SET = "set"  # mark (on) or unmark another branch as next to this one
    MATCH = "match"  # let the branch's requests go to its neighbours' volunteers (on) or not


class Neighbours(CallbackData, prefix="nbr"):
    """A coordinator sets the neighbours of `branch_id`. `on` is the wanted state, so a
    second tap of the same button changes nothing."""

    action: NbrAct
    branch_id: int
    other_id: int = 0
    on: bool = False
