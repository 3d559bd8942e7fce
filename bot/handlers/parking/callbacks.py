"""Typed inline-button payloads of parking-space sharing.

aiogram rejects data that does not parse into these.
"""

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class ParkAction(StrEnum):
    VIEW = "v"  # a space's card (item: the space)
    HOURS = "h"  # how long, in a free time (item: the space, value: its start, epoch minutes)
    BOOK = "b"  # book (item: the space, value: start in epoch minutes, hours: how long)
    BOOKING = "k"  # one of my bookings, as either side sees it (item: the booking)
    HANDOVER = "o"  # confirm the handover (item: the booking)
    CALL_OFF = "x"  # call a booking off (item: the booking)
    MINE = "m"  # my spaces and bookings
    NEW = "n"  # list a space


class ParkCb(CallbackData, prefix="park"):
    action: ParkAction
    item: int = 0
    value: int = 0
    hours: int = 0
