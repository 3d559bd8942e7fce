"""The scheduled sweep in the running bot outlives a reply that waits out a 429: the
waiting holds the update's write lock, and the waves still go out afterwards."""

from __future__ import annotations

import pytest

from tests.bot.test_request_help import fill_in, member, member_id
from tests.bot.test_volunteer_journey import grant, until, volunteer


@pytest.fixture(autouse=True)
def _sweep_every_second(monkeypatch) -> None:
    monkeypatch.setenv("TIMEBANK_SWEEP_SECONDS", "1")


async def test_the_waves_go_on_after_a_reply_waited_out_a_429(
    person, sessions, client, caplog
) -> None:
    resident = await member(person, sessions, "Ann", "en", branch="luoshan")
    helper = await volunteer(person, sessions, "Tom", "en", 0.001)
    await grant(sessions, await member_id(sessions, resident), 300)
    # The next reply is refused for 6 s, longer than a synchronous SQLite connection's
    # default busy timeout; the retry waits it out inside the update's transaction.
    await client.add_fault("sendMessage", status=429, retry_after=6)
    await resident.command("/help")
    await resident.wait_reply(timeout=30)
    assert "telegram call retried" in [r.getMessage() for r in caplog.records]

    await fill_in(resident, sessions, "en")
    await resident.tap_inline("✅ Send")
    await resident.wait_reply()
    await until(helper, "🔔 Someone near you would like help", timeout=30)
