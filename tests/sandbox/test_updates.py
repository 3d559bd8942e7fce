"""getUpdates (offset, limit, long polling, allowed_updates, conflicts) and webhooks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from sandbox import SandboxClient, SandboxServer

from .conftest import Api, eventually, webhook_receiver


async def test_offset_confirms_and_limit_caps(
    api: Api, client: SandboxClient, user: dict[str, Any]
) -> None:
    for n in range(5):
        await client.send_text(user["id"], f"m{n}")
    updates = await api.ok("getUpdates", limit=2)
    assert [u["message"]["text"] for u in updates] == ["m0", "m1"]
    ids = [u["update_id"] for u in updates]
    assert ids[1] == ids[0] + 1
    # not confirmed yet: the same ones again
    assert [u["update_id"] for u in await api.ok("getUpdates", limit=2)] == ids
    rest = await api.ok("getUpdates", offset=ids[1] + 1)
    assert [u["message"]["text"] for u in rest] == ["m2", "m3", "m4"]
    # negative offset: only the last one, the others are forgotten
    last = await api.ok("getUpdates", offset=-1)
    assert [u["message"]["text"] for u in last] == ["m4"]
    assert await api.ok("getUpdates", offset=last[0]["update_id"] + 1) == []


async def test_long_poll_returns_as_soon_as_an_update_arrives(
    api: Api, client: SandboxClient, user: dict[str, Any]
) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    poll = asyncio.create_task(api.ok("getUpdates", timeout=10))
    await asyncio.sleep(0.05)
    assert not poll.done()
    await client.send_text(user["id"], "wake up")
    updates = await asyncio.wait_for(poll, 5)
    assert updates[0]["message"]["text"] == "wake up"
    assert loop.time() - started < 2
    # a timeout without updates returns an empty list
    started = loop.time()
    assert await api.ok("getUpdates", offset=updates[0]["update_id"] + 1, timeout=0.2) == []
    assert loop.time() - started >= 0.15


async def test_second_poller_terminates_the_first_with_409(api: Api) -> None:
    first = asyncio.create_task(api("getUpdates", timeout=10))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(api("getUpdates", timeout=0.2))
    status, body = await asyncio.wait_for(first, 5)
    assert status == 409
    assert body["description"] == (
        "Conflict: terminated by other getUpdates request; make sure that only one bot "
        "instance is running"
    )
    assert (await second)[0] == 200


async def test_allowed_updates_filters_new_updates(
    api: Api, client: SandboxClient, user: dict[str, Any]
) -> None:
    await api.ok("getUpdates", allowed_updates=["callback_query"])
    await client.send_text(user["id"], "ignored")
    markup = {"inline_keyboard": [[{"text": "b", "callback_data": "b"}]]}
    sent = await api.ok("sendMessage", chat_id=user["id"], text="x", reply_markup=markup)
    await client.press(user["id"], sent["message_id"], "b")
    updates = await api.ok("getUpdates")
    assert [next(k for k in u if k != "update_id") for u in updates] == ["callback_query"]
    await api.ok("getUpdates", offset=updates[-1]["update_id"] + 1, allowed_updates=[])
    await client.send_text(user["id"], "seen again")
    assert (await api.ok("getUpdates"))[0]["message"]["text"] == "seen again"


class Receiver:
    """A tiny webhook endpoint that records what Telegram would POST."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.fail_next = 0
        self.reply: dict[str, Any] | None = None
        self.got = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append((dict(request.headers), body))
        self.got.set()
        if self.fail_next:
            self.fail_next -= 1
            return web.Response(status=500, text="boom")
        if self.reply is not None:
            reply, self.reply = self.reply, None
            return web.json_response(reply)
        return web.json_response({})


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    target = Receiver()
    async with webhook_receiver(target.handle) as url:
        yield target, url


async def test_webhook_delivery_with_secret_token(
    api: Api, client: SandboxClient, user: dict[str, Any], receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    assert await api.ok("setWebhook", url=url, secret_token="s3cr3t_-X")
    info = await api.ok("getWebhookInfo")
    assert info["url"] == url and info["pending_update_count"] == 0
    await client.send_text(user["id"], "via webhook")
    await asyncio.wait_for(target.got.wait(), 5)
    headers, update = target.requests[0]
    assert headers["X-Telegram-Bot-Api-Secret-Token"] == "s3cr3t_-X"
    assert update["message"]["text"] == "via webhook"
    await eventually(lambda: _pending(api, 0))
    # getUpdates is refused while a webhook is set
    assert await api.error("getUpdates") == (
        409,
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
        "delete the webhook first",
    )
    assert await api.error("setWebhook", url=url, secret_token="bad token!") == (
        400,
        "Bad Request: secret token contains unallowed characters",
    )
    assert await api.error("setWebhook", url="ftp://x") == (
        400,
        "Bad Request: invalid webhook URL specified",
    )


async def _pending(api: Api, count: int) -> bool:
    return (await api.ok("getWebhookInfo"))["pending_update_count"] == count


async def test_webhook_retries_with_backoff_and_reports_the_error(
    api: Api, client: SandboxClient, user: dict[str, Any], receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    target.fail_next = 2
    await api.ok("setWebhook", url=url)
    await client.send_text(user["id"], "first")
    await client.send_text(user["id"], "second")
    await eventually(lambda: _pending(api, 0))
    texts = [body["message"]["text"] for _, body in target.requests]
    assert texts == ["first", "first", "first", "second"]  # in order, retried until accepted
    info = await api.ok("getWebhookInfo")
    error = "Wrong response from the webhook: 500 Internal Server Error"
    assert info["last_error_message"] == error
    assert isinstance(info["last_error_date"], int)


async def test_webhook_to_a_dead_endpoint_keeps_updates_pending(
    api: Api, client: SandboxClient, user: dict[str, Any], sandbox: SandboxServer
) -> None:
    await api.ok("setWebhook", url="http://127.0.0.1:9/nothing-listens-here")
    await client.send_text(user["id"], "lost?")

    async def has_error() -> bool:
        return "last_error_message" in await api.ok("getWebhookInfo")

    await eventually(has_error)
    info = await api.ok("getWebhookInfo")
    assert info["pending_update_count"] == 1
    assert info["last_error_message"] == "Connection refused"
    # deleteWebhook with drop_pending_updates forgets them; getUpdates works again
    assert await api.ok("deleteWebhook", drop_pending_updates=True)
    assert await api.ok("getUpdates") == []
    assert (await api.ok("getWebhookInfo"))["url"] == ""


async def test_webhook_reply_with_a_method_is_executed(
    api: Api, client: SandboxClient, user: dict[str, Any], receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    target.reply = {"method": "sendMessage", "chat_id": user["id"], "text": "answered inline"}
    await api.ok("setWebhook", url=url)
    persona_events = await client.events(user["id"])
    await client.send_text(user["id"], "hi")
    events = await client.events(user["id"], after=persona_events["last_seq"] + 1, timeout=5)
    assert events["events"][0]["message"]["text"] == "answered inline"


async def test_set_webhook_terminates_a_pending_poll(api: Api, receiver: Any) -> None:
    _target, url = receiver
    poll = asyncio.create_task(api("getUpdates", timeout=10))
    await asyncio.sleep(0.05)
    await api.ok("setWebhook", url=url)
    status, body = await asyncio.wait_for(poll, 5)
    assert status == 409 and body["description"] == "Conflict: terminated by setWebhook request"
