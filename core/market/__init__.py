"""Market days (Qingdao's "Friendly Neighbours" market as the model): events with service
units and time slots, bookings with a short number and a QR, a waiting list, reminders,
check-in at the venue, volunteers' shifts credited from the community pool, reports."""

from core.market.bookings import (
    Booking,
    book,
    cancel_booking,
    get_booking,
    my_bookings,
    send_reminders,
)
from core.market.checkin import CheckIn, check_in, record_walk_in
from core.market.events import (
    EventView,
    Hours,
    UnitDraft,
    Venue,
    add_unit,
    cancel_event,
    create_event,
    event_view,
    move_event,
    upcoming_events,
)
from core.market.qr import check_in_link, qr_png, token_of
from core.market.reports import BranchMarkets, UnitReport, branch_markets, unit_reports, units_csv
from core.market.shifts import (
    Confirmation,
    ShiftLine,
    confirm_shifts,
    my_shifts,
    shift_list,
    sign_up,
    withdraw,
)

__all__ = [
    "Booking",
    "BranchMarkets",
    "CheckIn",
    "Confirmation",
    "EventView",
    "Hours",
    "ShiftLine",
    "UnitDraft",
    "UnitReport",
    "Venue",
    "add_unit",
    "book",
    "branch_markets",
    "cancel_booking",
    "cancel_event",
    "check_in",
    "check_in_link",
    "confirm_shifts",
    "create_event",
    "event_view",
    "get_booking",
    "move_event",
    "my_bookings",
    "my_shifts",
    "qr_png",
    "record_walk_in",
    "send_reminders",
    "shift_list",
    "sign_up",
    "token_of",
    "unit_reports",
    "units_csv",
    "upcoming_events",
    "withdraw",
]
