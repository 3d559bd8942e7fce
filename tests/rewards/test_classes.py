"""Classes: seats and a waiting list, reminders, attendance and the teacher's hours."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from core import ledger
from core.db import transaction, utcnow
from core.ledger import atomically
from core.models import OutboxMessage
from core.rewards import classes
from tests.rewards.conftest import add_member, give


@pytest.fixture
async def course(sessions, town) -> dict:
    start = utcnow() + timedelta(hours=3)
    async with transaction(sessions, write=True) as session:
        teacher = await add_member(session, town.branch, "张老师", is_volunteer=True)
        pool = await ledger.pool_account(session, town.branch)
        await ledger.grant(session, pool.id, 600, key="pool")
        made = await classes.create_class(
            session, teacher, titles={"zh_Hans": "硬笔书法", "en": "Pen writing"}, seats=3,
            sessions=[(start, 60), (start + timedelta(days=7), 60)],
            age_note="6–12", place="罗山会馆", latitude=31.214, longitude=121.553,
            teacher_minutes=60,
        )  # fmt: skip
        parents = [
            await add_member(session, town.branch, name)
            for name in ("Ann Lee", "Bo Kim", "Cy Wu", "Di Ma", "Ed Xu")
        ]
        for parent in parents:
            await give(session, parent, town.branch, 60)
        meetings = list(
            await session.scalars(
                select(classes.ClassSession.id).where(classes.ClassSession.class_id == made.id)
            )
        )
    return {"teacher": teacher, "id": made.id, "parents": parents, "sessions": meetings,
            "start": start}  # fmt: skip


async def _enrol(sessions, member: int, class_id: int, child: str = "") -> classes.Enrolled:
    async with transaction(sessions, write=True) as session:
        return await classes.enrol(session, member, class_id, child_name=child)


async def _teacher_balance(sessions, teacher: int) -> int:
    async with sessions() as session:
        account = await ledger.find_member_account(session, teacher)
        return (await ledger.balance_of(session, account.id)).balance


async def test_three_seats_five_enrol_two_wait_and_a_cancel_tells_the_first(
    sessions, town, course
) -> None:
    parents = course["parents"]
    results = [await _enrol(sessions, parents[0], course["id"], "小明")]
    results += [await _enrol(sessions, p, course["id"]) for p in parents[1:]]
    assert [r.status for r in results] == ["enrolled"] * 3 + ["waiting"] * 2
    assert [r.position for r in results] == [0, 0, 0, 1, 2]
    with pytest.raises(classes.AlreadyEnrolled):
        await _enrol(sessions, parents[0], course["id"], " 小明 ")
    # The same parent may enrol a second child: it is another name.
    assert (await _enrol(sessions, parents[0], course["id"], "小红")).position == 3
    async with sessions() as session:
        [card] = await classes.classes_near(session, parents[1])
        assert (card.seats_left, card.waiting, card.teacher_first_name) == (0, 3, "老师")
    async with transaction(sessions, write=True) as session:
        with pytest.raises(Exception):  # noqa: B017  (another member's enrolment)
            await classes.cancel_enrolment(session, parents[2], results[1].enrolment_id)
    async with transaction(sessions, write=True) as session:
        withdrawn = await classes.cancel_enrolment(session, parents[1], results[1].enrolment_id)
        again = await classes.cancel_enrolment(session, parents[1], results[1].enrolment_id)
    assert withdrawn.promoted_enrolment_id == results[3].enrolment_id
    assert again.promoted_enrolment_id is None
    async with sessions() as session:
        told = list(await session.scalars(select(OutboxMessage)))
        assert [(m.member_id, m.kind) for m in told] == [(parents[3], "class_seat_free")]
        names = [
            line.name
            for line in await classes.roll(session, course["teacher"], course["sessions"][0])
        ]
        assert names == ["小明", "Cy Wu", "Di Ma"]


async def test_racing_enrolments_never_overfill(sessions, town, course) -> None:
    async with transaction(sessions, write=True) as session:
        racers = [await add_member(session, town.branch, f"R{i}") for i in range(10)]
    results = await asyncio.gather(
        *(atomically(sessions, lambda s, r=r: classes.enrol(s, r, course["id"])) for r in racers)
    )
    assert sorted(r.status for r in results) == ["enrolled"] * 3 + ["waiting"] * 7
    assert sorted(r.position for r in results if r.status == "waiting") == list(range(1, 8))


async def test_attendance_credits_the_teacher_once_per_session(sessions, town, course) -> None:
    seats = [await _enrol(sessions, p, course["id"]) for p in course["parents"][:3]]
    first, second = course["sessions"]
    async with transaction(sessions, write=True) as session:
        with pytest.raises(classes.SessionNotStarted):
            await classes.mark_attendance(session, course["teacher"], first, [])
        with pytest.raises(classes.NotYourClass):
            await classes.mark_attendance(
                session, course["parents"][0], first, [], now=course["start"]
            )
    later = course["start"] + timedelta(minutes=5)
    present = [seats[0].enrolment_id, seats[2].enrolment_id]
    for attempt in range(2):
        async with transaction(sessions, write=True) as session:
            marked = await classes.mark_attendance(
                session, course["teacher"], first, present[: 2 - attempt], now=later
            )
        assert marked.teacher_paid == (60 if attempt == 0 else 0)
    assert await _teacher_balance(sessions, course["teacher"]) == 60
    async with sessions() as session:
        roll = await classes.roll(session, course["teacher"], first)
        assert [line.present for line in roll] == [True, False, False]
    async with transaction(sessions, write=True) as session:
        with pytest.raises(Exception):  # noqa: B017  (not on the roll)
            await classes.mark_attendance(
                session, course["teacher"], second, [999_999], now=later + timedelta(days=7)
            )
    async with transaction(sessions, write=True) as session:
        await classes.mark_attendance(
            session, course["teacher"], second, present, now=later + timedelta(days=7)
        )
    assert await _teacher_balance(sessions, course["teacher"]) == 120
    report = await ledger.verify_ledger(sessions)
    assert report.ok, report.summary


async def test_attendance_marked_from_two_phones_at_once_pays_once(sessions, town, course) -> None:
    """A double tap, or the teacher and a helper marking the same session at once: the
    teacher is paid for it once, whichever marking lands first."""
    seats = [await _enrol(sessions, p, course["id"]) for p in course["parents"][:3]]
    first = course["sessions"][0]
    later = course["start"] + timedelta(minutes=5)
    present = [seat.enrolment_id for seat in seats]
    outcomes = await asyncio.gather(
        *(
            atomically(
                sessions,
                lambda s: classes.mark_attendance(s, course["teacher"], first, present, now=later),
            )
            for _ in range(4)
        ),
        return_exceptions=True,
    )
    marked = [o for o in outcomes if isinstance(o, classes.Marked)]
    assert len(marked) == 4 and sum(m.teacher_paid for m in marked) == 60, outcomes
    assert await _teacher_balance(sessions, course["teacher"]) == 60
    report = await ledger.verify_ledger(sessions)
    assert report.ok, report.summary


async def test_an_attendee_paid_class(sessions, town) -> None:
    start = utcnow() + timedelta(hours=1)
    async with transaction(sessions, write=True) as session:
        teacher = await add_member(session, town.branch, "Coach", is_volunteer=True)
        made = await classes.create_class(
            session, teacher, titles={"en": "Karate"}, seats=5, sessions=[(start, 60)],
            price_minutes=30, paid_by="attendees",
        )  # fmt: skip
        poor = await add_member(session, town.branch, "No credit")
        meeting = await session.scalar(
            select(classes.ClassSession.id).where(classes.ClassSession.class_id == made.id)
        )
    rich = await _enrol(sessions, town.residents[0], made.id)
    broke = await _enrol(sessions, poor, made.id)
    async with transaction(sessions, write=True) as session:
        marked = await classes.mark_attendance(
            session, teacher, meeting, [rich.enrolment_id, broke.enrolment_id], now=start
        )
    assert (marked.teacher_paid, marked.unpaid) == (30, (broke.enrolment_id,))
    assert await _teacher_balance(sessions, teacher) == 30


async def test_reminders_once_per_session_and_person(sessions, town, course) -> None:
    await _enrol(sessions, course["parents"][0], course["id"], "小明")
    for _ in range(2):
        async with transaction(sessions, write=True) as session:
            await classes.remind_sessions(session)
    async with sessions() as session:
        told = sorted(
            (m.member_id, m.payload["teacher"])
            for m in await session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == "class_reminder")
            )
        )
    # The first session only (the second is a week away).
    assert told == sorted([(course["parents"][0], False), (course["teacher"], True)])


async def test_bad_classes_are_refused(sessions, town, course) -> None:
    async with transaction(sessions, write=True) as session:
        with pytest.raises(classes.TeachersOnly):
            await classes.create_class(
                session, town.residents[0], titles={"en": "x"}, seats=3,
                sessions=[(utcnow() + timedelta(days=1), 60)],
            )  # fmt: skip
        for seats, when in ((0, 1), (3, -1), (10_000, 1)):
            with pytest.raises(classes.ClassInvalid):
                await classes.create_class(
                    session, course["teacher"], titles={"en": "x"}, seats=seats,
                    sessions=[(utcnow() + timedelta(days=when), 60)],
                )  # fmt: skip
    with pytest.raises(classes.ChildNameInvalid):
        await _enrol(sessions, course["parents"][0], course["id"], "x" * 65)
    for child in ("", "小明"):
        with pytest.raises(classes.OwnClass):
            await _enrol(sessions, course["teacher"], course["id"], child)
    with pytest.raises(Exception):  # noqa: B017  (another branch's member)
        await _enrol(sessions, town.other_staff, course["id"])
