"""Year-end recognition: hours given per branch and period, a leaderboard members may stay
off, and a printable A4 certificate in the member's language (Chinese and Korean fonts
embedded), sent to those a coordinator honours or made for a member on request.

Hours given are what members received for helping (service postings into their account),
less any of those reversed, in the branch's local dates from `start` up to `end`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core import members, outbox, pdf_fonts
from core.catalog import localized
from core.coordinators import coordinator_of, working_branch
from core.db import utcnow
from core.errors import N_, InvalidInput
from core.ledger import AccountKind, PostingKind
from core.ledger.tables import LedgerAccount, LedgerEntry, LedgerTransaction
from core.models import Branch, Member
from core.notices import Kind
from core.rewards.tables import RecognitionOptOut
from core.statements import Gettext, duration

MAX_HONOURED = 100


class PeriodInvalid(InvalidInput):
    key = N_("Please choose a period whose end comes after its start.")


def _bounds(start: date, end: date, time_zone: str) -> tuple[datetime, datetime]:
    if end <= start or (end - start).days > 366 * 10:
        raise PeriodInvalid()
    zone = ZoneInfo(time_zone)
    return datetime.combine(start, time(), zone), datetime.combine(end, time(), zone)


async def hours_given(
    session: AsyncSession, branch_id: int, start: date, end: date
) -> dict[int, int]:
    """Minutes each member of the branch was paid for helping in the period (net of
    reversals), by member id; members who gave nothing are left out."""
    branch = await session.get(Branch, branch_id)
    if branch is None:
        raise PeriodInvalid()
    since, until = _bounds(start, end, branch.time_zone)
    reversed_ = aliased(LedgerTransaction)
    rows = await session.execute(
        select(LedgerAccount.owner_id, func.sum(LedgerEntry.amount))
        .join(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .outerjoin(reversed_, reversed_.id == LedgerTransaction.reverses_id)
        .where(
            LedgerAccount.kind == AccountKind.MEMBER,
            LedgerAccount.branch_id == branch_id,
            LedgerTransaction.created_at >= since,
            LedgerTransaction.created_at < until,
            or_(
                and_(LedgerTransaction.kind == PostingKind.SERVICE, LedgerEntry.amount > 0),
                and_(
                    LedgerTransaction.kind == PostingKind.REVERSAL,
                    reversed_.kind == PostingKind.SERVICE,
                    LedgerEntry.amount < 0,
                ),
            ),
        )
        .group_by(LedgerAccount.owner_id)
    )
    return {member_id: int(minutes) for member_id, minutes in rows.all() if minutes > 0}


async def stay_off_leaderboard(session: AsyncSession, member_id: int, off: bool = True) -> None:
    """The member's choice whether to appear on the leaderboard (a certificate of their own
    is theirs to ask for either way)."""
    await members.get_member(session, member_id)
    await session.execute(delete(RecognitionOptOut).where(RecognitionOptOut.member_id == member_id))
    if off:
        session.add(RecognitionOptOut(member_id=member_id))
    await session.flush()


@dataclass(frozen=True, slots=True)
class Leader:
    member_id: int
    name: str
    minutes: int


async def leaderboard(
    session: AsyncSession,
    coordinator_id: int,
    branch_id: int,
    start: date,
    end: date,
    *,
    limit: int = 20,
) -> list[Leader]:
    """Who gave the most hours in the period, for a coordinator choosing whom to honour;
    members who opted out are not listed."""
    await coordinator_of(session, coordinator_id, branch_id)
    given = await hours_given(session, branch_id, start, end)
    hidden = set(await session.scalars(select(RecognitionOptOut.member_id)))
    people = {
        m.id: m
        for m in await session.scalars(
            select(Member).where(Member.id.in_(given), Member.erased_at.is_(None))
        )
    }
    leaders = [
        Leader(member_id, people[member_id].name, minutes)
        for member_id, minutes in given.items()
        if member_id in people and member_id not in hidden
    ]
    leaders.sort(key=lambda leader: (-leader.minutes, leader.name, leader.member_id))
    return leaders[:limit]


@dataclass(frozen=True, slots=True)
class Certificate:
    member_name: str
    language: str
    minutes: int
    start: date
    end: date  # exclusive
    branch_names: dict[str, str]
    signed_by: str  # the coordinator's name and title, "" when the member asked for it
    issued_on: date


async def certificate_for(
    session: AsyncSession,
    member_id: int,
    start: date,
    end: date,
    *,
    signed_by: str = "",
    now: datetime | None = None,
) -> Certificate:
    """A member's own certificate of hours given, for any period (a school, an employer)."""
    member = await members.get_member(session, member_id)
    branch = await session.get(Branch, member.branch_id) if member.branch_id else None
    if branch is None:
        raise PeriodInvalid()
    given = await hours_given(session, branch.id, start, end)
    issued = (now or utcnow()).astimezone(ZoneInfo(branch.time_zone)).date()
    return Certificate(
        member_name=member.name,
        language=member.language or branch.default_language,
        minutes=given.get(member.id, 0),
        start=start,
        end=end,
        branch_names=dict(branch.names),
        signed_by=signed_by,
        issued_on=issued,
    )


