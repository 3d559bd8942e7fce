"""Webhook delivery under load: parallel up to max_connections, in order within a chat,
kept-alive connections, retries of one chat that do not hold up the others."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from sandbox import SandboxClient

from .conftest import Api, eventually, started_user, webhook_receiver


class SlowReceiver:
    """A webhook endpoint that takes its time, and records how many requests overlap."""

    def __init__(self) -> None:
        self.delay = (0.05, 0.05)
        self.in_flight = 0
        self.peak = 0
        self.in_flight_by_chat: Counter[int] = Counter()
        self.overlapping_chats: list[int] = []
        self.texts_by_chat: dict[int, list[str]] = {}
        self.secrets: set[str | None] = set()
        self.peers: set[Any] = set()
        self.failures_left: Counter[int] = Counter()
        self.requests = 0

    async def handle(self, request: web.Request) -> web.Response:
        update = await request.json()
        message = update["message"]
        chat = message["chat"]["id"]
        self.requests += 1
        self.secrets.add(request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
        self.peers.add(request.transport.get_extra_info("peername") if request.transport else None)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        self.in_flight_by_chat[chat] += 1
        if self.in_flight_by_chat[chat] > 1:
            self.overlapping_chats.append(chat)
        try:
            await asyncio.sleep(random.uniform(*self.delay))
            if self.failures_left[chat]:
                self.failures_left[chat] -= 1
                return web.Response(status=502, text="busy")
            self.texts_by_chat.setdefault(chat, []).append(message["text"])
            return web.json_response({})
        finally:
            self.in_flight -= 1
            self.in_flight_by_chat[chat] -= 1

    def delivered(self) -> int:
        return sum(len(texts) for texts in self.texts_by_chat.values())


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[SlowReceiver, str]]:
    target = SlowReceiver()
    async with webhook_receiver(target.handle) as url:
        yield target, url


async def _users(client: SandboxClient, count: int) -> list[dict[str, Any]]:
    return [await started_user(client, f"User{n}") for n in range(count)]


async def _pending(api: Api) -> int:
    return (await api.ok("getWebhookInfo"))["pending_update_count"]


async def test_parallel_up_to_max_connections_over_kept_alive_connections(
    api: Api, client: SandboxClient, receiver: tuple[SlowReceiver, str]
) -> None:
    target, url = receiver
    users = await _users(client, 8)
    assert await api.ok("setWebhook", url=url, max_connections=3, secret_token="s3cr3t")
    assert (await api.ok("getWebhookInfo"))["max_connections"] == 3
    for round_ in range(3):
        for user in users:
            await client.send_text(user["id"], f"m{round_}")
    assert await _pending(api) > 0  # in flight or waiting: not yet acknowledged
    await eventually(lambda: _settled(api, target, 24), within=10)
    assert 1 < target.peak <= 3
    assert target.secrets == {"s3cr3t"}
    # three connections at most, reused rather than one per update
    assert len(target.peers) <= 3 < target.requests


async def _settled(api: Api, target: SlowReceiver, expected: int) -> bool:
    return target.delivered() == expected and await _pending(api) == 0


async def test_each_chat_in_order_and_one_at_a_time(
    api: Api, client: SandboxClient, receiver: tuple[SlowReceiver, str]
) -> None:
    target, url = receiver
    target.delay = (0.0, 0.03)  # replies of varying speed would reorder a careless sender
    users = await _users(client, 6)
    await api.ok("setWebhook", url=url)  # default: 40 connections
    senders = [user for _ in range(8) for user in users]
    random.Random(7).shuffle(senders)
    expected: dict[int, list[str]] = {user["id"]: [] for user in users}
    for user in senders:
        text = f"{user['first_name']}-{len(expected[user['id']])}"
        await client.send_text(user["id"], text)
        expected[user["id"]].append(text)
    await eventually(lambda: _settled(api, target, len(senders)), within=10)
    assert target.texts_by_chat == expected
    assert target.overlapping_chats == []
    assert target.peak > 1


async def test_a_failing_chat_is_retried_in_order_while_the_others_go_on(
    api: Api, client: SandboxClient, receiver: tuple[SlowReceiver, str]
) -> None:
    target, url = receiver
    target.delay = (0.0, 0.0)
    stuck, *others = await _users(client, 4)
    target.failures_left[stuck["id"]] = 4  # retried after 0.05, 0.1, 0.2, 0.2 s
    await api.ok("setWebhook", url=url)
    for n in range(3):
        await client.send_text(stuck["id"], f"s{n}")
    for n in range(5):
        for user in others:
            await client.send_text(user["id"], f"o{n}")

    async def others_done() -> bool:
        return all(len(target.texts_by_chat.get(user["id"], [])) == 5 for user in others)

    await eventually(others_done, within=5)
    assert stuck["id"] not in target.texts_by_chat  # still backing off, not holding others up
    info = await api.ok("getWebhookInfo")
    assert info["pending_update_count"] == 3
    assert info["last_error_message"] == "Wrong response from the webhook: 502 Bad Gateway"
    assert isinstance(info["last_error_date"], int)
    await eventually(lambda: _settled(api, target, 18), within=5)
    assert target.texts_by_chat[stuck["id"]] == ["s0", "s1", "s2"]
    assert target.overlapping_chats == []
