"""The bot's one pace: never over Telegram's limits (overall and per chat), even when the
event loop is late, replies before nudges before broadcast messages, a 429 holds all, and an
outbox message's claim comes after its turn, right before its request leaves."""

from __future__ import annotations

import asyncio
import math
import time

import pytest
from aiogram import Bot
from aiogram.methods import SendMessage

from bot.pace import SLACK, Departure, Lane, Pace, PaceMiddleware, departing
from bot.sender import Sender


def most_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] > window:
            start += 1
        most = max(most, end - start + 1)
    return most


async def test_no_window_holds_more_than_the_limit_even_with_a_late_event_loop() -> None:
    rate = 100.0
    pace = Pace(rate=rate)
    left: list[float] = []  # the times the pace counted the messages as leaving
    take = pace.overall.take

    def counted(now: float) -> None:
        left.append(now)
        take(now)

    pace.overall.take = counted  # type: ignore[method-assign]
    busy = True

    async def hog() -> None:  # other work holding the event loop now and then
        while busy:
            time.sleep(0.006)  # noqa: ASYNC251 - a late loop is what is tested
            await asyncio.sleep(0.015)

    async def send(n: int) -> None:
        await pace.turn(n, Lane.BROADCAST if n % 2 else Lane.NOTICE)

    hogging = asyncio.create_task(hog())
    await asyncio.gather(*(send(n) for n in range(60)))
    busy = False
    await hogging
    assert len(left) == 60
    # A GCRA bucket: in any window of w seconds at most floor((w + SLACK/rate) * rate) + 1.
    for window in (0.0, 0.05, 0.2):
        allowed = math.floor(window * rate + SLACK) + 1
        assert most_in_any_window(left, window) <= allowed, window


async def test_a_chat_gets_its_burst_then_one_at_its_rate_replies_counted() -> None:
    pace = Pace(rate=1000, chat_rate=20, chat_burst=3)
    loop = asyncio.get_running_loop()
    left: list[float] = []

    async def send(lane: Lane) -> None:
        await pace.turn(7, lane)
        left.append(loop.time())

    began = loop.time()
    await asyncio.gather(*(send(lane) for lane in [Lane.NOTICE, Lane.BROADCAST] * 4))
    assert most_in_any_window(left, 0.0) <= 3
    assert most_in_any_window(left, 0.049) <= 3 + 1
    assert loop.time() - began >= (8 - 3) / 20 * 0.95
    # Another chat is not held up by this one.
    began = loop.time()
    await pace.turn(8, Lane.BROADCAST)
    assert loop.time() - began < 0.02
    # A reply never waits for its chat; the outbox's next message waits one interval after
    # the last, however many replies went.
    await asyncio.sleep(0.5)
    for _ in range(12):
        await pace.turn(9, Lane.REPLY)
    assert loop.time() - began < 0.55
    waited = loop.time()
    await pace.turn(9, Lane.NOTICE)
    assert 1 / 20 * 0.9 <= loop.time() - waited < 2 / 20


async def test_replies_then_notices_then_broadcast_messages() -> None:
    pace = Pace(rate=50)
    order: list[str] = []

    async def send(name: str, lane: Lane, chat: int) -> None:
        await pace.turn(chat, lane)
        order.append(name)

    pace.hold(0.5)  # all of these wait, then go in their lanes' order
    waiting = [asyncio.create_task(send(f"b{n}", Lane.BROADCAST, 100 + n)) for n in range(3)] + [
        asyncio.create_task(send("nudge", Lane.NOTICE, 1))
    ]
    await asyncio.sleep(0)
    waiting.append(asyncio.create_task(send("reply", Lane.REPLY, 2)))
    await asyncio.gather(*waiting)
    assert order == ["reply", "nudge", "b0", "b1", "b2"]


async def test_a_message_waiting_for_its_chat_lets_the_others_go() -> None:
    pace = Pace(rate=50, chat_rate=2, chat_burst=1)
    order: list[str] = []

    async def send(name: str, lane: Lane, chat: int) -> None:
        await pace.turn(chat, lane)
        order.append(name)

    await pace.turn(1, Lane.REPLY)  # chat 1's next message is half a second away
    await asyncio.gather(
        send("nudge to 1", Lane.NOTICE, 1), send("broadcast to 2", Lane.BROADCAST, 2)
    )
    assert order == ["broadcast to 2", "nudge to 1"]


async def test_a_429_holds_every_lane() -> None:
    pace = Pace(rate=1000)
    loop = asyncio.get_running_loop()
    pace.hold(0.2)
    began = loop.time()
    await pace.turn(1, Lane.REPLY)
    assert loop.time() - began >= 0.19


