"""Passbook statements: a member's balance and entries, told in people's words, as CSV or PDF.

The ledger gives an account's entries with their running balance; this module adds what a
member wants to read next to them — when (in the branch's time zone), what for (the kind of
posting, its memo, the order's category) and with whom (the other member's name, or the
community pool or the time bank itself) — and renders them as a chat page, a CSV file for
a spreadsheet, or a PDF with fonts for Chinese and Korean.

Help the community pool paid for moves nothing in the helped member's account, yet belongs in
their passbook: it is listed with who helped and for how long, the balance unchanged.

Core has no locale: the renderers take the member's language and a `gettext` for it.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton
from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import ledger, members, pdf_fonts
from core.catalog import localized
from core.db import utcnow
from core.errors import N_, InvalidInput
from core.ledger import AccountKind, PassbookLine, PostingKind
from core.ledger.tables import LedgerAccount, LedgerEntry, LedgerTransaction
from core.models import Branch, Category, Member, Order, OrderEvent, OrderFunding, OrderStatus

Gettext = Callable[[str], str]

PAGE_SIZE = 5
MAX_PAGE = 200
MAX_EXPORT_LINES = 5000
_BATCH = 100


_entries = LedgerEntry.__table__
_transactions = LedgerTransaction.__table__


class PageGone(InvalidInput):
    key = N_("This page of the passbook is no longer available. Please start again.")


# ---------------------------------------------------------------- hours and minutes


def duration(minutes: int, gettext: Gettext) -> str:
    """Whole minutes as hours and minutes: "1 h 30 min", "1小时30分钟", "1시간 30분"."""
    sign = "−" if minutes < 0 else ""
    hours, rest = divmod(abs(minutes), 60)
    if hours == 0:
        text = gettext("{minutes} min").format(minutes=rest)
    elif rest == 0:
        text = gettext("{hours} h").format(hours=hours)
    else:
        text = gettext("{hours} h {minutes} min").format(hours=hours, minutes=rest)
    return sign + text


def signed_duration(minutes: int, gettext: Gettext) -> str:
    return ("+" if minutes > 0 else "") + duration(minutes, gettext)


# ---------------------------------------------------------------- what a statement holds


@dataclass(frozen=True, slots=True)
class Party:
    """The other side of an entry: a member (with a name) or one of the bank's accounts."""

    kind: AccountKind
    name: str = ""


@dataclass(frozen=True, slots=True)
class StatementLine:
    at: datetime
    kind: PostingKind
    amount: int
    balance_after: int
    memo: str
    category: dict[str, str] | None
    parties: tuple[Party, ...]


@dataclass(frozen=True, slots=True)
class Summary:
    member_name: str
    time_zone: str
    has_account: bool
    balance: int
    held: int
    earned_this_year: int
    spent_this_year: int

    @property
    def available(self) -> int:
        return self.balance - self.held


@dataclass(frozen=True, slots=True)
class PoolHelp:
    """Help the member received that the community pool paid for."""

    at: datetime
    minutes: int
    helper: str  # "" when the volunteer's account was erased
    category: dict[str, str] | None


@dataclass(frozen=True, slots=True)
class PassbookView:
    """One page of the passbook in chat. Pages after the first count from `anchor`.
    The first page also lists the latest help the pool paid for (`pool_help_total` in all)."""

    summary: Summary
    lines: tuple[StatementLine, ...]
    page: int
    anchor: str  # the ledger cursor where page 1 starts, "" when everything fits on page 0
    has_more: bool
    pool_help: tuple[PoolHelp, ...] = ()
    pool_help_total: int = 0


@dataclass(frozen=True, slots=True)
class Statement:
    summary: Summary
    lines: tuple[StatementLine, ...]
    truncated: bool
    pool_help: tuple[PoolHelp, ...] = ()


