"""Classes neighbours teach: sessions, seats and a waiting list, reminders, attendance.

A volunteer teaches; members enrol themselves or a child (a named dependent, not an
account). When the seats are taken, enrolment joins the waiting list; a cancelled seat
goes to the first waiting, who is told through the outbox. Seats are counted under a lock
on the class row (PostgreSQL; SQLite has one writer), so racing enrolments cannot overfill.
The teacher marks attendance once a session has begun; the teacher is then paid for it,
once per session by its ledger key, from the branch pool or by the attendees present.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import ledger, members, outbox
from core.db import utcnow
from core.errors import N_, DomainError, InvalidInput, NotFound
from core.ledger import Actor, InsufficientCredit, PostingKind
from core.matching import distance_m
from core.notices import Kind
from core.nudges import coordinators
from core.rewards.merchants import MAX_PRICE_MINUTES, PriceInvalid, clean_texts, settings_of
from core.rewards.redemption import first_name, home_of
from core.rewards.tables import (
    Attendance,
    ClassSession,
    CommunityClass,
    Enrolment,
    EnrolmentStatus,
)

MAX_SEATS = 200
MAX_SESSIONS = 52
REMIND_AHEAD = timedelta(hours=24)
PAYERS = ("pool", "attendees")


class TeachersOnly(DomainError):
    key = N_("Only volunteers can teach a class.")


class NotYourClass(DomainError):
    key = N_("Only the teacher of this class can do this.")


class ClassInvalid(InvalidInput):
    key = N_("Please give the class a title, from 1 to {maximum} seats and its sessions ahead.")


class ClassOver(DomainError):
    key = N_("Sorry, this class is no longer open.")


class AlreadyEnrolled(DomainError):
    key = N_("You are already on this class's list.")


class OwnClass(DomainError):
    key = N_("You teach this class, so its seats are kept for others.")


class ChildNameInvalid(InvalidInput):
    key = N_("Please type the child's name as a short text, up to 64 letters.")


class SessionNotStarted(DomainError):
    key = N_("Attendance can be taken once the session has begun.")


@dataclass(frozen=True, slots=True)
class ClassCard:
    class_id: int
    titles: dict[str, str]
    descriptions: dict[str, str]
    age_note: str
    place: str
    teacher_first_name: str
    next_session: datetime | None
    seats: int
    seats_left: int
    waiting: int
    price_minutes: int
    distance_m: int | None


async def create_class(
    session: AsyncSession,
    teacher_id: int,
    *,
    titles: dict[str, str],
    seats: int,
    sessions: list[tuple[datetime, int]],
    descriptions: dict[str, str] | None = None,
    age_note: str = "",
    place: str = "",
    latitude: float | None = None,
    longitude: float | None = None,
    teacher_minutes: int = 0,
    price_minutes: int = 0,
    paid_by: str | None = None,
    now: datetime | None = None,
) -> CommunityClass:
    """A volunteer's class with its sessions ((start, minutes) each, all ahead of now)."""
    now = now or utcnow()
    teacher = await members.get_member(session, teacher_id)
    if not teacher.is_volunteer or teacher.branch_id is None:
        raise TeachersOnly()
    if (
        type(seats) is not int
        or not 1 <= seats <= MAX_SEATS
        or not 1 <= len(sessions) <= MAX_SESSIONS
        or any(start <= now or not 1 <= length <= 24 * 60 for start, length in sessions)
    ):
        raise ClassInvalid(maximum=MAX_SEATS)
    for minutes in (teacher_minutes, price_minutes):
        if type(minutes) is not int or not 0 <= minutes <= MAX_PRICE_MINUTES:
            raise PriceInvalid(maximum=MAX_PRICE_MINUTES)
    settings = await settings_of(session, teacher.branch_id)
    paid_by = paid_by or settings.classes_paid_by
    if paid_by not in PAYERS:
        raise InvalidInput()
    cleaned = [" ".join(text.split()) for text in (age_note, place)]
    if len(cleaned[0]) > 100 or len(cleaned[1]) > 300:
        raise ClassInvalid(maximum=MAX_SEATS)
    course = CommunityClass(
        branch_id=teacher.branch_id,
        teacher_id=teacher.id,
        titles=clean_texts(titles, 100, required=True),
        descriptions=clean_texts(descriptions or {}, 1000, required=False),
        seats=seats,
        age_note=cleaned[0],
        place=cleaned[1],
        latitude=latitude,
        longitude=longitude,
        paid_by=paid_by,
        teacher_minutes=teacher_minutes,
        price_minutes=price_minutes,
        created_at=now,
    )
    session.add(course)
    await session.flush()
    for start, length in sorted(sessions):
        session.add(ClassSession(class_id=course.id, starts_at=start, minutes=length))
    await session.flush()
    return course


