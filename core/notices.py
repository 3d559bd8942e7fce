"""What the outbox can say: one `Kind` per notice, and for each its typed payload (a
`Payload` dataclass), used where a service enqueues it (`kind=n.KIND, payload=n.payload()`)
and where an adapter renders it (`X.read(row.payload)`; in the bot, `bot.notices` maps every
kind to its renderer)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any, ClassVar, Self


class Kind(StrEnum):
    # the volunteer's side of a request
    NUDGE = "nudge"
    NUDGE_TAKEN = "nudge_taken"
    NUDGE_CLOSED = "nudge_closed"
    REMINDER = "reminder"
    RECEIPT = "receipt"
    THANKS = "thanks"
    RELAY = "relay"
    # the requester's side
    ASKED_FOR_YOU = "asked_for_you"
    CANCELLED = "cancelled"
    COMING = "coming"
    EXPIRED = "expired"
    EXPIRED_UNCOVERED = "expired_uncovered"
    HANDED_BACK = "handed_back"
    SPONSORED = "sponsored"
    CONFIRM_ASK = "confirm_ask"
    # coordinators
    ASK_YES = "ask_yes"
    ASK_NO = "ask_no"
    ESCALATED = "escalated"
    NEEDS_SPONSOR = "needs_sponsor"
    LAPSED_UNCOVERED = "lapsed_uncovered"
    DISPUTE = "dispute"
    UNCONFIRMED = "unconfirmed"
    SETTLED = "settled"
    ALERT_SETTLED = "alert_settled"
    ALERT_EXPIRED = "alert_expired"
    VERIFY_ASKED = "verify_asked"
    VERIFIED = "verified"
    # family and gifts
    FAMILY_ASK = "family_ask"
    FAMILY_ANSWER = "family_answer"
    FAMILY_UNLINKED = "family_unlinked"
    GIFT_RECEIVED = "gift_received"
    # several branches
    JOIN_ASKED = "join_asked"
    JOINED = "joined"
    # market days
    MARKET_PLACE_FREED = "market_place_freed"
    MARKET_REMINDER = "market_reminder"
    MARKET_CHANGED = "market_changed"
    MARKET_CANCELLED = "market_cancelled"
    MARKET_SHIFT_CREDITED = "market_shift_credited"
    # classes
    CLASS_SEAT_FREE = "class_seat_free"
    CLASS_REMINDER = "class_reminder"
    CLASS_POOL_SHORT = "class_pool_short"
    # parking spaces
    PARKING_BOOKED = "parking_booked"
    PARKING_HANDOVER = "parking_handover"
    PARKING_CANCELLED = "parking_cancelled"
    # coordinators' broadcasts
    BROADCAST = "broadcast"
    BROADCAST_PROGRESS = "broadcast_progress"
    BROADCAST_REPORT = "broadcast_report"
    # the needs survey and volunteer teams
    NEED_UPDATE = "need_update"
    TEAM_MESSAGE = "team_message"
    DIGEST = "digest"
    # partner shops and year-end recognition
    REDEMPTION_EXPIRED = "redemption_expired"
    REDEMPTION_RECEIPT = "redemption_receipt"
    REDEMPTION_SHOP_RECEIPT = "redemption_shop_receipt"
    CERTIFICATE = "certificate"
    # a member back after blocking the bot
    WHILE_AWAY = "while_away"


@dataclass(frozen=True)
class Payload:
    """What a notice carries, typed: `KIND` names it; `payload()` is the JSON dict the outbox
    row stores and `read()` that dict again, where the renderer reads it.

    Rows keep the shape they always had: "from" for `from_id` (a Python keyword), and an
    optional field left at None is left out. `read` ignores keys it does not name (the
    sender adds its own, such as how a message went) and gives missing optional ones
    their default.
    """

    KIND: ClassVar[Kind]

    def payload(self) -> dict[str, Any]:
        return {
            _STORED.get(f.name, f.name): getattr(self, f.name)
            for f in fields(self)
            if not (getattr(self, f.name) is None and f.default is None)
        }

    @classmethod
    def read(cls, payload: Mapping[str, Any]) -> Self:
        return cls(
            **{
                f.name: payload[_STORED.get(f.name, f.name)]
                for f in fields(cls)
                if _STORED.get(f.name, f.name) in payload
            }
        )


_STORED = {"from_id": "from"}


@dataclass(frozen=True)
class AboutOrder(Payload):
    order_id: int


# the volunteer's side of a request


@dataclass(frozen=True)
class Nudged(Payload):
    """A volunteer asked to help; `asked_by` the coordinator who asked them personally."""

    KIND: ClassVar[Kind] = Kind.NUDGE
    nudge_id: int
    asked_by: int | None = None


@dataclass(frozen=True)
class NudgeTaken(Payload):
    """The nudge's message, edited: someone else said yes."""

    KIND: ClassVar[Kind] = Kind.NUDGE_TAKEN
    nudge_id: int


@dataclass(frozen=True)
class NudgeClosed(Payload):
    """The nudge's message, edited: the request is no longer needed."""

    KIND: ClassVar[Kind] = Kind.NUDGE_CLOSED
    nudge_id: int