class _Names:
    """Who stands behind the other accounts of entries and what their orders were for,
    read for a batch of entries at once, in one statement: the entries' other legs with
    their accounts' owners and their orders' categories (the ledger's page leaves its own
    read of the other legs out)."""

    def __init__(self, session: AsyncSession, account_id: int) -> None:
        self.session = session
        self.account_id = account_id

    async def lines(self, shown: Sequence[PassbookLine]) -> list[StatementLine]:
        parties: dict[int, list[Party]] = defaultdict(list)
        categories: dict[int, dict[str, str] | None] = {}
        if shown:
            rows = await self.session.execute(
                select(
                    _entries.c.transaction_id,
                    LedgerAccount.kind,
                    Member.name,
                    Member.erased_at,
                    Category.names,
                )
                .select_from(_entries)
                .join(LedgerAccount, LedgerAccount.id == _entries.c.account_id)
                .outerjoin(
                    Member,
                    and_(
                        LedgerAccount.kind == AccountKind.MEMBER,
                        Member.id == LedgerAccount.owner_id,
                    ),
                )
                .join(_transactions, _transactions.c.id == _entries.c.transaction_id)
                .outerjoin(Order, Order.id == _transactions.c.order_id)
                .outerjoin(Category, Category.id == Order.category_id)
                .where(
                    _entries.c.transaction_id.in_({line.transaction_id for line in shown}),
                    _entries.c.account_id != self.account_id,
                )
                .order_by(_entries.c.id)
            )
            for transaction_id, kind, name, erased_at, names in rows:
                kind = AccountKind(kind)
                named = kind == AccountKind.MEMBER and name is not None and erased_at is None
                parties[transaction_id].append(Party(kind, name if named else ""))
                categories[transaction_id] = dict(names) if names is not None else None
        return [
            StatementLine(
                at=line.at,
                kind=line.kind,
                amount=line.amount,
                balance_after=line.balance_after,
                memo=line.memo,
                category=None if line.order_id is None else categories.get(line.transaction_id),
                parties=tuple(parties[line.transaction_id]),
            )
            for line in shown
        ]


def _paid_by_pool(member_id: int) -> tuple[ColumnElement[bool], ...]:
    return (
        Order.beneficiary_id == member_id,
        Order.funding == OrderFunding.POOL,
        Order.status == OrderStatus.CONFIRMED,
    )


async def _balance_and_pool(
    session: AsyncSession, member_id: int
) -> tuple[ledger.Balance | None, bool]:
    """The member's balance (None without an account) and whether the pool ever paid for
    help they received (True, perhaps, for a member without an account: sponsored members
    may have none). One read instead of two for a member with an account, as most are."""
    pool_paid = exists().where(*_paid_by_pool(member_id))
    row = (
        await session.execute(
            select(
                LedgerAccount.id,
                LedgerAccount.balance,
                LedgerAccount.held,
                LedgerAccount.overdraft_limit,
                pool_paid,
            ).where(LedgerAccount.kind == AccountKind.MEMBER, LedgerAccount.owner_id == member_id)
        )
    ).first()
    if row is None:
        return None, True  # perhaps: `_pool_help` will tell
    account_id, balance, held, limit, paid = row
    return ledger.Balance(account_id, balance, held, limit), bool(paid)


async def _pool_help(
    session: AsyncSession, member_id: int, limit: int
) -> tuple[tuple[PoolHelp, ...], int]:
    """The latest `limit` confirmed helps paid by the pool for the member, newest first,
    and how many there are in all."""
    paid_by_pool = _paid_by_pool(member_id)
    confirmed_at = (
        select(func.max(OrderEvent.at))
        .where(OrderEvent.order_id == Order.id, OrderEvent.to_status == OrderStatus.CONFIRMED)
        .scalar_subquery()
    )
    # How many in all, beside the latest `limit` of them: counted before the LIMIT.
    rows = (
        await session.execute(
            select(Order, Member, Category, confirmed_at, func.count().over())
            .join(Member, Member.id == Order.volunteer_id, isouter=True)
            .join(Category, Category.id == Order.category_id, isouter=True)
            .where(*paid_by_pool)
            .order_by(Order.id.desc())
            .limit(limit)
        )
    ).all()
    total: int = rows[0][4] if rows else 0
    helps = [
        PoolHelp(
            at=at or order.updated_at,
            minutes=order.actual_minutes or order.estimated_minutes,
            helper=helper.name if helper is not None and helper.erased_at is None else "",
            category=dict(category.names) if category is not None else None,
        )
        for order, helper, category, at, _total in rows
    ]
    helps.sort(key=lambda help_: help_.at, reverse=True)
    return tuple(helps), total


async def _time_zone(session: AsyncSession, member: Member) -> str:
    branch = await session.get(Branch, member.branch_id) if member.branch_id else None
    return branch.time_zone if branch is not None else "UTC"


def _earned(line: PassbookLine) -> int:
    return line.amount if line.kind == PostingKind.SERVICE and line.amount > 0 else 0


