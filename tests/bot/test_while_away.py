"""A member who blocked the bot misses nothing important: the receipt for the help they
gave, sent while they were away, is kept and comes once, in one message, when they are back
(unblocking the bot). Through the local Bot API server."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from core.db import utcnow
from core.models import OutboxMessage
from tests.bot.lang import t
from tests.bot.test_request_help import fill_in, member, member_id
from tests.bot.test_volunteer_journey import d, grant, sweep, until, volunteer


@pytest.fixture(autouse=True)
def _no_scheduled_sweep(monkeypatch) -> None:
    monkeypatch.setenv("TIMEBANK_SWEEP_SECONDS", "0")


async def _receipt_status(sessions, helper_id: int) -> str | None:
    async with sessions() as s:
        return await s.scalar(
            select(OutboxMessage.status).where(
                OutboxMessage.kind == "receipt", OutboxMessage.member_id == helper_id
            )
        )


async def test_a_receipt_sent_while_away_comes_once_on_return(person, sessions) -> None:
    lang = "en"
    resident = await member(person, sessions, "Margaret", lang, branch="luoshan")
    await grant(sessions, await member_id(sessions, resident), 300)
    helper = await volunteer(person, sessions, "Tom", lang, 0.001)
    helper_id = await member_id(sessions, helper)
    await fill_in(resident, sessions, lang)
    await resident.tap_inline(t(lang, "✅ Send"))
    await resident.wait_reply()
    await sweep(sessions, utcnow())
    await until(helper, t(lang, "🔔 Someone near you would like help"))
    await helper.tap_inline(t(lang, "✅ Accept"))
    await until(helper, t(lang, "🙏 Thank you! It is yours."))
    await helper.tap_inline(t(lang, "✔️ Done"))
    await helper.wait_reply()
    await helper.tap_inline(d(lang, 90))
    await until(resident, d(lang, 90))

    await helper.block()
    await resident.tap_inline("⭐⭐⭐⭐⭐")
    for _ in range(200):  # the sender keeps the receipt while Tom is away
        if await _receipt_status(sessions, helper_id) == "blocked":
            break
        await asyncio.sleep(0.05)
    assert await _receipt_status(sessions, helper_id) == "blocked"

    await helper.unblock()
    back = await until(helper, t(lang, "📬 While you were away:"))
    receipt = t(lang, "🎉 Thank you! {duration} for {category} are now in your passbook.")
    assert receipt.split("{")[0] in back and d(lang, 90) in back
    assert await _receipt_status(sessions, helper_id) == "skipped"  # summarised, once
    await helper.command("/help")
    await helper.wait_reply()
    texts = [m["text"] for m in helper.bot_messages()]
    assert sum(t(lang, "📬 While you were away:") in (x or "") for x in texts) == 1
