"""The long-polling loop stops when told to, whatever it was waiting for."""

from __future__ import annotations

import asyncio

from bot.runner import MIN_INTERVAL, Poller


async def test_a_stop_that_meets_a_finished_update_still_stops_the_poller() -> None:
    """A stop arriving in the same moment as an update finishing used to be swallowed
    (`asyncio.wait_for` on Python 3.11), and the bot polled on: CI hung in a teardown."""
    poller = Poller(dispatcher=None, bot=None, workflow={})  # type: ignore[arg-type]
    waiting = asyncio.create_task(poller.until_one_finishes())
    await asyncio.sleep(MIN_INTERVAL * 3)

    poller.changed.set()
    waiting.cancel()
    await asyncio.wait([waiting], timeout=1)

    assert waiting.cancelled()


async def test_the_wait_ends_when_an_update_finishes() -> None:
    poller = Poller(dispatcher=None, bot=None, workflow={})  # type: ignore[arg-type]
    waiting = asyncio.create_task(poller.until_one_finishes())
    await asyncio.sleep(MIN_INTERVAL * 3)

    poller.changed.set()
    await asyncio.wait_for(waiting, timeout=1)
