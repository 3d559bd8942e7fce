"""Everything the time bank keeps about one member, as a file they can keep (`/mydata`):
their details and what they agreed to keep, family links, the requests they asked for and
the help they gave, their volunteer profile and every entry of their passbook. Plain text
in the member's language (the caller gives its gettext), UTF-8, readable on any phone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import catalog, consent, family, matching, members, statements
from core.errors import N_
from core.formatting import format_date
from core.languages import NATIVE_NAMES
from core.models import Category, Member, Order, OrderStatus, VolunteerProfile
from core.statements import Gettext

STATUS = {
    OrderStatus.OPEN: N_("🕓 Waiting for a volunteer"),
    OrderStatus.ACCEPTED: N_("🤝 A volunteer is coming to help"),
    OrderStatus.DONE: N_("✔️ Done, waiting to be confirmed"),
    OrderStatus.CONFIRMED: N_("✅ Done and confirmed"),
    OrderStatus.NOT_CREDITED: N_("🚫 Closed by a coordinator: no time credited"),
    OrderStatus.CANCELLED: N_("✖️ Cancelled"),
    OrderStatus.EXPIRED: N_("⌛ Expired: nobody was free in time"),
}
AGREED = {
    consent.Detail.PHONE: N_("On {date} you agreed that we keep your phone number."),
    consent.Detail.ADDRESS: N_("On {date} you agreed that we keep your home address."),
}


@dataclass(frozen=True)
class Request:
    order: Order
    category: Category


@dataclass(frozen=True)
class MemberRecord:
    data: members.PersonalData
    consents: list[consent.Given]
    links: list[family.Link]
    asked: list[Request]
    helped: list[Request]
    profile: VolunteerProfile | None
    skills: list[Category]
    statement: statements.Statement
    time_zone: str
    made_at: datetime


async def _requests(session: AsyncSession, condition) -> list[Request]:
    rows = await session.execute(
        select(Order, Category)
        .join(Category, Category.id == Order.category_id)
        .where(condition)
        .order_by(Order.created_at.desc())
    )
    return [Request(order, category) for order, category in rows.all()]


async def member_record(session: AsyncSession, member_id: int, now: datetime) -> MemberRecord:
    data = await members.personal_data(session, member_id)
    profile = await session.get(VolunteerProfile, member_id)
    skills = [
        c
        for c in await catalog.categories(session)
        if profile is not None and profile.skills & matching.skill_bit(c.id)
    ]
    return MemberRecord(
        data=data,
        consents=await consent.given(session, member_id),
        links=await family.links_of(session, member_id),
        asked=await _requests(
            session, or_(Order.requester_id == member_id, Order.beneficiary_id == member_id)
        ),
        helped=await _requests(session, Order.volunteer_id == member_id),
        profile=profile,
        skills=skills,
        statement=await statements.statement(session, member_id, now=now),
        time_zone=data.branch.time_zone if data.branch else "UTC",
        made_at=now,
    )


def render_text(record: MemberRecord, language: str, gettext: Gettext) -> bytes:
    _ = gettext
    m: Member = record.data.member

    def day(at: datetime) -> str:
        return format_date(at, record.time_zone, language)

    def place(order: Order) -> str:
        return order.address or _("At the location that was shared")

    not_given = _("not given")
    branch = record.data.branch
    roles = [
        word
        for word, on in (
            (_("resident"), m.is_resident),
            (_("volunteer"), m.is_volunteer),
            (_("coordinator"), m.is_coordinator),
        )
        if on
    ]
    if record.data.neighbourhood is not None:
        area = catalog.localized(record.data.neighbourhood.names, language)
    elif record.data.home_near is not None:
        area = _("near {area}").format(
            area=catalog.localized(record.data.home_near.names, language)
        )
    else:
        area = _("a place you shared") if m.home_latitude is not None else not_given
    out = [
        _("Everything the time bank keeps about you, on {date}").format(date=day(record.made_at)),
        "",
        _("Name: {value}").format(value=m.name or not_given),
        _("Language: {value}").format(value=NATIVE_NAMES.get(m.language or "", not_given)),
        _("Branch: {value}").format(
            value=catalog.localized(branch.names, language) if branch else not_given
        ),
        _("Taking part as: {value}").format(value=", ".join(roles) or "–"),
        _("Phone: {value}").format(value=m.phone or not_given),
        _("Home address: {value}").format(value=m.address or not_given),
        _("Neighbourhood: {value}").format(value=area),
        _("Joined: {value}").format(value=day(m.created_at)),
        "",
        _("What you agreed to"),
    ]
    out += [
        "  " + _(AGREED[given.detail]).format(date=day(given.given_at)) for given in record.consents
    ] or ["  –"]
    out += ["", _("Family")]
    waiting = _("waiting for an answer")
    out += [
        f"  {link.other.name}" + ("" if link.status == "active" else f" ({waiting})")
        for link in record.links
    ] or ["  –"]
    out += ["", _("Your requests for help")]
    out += [
        f"  {day(r.order.created_at)}  {catalog.localized(r.category.names, language)}  "
        f"{_(STATUS[OrderStatus(r.order.status)])}  {place(r.order)}"
        for r in record.asked
    ] or ["  –"]
    out += ["", _("Help you gave")]
    out += [
        f"  {day(r.order.created_at)}  {catalog.localized(r.category.names, language)}  "
        f"{_(STATUS[OrderStatus(r.order.status)])}"
        for r in record.helped
    ] or ["  –"]
    if record.profile is not None:
        p = record.profile
        skills = ", ".join(catalog.localized(c.names, language) for c in record.skills)
        out += [
            "",
            _("Your volunteer profile"),
            "  " + (skills or "–"),
            "  " + _("Up to {km} km away").format(km=round(p.max_distance_m / 1000, 1)),
        ]
        if p.paused:
            out.append("  " + _("Paused"))
    summary = record.statement.summary
    out += [
        "",
        _("Passbook"),
        "  "
        + _("Your balance: {balance}").format(
            balance=statements.duration(summary.balance, gettext)
        ),
    ]
    for line in record.statement.lines:
        out.append(
            f"  {statements.entry_date(line, record.time_zone, language)}  "
            f"{statements.signed_duration(line.amount, gettext)}  "
            f"{statements.what_for(line, language, gettext)}  "
            f"{statements.with_whom(line, gettext)}"
        )
    out += ["", _("To erase all of this, send /deleteme."), ""]
    return "\n".join(out).encode("utf-8")


def export_name(at: datetime, time_zone: str) -> str:
    """The file's name, dated in the branch's day as the record inside it is."""
    return f"my-data-{at.astimezone(ZoneInfo(time_zone)):%Y-%m-%d}.txt"
