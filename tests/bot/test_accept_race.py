"""Fifty volunteers tap Accept on one order at the same moment, through the local Bot API
server as they would on their phones: one is told it is theirs, the other 49 are told kindly
that someone else said yes, the payer's credit is held once, and nothing goes wrong."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import select

from core import ledger, nudges
from core.db import utcnow
from core.ledger.tables import LedgerHold
from core.models import Nudge, Order, OrderStatus
from sandbox.client import SandboxError
from tests.bot.lang import t
from tests.bot.test_request_help import fill_in, member, member_id
from tests.bot.test_volunteer_journey import grant, until, volunteer

VOLUNTEERS = 50
LANG = "en"
NUDGE = t(LANG, "🔔 Someone near you would like help")
ACCEPT = t(LANG, "✅ Accept")
YOURS = t(LANG, "🙏 Thank you! It is yours.")
TAKEN = t(LANG, "Another volunteer has already said yes. Thank you all the same!")


@pytest.fixture(autouse=True)
def _no_scheduled_sweep(monkeypatch) -> None:
    monkeypatch.setenv("TIMEBANK_SWEEP_SECONDS", "0")


async def _volunteers(person, sessions) -> list:
    gate = asyncio.Semaphore(10)

    async def one(n: int):
        async with gate:
            return await volunteer(person, sessions, f"V{n}", LANG, 0.0001 * (n + 1))

    return list(await asyncio.gather(*(one(n) for n in range(VOLUNTEERS))))


async def _tap_accept(persona) -> dict | None:
    """The callback answer, or None if the nudge was already edited to "taken" (its
    buttons gone) before this tap reached the server."""
    try:
        return await persona.tap_inline(ACCEPT, timeout=30)
    except SandboxError as error:
        if "has no inline" not in str(error):
            raise
        return None


async def test_fifty_volunteers_tap_accept_at_once(person, sessions, caplog) -> None:
    caplog.set_level(logging.ERROR)
    resident = await member(person, sessions, "Margaret", LANG, branch="luoshan")
    rid = await member_id(sessions, resident)
    await grant(sessions, rid, 300)
    helpers = await _volunteers(person, sessions)
    await fill_in(resident, sessions, LANG)
    await resident.tap_inline(t(LANG, "✅ Send"))
    await resident.wait_reply()

    one_wave = nudges.Rules(wave_size=VOLUNTEERS)
    report = await ledger.atomically(
        sessions, lambda s: nudges.sweep(s, now=utcnow(), rules=one_wave)
    )
    assert report.nudged == VOLUNTEERS, report
    await asyncio.gather(*(until(h, NUDGE, timeout=30) for h in helpers))

    answers = await asyncio.gather(*(_tap_accept(h) for h in helpers))

    winners = [h for h, a in zip(helpers, answers, strict=True) if a and a["text"] != TAKEN]
    assert len(winners) == 1, [a for a in answers if a is None or a["text"] != TAKEN]
    [winner] = winners
    await until(winner, YOURS)
    assert "12 Luoshan Road, flat 3" in winner.last_text()
    losers = [h for h in helpers if h is not winner]
    refusals = [a for h, a in zip(helpers, answers, strict=True) if h is not winner]
    assert all(a is None or (a["text"], a["show_alert"]) == (TAKEN, True) for a in refusals)
    await asyncio.gather(*(until(h, TAKEN, timeout=30) for h in losers))
    for h in losers:
        assert not any(YOURS in (m.get("text") or "") for m in h.bot_messages())
        assert not any(ACCEPT in h.inline_labels(m) for m in h.bot_messages())
    await until(resident, winner.first_name)

    winner_id = await member_id(sessions, winner)
    async with sessions() as s:
        [order] = list(await s.scalars(select(Order)))
        assert (order.status, order.volunteer_id) == (OrderStatus.ACCEPTED, winner_id)
        holds = list(await s.scalars(select(LedgerHold).where(LedgerHold.order_id == order.id)))
        payer = await ledger.find_member_account(s, rid)
        accepted = list(await s.scalars(select(Nudge.member_id).where(Nudge.status == "accepted")))
    assert len(holds) == 1 and holds[0].status == ledger.HoldStatus.PENDING
    assert holds[0].amount == order.estimated_minutes
    assert payer is not None and holds[0].account_id == payer.id
    assert accepted == [winner_id]
    assert (await ledger.verify_ledger(sessions)).ok
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
