"""Typed inline-button payloads of asking for help and my requests.

aiogram rejects data that does not parse into these.
"""

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData

from core.asking import Answer


class AskAction(StrEnum):
    """A review button: change one answer (the values of `core.asking.Answer`), send, or
    cancel (on summaries sent while the review had a Cancel button of its own)."""

    WHAT = Answer.WHAT.value
    DESCRIBE = Answer.DESCRIBE.value
    WHEN = Answer.WHEN.value
    WHERE = Answer.WHERE.value
    DURATION = Answer.DURATION.value
    SEND = "send"
    CANCEL = "cancel"


class AskStep(CallbackData, prefix="ask"):
    """A button on the review of a help request: edit a field, send, or cancel.

    `draft` names the conversation's draft, so a button from an older summary is recognised.
    """

    action: AskAction
    draft: str


class PickDay(CallbackData, prefix="day"):
    draft: str
    day: str  # YYYYMMDD, in the branch's time zone


class RememberHome(CallbackData, prefix="home"):
    """After an order with a typed address: keep it as my home address (or not)."""

    order_id: int
    keep: bool


class OrderOpen(CallbackData, prefix="ord"):
    order_id: int


class CancelWhy(StrEnum):
    """A cancel button: ask why, wait for a typed reason, or one of the offered reasons
    (`core.orders.CANCEL_REASONS`)."""

    ASK = ""
    TYPED = "typed"
    NOT_NEEDED = "not_needed"
    FOUND_HELP = "found_help"
    WRONG_TIME = "wrong_time"


class OrderCancel(CallbackData, prefix="ordx"):
    order_id: int
    reason: CancelWhy = CancelWhy.ASK
