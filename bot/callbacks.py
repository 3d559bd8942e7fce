"""Typed inline-button payloads. aiogram rejects data that does not parse into these."""

from aiogram.filters.callback_data import CallbackData


class EraseChoice(CallbackData, prefix="erase"):
    confirm: bool


class AskStep(CallbackData, prefix="ask"):
    """A button on the review of a help request: edit a field, send, or cancel.

    `draft` names the conversation's draft, so a button from an older summary is recognised.
    """

    action: str
    draft: str


class PickDay(CallbackData, prefix="day"):
    draft: str
    day: str  # YYYYMMDD, in the branch's time zone


class OrderOpen(CallbackData, prefix="ord"):
    order_id: int


class OrderCancel(CallbackData, prefix="ordx"):
    """Cancel an order; `reason` empty asks for one, "typed" waits for a typed one."""

    order_id: int
    reason: str = ""


class RememberHome(CallbackData, prefix="home"):
    """After an order with a typed address: keep it as my home address (or not)."""

    order_id: int
    keep: bool


class FamilyAction(CallbackData, prefix="fam"):
    action: str
    link_id: int = 0


class FamilyAnswer(CallbackData, prefix="famok"):
    link_id: int
    accept: bool


class PassbookNav(CallbackData, prefix="pb"):
    """A page of the passbook: 0 is the newest; later pages count from `anchor`."""

    page: int
    anchor: str = ""


class PassbookExport(CallbackData, prefix="pbx"):
    fmt: str  # pdf | csv


class GiftStep(CallbackData, prefix="gift"):
    """Giving hours to family: start, to (a relative), amount, typed, ok (confirm), no."""

    action: str
    to: int = 0
    minutes: int = 0


class CoordStep(CallbackData, prefix="crd"):
    """A coordinator finding someone: list (value: page) of the waiting orders; view (value:
    page) of one order's candidates; ask (value: the volunteer); round (value: the round seen)."""

    action: str
    order_id: int = 0
    value: int = 0
