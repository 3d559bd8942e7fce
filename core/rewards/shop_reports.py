"""What a partner shop sees of its hours: today's and this month's redemptions, a monthly
statement (CSV, or PDF with Chinese and Korean fonts), and a coordinator's settlement.

Members appear by first name only: never a phone number or an address. Settling records,
as a posting, hours the branch has paid the shop for outside the bot (e.g. the street
office pays it): they leave the shop's account against the branch's issuance account.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import ledger, members, pdf_fonts
from core.catalog import localized
from core.coordinators import coordinator_of
from core.db import utcnow
from core.errors import N_, InvalidInput
from core.ledger import Actor, PostingKind
from core.models import Branch, Member
from core.rewards.merchants import StaffOnly, get_merchant, merchant_of_staff
from core.rewards.redemption import first_name
from core.rewards.tables import Merchant, Redemption, RedemptionStatus, RewardItem
from core.statements import Gettext, duration

_BATCH = 100


class MonthInvalid(InvalidInput):
    key = N_("Please choose a month from the buttons.")


@dataclass(frozen=True, slots=True)
class SaleLine:
    at: datetime
    item_names: dict[str, str]
    minutes: int
    member_first_name: str
    code: str


@dataclass(frozen=True, slots=True)
class Sales:
    merchant_name: str
    time_zone: str
    since: datetime
    lines: tuple[SaleLine, ...]

    @property
    def minutes(self) -> int:
        return sum(line.minutes for line in self.lines)


def _local_start(now: datetime, time_zone: str, period: str) -> datetime:
    local = now.astimezone(ZoneInfo(time_zone))
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start.replace(day=1) if period == "month" else start


async def _time_zone(session: AsyncSession, merchant: Merchant) -> str:
    branch = await session.get(Branch, merchant.branch_id)
    return branch.time_zone if branch is not None else "UTC"


async def _shop_for(session: AsyncSession, viewer_id: int, merchant_id: int | None) -> Merchant:
    """The viewer's own shop (staff), or any shop of a coordinator's branch."""
    if merchant_id is None:
        merchant = await merchant_of_staff(session, viewer_id)
        if merchant is None:
            raise StaffOnly()
        return merchant
    merchant = await get_merchant(session, merchant_id)
    own = await merchant_of_staff(session, viewer_id)
    if own is None or own.id != merchant.id:
        await coordinator_of(session, viewer_id, merchant.branch_id)
    return merchant


async def sales(
    session: AsyncSession,
    viewer_id: int,
    period: Literal["today", "month"] = "today",
    *,
    merchant_id: int | None = None,
    now: datetime | None = None,
) -> Sales:
    """The shop's confirmed redemptions since the start of today or of this month (local)."""
    if period not in ("today", "month"):
        raise InvalidInput()
    merchant = await _shop_for(session, viewer_id, merchant_id)
    time_zone = await _time_zone(session, merchant)
    since = _local_start(now or utcnow(), time_zone, period)
    rows = await session.execute(
        select(Redemption, RewardItem.names, Member.name)
        .join(RewardItem, RewardItem.id == Redemption.item_id)
        .join(Member, Member.id == Redemption.member_id)
        .where(
            Redemption.merchant_id == merchant.id,
            Redemption.status == RedemptionStatus.CONFIRMED,
            Redemption.confirmed_at >= since,
        )
        .order_by(Redemption.confirmed_at.desc(), Redemption.id.desc())
    )
    lines = tuple(
        SaleLine(r.confirmed_at, dict(names), r.minutes, first_name(name), r.code)
        for r, names, name in rows.all()
    )
    return Sales(merchant.name, time_zone, since, lines)


# ---------------------------------------------------------------- the monthly statement


@dataclass(frozen=True, slots=True)
class ShopStatementLine:
    at: datetime
    kind: Literal["redemption", "settlement", "correction"]
    amount: int  # + received, − settled
    balance_after: int
    item_names: dict[str, str] | None
    member_first_name: str
    memo: str


