"""Typed inline-button payloads of standing offers.

aiogram rejects data that does not parse into these.
"""

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class OfferAction(StrEnum):
    ASK = "a"  # "ask for this": when? (item: the offer)
    WHEN = "w"  # place the request (item: the offer, value: which time)
    MINE = "m"  # a volunteer's own offers
    NEW = "n"  # offer my help: which kind?
    CATEGORY = "c"  # offer my help in this kind (item: the category)
    WITHDRAW = "x"  # take an offer down (item: the offer)


class OfferCb(CallbackData, prefix="ofr"):
    action: OfferAction
    item: int = 0
    value: int = 0