def _spent(line: PassbookLine) -> int:
    spending = (PostingKind.SERVICE, PostingKind.REDEMPTION)
    return -line.amount if line.kind in spending and line.amount < 0 else 0


async def _summary(
    session: AsyncSession, member: Member, account: ledger.Balance | None, now: datetime
) -> tuple[Summary, ledger.PassbookPage | None]:
    """The summary, and the newest `_BATCH` entries it read first (the passbook's first
    page and an export's first batch are cut from them instead of read again)."""
    time_zone = await _time_zone(session, member)
    if account is None:
        return Summary(member.name, time_zone, False, 0, 0, 0, 0), None
    local_now = now.astimezone(ZoneInfo(time_zone))
    year_start = local_now.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    earned = spent = 0
    cursor: str | None = None
    first: ledger.PassbookPage | None = None
    while True:
        page = await ledger.passbook(
            session, account.account_id, cursor=cursor, page_size=_BATCH, counterparties=False
        )
        if first is None:
            first = page
        for line in page.lines:
            if line.at < year_start:
                break
            earned += _earned(line)
            spent += _spent(line)
        else:
            if page.next_cursor is not None:
                cursor = page.next_cursor
                continue
        break
    summary = Summary(member.name, time_zone, True, account.balance, account.held, earned, spent)
    return summary, first


async def _walk(
    session: AsyncSession, account_id: int, anchor: str, page: int, page_size: int
) -> ledger.PassbookPage:
    """Page `page` (1 or more), following the ledger's cursors from `anchor`."""
    cursor: str | None = anchor
    try:
        for _step in range(page):
            if cursor is None:
                raise PageGone()
            shown = await ledger.passbook(
                session, account_id, cursor=cursor, page_size=page_size, counterparties=False
            )
            cursor = shown.next_cursor
    except ledger.InvalidCursor:
        raise PageGone() from None
    if not shown.lines:
        raise PageGone()
    return shown


async def passbook_view(
    session: AsyncSession,
    member_id: int,
    *,
    page: int = 0,
    anchor: str = "",
    page_size: int = PAGE_SIZE,
    now: datetime | None = None,
) -> PassbookView:
    """Page `page` of the member's passbook: 0 is the newest entries, counted afresh; the
    pages after it are counted from `anchor` (as page 0 gave it), so they stay put while
    new entries arrive. A page that no longer exists, or a forged anchor, raises PageGone.
    """
    member = await members.get_member(session, member_id)
    account, pool_paid = await _balance_and_pool(session, member_id)
    summary, first = await _summary(session, member, account, now or utcnow())
    pool_help, pool_total = ((), 0)
    if page == 0 and pool_paid:
        pool_help, pool_total = await _pool_help(session, member_id, page_size)
    if account is None:
        if page != 0:
            raise PageGone()
        return PassbookView(summary, (), 0, "", False, pool_help, pool_total)
    if not 0 <= page <= MAX_PAGE:
        raise PageGone()
    if page == 0 and first is not None and 1 <= page_size <= _BATCH:
        shown = first.head(page_size)  # the newest entries, cut from what the summary read
        anchor = shown.next_cursor or ""
    elif page == 0:  # a size the ledger refuses
        shown = await ledger.passbook(
            session, account.account_id, page_size=page_size, counterparties=False
        )
        anchor = shown.next_cursor or ""
    else:
        if not anchor:
            raise PageGone()
        shown = await _walk(session, account.account_id, anchor, page, page_size)
    has_more = shown.next_cursor is not None
    lines = tuple(await _Names(session, account.account_id).lines(shown.lines))
    return PassbookView(summary, lines, page, anchor, has_more, pool_help, pool_total)


async def statement(
    session: AsyncSession, member_id: int, *, now: datetime | None = None
) -> Statement:
    """Everything for an export: the summary and every entry (up to MAX_EXPORT_LINES)."""
    member = await members.get_member(session, member_id)
    account, pool_paid = await _balance_and_pool(session, member_id)
    summary, page = await _summary(session, member, account, now or utcnow())
    pool_help: tuple[PoolHelp, ...] = ()
    if pool_paid:
        pool_help, _total = await _pool_help(session, member_id, MAX_EXPORT_LINES)
    if account is None or page is None:
        return Statement(summary, (), False, pool_help)
    names = _Names(session, account.account_id)
    lines: list[StatementLine] = []
    while True:
        lines += await names.lines(page.lines)
        cursor = page.next_cursor
        if cursor is None or len(lines) >= MAX_EXPORT_LINES:
            break
        page = await ledger.passbook(
            session, account.account_id, cursor=cursor, page_size=_BATCH, counterparties=False
        )
    return Statement(summary, tuple(lines[:MAX_EXPORT_LINES]), cursor is not None, pool_help)