async def _counts(session: AsyncSession, class_id: int) -> dict[str, int]:
    rows = await session.execute(
        select(Enrolment.status, func.count())
        .where(Enrolment.class_id == class_id)
        .group_by(Enrolment.status)
    )
    return dict(rows.all())


async def _next_session(session: AsyncSession, class_id: int, now: datetime) -> datetime | None:
    return await session.scalar(
        select(func.min(ClassSession.starts_at)).where(
            ClassSession.class_id == class_id, ClassSession.starts_at > now
        )
    )


async def classes_near(
    session: AsyncSession,
    member_id: int,
    *,
    offset: int = 0,
    limit: int = 5,
    now: datetime | None = None,
) -> list[ClassCard]:
    """The branch's classes with a session ahead, nearest first (from home)."""
    now = now or utcnow()
    member = await members.get_member(session, member_id)
    home = await home_of(session, member)
    courses = await session.scalars(
        select(CommunityClass).where(
            CommunityClass.branch_id == member.branch_id, CommunityClass.cancelled_at.is_(None)
        )
    )
    cards = []
    for course in courses:
        upcoming = await _next_session(session, course.id, now)
        if upcoming is None:
            continue
        counts = await _counts(session, course.id)
        teacher = await members.get_member(session, course.teacher_id)
        distance = None
        if home is not None and course.latitude is not None and course.longitude is not None:
            distance = round(distance_m(*home, course.latitude, course.longitude))
        taken = counts.get(EnrolmentStatus.ENROLLED, 0)
        cards.append(
            ClassCard(
                class_id=course.id,
                titles=dict(course.titles),
                descriptions=dict(course.descriptions),
                age_note=course.age_note,
                place=course.place,
                teacher_first_name=first_name(teacher.name),
                next_session=upcoming,
                seats=course.seats,
                seats_left=max(0, course.seats - taken),
                waiting=counts.get(EnrolmentStatus.WAITING, 0),
                price_minutes=course.price_minutes if course.paid_by == "attendees" else 0,
                distance_m=distance,
            )
        )
    cards.sort(key=lambda c: (c.distance_m is None, c.distance_m or 0, c.next_session, c.class_id))
    return cards[max(0, offset) : max(0, offset) + limit]


@dataclass(frozen=True, slots=True)
class Enrolled:
    enrolment_id: int
    status: str  # enrolled | waiting
    position: int  # on the waiting list, 1 = next; 0 when enrolled


async def _open_class(session: AsyncSession, class_id: int, now: datetime) -> CommunityClass:
    """The class, its row locked so seats are counted by one enrolment at a time."""
    course = await session.get(CommunityClass, class_id, with_for_update=True)
    if course is None:
        raise NotFound()
    if course.cancelled_at is not None or await _next_session(session, class_id, now) is None:
        raise ClassOver()
    return course


async def _position(session: AsyncSession, enrolment: Enrolment) -> int:
    if enrolment.status != EnrolmentStatus.WAITING:
        return 0
    ahead = await session.scalar(
        select(func.count()).where(
            Enrolment.class_id == enrolment.class_id,
            Enrolment.status == EnrolmentStatus.WAITING,
            Enrolment.turn < enrolment.turn,
        )
    )
    return (ahead or 0) + 1