@dataclass(frozen=True)
class Reminder(AboutOrder):
    """The volunteer's reminder; `soon`: about an hour ahead."""

    KIND: ClassVar[Kind] = Kind.REMINDER
    soon: bool = False


@dataclass(frozen=True)
class Receipt(AboutOrder):
    KIND: ClassVar[Kind] = Kind.RECEIPT


@dataclass(frozen=True)
class Thanks(AboutOrder):
    KIND: ClassVar[Kind] = Kind.THANKS
    from_id: int


@dataclass(frozen=True)
class Relay(AboutOrder):
    """A member's own words passed on to the other side of the request."""

    KIND: ClassVar[Kind] = Kind.RELAY
    from_id: int
    text: str


# the requester's side


@dataclass(frozen=True)
class AskedForYou(AboutOrder):
    KIND: ClassVar[Kind] = Kind.ASKED_FOR_YOU


@dataclass(frozen=True)
class Cancelled(AboutOrder):
    KIND: ClassVar[Kind] = Kind.CANCELLED
    by: int


@dataclass(frozen=True)
class Coming(AboutOrder):
    KIND: ClassVar[Kind] = Kind.COMING


@dataclass(frozen=True)
class Expired(AboutOrder):
    KIND: ClassVar[Kind] = Kind.EXPIRED


@dataclass(frozen=True)
class ExpiredUncovered(AboutOrder):
    KIND: ClassVar[Kind] = Kind.EXPIRED_UNCOVERED


@dataclass(frozen=True)
class HandedBack(AboutOrder):
    KIND: ClassVar[Kind] = Kind.HANDED_BACK


@dataclass(frozen=True)
class Sponsored(AboutOrder):
    KIND: ClassVar[Kind] = Kind.SPONSORED


@dataclass(frozen=True)
class ConfirmAsk(AboutOrder):
    KIND: ClassVar[Kind] = Kind.CONFIRM_ASK


# coordinators


@dataclass(frozen=True)
class AskYes(AboutOrder):
    """The volunteer a coordinator asked personally said yes (`nudge_id`: that ask)."""

    KIND: ClassVar[Kind] = Kind.ASK_YES
    nudge_id: int


@dataclass(frozen=True)
class AskNo(AboutOrder):
    KIND: ClassVar[Kind] = Kind.ASK_NO
    nudge_id: int


@dataclass(frozen=True)
class Escalated(AboutOrder):
    KIND: ClassVar[Kind] = Kind.ESCALATED


@dataclass(frozen=True)
class NeedsSponsor(AboutOrder):
    KIND: ClassVar[Kind] = Kind.NEEDS_SPONSOR


@dataclass(frozen=True)
class LapsedUncovered(AboutOrder):
    KIND: ClassVar[Kind] = Kind.LAPSED_UNCOVERED


@dataclass(frozen=True)
class Dispute(AboutOrder):
    """A dispute for the coordinators to settle; `again`: how many times it was announced
    again, still unsettled."""

    KIND: ClassVar[Kind] = Kind.DISPUTE
    by: int
    again: int = 0


@dataclass(frozen=True)
class Unconfirmed(AboutOrder):
    KIND: ClassVar[Kind] = Kind.UNCONFIRMED


@dataclass(frozen=True)
class Settled(AboutOrder):
    """How a coordinator settled the order: `outcome`, the time `reported`, their reason."""

    KIND: ClassVar[Kind] = Kind.SETTLED
    outcome: str
    reported: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class AlertSettled(AboutOrder):
    """Another coordinator's alert (`alert_id`), edited: `by` settled it."""

    KIND: ClassVar[Kind] = Kind.ALERT_SETTLED
    alert_id: int
    by: int


@dataclass(frozen=True)
class AlertExpired(AboutOrder):
    """A coordinator's alert (`alert_id`) about a request that expired, edited: nothing is
    left to do, so it loses its buttons."""

    KIND: ClassVar[Kind] = Kind.ALERT_EXPIRED
    alert_id: int


@dataclass(frozen=True)
class VerifyAsked(Payload):
    KIND: ClassVar[Kind] = Kind.VERIFY_ASKED
    volunteer_id: int


@dataclass(frozen=True)
class Verified(Payload):
    KIND: ClassVar[Kind] = Kind.VERIFIED


# family and gifts


@dataclass(frozen=True)
class FamilyAsk(Payload):
    KIND: ClassVar[Kind] = Kind.FAMILY_ASK
    link_id: int


@dataclass(frozen=True)
class FamilyAnswer(Payload):
    KIND: ClassVar[Kind] = Kind.FAMILY_ANSWER
    link_id: int
    accepted: bool


@dataclass(frozen=True)
class FamilyUnlinked(Payload):
    KIND: ClassVar[Kind] = Kind.FAMILY_UNLINKED
    by: int


@dataclass(frozen=True)
class GiftReceived(Payload):
    KIND: ClassVar[Kind] = Kind.GIFT_RECEIVED
    from_id: int
    minutes: int
