"""Starting a class and a seat for a child, through the local Bot API server: the teacher's
wizard (with Back on the way) and a parent enrolling a child by name."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.rewards.tables import ClassSession, CommunityClass, Enrolment
from tests.bot.lang import t
from tests.bot.test_request_help import member, tap_shown
from tests.bot.test_volunteer_journey import until, volunteer

CHILD = "<b>&Kim</b>"


@pytest.fixture(autouse=True)
def _no_scheduled_sweep(monkeypatch) -> None:
    monkeypatch.setenv("TIMEBANK_SWEEP_SECONDS", "0")


async def _open_classes(p, lang: str) -> None:
    await p.tap(t(lang, "📍 Near me"))
    await p.wait_for(lambda _e: t(lang, "⬅️ Near me") in p.inline_labels()
                     or t(lang, "🎓 Classes") in p.inline_labels(), 8)  # fmt: skip
    if t(lang, "🎓 Classes") not in p.inline_labels():
        await p.tap_inline(t(lang, "⬅️ Near me"))
        await p.wait_for(lambda _e: t(lang, "🎓 Classes") in p.inline_labels(), 8)
    await p.tap_inline(t(lang, "🎓 Classes"))
    await until(p, t(lang, "🎓 <b>Classes near you</b>").replace("<b>", "").replace("</b>", ""))


async def test_a_teacher_starts_a_class_and_a_parent_enrols_a_child(person, sessions) -> None:
    lang = "en"
    teacher = await volunteer(person, sessions, "Tess", lang, 0.001)
    await _open_classes(teacher, lang)
    await teacher.tap_inline(t(lang, "➕ Start a class"))
    await until(teacher, t(lang, "🎓 What is the class called? Please type a short title."))
    await teacher.send("Karate for kids")
    await tap_shown(teacher, t(lang, "Skip ➡️"))
    await until(teacher, t(lang, "📅 On which day is the first session?"))
    await tap_shown(teacher, t(lang, "⬅️ Back"))  # back to the description
    await until(teacher, t(lang, "What will people learn? Type a few words, or skip."))
    await teacher.send("Kicks and bows")
    await until(teacher, t(lang, "📅 On which day is the first session?"))
    await teacher.wait_for(lambda _e: len(teacher.keyboard_labels()) > 4, 8)
    await teacher.tap(teacher.keyboard_labels()[1])  # the day after tomorrow
    await tap_shown(teacher, "10:00")
    await tap_shown(teacher, t(lang, "Every week, 4 times"))
    await until(teacher, t(lang, "🪑 How many seats? Tap one, or type a number."))
    await teacher.send("500")  # too many: asked again
    await until(teacher, t(lang, "Please type a number from 1 to {maximum}.").format(maximum=200))
    await teacher.send("12")
    await tap_shown(teacher, t(lang, "Children"))
    await until(teacher, t(lang, "📍 Where is it? Please type the place."))
    await teacher.send("Luoshan hall, room 2")
    await tap_shown(teacher, t(lang, "🆓 Free"))
    review = await until(teacher, t(lang, "Please check your class:"))
    assert "Karate for kids" in review and "Kicks and bows" in review
    await tap_shown(teacher, t(lang, "✅ Create the class"))
    await until(teacher, t(lang, "🎉 Your class “{title}” is open.")[:12])
    async with sessions() as s:
        course = await s.scalar(
            select(CommunityClass).where(
                CommunityClass.titles["en"].as_string() == "Karate for kids"
            )
        )
        assert (course.seats, course.age_note, course.price_minutes) == (12, "Children", 0)
        assert course.paid_by == "pool" and course.teacher_minutes == 60
        meetings = list(
            await s.scalars(select(ClassSession).where(ClassSession.class_id == course.id))
        )
        assert len(meetings) == 4

    parent = await member(person, sessions, "Pat", lang, branch="luoshan")
    await _open_classes(parent, lang)
    await parent.tap_inline(
        next(b for b in parent.inline_labels() if b.endswith("Karate for kids"))
    )
    await parent.wait_for(lambda _e: t(lang, "👧 A seat for a child") in parent.inline_labels(), 8)
    await parent.tap_inline(t(lang, "👧 A seat for a child"))
    await until(parent, t(lang, "👧 What is the child's name? Please type it."))
    await parent.send(CHILD)
    await until(parent, t(lang, "✅ {name} has a seat.").format(name=CHILD))
    async with sessions() as s:
        [seat] = list(await s.scalars(select(Enrolment)))
        assert (seat.class_id, seat.child_name) == (course.id, CHILD)
