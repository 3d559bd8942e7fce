"""Typed inline-button payloads of market days.

aiogram rejects data that does not parse into these; the ids in them are checked again by
core (a forged id finds nothing, or another member's booking, and changes nothing).
"""

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class Act(StrEnum):
    EVENT = "ev"  # the event view (item: unused)
    UNIT = "un"  # a unit's time slots (item: unit)
    BOOK = "bk"  # book a slot (item: slot)
    BOOKING = "bg"  # one booking with its QR (item: booking)
    CANCEL = "cx"  # ask to cancel a booking (item: booking)
    CANCEL_YES = "cy"  # cancel it (item: booking)
    MINE = "my"  # my bookings at this market day
    FOR_OTHER = "fo"  # book for a resident without a phone
    DESK = "dk"  # the check-in desk: type numbers, record walk-ins
    HELP = "hp"  # a volunteer's shift sign-up: the units
    SHIFT = "sh"  # sign up for (or leave) a shift at a unit (item: unit)
    SHIFTS = "ss"  # the coordinator's shift list to confirm
    CORRECT = "cr"  # correct one shift's minutes (item: shift)
    CONFIRM = "cf"  # confirm the shift list (n: the corrections' count seen)
    REPORT = "rp"  # the report per unit
    CSV = "cs"  # the report as CSV
    TOTALS = "tt"  # the branch's figures across its market days
    MOVE = "mv"  # change the day and hours (n: version seen)
    VENUE = "vn"  # change the venue and its pin (n: version seen)
    CALL_OFF = "co"  # ask to call the day off
    CALL_OFF_YES = "cz"  # call it off (n: version seen)
    MAP = "mp"  # the venue's pin on the map
    NEW = "nw"  # a coordinator starts a new market day


class Market(CallbackData, prefix="mk"):
    """A market-day button: `event`, the `item` it acts on, `who` the resident it is for
    (0: the one who taps), `n` a version or count the button was made for."""

    action: Act
    event: int = 0
    item: int = 0
    who: int = 0
    n: int = 0
