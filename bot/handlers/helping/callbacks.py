"""Typed inline-button payloads of the volunteer's side of a request.

aiogram rejects data that does not parse into these.
"""

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class NudgeAnswer(CallbackData, prefix="ndg"):
    nudge_id: int
    accept: bool


class Do(StrEnum):
    """A button on a request: the volunteer's Done (then the minutes, or other), hand back
    (and yes), the requester's stars or "something is wrong" (and yes, or back to the stars:
    RATE), skipping the thank-you
    note, and a message to the other side; the volunteer's list of the requests they are
    helping with (MINE, no order) and a request's card shown again (CARD: from the list, a
    reminder, "No, keep it" or Back).

    On CARD, DONE and BACK, `value` is FROM_LIST when the card was opened from the list,
    so that its screens lead back to it."""

    DONE = "done"
    MINUTES = "minutes"
    OTHER = "other"
    BACK = "back"
    BACK_YES = "back_yes"
    WRONG = "wrong"
    WRONG_YES = "wrong_yes"
    RATE = "rate"
    RELAY = "relay"
    STARS = "stars"
    THANKS_SKIP = "thanks_skip"
    MINE = "mine"
    CARD = "card"


FROM_LIST = 1


class OrderStep(CallbackData, prefix="ostep"):
    action: Do
    order_id: int
    value: int = 0
