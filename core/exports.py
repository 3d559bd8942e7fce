"""A branch's requests, postings and members for a period, as tables and as files.

Times are shown in the branch's time zone; names in the language asked for. No address and
no phone number leaves in an export. CSV is written UTF-8 with a byte order mark, which is
what makes Excel read Chinese and Korean right.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.catalog import localized
from core.errors import InvalidInput
from core.ledger.tables import LedgerAccount, LedgerEntry, LedgerTransaction
from core.models import Branch, Category, Member, Need, NeedCategory, Neighbourhood, Order
from core.stats import Period, UnknownBranch

Cell = str | int | None


class ExportKind(StrEnum):
    ORDERS = "orders"
    POSTINGS = "postings"
    MEMBERS = "members"
    NEEDS = "needs"


class UnknownExport(InvalidInput):
    pass


@dataclass(frozen=True, slots=True)
class Table:
    """Column keys (the page translates them) and rows of plain cells."""

    columns: tuple[str, ...]
    rows: list[tuple[Cell, ...]]


def _local(moment: datetime | None, zone: ZoneInfo) -> str | None:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else None


async def _orders(
    session: AsyncSession, branch_id: int, start: datetime, end: datetime, zone, language: str
) -> Table:
    beneficiary, volunteer = aliased(Member), aliased(Member)
    rows = await session.execute(
        select(Order, Category.names, Neighbourhood.names, beneficiary.name, volunteer.name)
        .join(Category, Category.id == Order.category_id)
        .join(beneficiary, beneficiary.id == Order.beneficiary_id)
        .outerjoin(volunteer, volunteer.id == Order.volunteer_id)
        .outerjoin(Neighbourhood, Neighbourhood.id == beneficiary.neighbourhood_id)
        .where(Order.branch_id == branch_id, Order.created_at >= start, Order.created_at < end)
        .order_by(Order.created_at, Order.id)
    )
    columns = (
        "id", "asked_at", "status", "funding", "category", "area", "for", "volunteer",
        "estimated_minutes", "actual_minutes",
    )  # fmt: skip
    return Table(
        columns,
        [
            (
                order.id,
                _local(order.created_at, zone),
                order.status,
                order.funding,
                localized(category, language),
                localized(area, language) if area else None,
                who,
                helper,
                order.estimated_minutes,
                order.actual_minutes,
            )
            for order, category, area, who, helper in rows
        ],
    )


async def _postings(
    session: AsyncSession, branch_id: int, start: datetime, end: datetime, zone, language: str
) -> Table:
    rows = await session.execute(
        select(LedgerTransaction, LedgerEntry, LedgerAccount.kind, Member.name)
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .outerjoin(Member, (LedgerAccount.kind == "member") & (Member.id == LedgerAccount.owner_id))
        .where(
            LedgerAccount.branch_id == branch_id,
            LedgerTransaction.created_at >= start,
            LedgerTransaction.created_at < end,
        )
        .order_by(LedgerTransaction.id, LedgerEntry.id)
    )
    columns = ("posting", "at", "kind", "request", "account", "member", "minutes", "memo")
    return Table(
        columns,
        [
            (
                posting.id,
                _local(posting.created_at, zone),
                posting.kind,
                posting.order_id,
                account_kind,
                name,
                entry.amount,
                posting.memo,
            )
            for posting, entry, account_kind, name in rows
        ],
    )


async def _members(
    session: AsyncSession, branch_id: int, start: datetime, end: datetime, zone, language: str
) -> Table:
    """Everyone who was a member by the period's end, with today's balance."""
    rows = await session.execute(
        select(Member, Neighbourhood.names, LedgerAccount.balance)
        .outerjoin(Neighbourhood, Neighbourhood.id == Member.neighbourhood_id)
        .outerjoin(
            LedgerAccount,
            (LedgerAccount.kind == "member") & (LedgerAccount.owner_id == Member.id),
        )
        .where(Member.branch_id == branch_id, Member.created_at < end, Member.erased_at.is_(None))
        .order_by(Member.id)
    )
    columns = (
        "id", "name", "joined", "resident", "volunteer", "coordinator", "verified", "area",
        "balance_minutes",
    )  # fmt: skip
    return Table(
        columns,
        [
            (
                member.id,
                member.name,
                _local(member.created_at, zone),
                int(member.is_resident),
                int(member.is_volunteer),
                int(member.is_coordinator),
                int(member.verified),
                localized(area, language) if area else None,
                balance,
            )
            for member, area, balance in rows
        ],
    )


async def _needs(
    session: AsyncSession, branch_id: int, start: datetime, end: datetime, zone, language: str
) -> Table:
    """The needs raised in the period (those put with another name it), anonymous ones
    without a name."""
    rows = await session.execute(
        select(Need, NeedCategory.names, Member.name)
        .join(NeedCategory, NeedCategory.id == Need.category_id)
        .join(Member, Member.id == Need.raised_by_id)
        .where(Need.branch_id == branch_id, Need.created_at >= start, Need.created_at < end)
        .order_by(Need.created_at, Need.id)
    )
    columns = ("id", "asked_at", "need_kind", "status", "text", "voice", "for", "same_as", "memo")
    return Table(
        columns,
        [
            (
                need.id,
                _local(need.created_at, zone),
                localized(names, language),
                need.status,
                need.text,
                int(need.voice_file_id is not None),
                None if need.anonymous else name,
                need.merged_into_id,
                need.note,
            )
            for need, names, name in rows
        ],
    )


_TABLES: dict[ExportKind, Callable] = {
    ExportKind.ORDERS: _orders,
    ExportKind.POSTINGS: _postings,
    ExportKind.MEMBERS: _members,
    ExportKind.NEEDS: _needs,
}


async def export_table(
    session: AsyncSession, branch_id: int, kind: str, period: Period, language: str
) -> Table:
    try:
        chosen = ExportKind(kind)
    except ValueError:
        raise UnknownExport() from None
    branch = await session.get(Branch, branch_id)
    if branch is None:
        raise UnknownBranch()
    zone = ZoneInfo(branch.time_zone)
    start, end = period.bounds(zone)
    return await _TABLES[chosen](session, branch_id, start, end, zone, language)


def _inert(cell: Cell) -> Cell:
    """A member's text that a spreadsheet would run as a formula, kept as text."""
    if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + cell
    return cell


def _cells(table: Table) -> list[tuple[Cell, ...]]:
    return [tuple(_inert(cell) for cell in row) for row in table.rows]


def to_csv(table: Table, header: tuple[str, ...]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(_cells(table))
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(table: Table, header: tuple[str, ...], title: str) -> bytes:
    from openpyxl import Workbook  # half a second to import: only when a workbook is asked for

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.append(header)
    for row in _cells(table):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
