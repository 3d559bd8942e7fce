"""Typed inline-button payloads of coordinators finding someone, verifying and settling.

aiogram rejects data that does not parse into these.
"""

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class Find(StrEnum):
    """A coordinator finding someone: list (value: page) of the waiting orders; view (value:
    page) of one order's candidates; ask (value: the volunteer); round (value: the round
    seen); sponsor (the community pool pays)."""

    LIST = "list"
    VIEW = "view"
    ASK = "ask"
    ROUND = "round"
    SPONSOR = "sponsor"


class SettleAction(StrEnum):
    """A coordinator settling an order: view it; minutes (the times to credit), other (type
    one), credit (value: minutes); none, none_yes (no credit, after a reason)."""

    VIEW = "view"
    MINUTES = "minutes"
    OTHER = "other"
    CREDIT = "credit"
    NONE = "none"
    NONE_YES = "none_yes"


class CoordStep(CallbackData, prefix="crd"):
    action: Find
    order_id: int = 0
    value: int = 0


class VerifyStep(CallbackData, prefix="vfy"):
    """A coordinator verifies the volunteer a notice told them about."""

    volunteer_id: int


class Settle(CallbackData, prefix="stl"):
    action: SettleAction
    order_id: int
    value: int = 0