async def enrol(
    session: AsyncSession,
    member_id: int,
    class_id: int,
    *,
    child_name: str = "",
    now: datetime | None = None,
) -> Enrolled:
    """A seat for the member (or their child, by name), or a place on the waiting list."""
    now = now or utcnow()
    member = await members.get_member(session, member_id)
    child = " ".join(child_name.split())
    if len(child) > 64 or child.startswith("/"):
        raise ChildNameInvalid()
    course = await _open_class(session, class_id, now)
    if course.branch_id != member.branch_id:
        raise NotFound()
    if course.teacher_id == member_id:
        # Nor their child: in a class the attendees pay for, the teacher would pay themselves.
        raise OwnClass()
    taken = (await _counts(session, class_id)).get(EnrolmentStatus.ENROLLED, 0)
    status = EnrolmentStatus.ENROLLED if taken < course.seats else EnrolmentStatus.WAITING
    enrolment = await session.scalar(
        select(Enrolment).where(
            Enrolment.class_id == class_id,
            Enrolment.member_id == member_id,
            Enrolment.child_name == child,
        )
    )
    if enrolment is not None and enrolment.status != EnrolmentStatus.CANCELLED:
        raise AlreadyEnrolled()
    if enrolment is None:
        enrolment = Enrolment(
            class_id=class_id, member_id=member_id, child_name=child, status=status
        )
        session.add(enrolment)
    last_turn = await session.scalar(
        select(func.max(Enrolment.turn)).where(Enrolment.class_id == class_id)
    )
    enrolment.status = status
    enrolment.turn = (last_turn or 0) + 1
    enrolment.queued_at = enrolment.changed_at = now
    await session.flush()
    assert enrolment.id is not None
    return Enrolled(enrolment.id, status, await _position(session, enrolment))


@dataclass(frozen=True, slots=True)
class Withdrawn:
    enrolment_id: int
    promoted_enrolment_id: int | None


async def cancel_enrolment(
    session: AsyncSession, member_id: int, enrolment_id: int, *, now: datetime | None = None
) -> Withdrawn:
    """The member gives up a seat (or a waiting place); a freed seat goes to the first
    waiting, who is told. Cancelling again changes nothing."""
    now = now or utcnow()
    enrolment = await session.get(Enrolment, enrolment_id)
    if enrolment is None or enrolment.member_id != member_id:
        raise NotFound()
    course = await session.get(CommunityClass, enrolment.class_id, with_for_update=True)
    assert course is not None
    await session.refresh(enrolment)
    if enrolment.status == EnrolmentStatus.CANCELLED:
        return Withdrawn(enrolment_id, None)
    freed = enrolment.status == EnrolmentStatus.ENROLLED
    enrolment.status = EnrolmentStatus.CANCELLED
    enrolment.changed_at = now
    await session.flush()
    if not freed:
        return Withdrawn(enrolment_id, None)
    first = await session.scalar(
        select(Enrolment)
        .where(Enrolment.class_id == course.id, Enrolment.status == EnrolmentStatus.WAITING)
        .order_by(Enrolment.turn)
        .limit(1)
    )
    if first is None:
        return Withdrawn(enrolment_id, None)
    first.status = EnrolmentStatus.ENROLLED
    first.changed_at = now
    await session.flush()
    await outbox.enqueue(
        session,
        key=f"class-seat:{first.id}:{now.isoformat()}",
        member_id=first.member_id,
        kind=Kind.CLASS_SEAT_FREE,
        payload={"class_id": course.id, "enrolment_id": first.id, "child": first.child_name},
    )
    return Withdrawn(enrolment_id, first.id)


@dataclass(frozen=True, slots=True)
class RollLine:
    enrolment_id: int
    name: str  # the child's name, or the member's first name
    present: bool | None  # None: not marked yet


async def _teachers_session(
    session: AsyncSession, teacher_id: int, session_id: int
) -> tuple[CommunityClass, ClassSession]:
    meeting = await session.get(ClassSession, session_id, with_for_update=True)
    course = None if meeting is None else await session.get(CommunityClass, meeting.class_id)
    if meeting is None or course is None:
        raise NotFound()
    if course.teacher_id != teacher_id:
        raise NotYourClass()
    return course, meeting


async def roll(session: AsyncSession, teacher_id: int, session_id: int) -> list[RollLine]:
    """Everyone with a seat, for the teacher's one attendance screen."""
    course, _ = await _teachers_session(session, teacher_id, session_id)
    marked = dict(
        (
            await session.execute(
                select(Attendance.enrolment_id, Attendance.present).where(
                    Attendance.session_id == session_id
                )
            )
        ).all()
    )
    rows = await session.execute(
        select(Enrolment.id, Enrolment.child_name, Enrolment.member_id)
        .where(Enrolment.class_id == course.id, Enrolment.status == EnrolmentStatus.ENROLLED)
        .order_by(Enrolment.turn)
    )
    lines = []
    for enrolment_id, child, member_id in rows.all():
        member = await members.get_member(session, member_id)
        lines.append(RollLine(enrolment_id, child or member.name, marked.get(enrolment_id)))
    return lines


