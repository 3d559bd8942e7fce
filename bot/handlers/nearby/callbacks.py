"""Typed inline-button payloads of Near me.

aiogram rejects data that does not parse into these.
"""

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class NearAction(StrEnum):
    SECTIONS = "s"  # what there is to browse
    REQUESTS = "r"  # the open requests a volunteer could take (page)
    TAKE = "t"  # take one (item: the order)
    OFFERS = "o"  # neighbours' standing offers (page)
    CLASSES = "c"  # classes (page)
    SPACES = "p"  # parking spaces (page)


class Near(CallbackData, prefix="near"):
    action: NearAction
    page: int = 0
    item: int = 0
