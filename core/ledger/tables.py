"""The ledger's tables: accounts with cached balances, append-only postings, and holds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

import core.models  # noqa: F401  (the naming convention, branches, members and orders)
from core.db import UTCDateTime, utcnow
from core.ledger.values import DEFAULT_RESIDENT_OVERDRAFT, DEFAULT_WELCOME_MINUTES

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a bigint.
BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


def _minutes(*, nullable: bool = False, default: int | None = 0) -> Column:
    return Column(BigInteger, nullable=nullable, default=default)


def _policy_minutes(default: int) -> Column:
    return Column(BigInteger, nullable=False, default=default, server_default=str(default))


def _timestamp(*, nullable: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable)


class LedgerAccount(SQLModel, table=True):
    """A member's account, a branch's pool or issuance account, or a merchant's account.

    `balance` caches the sum of the account's entries and `held` the sum of its pending
    holds; both change in the same transaction as those rows and `verify_ledger` checks
    them. `overdraft_limit` is how far below zero `balance - held` may go; NULL means
    without limit (the issuance account, the counterpart of all credit in circulation).
    """

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("kind", "owner_id"),
        CheckConstraint("held >= 0", name="held_not_negative"),
        CheckConstraint(
            "overdraft_limit IS NULL OR balance - held >= -overdraft_limit",
            name="within_overdraft_limit",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    branch_id: int = Field(foreign_key="branches.id", index=True)
    # The member or merchant id; for a pool or issuance account, the branch id again.
    owner_id: int
    overdraft_limit: int | None = Field(default=0, sa_column=_minutes(nullable=True))
    balance: int = Field(default=0, sa_column=_minutes())
    held: int = Field(default=0, sa_column=_minutes())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class LedgerBranchSettings(SQLModel, table=True):
    """Per-branch ledger policy: welcome hours, how far members and residents may overdraw.

    A branch without a row follows the defaults (`core.ledger.values.BranchPolicy`).
    """

    __tablename__ = "ledger_branch_settings"
    __table_args__ = (
        CheckConstraint("member_overdraft_limit >= 0", name="limit_not_negative"),
        CheckConstraint("welcome_minutes >= 0", name="welcome_not_negative"),
        CheckConstraint("resident_overdraft_limit >= 0", name="resident_limit_not_negative"),
    )

    branch_id: int = Field(
        sa_column=Column(Integer, ForeignKey("branches.id"), primary_key=True, autoincrement=False)
    )
    member_overdraft_limit: int = Field(default=0, sa_column=_minutes())
    # Server defaults too, so a branch's row written by hand gets the default policy.
    welcome_minutes: int = Field(
        default=DEFAULT_WELCOME_MINUTES, sa_column=_policy_minutes(DEFAULT_WELCOME_MINUTES)
    )
    resident_overdraft_limit: int = Field(
        default=DEFAULT_RESIDENT_OVERDRAFT, sa_column=_policy_minutes(DEFAULT_RESIDENT_OVERDRAFT)
    )
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class LedgerTransaction(SQLModel, table=True):
    """One posting: two or more entries that sum to zero. Never updated, never deleted.

    `fingerprint` digests what the request asked for, so a replayed idempotency key can
    be told apart from the same key reused for something else.
    """

    __tablename__ = "ledger_transactions"
    # A branch's hours exchanged in a period (core.stats) read the service postings in it;
    # with the order and the id in the index, finding a branch's postings reads no
    # transaction row (SQLite's indexes hold the id anyway; PostgreSQL's need it named).
    __table_args__ = (
        Index("ix_ledger_transactions_kind_created_at", "kind", "created_at", "order_id", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(BIG_ID, primary_key=True))
    kind: str = Field(max_length=16)
    memo: str = Field(default="", max_length=500)
    actor_id: int | None = Field(default=None, foreign_key="members.id")
    order_id: int | None = Field(default=None, foreign_key="orders.id", index=True)
    redemption_id: int | None = Field(default=None, index=True)
    # Unique: a transaction is reversed at most once.
    reverses_id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger, ForeignKey("ledger_transactions.id"), unique=True),
    )
    idempotency_key: str = Field(max_length=128, unique=True)
    fingerprint: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class LedgerEntry(SQLModel, table=True):
    """One leg of a posting. `balance_after` is the account's balance once it was applied."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_not_zero"),
        # The passbook pages through an account's entries by id.
        Index("ix_ledger_entries_account_id_id", "account_id", "id"),
        # A posting's legs; with the amount and account, a branch's figures (core.stats)
        # find who was paid without reading the entry.
        Index("ix_ledger_entries_transaction_id_amount", "transaction_id", "amount", "account_id"),
    )

    id: int | None = Field(default=None, sa_column=Column(BIG_ID, primary_key=True))
    transaction_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("ledger_transactions.id"), nullable=False)
    )
    account_id: int = Field(foreign_key="ledger_accounts.id")
    amount: int = Field(sa_column=_minutes(default=None))
    balance_after: int = Field(sa_column=_minutes(default=None))


class LedgerHold(SQLModel, table=True):
    """Credit set aside for a beneficiary until it is posted, voided or expires.

    A hold is state, not a posting: its status leaves `pending` once, by a conditional
    update, and a posted hold links the transaction that settled it.
    """

    __tablename__ = "ledger_holds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_ledger_holds_status_expires_at", "status", "expires_at"),
    )

    id: int | None = Field(default=None, sa_column=Column(BIG_ID, primary_key=True))
    account_id: int = Field(foreign_key="ledger_accounts.id", index=True)
    beneficiary_id: int = Field(foreign_key="ledger_accounts.id")
    amount: int = Field(sa_column=_minutes(default=None))
    kind: str = Field(max_length=16)
    status: str = Field(default="pending", max_length=16)
    memo: str = Field(default="", max_length=500)
    actor_id: int | None = Field(default=None, foreign_key="members.id")
    order_id: int | None = Field(default=None, foreign_key="orders.id", index=True)
    redemption_id: int | None = Field(default=None, index=True)
    expires_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    idempotency_key: str = Field(max_length=128, unique=True)
    fingerprint: str = Field(max_length=32)
    void_key: str | None = Field(default=None, max_length=128, unique=True)
    transaction_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, ForeignKey("ledger_transactions.id"))
    )
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    closed_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