async def test_a_claimed_message_leaves_at_once_even_when_a_reply_came_meanwhile() -> None:
    """An outbox message takes its turn, then its claim runs, then its request leaves at
    once: a reply that came during the claim goes in the next slot, not between the claim
    and the request (a kill there would lose the message)."""
    pace = Pace(rate=2)  # a message every 0.5 s, up to 0.45 s early
    middleware = PaceMiddleware(pace)
    loop = asyncio.get_running_loop()
    left: dict[str, float] = {}
    claimed: dict[str, float] = {}

    def request(name: str):
        async def make_request(bot, method) -> str:
            left[name] = loop.time()
            return name

        return make_request

    async def slow_claim() -> None:
        await asyncio.sleep(0.3)
        claimed["broadcast"] = loop.time()

    async def outbox_message() -> None:
        departure = Departure(Lane.BROADCAST, before=slow_claim)
        with departing(departure):
            await middleware(request("broadcast"), None, SendMessage(chat_id=1, text="b"))
        assert departure.left_at == pytest.approx(left["broadcast"], abs=0.01)

    async def reply() -> None:
        await asyncio.sleep(0.05)
        await middleware(request("reply"), None, SendMessage(chat_id=2, text="r"))

    began = loop.time()
    await asyncio.gather(outbox_message(), reply())
    assert left["broadcast"] - claimed["broadcast"] < 0.01  # no wait after the claim
    assert left["reply"] - began < 0.2  # in the next slot, during the claim
    await middleware(request("next"), None, SendMessage(chat_id=3, text="n"))
    assert left["next"] - left["reply"] >= 0.45


async def test_a_lane_lets_one_claimed_message_at_a_time_go_to_its_departure() -> None:
    """Claimed only once its turn came, and the next one claimed only once it left: a lane
    never has two claimed messages that have not left."""
    middleware = PaceMiddleware(Pace(rate=10))
    gate = asyncio.Lock()
    events: list[str] = []

    async def claim(n: int) -> None:
        events.append(f"claim {n}")

    def request(n: int):
        async def make_request(bot, method) -> None:
            events.append(f"left {n}")
            await asyncio.sleep(0.3)  # the answer takes long: the next goes meanwhile

        return make_request

    async def message(n: int) -> None:
        departure = Departure(Lane.BROADCAST, before=lambda: claim(n), gate=gate)
        with departing(departure):
            await middleware(request(n), None, SendMessage(chat_id=n, text="b"))

    await asyncio.gather(*(message(n) for n in range(3)))
    assert events == ["claim 0", "left 0", "claim 1", "left 1", "claim 2", "left 2"]


async def test_a_progress_edit_takes_a_broadcast_turn_through_the_lanes_gate() -> None:
    """A broadcast's progress edit goes after the replies waiting, in the broadcast lane,
    and never between a broadcast message's claim and its request (the lane's gate)."""
    bot = Bot("42:TEST")
    sender = Sender(bot, None, None)  # type: ignore[arg-type]
    pace, order = sender.pace, []

    def taken() -> None:  # a third of a second of slots taken by other messages
        for _ in range(10):
            pace.overall.take(asyncio.get_running_loop().time())

    taken()

    async def reply() -> None:
        await pace.turn(7, Lane.REPLY)
        order.append("reply")

    async def edit() -> None:
        await sender.paced()
        order.append("edit")

    gate = sender._gates[Lane.BROADCAST]
    await gate.acquire()  # a broadcast message between its claim and its request
    editing = asyncio.create_task(edit())
    await asyncio.sleep(0.5)  # its slot came meanwhile; the gate holds it
    assert order == []
    taken()
    gate.release()
    await asyncio.sleep(0)
    await asyncio.wait_for(asyncio.gather(editing, reply()), 1)
    assert order == ["reply", "edit"]
    await bot.session.close()


async def test_a_message_waiting_for_its_chat_does_not_hold_its_lane() -> None:
    """It waits for its chat outside its lane's gate: the lane's messages to other chats
    go meanwhile."""
    pace = Pace(rate=100, chat_rate=2, chat_burst=1)
    middleware = PaceMiddleware(pace)
    gate = asyncio.Lock()
    loop = asyncio.get_running_loop()
    left: dict[int, float] = {}
    await pace.turn(1, Lane.REPLY)  # chat 1's next outbox message is half a second away
    began = loop.time()

    async def claim() -> None:
        pass

    async def message(chat: int) -> None:
        async def make_request(bot, method) -> None:
            left[chat] = loop.time() - began

        with departing(Departure(Lane.NOTICE, before=claim, gate=gate)):
            await middleware(make_request, None, SendMessage(chat_id=chat, text="n"))

    await asyncio.gather(*(message(chat) for chat in (1, 2, 3, 4)))
    assert max(left[chat] for chat in (2, 3, 4)) < 0.2
    assert left[1] >= 0.45


async def test_a_waiting_broadcast_gets_one_turn_in_four_while_notices_stream() -> None:
    pace = Pace(rate=200)
    order: list[str] = []

    async def send(name: str, lane: Lane, chat: int) -> None:
        await pace.turn(chat, lane)
        order.append(name)

    pace.hold(0.1)  # all of these wait, then go
    waiting = [asyncio.create_task(send("n", Lane.NOTICE, n)) for n in range(9)]
    waiting += [asyncio.create_task(send("b", Lane.BROADCAST, 100 + n)) for n in range(3)]
    await asyncio.sleep(0)
    waiting.append(asyncio.create_task(send("r", Lane.REPLY, 50)))
    await asyncio.gather(*waiting)
    assert "".join(order) == "rnnnbnnnbnnnb"
