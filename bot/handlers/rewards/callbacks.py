"""Typed inline-button payloads of spending hours at partner shops, the shop's counter, the
coordinators' shop admin and year-end recognition.

aiogram rejects data that does not parse into these.
"""

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class SpendAct(StrEnum):
    SHELF = "shelf"  # a page of the shelf (category, offset)
    ITEM = "item"  # one item's details
    REDEEM = "redeem"  # hold its price and give a code
    MINE = "mine"  # my codes still to use
    SHOW = "show"  # one of my codes again, with its QR
    CANCEL = "cancel"  # give a code back? (asks)
    CANCEL_YES = "cancel_yes"


class Spend(CallbackData, prefix="spd"):
    action: SpendAct
    category: str = ""
    offset: int = 0
    item_id: int = 0
    redemption_id: int = 0


class CounterAct(StrEnum):
    CONFIRM = "confirm"  # staff hand the item over (code)
    TYPE_CODE = "type_code"
    ITEMS = "items"
    ADD_ITEM = "add_item"
    SALES = "sales"  # period: today | month
    STATEMENT = "statement"  # fmt: pdf | csv, months_back


class Counter(CallbackData, prefix="ctr"):
    action: CounterAct
    code: str = ""
    period: str = ""
    fmt: str = ""
    months_back: int = 0


class ShopAdminAct(StrEnum):
    LIST = "list"
    VIEW = "view"
    REGISTER = "register"
    INVITE = "invite"
    HIDE = "hide"
    SHOW = "show"
    SETTLE = "settle"


class ShopAdmin(CallbackData, prefix="sha"):
    action: ShopAdminAct
    merchant_id: int = 0
    item_id: int = 0


class HonourAct(StrEnum):
    PERIOD = "period"  # the leaderboard of a period
    TOGGLE = "toggle"  # choose / unchoose a member
    SEND = "send"  # go on to send certificates to those chosen


class Honour(CallbackData, prefix="hon"):
    action: HonourAct
    start: int = 0  # date ordinals; end exclusive
    end: int = 0
    member_id: int = 0


class MineAct(StrEnum):
    CERTIFICATE = "certificate"  # my own certificate for a period
    LEADERBOARD_OFF = "off"
    LEADERBOARD_ON = "on"


class Mine(CallbackData, prefix="myr"):
    action: MineAct
    start: int = 0
    end: int = 0