@dataclass(frozen=True, slots=True)
class Marked:
    present: int
    teacher_paid: int  # minutes credited to the teacher by this marking
    unpaid: tuple[int, ...]  # enrolments whose member could not pay (attendee-paid classes)
    pool_short: bool


async def mark_attendance(
    session: AsyncSession,
    teacher_id: int,
    session_id: int,
    present: Collection[int],
    *,
    now: datetime | None = None,
) -> Marked:
    """The teacher's one screen: who came. Marking again corrects who came; the teacher is
    paid once per session (from the pool) or once per attendee (attendee-paid classes)."""
    now = now or utcnow()
    course, meeting = await _teachers_session(session, teacher_id, session_id)
    if meeting.starts_at > now:
        raise SessionNotStarted()
    seated = {line.enrolment_id: line for line in await roll(session, teacher_id, session_id)}
    if not set(present) <= set(seated):
        raise InvalidInput()
    for enrolment_id in seated:
        row = await session.get(Attendance, (session_id, enrolment_id))
        if row is None:
            row = Attendance(session_id=session_id, enrolment_id=enrolment_id, present=False)
            session.add(row)
        row.present = enrolment_id in present
        row.marked_at = now
    meeting.attendance_at = now
    await session.flush()
    teacher = await ledger.open_member_account(session, teacher_id, course.branch_id)
    title = next(iter(course.titles.values()), "")
    paid, unpaid, short = 0, [], False
    if course.paid_by == "pool" and present and course.teacher_minutes:
        pool = await ledger.pool_account(session, course.branch_id)
        try:
            async with session.begin_nested():
                posting = await ledger.transfer(
                    session, pool.id, teacher.id, course.teacher_minutes,
                    kind=PostingKind.SERVICE, key=f"class-session:{session_id}:teacher",
                    memo=title, actor=Actor(member_id=teacher_id),
                )  # fmt: skip
            paid = 0 if posting.replayed else course.teacher_minutes
        except InsufficientCredit:
            short = True
            for coordinator in await coordinators(session, course.branch_id):
                await outbox.enqueue(
                    session,
                    key=f"class-pool-short:{session_id}:{coordinator}",
                    member_id=coordinator,
                    kind=Kind.CLASS_POOL_SHORT,
                    payload={"class_id": course.id, "session_id": session_id},
                )
    elif course.paid_by == "attendees" and course.price_minutes:
        for enrolment_id in sorted(present):
            member_id = (await session.get(Enrolment, enrolment_id)).member_id
            payer = await ledger.open_member_account(session, member_id, course.branch_id)
            try:
                async with session.begin_nested():
                    posting = await ledger.transfer(
                        session, payer.id, teacher.id, course.price_minutes,
                        kind=PostingKind.SERVICE,
                        key=f"class-session:{session_id}:enrolment:{enrolment_id}",
                        memo=title, actor=Actor(member_id=teacher_id),
                    )  # fmt: skip
                paid += 0 if posting.replayed else course.price_minutes
            except InsufficientCredit:
                unpaid.append(enrolment_id)
    return Marked(len(present), paid, tuple(unpaid), short)