# ---------------------------------------------------------------- words for an entry

_KIND_IN = {
    PostingKind.SERVICE: N_("Helped a neighbour"),
    PostingKind.REDEMPTION: N_("Reward returned"),
    PostingKind.GIFT: N_("Gift received"),
    PostingKind.GRANT: N_("Welcome hours"),
    PostingKind.ADJUSTMENT: N_("Correction"),
    PostingKind.REVERSAL: N_("Cancelled entry"),
}
_KIND_OUT = {
    PostingKind.SERVICE: N_("Help received"),
    PostingKind.REDEMPTION: N_("Reward"),
    PostingKind.GIFT: N_("Gift given"),
    PostingKind.GRANT: N_("Hours given out"),
    PostingKind.ADJUSTMENT: N_("Correction"),
    PostingKind.REVERSAL: N_("Cancelled entry"),
}
_BANK_NAMES = {
    AccountKind.POOL: N_("community pool"),
    AccountKind.ISSUANCE: N_("time bank"),
    AccountKind.MERCHANT: N_("a shop"),
}


def what_for(line: StatementLine, language: str, gettext: Gettext) -> str:
    words = [gettext((_KIND_IN if line.amount > 0 else _KIND_OUT)[line.kind])]
    if line.category:
        words.append(localized(line.category, language))
    if line.memo:
        words.append(line.memo)
    return " · ".join(words)


def with_whom(line: StatementLine, gettext: Gettext) -> str:
    names = []
    for party in line.parties:
        if party.kind == AccountKind.MEMBER:
            names.append(party.name or gettext("a former member"))
        else:
            names.append(gettext(_BANK_NAMES[party.kind]))
    return ", ".join(dict.fromkeys(names))


def pool_help_what(help_: PoolHelp, language: str, gettext: Gettext) -> str:
    words = [gettext("Help received")]
    if help_.category:
        words.append(localized(help_.category, language))
    words.append(
        gettext("{duration}, paid by the community pool").format(
            duration=duration(help_.minutes, gettext)
        )
    )
    return " · ".join(words)


def pool_help_whom(help_: PoolHelp, gettext: Gettext) -> str:
    return help_.helper or gettext("a former member")


@dataclass(frozen=True, slots=True)
class _Row:
    at: datetime
    what: str
    whom: str
    amount: int
    balance_after: int


def _rows(statement_: Statement, language: str, gettext: Gettext) -> list[_Row]:
    """The ledger's entries and the help the pool paid for, newest first; a pool-paid help
    moves nothing, so its balance is the one the entry before it left."""
    rows = [
        _Row(line.at, what_for(line, language, gettext), with_whom(line, gettext),
             line.amount, line.balance_after)
        for line in statement_.lines
    ]  # fmt: skip
    for help_ in statement_.pool_help:
        before = next((line for line in statement_.lines if line.at <= help_.at), None)
        balance = before.balance_after if before is not None else 0
        what, whom = pool_help_what(help_, language, gettext), pool_help_whom(help_, gettext)
        rows.append(_Row(help_.at, what, whom, 0, balance))
    rows.sort(key=lambda row: row.at, reverse=True)
    return rows


def _local_stamp(at: datetime, time_zone: str) -> str:
    return at.astimezone(ZoneInfo(time_zone)).strftime("%Y-%m-%d %H:%M")


def _date(at: datetime, time_zone: str, language: str) -> str:
    return format_skeleton("yMMMd", at.astimezone(ZoneInfo(time_zone)), locale=language)


def entry_date(line: StatementLine | PoolHelp, time_zone: str, language: str) -> str:
    return _date(line.at, time_zone, language)


# ---------------------------------------------------------------- CSV


