"""Checks on what callers pass in, done before anything is written."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from core.ledger.errors import (
    InvalidAmount,
    InvalidExpiry,
    InvalidKey,
    InvalidKind,
    InvalidLimit,
    InvalidPosting,
    ReasonRequired,
    TextTooLong,
)
from core.ledger.values import PostingKind

MAX_MINUTES = 10_000_000
MAX_KEY_LENGTH = 128
MAX_MEMO_LENGTH = 500


def minutes(value: object) -> int:
    """A positive whole number of minutes. bool is an int in Python, and is refused too."""
    if type(value) is not int or not 0 < value <= MAX_MINUTES:
        raise InvalidAmount(maximum=MAX_MINUTES)
    return value


def signed_minutes(value: object) -> int:
    """A non-zero whole number of minutes, either way (an entry, an adjustment)."""
    if type(value) is not int or value == 0:
        raise InvalidAmount(maximum=MAX_MINUTES)
    minutes(abs(value))
    return value


def overdraft_limit(value: object) -> int:
    if type(value) is not int or not 0 <= value <= MAX_MINUTES:
        raise InvalidLimit(maximum=MAX_MINUTES)
    return value


def legs(amounts: Mapping[int, int]) -> list[tuple[int, int]]:
    """(account id, amount) pairs, sorted by account id: the order rows are locked in."""
    pairs = sorted((account_id, signed_minutes(amount)) for account_id, amount in amounts.items())
    if len(pairs) < 2 or sum(amount for _, amount in pairs) != 0:
        raise InvalidPosting()
    return pairs


def kind(value: object, allowed: frozenset[PostingKind]) -> PostingKind:
    try:
        checked = PostingKind(value)
    except ValueError:
        raise InvalidKind() from None
    if checked not in allowed:
        raise InvalidKind()
    return checked


def key(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_KEY_LENGTH:
        raise InvalidKey()
    return value


def memo(value: str) -> str:
    if len(value) > MAX_MEMO_LENGTH:
        raise TextTooLong(maximum=MAX_MEMO_LENGTH)
    return value


def reason(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ReasonRequired()
    return memo(value.strip())


def expiry(value: datetime | None, now: datetime) -> datetime | None:
    if value is not None and (value.tzinfo is None or value <= now):
        raise InvalidExpiry()
    return value
