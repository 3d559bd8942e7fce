"""After the market day: figures per unit and across a branch's market days, and CSV.

"Residents served" counts check-ins and walk-ins; "no-shows" are bookings still booked
(never checked in) once the day is over; volunteer minutes are those credited.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.catalog import localized
from core.coordinators import coordinator_of
from core.db import utcnow
from core.errors import NotFound
from core.market.tables import (
    BookingStatus,
    EventStatus,
    MarketBooking,
    MarketEvent,
    MarketShift,
    MarketUnit,
    ShiftStatus,
)


@dataclass(frozen=True)
class UnitReport:
    unit_id: int
    names: dict[str, str]
    organiser: str
    booked: int
    checked_in: int
    walk_ins: int
    no_shows: int
    waiting: int
    volunteers: int
    volunteer_minutes: int

    @property
    def residents_served(self) -> int:
        return self.checked_in + self.walk_ins


def _count(condition) -> object:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def unit_reports(
    session: AsyncSession, event_id: int, coordinator_id: int, *, now: datetime | None = None
) -> list[UnitReport]:
    now = now or utcnow()
    event = await session.get(MarketEvent, event_id)
    if event is None:
        raise NotFound()
    await coordinator_of(session, coordinator_id, event.branch_id)
    over = event.ends_at <= now
    status, walk_in = MarketBooking.status, MarketBooking.walk_in
    bookings = {
        row[0]: row[1:]
        for row in await session.execute(
            select(
                MarketBooking.unit_id,
                _count(
                    walk_in.is_(False)
                    & status.in_((BookingStatus.BOOKED, BookingStatus.CHECKED_IN))
                ),
                _count(walk_in.is_(False) & (status == BookingStatus.CHECKED_IN)),
                _count(walk_in.is_(True)),
                _count(status == BookingStatus.BOOKED),
                _count(status == BookingStatus.WAITING),
            )
            .where(MarketBooking.event_id == event_id)
            .group_by(MarketBooking.unit_id)
        )
    }
    staff = {
        row[0]: row[1:]
        for row in await session.execute(
            select(
                MarketShift.unit_id,
                func.count(func.distinct(MarketShift.member_id)),
                func.coalesce(func.sum(MarketShift.minutes), 0),
            )
            .join(MarketUnit, MarketUnit.id == MarketShift.unit_id)
            .where(MarketUnit.event_id == event_id, MarketShift.status == ShiftStatus.CREDITED)
            .group_by(MarketShift.unit_id)
        )
    }
    units = await session.scalars(
        select(MarketUnit)
        .where(MarketUnit.event_id == event_id)
        .order_by(MarketUnit.sort_order, MarketUnit.id)
    )
    reports = []
    for unit in units:
        booked, checked_in, walk_ins, still_booked, waiting = bookings.get(unit.id, (0,) * 5)
        volunteers, minutes = staff.get(unit.id, (0, 0))
        reports.append(
            UnitReport(
                unit_id=unit.id,
                names=unit.names,
                organiser=unit.organiser,
                booked=int(booked),
                checked_in=int(checked_in),
                walk_ins=int(walk_ins),
                no_shows=int(still_booked) if over else 0,
                waiting=int(waiting),
                volunteers=int(volunteers),
                volunteer_minutes=int(minutes),
            )
        )
    return reports


@dataclass(frozen=True)
class BranchMarkets:
    """Across a branch's market days held so far ("7 markets, 4,000 residents served")."""

    markets: int
    units: int
    bookings: int
    residents_served: int
    distinct_residents: int
    walk_ins: int
    volunteers: int
    volunteer_minutes: int


async def branch_markets(
    session: AsyncSession, branch_id: int, coordinator_id: int, *, now: datetime | None = None
) -> BranchMarkets:
    now = now or utcnow()
    await coordinator_of(session, coordinator_id, branch_id)
    held = select(MarketEvent.id).where(
        MarketEvent.branch_id == branch_id,
        MarketEvent.status == EventStatus.OPEN,
        MarketEvent.ends_at <= now,
    )
    status, walk_in, member = MarketBooking.status, MarketBooking.walk_in, MarketBooking.member_id
    markets = await session.scalar(select(func.count()).select_from(held.subquery()))
    units = await session.scalar(
        select(func.count()).select_from(MarketUnit).where(MarketUnit.event_id.in_(held))
    )
    row = (
        await session.execute(
            select(
                _count(walk_in.is_(False) & (status != BookingStatus.CANCELLED)),
                _count(status == BookingStatus.CHECKED_IN),
                func.count(func.distinct(case((status == BookingStatus.CHECKED_IN, member)))),
                _count(walk_in.is_(True)),
            ).where(MarketBooking.event_id.in_(held))
        )
    ).one()
    staff = (
        await session.execute(
            select(
                func.count(func.distinct(MarketShift.member_id)),
                func.coalesce(func.sum(MarketShift.minutes), 0),
            )
            .join(MarketUnit, MarketUnit.id == MarketShift.unit_id)
            .where(MarketUnit.event_id.in_(held), MarketShift.status == ShiftStatus.CREDITED)
        )
    ).one()
    return BranchMarkets(
        markets=markets or 0,
        units=units or 0,
        bookings=int(row[0]),
        residents_served=int(row[1]),
        distinct_residents=int(row[2]),
        walk_ins=int(row[3]),
        volunteers=int(staff[0]),
        volunteer_minutes=int(staff[1]),
    )


CSV_COLUMNS = (
    "unit",
    "organiser",
    "booked",
    "checked_in",
    "walk_ins",
    "no_shows",
    "residents_served",
    "waiting",
    "volunteers",
    "volunteer_minutes",
)


def units_csv(reports: list[UnitReport], language: str) -> str:
    """The unit reports as CSV (UTF-8 text; the header is the column keys). Unit names in
    `language`. A cell that would start a formula is quoted with a leading apostrophe."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for report in reports:
        figures = {f.name: getattr(report, f.name) for f in fields(report)}
        figures["unit"] = _cell(localized(report.names, language))
        figures["organiser"] = _cell(report.organiser)
        figures["residents_served"] = report.residents_served
        writer.writerow([figures[column] for column in CSV_COLUMNS])
    return out.getvalue()


def _cell(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
