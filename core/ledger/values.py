"""The plain values the ledger takes and returns: kinds, actors, accounts, postings, holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class AccountKind(StrEnum):
    MEMBER = "member"
    POOL = "pool"
    MERCHANT = "merchant"
    ISSUANCE = "issuance"


class PostingKind(StrEnum):
    SERVICE = "service"
    REDEMPTION = "redemption"
    GIFT = "gift"
    GRANT = "grant"
    ADJUSTMENT = "adjustment"
    REVERSAL = "reversal"


# What `post`, `transfer` and holds may record; adjustments and reversals have their own calls.
TRANSFER_KINDS = frozenset(
    {PostingKind.SERVICE, PostingKind.REDEMPTION, PostingKind.GIFT, PostingKind.GRANT}
)


class HoldStatus(StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"
    EXPIRED = "expired"


# One hour: a first request of about an hour needs nobody's help with its cost.
DEFAULT_WELCOME_MINUTES = 60
# Two hours below zero for residents: with the welcome hours, a first request up to three.
DEFAULT_RESIDENT_OVERDRAFT = 120


@dataclass(frozen=True, slots=True)
class BranchPolicy:
    """What a branch gives its members to start with (see core.ledger.policy)."""

    welcome_minutes: int = DEFAULT_WELCOME_MINUTES
    member_overdraft_limit: int = 0
    resident_overdraft_limit: int = DEFAULT_RESIDENT_OVERDRAFT

    def overdraft_limit(self, *, is_resident: bool) -> int:
        """A member's overdraft limit: a resident gets the larger of the two limits."""
        if is_resident:
            return max(self.member_overdraft_limit, self.resident_overdraft_limit)
        return self.member_overdraft_limit


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks for a mutation: a member (maybe a coordinator), or the system (no member).

    The caller decides whether the member is a coordinator; the ledger only trusts the flag.
    """

    member_id: int | None = None
    is_coordinator: bool = False


SYSTEM = Actor()


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    kind: AccountKind
    branch_id: int
    owner_id: int
    overdraft_limit: int | None  # None: no limit


@dataclass(frozen=True, slots=True)
class Balance:
    account_id: int
    balance: int
    held: int
    overdraft_limit: int | None

    @property
    def available(self) -> int:
        """Balance less the credit set aside by pending holds."""
        return self.balance - self.held

    @property
    def spendable(self) -> int | None:
        """What a new transfer or hold may take now, overdraft included; None: no limit."""
        if self.overdraft_limit is None:
            return None
        return max(0, self.available + self.overdraft_limit)


@dataclass(frozen=True, slots=True)
class Entry:
    account_id: int
    amount: int
    balance_after: int


@dataclass(frozen=True, slots=True)
class Posting:
    """A recorded transaction. `replayed` is true when an idempotency key was seen before."""

    id: int
    kind: PostingKind
    memo: str
    actor_id: int | None
    order_id: int | None
    redemption_id: int | None
    reverses_id: int | None
    created_at: datetime
    entries: tuple[Entry, ...]
    replayed: bool = field(default=False, compare=False)

    def amount_for(self, account_id: int) -> int:
        """The net amount this posting moved into (+) or out of (−) one account."""
        return sum(e.amount for e in self.entries if e.account_id == account_id)


@dataclass(frozen=True, slots=True)
class Hold:
    id: int
    account_id: int
    beneficiary_id: int
    amount: int
    kind: PostingKind
    status: HoldStatus
    memo: str
    order_id: int | None
    redemption_id: int | None
    expires_at: datetime | None
    transaction_id: int | None
    replayed: bool = field(default=False, compare=False)
