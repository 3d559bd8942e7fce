"""The long-polling loop stops when told to, whatever it was waiting for."""

from __future__ import annotations

import asyncio

from aiogram.types import Update

from bot import runner
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


class CountingDispatcher:
    """Handles an update once `release` is set."""

    def __init__(self) -> None:
        self.handled: list[int] = []
        self.release = asyncio.Event()

    def resolve_used_update_types(self) -> list[str]:
        return ["message"]

    async def feed_update(self, bot, update, update_committed, **workflow) -> None:
        await self.release.wait()
        self.handled.append(update.update_id)
        update_committed()


async def test_an_update_that_finishes_while_a_poll_brings_it_back_is_not_handled_again() -> None:
    """The poll asked with the update's id as offset, so its answer still holds the update,
    though by the time it arrives the update was handled: it must be skipped, not taken as
    new (a second reply to one /help)."""
    dispatcher = CountingDispatcher()
    poller = Poller(dispatcher=dispatcher, bot=None, workflow={})  # type: ignore[arg-type]
    offsets: list[int | None] = []
    third_poll = asyncio.Event()

    async def get_updates(params: dict) -> list[dict]:
        offsets.append(params["offset"])
        if len(offsets) == 1:
            return [{"update_id": 7}]
        if len(offsets) == 2:
            dispatcher.release.set()  # update 7 finishes while this poll is on its way
            await asyncio.gather(*poller.in_flight.values())
            return [{"update_id": 7}, {"update_id": 8}]
        third_poll.set()
        await asyncio.sleep(3600)
        return []

    poller._get_updates = get_updates  # type: ignore[method-assign]
    polling = asyncio.create_task(poller.run())
    async with asyncio.timeout(5):
        await third_poll.wait()
        await asyncio.gather(*poller.in_flight.values())
    polling.cancel()
    await asyncio.wait([polling], timeout=1)

    assert offsets[:2] == [None, 7]
    assert dispatcher.handled == [7, 8]
    assert poller.offset() == 9


async def test_a_burst_is_taken_without_waiting_for_its_first_update() -> None:
    """The long poll answers with a burst's first update; the rest of the burst comes in
    the next answer. Waiting for that first update to finish before asking (its replies, a
    Bot API round trip away) held every burst back by that much: with a 50 ms Bot API, 10-20 %
    of PostgreSQL's updates per second by polling. An answer with new updates and room for
    more is asked again at once; one that brought nothing new waits for the oldest."""
    dispatcher = CountingDispatcher()  # never released: update 7 stays in flight
    poller = Poller(dispatcher=dispatcher, bot=None, workflow={})  # type: ignore[arg-type]
    answers = [[{"update_id": 7}], [{"update_id": 7}, {"update_id": 8}], [{"update_id": 7}]]
    log: list[str] = []
    done = asyncio.Event()

    async def get_updates(params: dict) -> list[dict]:
        log.append(f"poll {params['offset']}")
        if not answers:
            done.set()
            await asyncio.sleep(3600)
        return answers.pop(0)

    async def until_one_finishes() -> None:
        log.append("wait for the oldest")

    poller._get_updates = get_updates  # type: ignore[method-assign]
    poller.until_one_finishes = until_one_finishes  # type: ignore[method-assign]
    polling = asyncio.create_task(poller.run())
    async with asyncio.timeout(5):
        await done.wait()
    polling.cancel()
    await asyncio.wait([polling], timeout=1)

    assert log == ["poll None", "poll 7", "poll 7", "wait for the oldest", "poll 7"]
    assert sorted(poller.in_flight) == [7, 8]
    for task in poller.in_flight.values():
        task.cancel()


async def test_a_stop_waits_for_the_replies_of_an_update_already_confirmed() -> None:
    """An update that wrote is confirmed at its commit, before its replies go out; a stop
    (not a crash) must still let those replies go, or they are lost for nothing."""
    replied: list[int] = []

    class ConfirmsThenReplies:
        async def feed_update(self, bot, update, update_committed, **workflow) -> None:
            update_committed()
            await asyncio.sleep(MIN_INTERVAL * 5)  # the replies' round trip
            replied.append(update.update_id)

    poller = Poller(dispatcher=ConfirmsThenReplies(), bot=None, workflow={})  # type: ignore[arg-type]
    poller._start(Update.model_validate({"update_id": 7}))
    await asyncio.sleep(0)
    assert poller.in_flight == {}  # confirmed: the offset has moved on
    poller.next_id = 0  # nothing to confirm to the Bot API in this test

    await poller.drain(within=5)

    assert replied == [7]


