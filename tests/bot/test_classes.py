"""A class through the local Bot API server: three seats, five neighbours enrol (one in the
chat), two wait; one gives up a seat and the first waiting is told in their language; the
teacher takes attendance on one screen and is paid once for the session, however often
Save is tapped. In Chinese, Korean and English."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core import helping, ledger
from core.db import transaction, utcnow
from core.ledger.tables import LedgerTransaction
from core.rewards import classes
from core.rewards.tables import Enrolment, EnrolmentStatus
from tests.bot.lang import t
from tests.bot.test_request_help import member, member_id
from tests.bot.test_volunteer_journey import until, volunteer

TITLE = "<b>&Pen</b>"
NAMES = {
    "zh_Hans": ["李明", "张伟", "刘洋", "陈静", "杨军"],
    "ko": ["박민수", "이지은", "최동훈", "정수진", "강호"],
    "en": ["Tom", "Ann", "Raj", "Lucy", "Sam"],
}


@pytest.fixture(autouse=True)
def _no_scheduled_sweep(monkeypatch) -> None:
    monkeypatch.setenv("TIMEBANK_SWEEP_SECONDS", "0")


def plain(text: str) -> str:
    return text.replace("<b>", "").replace("</b>", "")


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
async def test_seats_waiting_list_and_attendance(person, sessions, lang) -> None:
    teacher = await volunteer(person, sessions, "Teacher", lang, 0.001)
    tid = await member_id(sessions, teacher)
    now = utcnow()
    async with transaction(sessions, write=True) as s:
        course = await classes.create_class(
            s, tid, titles={lang: TITLE}, seats=3, place="Hall 2",
            sessions=[(now - timedelta(hours=1), 60), (now + timedelta(days=7), 60)],
            teacher_minutes=60, paid_by="pool", now=now - timedelta(hours=2),
        )  # fmt: skip
        class_id = course.id
    people = [await member(person, sessions, name, lang, branch="luoshan") for name in NAMES[lang]]
    ids = [await member_id(sessions, p) for p in people]
    async with transaction(sessions, write=True) as s:
        for mid in ids[:3]:
            await classes.enrol(s, mid, class_id)
    # The fourth enrols in the chat: Near me → Classes → the class → a seat for me.
    lucy = people[3]
    await lucy.tap(t(lang, "📍 Near me"))
    await until(lucy, plain(t(lang, "📍 <b>Near me</b>")))
    await lucy.tap_inline(t(lang, "🎓 Classes"))
    listed = await until(lucy, plain(t(lang, "🎓 <b>Classes near you</b>")))
    assert TITLE in listed  # escaped: shown as typed
    await lucy.tap_inline(next(b for b in lucy.inline_labels() if b.endswith(f". {TITLE}")))
    await lucy.wait_for(lambda _e: t(lang, "✅ A seat for me") in lucy.inline_labels(), 8)
    answer = await lucy.tap_inline(t(lang, "✅ A seat for me"))
    assert answer["text"] == t(
        lang, "⏳ The class is full: number {position} on the waiting list."
    ).format(position=1)
    async with transaction(sessions, write=True) as s:
        fifth = await classes.enrol(s, ids[4], class_id)
    assert (fifth.status, fifth.position) == (EnrolmentStatus.WAITING, 2)

    async with transaction(sessions, write=True) as s:
        seat = await s.scalar(select(Enrolment.id).where(Enrolment.member_id == ids[0]))
        withdrawn = await classes.cancel_enrolment(s, ids[0], seat)
    told = t(lang, "🎉 Good news: a seat opened in “{title}”, and it is yours now.")
    await until(lucy, told.format(title=TITLE))
    async with sessions() as s:
        promoted = await s.get(Enrolment, withdrawn.promoted_enrolment_id)
        assert (promoted.member_id, promoted.status) == (ids[3], EnrolmentStatus.ENROLLED)
    assert not any(
        told.format(title=TITLE) in (m.get("text") or "") for m in people[4].bot_messages()
    )

    # The teacher takes attendance: tap two names, Save; Save again changes nothing.
    await teacher.tap(t(lang, "📍 Near me"))
    await until(teacher, plain(t(lang, "🙋 <b>Requests near you</b>")))
    await teacher.tap_inline(t(lang, "⬅️ Near me"))
    await teacher.wait_for(lambda _e: t(lang, "🎓 Classes") in teacher.inline_labels(), 8)
    await teacher.tap_inline(t(lang, "🎓 Classes"))
    await teacher.wait_for(lambda _e: t(lang, "🧑‍🏫 Classes I teach") in teacher.inline_labels(), 8)
    await teacher.tap_inline(t(lang, "🧑‍🏫 Classes I teach"))
    await until(teacher, plain(t(lang, "🧑‍🏫 <b>Classes you teach</b>")))
    started = next(label for label in teacher.inline_labels() if label.startswith("📝"))
    await teacher.tap_inline(started)
    await until(teacher, t(lang, "Tap the names of those who came, then Save."))
    for name in (NAMES[lang][1], NAMES[lang][3]):
        await teacher.tap_inline(f"⬜ {name}")
        await teacher.wait_for(lambda _e, n=name: f"✅ {n}" in teacher.inline_labels(), 8)
    await teacher.tap_inline(t(lang, "💾 Save"))
    await until(teacher, t(lang, "✅ Attendance saved: {count} came.").format(count=2))
    await teacher.tap_inline(t(lang, "💾 Save"))
    async with sessions() as s:
        assert await helping.balance(s, tid) == 60
        paid = await s.scalar(
            select(func.count()).where(
                LedgerTransaction.idempotency_key.like("class-session:%:teacher")
            )
        )
        assert paid == 1
    assert (await ledger.verify_ledger(sessions)).ok
    # A forged button for a session that is not theirs: a kind answer.
    forged = await lucy.forge_tap(f"cls:s:{999999}:0")
    assert forged["text"] == t(lang, "Sorry, I could not find that.")