@dataclass(frozen=True, slots=True)
class ShopStatement:
    merchant_name: str
    branch_names: dict[str, str]
    time_zone: str
    year: int
    month: int
    lines: tuple[ShopStatementLine, ...]  # oldest first
    opening_balance: int
    closing_balance: int

    @property
    def received(self) -> int:
        return sum(line.amount for line in self.lines if line.kind == "redemption")

    @property
    def settled(self) -> int:
        return -sum(line.amount for line in self.lines if line.kind == "settlement")


def _month_bounds(year: int, month: int, time_zone: str) -> tuple[datetime, datetime]:
    if type(year) is not int or type(month) is not int or not (1 <= month <= 12):
        raise MonthInvalid()
    if not 2000 <= year <= 2100:
        raise MonthInvalid()
    zone = ZoneInfo(time_zone)
    start = datetime(year, month, 1, tzinfo=zone)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=zone)
    return start, end


async def shop_statement(
    session: AsyncSession,
    viewer_id: int,
    year: int,
    month: int,
    *,
    merchant_id: int | None = None,
) -> ShopStatement:
    """The shop's hours in one month (local time): what members spent there and what was
    settled, with the balance before and after."""
    merchant = await _shop_for(session, viewer_id, merchant_id)
    branch = await session.get(Branch, merchant.branch_id)
    assert branch is not None and merchant.id is not None
    start, end = _month_bounds(year, month, branch.time_zone)
    account = await ledger.merchant_account(session, merchant.id, merchant.branch_id)
    found: list[ledger.PassbookLine] = []
    opening = 0
    cursor: str | None = None
    while True:
        page = await ledger.passbook(session, account.id, cursor=cursor, page_size=_BATCH)
        for line in page.lines:
            if line.at < start:
                opening = line.balance_after
                break
            if line.at < end:
                found.append(line)
        else:
            if page.next_cursor is not None:
                cursor = page.next_cursor
                continue
        break
    found.reverse()
    redemption_ids = {line.redemption_id for line in found if line.redemption_id is not None}
    about: dict[int, tuple[dict[str, str], str]] = {}
    if redemption_ids:
        rows = await session.execute(
            select(Redemption.id, RewardItem.names, Member.name)
            .join(RewardItem, RewardItem.id == Redemption.item_id)
            .join(Member, Member.id == Redemption.member_id)
            .where(Redemption.id.in_(redemption_ids))
        )
        about = {rid: (dict(names), first_name(name)) for rid, names, name in rows.all()}
    lines = []
    for line in found:
        names, who = about.get(line.redemption_id or 0, (None, ""))
        if line.kind == PostingKind.REDEMPTION and line.amount > 0:
            kind = "redemption"
        elif line.kind == PostingKind.ADJUSTMENT and line.amount < 0:
            kind = "settlement"
        else:
            kind = "correction"
        lines.append(
            ShopStatementLine(line.at, kind, line.amount, line.balance_after, names, who, line.memo)
        )
    closing = lines[-1].balance_after if lines else opening
    return ShopStatement(
        merchant.name,
        dict(branch.names),
        branch.time_zone,
        year,
        month,
        tuple(lines),
        opening,
        closing,
    )


async def settle_shop(
    session: AsyncSession,
    coordinator_id: int,
    merchant_id: int,
    minutes: int,
    *,
    reason: str,
    key: str,
) -> ledger.Posting:
    """Record that the branch settled `minutes` of the shop's hours, with the reason."""
    merchant = await get_merchant(session, merchant_id)
    await coordinator_of(session, coordinator_id, merchant.branch_id)
    await members.get_member(session, coordinator_id)
    account = await ledger.merchant_account(session, merchant_id, merchant.branch_id)
    return await ledger.adjust(
        session,
        account.id,
        -ledger.inputs.minutes(minutes),
        reason=reason,
        actor=Actor(member_id=coordinator_id, is_coordinator=True),
        key=key,
    )


# ---------------------------------------------------------------- rendering

_LINE_KIND = {
    "redemption": N_("Redeemed"),
    "settlement": N_("Settled"),
    "correction": N_("Correction"),
}


def _what(line: ShopStatementLine, language: str, gettext: Gettext) -> str:
    words = [gettext(_LINE_KIND[line.kind])]
    if line.item_names:
        words.append(localized(line.item_names, language))
    if line.member_first_name:
        words.append(line.member_first_name)
    if line.memo and line.kind != "redemption":
        words.append(line.memo)
    return " · ".join(words)


