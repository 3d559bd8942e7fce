"""The passbook: an account's entries with their running balance, newest first, page by page.

Pages are keyset-paginated on the entry id and the cursor is the last id shown, so entries
posted while someone reads never shift a page or appear twice. Every entry stores the
balance it left behind, so the running balance costs nothing to show.
"""

from __future__ import annotations

import base64
import binascii
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.ledger.balances import read
from core.ledger.errors import InvalidCursor, UnknownAccount
from core.ledger.postings import entries, transactions
from core.ledger.values import PostingKind

MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class PassbookLine:
    entry_id: int
    transaction_id: int
    at: datetime
    kind: PostingKind
    memo: str
    amount: int
    balance_after: int
    counterparties: tuple[int, ...]  # the other accounts of the posting
    order_id: int | None
    redemption_id: int | None
    reverses_id: int | None


@dataclass(frozen=True, slots=True)
class PassbookPage:
    lines: tuple[PassbookLine, ...]
    next_cursor: str | None  # None on the last page

    def head(self, size: int) -> PassbookPage:
        """The page of this page's first `size` lines, with the cursor `passbook` gives it."""
        shown = self.lines[:size]
        more = len(self.lines) > size or self.next_cursor is not None
        return PassbookPage(shown, encode_cursor(shown[-1].entry_id) if more else None)


def encode_cursor(entry_id: int) -> str:
    return base64.urlsafe_b64encode(entry_id.to_bytes(8, "big")).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise InvalidCursor() from None
    if len(raw) != 8:
        raise InvalidCursor()
    return int.from_bytes(raw, "big")


async def passbook(
    session: AsyncSession,
    account_id: int,
    *,
    cursor: str | None = None,
    page_size: int = 10,
    counterparties: bool = True,
) -> PassbookPage:
    """One page of the account's entries, newest first; pass `next_cursor` for the next.

    `counterparties=False` leaves each line's other accounts out (empty), for a caller
    that reads them itself with more about them, in a statement of its own."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be from 1 to {MAX_PAGE_SIZE}")
    conn = await session.connection()
    query = (
        select(
            entries.c.id,
            entries.c.transaction_id,
            transactions.c.created_at,
            transactions.c.kind,
            transactions.c.memo,
            entries.c.amount,
            entries.c.balance_after,
            transactions.c.order_id,
            transactions.c.redemption_id,
            transactions.c.reverses_id,
        )
        .join(transactions, transactions.c.id == entries.c.transaction_id)
        .where(entries.c.account_id == account_id)
        .order_by(entries.c.id.desc())
        .limit(page_size + 1)
    )
    if cursor is not None:
        query = query.where(entries.c.id < decode_cursor(cursor))
    rows = (await conn.execute(query)).all()
    if not rows and cursor is None and await read(conn, account_id) is None:
        raise UnknownAccount(account_id=account_id)
    shown = rows[:page_size]
    others: dict[int, list[int]] = defaultdict(list)
    if shown and counterparties:
        legs = await conn.execute(
            select(entries.c.transaction_id, entries.c.account_id)
            .where(
                entries.c.transaction_id.in_({row.transaction_id for row in shown}),
                entries.c.account_id != account_id,
            )
            .order_by(entries.c.id)
        )
        for transaction_id, other in legs:
            others[transaction_id].append(other)
    lines = tuple(
        PassbookLine(
            entry_id=row.id,
            transaction_id=row.transaction_id,
            at=row.created_at,
            kind=PostingKind(row.kind),
            memo=row.memo,
            amount=row.amount,
            balance_after=row.balance_after,
            counterparties=tuple(others[row.transaction_id]),
            order_id=row.order_id,
            redemption_id=row.redemption_id,
            reverses_id=row.reverses_id,
        )
        for row in shown
    )
    more = len(rows) > page_size
    return PassbookPage(lines, encode_cursor(shown[-1].id) if more else None)
