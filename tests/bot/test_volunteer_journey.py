"""The volunteer journey through the local Bot API server: nudges, first tap wins, reminder,
done, confirm, credits; and a restart between two waves. In Chinese, Korean and English."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.kit.formatters import duration_text
from core import helping, ledger, matching, nudges, volunteers
from core.db import transaction, utcnow
from core.models import Category, Member, Nudge, Order, OrderStatus, OutboxMessage
from tests.bot.lang import _i18n, t
from tests.bot.test_request_help import fill_in, member, member_id

NAMES = {
    "zh_Hans": ("王芳", ["李明", "张伟", "刘洋", "陈静", "杨军", "赵磊"]),
    "ko": ("김영희", ["박민수", "이지은", "최동훈", "정수진", "강호", "윤서연"]),
    "en": ("Margaret", ["Tom", "Ann", "Raj", "Lucy", "Sam", "Ivy"]),
}


@pytest.fixture(autouse=True)
def _no_scheduled_sweep(monkeypatch) -> None:
    monkeypatch.setenv("TIMEBANK_SWEEP_SECONDS", "0")


def d(lang: str, minutes: int) -> str:
    i18n = _i18n()
    with i18n.context(), i18n.use_locale(lang):
        return duration_text(minutes)


async def until(persona, part: str, timeout: float = 15.0) -> str:  # noqa: ASYNC109
    """Wait until one of the bot's messages to the persona (as last edited) contains `part`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        await persona.sync()
        for message in reversed(persona.bot_messages()):
            if part in (message.get("text") or ""):
                return message["text"]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(
                f"{part!r} not in {[m.get('text') for m in persona.bot_messages()]}"
            )
        await asyncio.sleep(0.1)


async def volunteer(person, sessions, name: str, lang: str, offset: float):
    async with sessions() as s:
        branch_lat, branch_lon = 31.2135, 121.5560
        repairs = await s.scalar(select(Category.id).where(Category.code == "repairs"))
    p = await member(
        person,
        sessions,
        name,
        lang,
        branch="luoshan",
        is_resident=False,
        is_volunteer=True,
        verified=True,
        home_latitude=round(branch_lat + offset, 4),
        home_longitude=branch_lon,
    )
    async with transaction(sessions, write=True) as s:
        vid = await member_id(sessions, p)
        row = await volunteers.profile(s, vid)
        row.skills = matching.skill_bit(repairs)
        row.max_distance_m = 5000
    return p


async def grant(sessions, member_id: int, minutes: int) -> None:
    async with transaction(sessions, write=True) as s:
        branch_id = (await s.get(Member, member_id)).branch_id
        account = await ledger.open_member_account(s, member_id, branch_id)
        await ledger.grant(s, account.id, minutes, key=f"test:grant:{member_id}")


async def sweep(sessions, now) -> nudges.SweepReport:
    return await ledger.atomically(sessions, lambda s: nudges.sweep(s, now=now))


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
async def test_order_to_credit_in_each_language(person, sessions, lang) -> None:
    resident_name, helper_names = NAMES[lang]
    resident = await member(person, sessions, resident_name, lang, branch="luoshan")
    rid = await member_id(sessions, resident)
    await grant(sessions, rid, 300)
    helpers = [
        await volunteer(person, sessions, name, lang, 0.001 * (n + 1))
        for n, name in enumerate(helper_names)
    ]
    await fill_in(resident, sessions, lang)
    await resident.tap_inline(t(lang, "✅ Send"))
    await resident.wait_reply()

    report = await sweep(sessions, utcnow())
    assert report.nudged == 5
    for h in helpers[:5]:
        await until(h, t(lang, "🔔 Someone near you would like help"))
    assert helpers[5].bot_messages()[-1]["text"] != t(lang, "🔔 Someone near you would like help")

    winner = helpers[2]
    await winner.tap_inline(t(lang, "✅ Accept"))
    await until(winner, t(lang, "🙏 Thank you! It is yours."))
    assert "12 Luoshan Road, flat 3" in winner.last_text()
    taken = t(lang, "Another volunteer has already said yes. Thank you all the same!")
    for h in (helpers[0], helpers[1], helpers[3], helpers[4]):
        await until(h, taken)
    await until(resident, helper_names[2])
    # A late tap on a taken order: a kind alert, nothing changes.
    answer = (
        await helpers[0].tap_inline(t(lang, "✅ Accept"))
        if t(lang, "✅ Accept") in (helpers[0].inline_labels() or [])
        else {"text": taken}
    )
    assert answer["text"] == taken

    [order] = list(await _orders(sessions))
    assert order.status == OrderStatus.ACCEPTED
    await sweep(sessions, order.window_start - timedelta(minutes=30))
    await until(winner, t(lang, "⏰ In about an hour:"))
    await until(resident, t(lang, "⏰ In about an hour:"))

    await winner.tap_inline(t(lang, "✔️ Done"))
    await winner.wait_reply()
    await winner.tap_inline(d(lang, 90))
    await until(winner, resident_name)
    await until(resident, d(lang, 90))
    await resident.tap_inline("⭐⭐⭐⭐⭐")
    await until(resident, t(lang, "Would you like to add a thank-you note? Just type it."))
    await resident.send("谢谢！" if lang == "zh_Hans" else "Thanks!")
    await until(
        winner, t(lang, "🎉 Thank you! {duration} for {category} are now in your passbook.")[:3]
    )

    wid = await member_id(sessions, winner)
    async with sessions() as s:
        assert await helping.balance(s, wid) == 90
        assert await helping.balance(s, rid) == 300 - 90
    assert (await ledger.verify_ledger(sessions)).ok


async def _orders(sessions) -> list[Order]:
    async with sessions() as s:
        return list(await s.scalars(select(Order)))


async def test_restart_between_waves_sends_wave_two_once(person, sessions, running_bot) -> None:
    lang = "en"
    resident = await member(person, sessions, "Margaret", lang, branch="luoshan")
    await grant(sessions, await member_id(sessions, resident), 300)
    helpers = [await volunteer(person, sessions, f"V{n}", lang, 0.001 * (n + 1)) for n in range(7)]
    await fill_in(resident, sessions, lang)
    await resident.tap_inline(t(lang, "✅ Send"))
    await resident.wait_reply()
    now = utcnow()
    report = await sweep(sessions, now)
    assert report.nudged == 5, report
    for h in helpers[:5]:
        await until(h, t(lang, "🔔 Someone near you would like help"))
    await running_bot.stop()
    # The sweep runs (in another worker, or twice around the crash) while the bot is down.
    await sweep(sessions, now + timedelta(minutes=11))
    await sweep(sessions, now + timedelta(minutes=11, seconds=5))
    await running_bot.start()
    for h in helpers[5:]:
        await until(h, t(lang, "🔔 Someone near you would like help"), timeout=15)
    await asyncio.sleep(1)
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Nudge)) == 7
        sent = await s.scalar(
            select(func.count()).where(
                OutboxMessage.kind == "nudge", OutboxMessage.status == "sent"
            )
        )
        assert sent == 7
    for h in helpers:
        nudged = [
            m
            for m in h.bot_messages()
            if t(lang, "🔔 Someone near you would like help") in (m.get("text") or "")
        ]
        assert len(nudged) == 1