async def test_updates_replying_slowly_hold_back_the_next_poll(monkeypatch) -> None:
    """Confirmed at commit, an update leaves the window while its replies wait for the Bot
    API; were the Bot API to take them slowly (a long 429), updates would pile up without
    end. At RUNNING_LIMIT at once the poller waits for one to end."""
    monkeypatch.setattr(runner, "RUNNING_LIMIT", 2)
    replies_go = asyncio.Event()

    class ConfirmsThenWaits:
        def resolve_used_update_types(self) -> list[str]:
            return ["message"]

        async def feed_update(self, bot, update, update_committed, **workflow) -> None:
            update_committed()
            await replies_go.wait()

    poller = Poller(dispatcher=ConfirmsThenWaits(), bot=None, workflow={})  # type: ignore[arg-type]
    ids = iter(range(1, 100))
    polls: list[int] = []

    async def get_updates(params: dict) -> list[dict]:
        polls.append(len(poller.running))
        return [{"update_id": next(ids)}]

    poller._get_updates = get_updates  # type: ignore[method-assign]
    polling = asyncio.create_task(poller.run())
    await asyncio.sleep(MIN_INTERVAL * 10)
    assert polls == [0, 1] and len(poller.running) == 2  # and no poll since

    replies_go.set()
    await asyncio.sleep(MIN_INTERVAL * 5)
    polling.cancel()
    await asyncio.wait([polling], timeout=1)
    assert len(polls) > 2
    for task in poller.running:
        task.cancel()


async def test_the_first_updates_of_a_burst_are_asked_after_soon() -> None:
    """The long poll's answer brings a burst's first update or few; the poll for the rest
    waited MIN_INTERVAL (20 ms) whatever was in flight, and the first updates of every
    burst, or one arriving as another was handled, waited as long (one /help at a time:
    20 ms a reply instead of 4). Each answer brings what is in flight back, so the pause
    grows with it: a full window is still asked about every MIN_INTERVAL at most."""
    dispatcher = CountingDispatcher()  # never released: what it takes stays in flight
    poller = Poller(dispatcher=dispatcher, bot=None, workflow={})  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()
    polled_at: list[float] = []
    done = asyncio.Event()

    async def get_updates(params: dict) -> list[dict]:
        polled_at.append(loop.time())
        if len(polled_at) == 1:
            return [{"update_id": 7}]
        done.set()
        await asyncio.sleep(3600)
        return []

    poller._get_updates = get_updates  # type: ignore[method-assign]
    polling = asyncio.create_task(poller.run())
    async with asyncio.timeout(5):
        await done.wait()
    polling.cancel()
    await asyncio.wait([polling], timeout=1)
    for task in poller.in_flight.values():
        task.cancel()

    assert polled_at[1] - polled_at[0] < MIN_INTERVAL * 3 / 4  # the fixed pause waited all of it
    poller.in_flight = {n: None for n in range(runner.POLL_LIMIT)}  # type: ignore[misc]
    assert poller.pause() == MIN_INTERVAL


async def test_an_update_finishing_with_few_in_flight_is_followed_soon() -> None:
    """One update in flight that finishes at once: the next poll is not held MIN_INTERVAL."""
    poller = Poller(dispatcher=None, bot=None, workflow={})  # type: ignore[arg-type]
    poller.in_flight = {7: None}  # type: ignore[dict-item]
    loop = asyncio.get_running_loop()
    started = loop.time()
    waiting = asyncio.create_task(poller.until_one_finishes())
    await asyncio.sleep(0)
    poller.changed.set()
    await asyncio.wait_for(waiting, timeout=1)

    assert loop.time() - started < MIN_INTERVAL * 3 / 4  # the fixed pause waited all of it