def render_csv(statement_: Statement, language: str, gettext: Gettext) -> bytes:
    """UTF-8 with a byte order mark, so Excel opens Chinese and Korean as they are."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow([
        gettext("Date"), gettext("What for"), gettext("With whom"),
        gettext("Minutes"), gettext("Balance after (minutes)"),
        gettext("Amount"), gettext("Balance after"),
    ])  # fmt: skip
    time_zone = statement_.summary.time_zone
    for row in _rows(statement_, language, gettext):
        writer.writerow([
            _local_stamp(row.at, time_zone),
            row.what,
            row.whom,
            row.amount,
            row.balance_after,
            signed_duration(row.amount, gettext),
            duration(row.balance_after, gettext),
        ])  # fmt: skip
    return out.getvalue().encode("utf-8-sig")


# ---------------------------------------------------------------- PDF


def render_pdf(
    statement_: Statement, language: str, gettext: Gettext, *, generated_at: datetime
) -> bytes:
    """An A4 statement in the member's language: the summary, then every entry. Its fonts
    are embedded when the system has a CJK font (see core.pdf_fonts)."""
    from reportlab.lib import colors
    from reportlab.lib.units import mm
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.platypus import Spacer, Table, TableStyle

    from core.pdf_pages import Typeset

    summary = statement_.summary
    time_zone = summary.time_zone
    title = gettext("Time bank passbook")
    local_now = generated_at.astimezone(ZoneInfo(time_zone))
    generated = format_skeleton("yMMMd", local_now, locale=language)
    facts = [
        (gettext("Balance"), duration(summary.balance, gettext)),
        (gettext("Set aside for accepted requests"), duration(summary.held, gettext)),
        (gettext("Earned this year"), duration(summary.earned_this_year, gettext)),
        (gettext("Spent this year"), duration(summary.spent_this_year, gettext)),
    ]
    header = [
        gettext(text) for text in ("Date", "What for", "With whom", "Amount", "Balance after")
    ]
    rows = [
        [_date(row.at, time_zone, language), row.what, row.whom,
         signed_duration(row.amount, gettext), duration(row.balance_after, gettext)]
        for row in _rows(statement_, language, gettext)
    ]  # fmt: skip
    notes = [
        as_of := gettext("As of {date}").format(date=generated),
        no_entries := gettext("No entries yet."),
        only_latest := gettext("Only the latest entries are shown."),
    ]
    fonts = pdf_fonts.document_fonts(
        language,
        [title, summary.member_name, *notes, *header]
        + [text for pair in facts for text in pair]
        + [text for row in rows for text in row],
    )

    typeset = Typeset(fonts, size=9)
    para, cell_font = typeset.para, typeset.cell_font

    def widest(texts: list[str], *, bold: bool = False) -> float:
        """The width the longest text takes, with the cell's padding."""
        shown = [fonts.shown(text) for text in texts]
        return 12 + max(stringWidth(text, fonts.font(text, bold=bold), 9) for text in shown)

    buffer = io.BytesIO()
    doc = typeset.document(buffer, title=title, author=summary.member_name)
    story: list = [
        para(title, 16, bold=True),
        Spacer(1, 2 * mm),
        para(summary.member_name, 12),
        para(as_of, 9),
        Spacer(1, 4 * mm),
        typeset.facts(facts, label_width=70 * mm),
        Spacer(1, 6 * mm),
    ]
    if not rows:
        story.append(para(no_entries))
    else:
        # Dates and amounts never wrap; what is left goes to "what for" and "with whom".
        fixed = [
            widest([header[0]] + [row[0] for row in rows], bold=True),
            widest([header[3]] + [row[3] for row in rows], bold=True),
            widest([header[4]] + [row[4] for row in rows], bold=True),
        ]
        rest = max(doc.width - sum(fixed), 60 * mm)
        widths = [fixed[0], rest * 0.6, rest * 0.4, fixed[1], fixed[2]]
        table = Table(
            [[para(text, bold=True, align=2 if column > 2 else 0)
              for column, text in enumerate(header)]]
            + [[para(row[0]), para(row[1]), para(row[2]),
                para(row[3], align=2), para(row[4], align=2)] for row in rows],
            colWidths=widths,
            repeatRows=1,
        )  # fmt: skip
        table.setStyle(
            TableStyle(
                [
                    ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
                    ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.lightgrey),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    cell_font,
                ]
            )
        )
        story.append(table)
    if statement_.truncated:
        story += [Spacer(1, 3 * mm), para(only_latest)]
    doc.build(story)
    return buffer.getvalue()


def export_name(at: datetime, time_zone: str, extension: str) -> str:
    """The file's name, dated as the passbook inside it is: the branch's day, not UTC's."""
    return f"passbook-{at.astimezone(ZoneInfo(time_zone)):%Y-%m-%d}.{extension}"