async def honour(
    session: AsyncSession,
    coordinator_id: int,
    member_ids: list[int],
    start: date,
    end: date,
    *,
    title: str,
) -> list[int]:
    """Send each chosen member a certificate (through the outbox; the sender renders it in
    their language). Once per member and period; returns those newly queued. The branch
    is the one the coordinator works in."""
    coordinator, branch_id = await working_branch(session, coordinator_id)
    title = " ".join(title.split())[:100]
    if len(member_ids) > MAX_HONOURED:
        raise InvalidInput()
    given = await hours_given(session, branch_id, start, end)
    queued = []
    for member_id in dict.fromkeys(member_ids):
        member = await members.get_member(session, member_id)
        if member.branch_id != branch_id:
            raise InvalidInput()
        added = await outbox.enqueue(
            session,
            key=f"certificate:{member_id}:{start.isoformat()}:{end.isoformat()}",
            member_id=member_id,
            kind=Kind.CERTIFICATE,
            payload={
                "start": start.isoformat(),
                "end": end.isoformat(),
                "minutes": given.get(member_id, 0),
                "signed_by": " ".join(filter(None, (coordinator.name, title))),
            },
        )
        if added is not None:
            queued.append(member_id)
    return queued


def _period(certificate: Certificate, language: str, gettext: Gettext) -> str:
    start, end = certificate.start, certificate.end
    if start.month == 1 and start.day == 1 and end == date(start.year + 1, 1, 1):
        return gettext("the year {year}").format(year=start.year)
    last = date.fromordinal(end.toordinal() - 1)
    return gettext("{start} to {end}").format(
        start=format_date(start, "long", locale=language),
        end=format_date(last, "long", locale=language),
    )


def render_certificate_pdf(certificate: Certificate, gettext: Gettext) -> bytes:
    """An A4 certificate in the member's language, fonts embedded, ready to print."""
    from xml.sax.saxutils import escape

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    language = certificate.language
    title = gettext("Certificate of thanks")
    branch = localized(certificate.branch_names, language)
    body = gettext("{name} gave {hours} of help to neighbours in {period}.").format(
        name=certificate.member_name,
        hours=duration(certificate.minutes, gettext),
        period=_period(certificate, language, gettext),
    )
    # (text, size, space after)
    lines = [
        (branch, 14, 12 * mm),
        (title, 30, 18 * mm),
        (certificate.member_name, 24, 10 * mm),
        (body, 14, 8 * mm),
        (duration(certificate.minutes, gettext), 28, 20 * mm),
        (gettext("Thank you for being a good neighbour."), 13, 24 * mm),
    ]
    if certificate.signed_by:
        lines.append((certificate.signed_by, 12, 3 * mm))
    issued = format_date(certificate.issued_on, "long", locale=language)
    fonts = pdf_fonts.document_fonts(language, [text for text, _, _ in lines] + [issued])

    def para(text: str, size: float, *, space: float = 0) -> Paragraph:
        text = fonts.shown(text)
        style = ParagraphStyle(
            "line", fontName=fonts.font(text), fontSize=size, leading=size * 1.5, alignment=1,
            wordWrap="CJK" if fonts.wraps_cjk(text) else None, spaceAfter=space,
        )  # fmt: skip
        return Paragraph(escape(text), style)

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=25 * mm, rightMargin=25 * mm, topMargin=45 * mm,
        bottomMargin=25 * mm, title=title, author=branch, initialFontName=fonts.base,
    )  # fmt: skip
    story = [para(text, size, space=space) for text, size, space in lines]
    story += [Spacer(1, 2 * mm), para(issued, 11)]
    doc.build(story)
    return buffer.getvalue()