async def remind_sessions(
    session: AsyncSession, *, now: datetime | None = None, ahead: timedelta = REMIND_AHEAD
) -> int:
    """Remind everyone with a seat, and the teacher, of sessions starting within `ahead`.
    Idempotent: one outbox row per session and person."""
    now = now or utcnow()
    due = list(
        await session.scalars(
            select(ClassSession)
            .join(CommunityClass, CommunityClass.id == ClassSession.class_id)
            .where(
                ClassSession.reminded_at.is_(None),
                ClassSession.starts_at > now,
                ClassSession.starts_at <= now + ahead,
                CommunityClass.cancelled_at.is_(None),
            )
            .order_by(ClassSession.id)
        )
    )
    sent = 0
    for meeting in due:
        course = await session.get(CommunityClass, meeting.class_id)
        assert course is not None
        seats = await session.execute(
            select(Enrolment.id, Enrolment.member_id, Enrolment.child_name).where(
                Enrolment.class_id == course.id, Enrolment.status == EnrolmentStatus.ENROLLED
            )
        )
        people = [(f"e{eid}", member_id, child) for eid, member_id, child in seats.all()]
        people.append(("teacher", course.teacher_id, ""))
        for who, member_id, child in people:
            added = await outbox.enqueue(
                session,
                key=f"class-reminder:{meeting.id}:{who}",
                member_id=member_id,
                kind=Kind.CLASS_REMINDER,
                payload={
                    "class_id": course.id,
                    "session_id": meeting.id,
                    "starts_at": meeting.starts_at.isoformat(),
                    "child": child,
                    "teacher": who == "teacher",
                },
            )
            sent += added is not None
        meeting.reminded_at = now
    await session.flush()
    return sent


async def class_card(
    session: AsyncSession, member_id: int, class_id: int, *, now: datetime | None = None
) -> ClassCard:
    """One class of the member's branch as `classes_near` shows it."""
    now = now or utcnow()
    member = await members.get_member(session, member_id)
    course = await session.get(CommunityClass, class_id)
    if course is None or course.branch_id != member.branch_id:
        raise NotFound()
    counts = await _counts(session, class_id)
    teacher = await members.get_member(session, course.teacher_id)
    home = await home_of(session, member)
    distance = None
    if home is not None and course.latitude is not None and course.longitude is not None:
        distance = round(distance_m(*home, course.latitude, course.longitude))
    taken = counts.get(EnrolmentStatus.ENROLLED, 0)
    return ClassCard(
        class_id=class_id,
        titles=dict(course.titles),
        descriptions=dict(course.descriptions),
        age_note=course.age_note,
        place=course.place,
        teacher_first_name=first_name(teacher.name),
        next_session=await _next_session(session, class_id, now),
        seats=course.seats,
        seats_left=max(0, course.seats - taken),
        waiting=counts.get(EnrolmentStatus.WAITING, 0),
        price_minutes=course.price_minutes if course.paid_by == "attendees" else 0,
        distance_m=distance,
    )


@dataclass(frozen=True, slots=True)
class Place:
    """A member's own seat or waiting place in a class (for themselves or a child)."""

    enrolment_id: int
    child_name: str
    status: str
    position: int


async def places_of(session: AsyncSession, member_id: int, class_id: int) -> list[Place]:
    rows = await session.scalars(
        select(Enrolment)
        .where(
            Enrolment.class_id == class_id,
            Enrolment.member_id == member_id,
            Enrolment.status != EnrolmentStatus.CANCELLED,
        )
        .order_by(Enrolment.turn)
    )
    return [
        Place(row.id, row.child_name, row.status, await _position(session, row))  # type: ignore[arg-type]
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class Taught:
    session_id: int
    class_id: int
    titles: dict[str, str]
    starts_at: datetime
    attendance_at: datetime | None


async def teaching(
    session: AsyncSession,
    teacher_id: int,
    *,
    now: datetime | None = None,
    since: timedelta = timedelta(days=7),
    limit: int = 8,
) -> list[Taught]:
    """The teacher's sessions from a week ago onwards, soonest first: the ones to mark."""
    now = now or utcnow()
    rows = await session.execute(
        select(ClassSession, CommunityClass)
        .join(CommunityClass, CommunityClass.id == ClassSession.class_id)
        .where(
            CommunityClass.teacher_id == teacher_id,
            CommunityClass.cancelled_at.is_(None),
            ClassSession.starts_at > now - since,
        )
        .order_by(ClassSession.starts_at, ClassSession.id)
        .limit(limit)
    )
    return [
        Taught(meeting.id, course.id, dict(course.titles), meeting.starts_at, meeting.attendance_at)
        for meeting, course in rows.all()
    ]


async def session_of(session: AsyncSession, teacher_id: int, session_id: int) -> Taught:
    """One of the teacher's sessions; another teacher's is refused."""
    course, meeting = await _teachers_session(session, teacher_id, session_id)
    assert meeting.id is not None and course.id is not None
    return Taught(
        meeting.id, course.id, dict(course.titles), meeting.starts_at, meeting.attendance_at
    )
