"""Flood limits (429 retry_after) and injected faults (latency, 5xx, dropped connections)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from sandbox import ApiError, RateLimits, SandboxClient, SandboxServer
from sandbox.ratelimit import RateLimiter

from .conftest import FAST, TOKEN, Api


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_chat_bucket_allows_a_burst_then_one_per_second() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimits(chat_per_second=1.0, chat_burst=3), clock=clock)
    for _ in range(3):
        limiter.check(1, 10)
    with pytest.raises(ApiError) as caught:
        limiter.check(1, 10)
    assert caught.value.code == 429
    assert caught.value.retry_after == 1
    limiter.check(1, 11)  # another chat is not affected
    clock.now += 1.0
    limiter.check(1, 10)
    with pytest.raises(ApiError):
        limiter.check(1, 10)


def test_global_bucket_limits_messages_per_bot() -> None:
    clock = FakeClock()
    limiter = RateLimiter(
        RateLimits(global_per_second=30, global_burst=30, chat_burst=100), clock=clock
    )
    for chat in range(30):
        limiter.check(1, chat)
    with pytest.raises(ApiError) as caught:
        limiter.check(1, 99)
    assert caught.value.retry_after == 1
    limiter.check(2, 99)  # another bot has its own budget
    clock.now += 0.1  # 3 more tokens
    for chat in range(3):
        limiter.check(1, chat)
    with pytest.raises(ApiError):
        limiter.check(1, 0)


def test_relaxed_limits_never_refuse() -> None:
    limiter = RateLimiter(RateLimits.relaxed())
    for _ in range(1000):
        limiter.check(1, 1)


@pytest.fixture
async def limited() -> AsyncIterator[SandboxServer]:
    server = SandboxServer(bots=[TOKEN], settings=FAST)  # Telegram's default limits
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_429_with_retry_after_over_http(
    limited: SandboxServer, http: aiohttp.ClientSession
) -> None:
    api = Api(http, limited, TOKEN)
    async with limited.client() as control:
        user = await control.create_user("Mei", started=True)
        results = [await api("sendMessage", chat_id=user["id"], text=f"m{n}") for n in range(6)]
        statuses = [status for status, _ in results]
        assert statuses[:4] == [200, 200, 200, 200]  # the default burst to one chat is 4
        status, body = results[4]
        assert status == 429
        assert body == {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 1",
            "parameters": {"retry_after": 1},
        }
        # refused messages were not delivered
        transcript = await control.transcript(user["id"])
        assert [m["text"] for m in transcript["messages"]] == ["m0", "m1", "m2", "m3"]
        # limits are configurable at run time
        await control.set_rate_limits(enabled=False)
        assert (await api("sendMessage", chat_id=user["id"], text="free"))[0] == 200
        assert (await control.rate_limits())["enabled"] is False


async def test_global_limit_over_http(limited: SandboxServer, http: aiohttp.ClientSession) -> None:
    api = Api(http, limited, TOKEN)
    async with limited.client() as control:
        await control.set_rate_limits(global_per_second=5, global_burst=5)
        users = [await control.create_user(f"U{n}", started=True) for n in range(7)]
        statuses = [(await api("sendMessage", chat_id=u["id"], text="hi"))[0] for u in users]
        assert statuses == [200] * 5 + [429] * 2


async def test_error_fault_for_n_calls(api: Api, client: SandboxClient) -> None:
    await client.add_fault("getMe", status=502, times=2)
    assert await api.error("getMe") == (502, "Bad Gateway")
    assert await api.error("getme") == (502, "Bad Gateway")
    assert (await api.ok("getMe"))["is_bot"]
    assert await client.faults() == []


async def test_fault_after_the_work_is_done(
    api: Api, client: SandboxClient, user: dict[str, Any]
) -> None:
    await client.add_fault("sendMessage", status=500, after=True)
    assert await api.error("sendMessage", chat_id=user["id"], text="sent anyway") == (
        500,
        "Internal Server Error",
    )
    transcript = await client.transcript(user["id"])
    assert [m["text"] for m in transcript["messages"]] == ["sent anyway"]


async def test_latency_fault_and_clear(api: Api, client: SandboxClient) -> None:
    await client.add_fault("getMe", kind="latency", latency=0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await api.ok("getMe")
    assert loop.time() - started >= 0.25
    await client.clear_faults("getMe")
    started = loop.time()
    await api.ok("getMe")
    assert loop.time() - started < 0.25


async def test_dropped_connection(api: Api, client: SandboxClient) -> None:
    await client.add_fault("*", kind="drop", times=1)
    with pytest.raises(aiohttp.ClientError):
        await api("getMe")
    assert (await api.ok("getMe"))["is_bot"]


async def test_injected_429_and_forbidden(api: Api, client: SandboxClient) -> None:
    await client.add_fault("sendMessage", status=429, retry_after=7)
    status, body = await api("sendMessage", chat_id=1, text="x")
    assert status == 429 and body["parameters"] == {"retry_after": 7}
    await client.add_fault(
        "sendMessage", status=403, description="Forbidden: bot was blocked by the user"
    )
    assert await api.error("sendMessage", chat_id=1, text="x") == (
        403,
        "Forbidden: bot was blocked by the user",
    )


async def test_bad_fault_specs_are_refused(client: SandboxClient) -> None:
    from sandbox.client import SandboxError

    for spec in (
        {"kind": "explode"},
        {"status": 200},
        {"latency": -1, "kind": "latency"},
        {"times": 0},
    ):
        with pytest.raises(SandboxError) as caught:
            await client.add_fault("getMe", **spec)
        assert caught.value.status == 400


async def test_refused_calls_are_recorded_and_injected_faults_are_not(
    api: Api, client: SandboxClient, user: dict[str, Any]
) -> None:
    await client.add_fault("getMe", status=502)
    await api.error("getMe")
    assert (await api.error("sendMessage", chat_id=user["id"], text=""))[0] == 400
    [refused] = (await client.request("GET", "/sandbox/api_errors"))["api_errors"]
    assert refused["method"] == "sendMessage"
    assert refused["error_code"] == 400
    calls = (await client.request("GET", "/sandbox/api_calls"))["api_calls"]
    assert calls["getme"] == 1 and calls["sendmessage"] == 1


async def test_a_user_edits_a_message(
    api: Api, client: SandboxClient, user: dict[str, Any]
) -> None:
    sent = await client.send_text(user["id"], "hello")
    await client.request(
        "POST",
        f"/sandbox/chats/{user['id']}/edit",
        json={"message_id": sent["message"]["message_id"], "text": "hello <b>again</b>"},
    )
    updates = await api.ok("getUpdates")
    assert updates[-1]["edited_message"]["text"] == "hello <b>again</b>"
    assert updates[-1]["edited_message"]["message_id"] == sent["message"]["message_id"]
    transcript = await client.transcript(user["id"])
    assert [m["text"] for m in transcript["messages"]] == ["hello <b>again</b>"]