def render_shop_csv(statement: ShopStatement, language: str, gettext: Gettext) -> bytes:
    """UTF-8 with a byte order mark, so spreadsheets open Chinese and Korean as they are."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    header = ("Date", "What for", "Minutes", "Balance after (minutes)")
    writer.writerow([gettext(text) for text in header])
    zone = ZoneInfo(statement.time_zone)
    for line in statement.lines:
        writer.writerow([
            line.at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            _what(line, language, gettext),
            line.amount,
            line.balance_after,
        ])  # fmt: skip
    return out.getvalue().encode("utf-8-sig")


def render_shop_pdf(
    statement: ShopStatement, language: str, gettext: Gettext, *, generated_at: datetime
) -> bytes:
    """An A4 statement of the shop's month, in the viewer's language, fonts embedded."""
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    zone = ZoneInfo(statement.time_zone)
    month = format_skeleton(
        "yMMMM", datetime(statement.year, statement.month, 1, tzinfo=zone), locale=language
    )
    title = gettext("Partner shop: hours received")
    generated = format_skeleton("yMMMd", generated_at.astimezone(zone), locale=language)
    heading = [
        (title, 16),
        (statement.merchant_name, 12),
        (localized(statement.branch_names, language), 10),
        (month, 10),
        (gettext("As of {date}").format(date=generated), 9),
    ]
    facts = [
        (gettext("Balance at the start"), duration(statement.opening_balance, gettext)),
        (gettext("Received"), duration(statement.received, gettext)),
        (gettext("Settled"), duration(statement.settled, gettext)),
        (gettext("Balance at the end"), duration(statement.closing_balance, gettext)),
    ]
    header = [gettext(h) for h in ("Date", "What for", "Amount", "Balance after")]
    rows = []
    for line in statement.lines:
        local = line.at.astimezone(zone)
        rows.append([
            format_skeleton("MMMd", local, locale=language) + local.strftime(" %H:%M"),
            _what(line, language, gettext),
            ("+" if line.amount > 0 else "") + duration(line.amount, gettext),
            duration(line.balance_after, gettext),
        ])  # fmt: skip
    no_entries = gettext("No entries yet.")
    fonts = pdf_fonts.document_fonts(
        language,
        [text for text, _ in heading] + [t for pair in facts for t in pair]
        + header + [text for row in rows for text in row] + [no_entries],
    )  # fmt: skip

    def para(text: str, size: float = 9, align: int = 0) -> Paragraph:
        text = fonts.shown(text)
        style = ParagraphStyle(
            "cell",
            fontName=fonts.font(text),
            fontSize=size,
            leading=size * 1.35,
            alignment=align,
            wordWrap="CJK" if fonts.wraps_cjk(text) else None,
        )
        return Paragraph(escape(text), style)

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
        bottomMargin=15 * mm, title=title, author=statement.merchant_name,
        initialFontName=fonts.base,
    )  # fmt: skip
    cell_font = ("FONTNAME", (0, 0), (-1, -1), fonts.base)
    story: list = [para(text, size) for text, size in heading[:1]]
    story += [Spacer(1, 2 * mm), *(para(text, size) for text, size in heading[1:])]
    story += [
        Spacer(1, 4 * mm),
        Table(
            [[para(a), para(b)] for a, b in facts],
            colWidths=[70 * mm, 50 * mm], hAlign="LEFT", style=[cell_font],
        ),
        Spacer(1, 6 * mm),
    ]  # fmt: skip
    if not rows:
        story.append(para(no_entries))
    else:
        table = Table(
            [[para(text) for text in header]]
            + [[para(row[0]), para(row[1]), para(row[2], align=2), para(row[3], align=2)]
               for row in rows],
            colWidths=[32 * mm, 88 * mm, 30 * mm, 30 * mm],
            repeatRows=1,
        )  # fmt: skip
        table.setStyle(
            TableStyle(
                [
                    cell_font,
                    ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
                    ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.lightgrey),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        story.append(table)
    doc.build(story)
    return buffer.getvalue()
