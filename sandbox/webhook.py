"""Webhook delivery as Telegram does it: up to ``max_connections`` POSTs at once over kept-alive
connections, each chat's updates one after another and in order, a failed update retried with
backoff while the other chats go on."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .errors import ApiError
from .methods import BotApi
from .params import read_response_params
from .state import Bot, Notifier

log = logging.getLogger("sandbox.webhook")

# How far into the pending updates a delivery round looks for a chat that is free to receive
# one: bounds the cost of a round when a few chats have a long backlog.
LOOKAHEAD = 5000


def chat_key(update: dict[str, Any]) -> int | str:
    """The chat whose updates must arrive in order: the bot locks per chat and relies on it.

    A button press belongs to the chat of the message it was on; an update without a chat
    (inline query, poll answer…) to the user who caused it.
    """
    for name, payload in update.items():
        if name == "update_id" or not isinstance(payload, dict):
            continue
        for holder in (payload, payload.get("message")):
            if isinstance(holder, dict) and isinstance(holder.get("chat"), dict):
                return holder["chat"]["id"]
        sender = payload.get("from") or payload.get("user")
        if isinstance(sender, dict):
            return sender["id"]
        return name
    return "update"


@dataclass
class _Backoff:
    delay: float
    until: float


@dataclass
class _Endpoint:
    """Delivery state of one bot's webhook URL; gone when the URL changes."""

    url: str
    busy: set[int | str] = field(default_factory=set)
    backoff: dict[int | str, _Backoff] = field(default_factory=dict)
    peak: int = 0


class WebhookDelivery:
    """One scheduler task per bot that has a webhook URL; one shared HTTP session."""

    def __init__(self, api: BotApi) -> None:
        self.api = api
        self.settings = api.settings
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._endpoints: dict[int, _Endpoint] = {}
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self.deliveries = 0
        api.webhooks = self

    def refresh(self, bot: Bot) -> None:
        """Start, restart or stop the delivery task after the bot's webhook changed."""
        task = self._tasks.get(bot.id)
        endpoint = self._endpoints.get(bot.id)
        if task is not None and not task.done() and endpoint and endpoint.url == bot.webhook_url:
            bot.update_notifier.notify()  # max_connections may have changed
            return
        if task is not None:
            task.cancel()
            self._tasks.pop(bot.id, None)
            self._endpoints.pop(bot.id, None)
        if bot.webhook_url and not self._closed:
            endpoint = _Endpoint(bot.webhook_url)
            self._endpoints[bot.id] = endpoint
            self._tasks[bot.id] = asyncio.get_running_loop().create_task(
                self._run(bot, endpoint), name=f"sandbox-webhook-{bot.id}"
            )

    def peak_connections(self, bot: Bot) -> int:
        """Most POSTs that were in flight at once to the bot's current webhook."""
        endpoint = self._endpoints.get(bot.id)
        return endpoint.peak if endpoint else 0

    def open(self) -> None:
        self._closed = False

    async def close(self) -> None:
        self._closed = True
        tasks = list(self._tasks.values())
        self._tasks.clear()
        self._endpoints.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # No connector limit: each bot's scheduler keeps to its own max_connections.
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.settings.webhook_timeout),
                connector=aiohttp.TCPConnector(limit=0),
            )
        return self._session

    async def _run(self, bot: Bot, endpoint: _Endpoint) -> None:
        """Start a delivery for the oldest update of each free chat, while connections allow."""
        loop = asyncio.get_running_loop()
        async with asyncio.TaskGroup() as deliveries:
            while bot.webhook_url == endpoint.url and not self._closed:
                token = bot.update_notifier.token()  # new updates and finished deliveries
                now = loop.time()
                next_retry: float | None = None
                seen: set[int | str] = set(endpoint.busy)
                for update in bot.updates[:LOOKAHEAD]:
                    if len(endpoint.busy) >= bot.webhook_max_connections:
                        break
                    key = chat_key(update)
                    if key in seen:
                        continue
                    seen.add(key)  # this chat's later updates wait for this one
                    backoff = endpoint.backoff.get(key)
                    if backoff is not None and backoff.until > now:
                        next_retry = min(next_retry or backoff.until, backoff.until)
                        continue
                    endpoint.busy.add(key)
                    endpoint.peak = max(endpoint.peak, len(endpoint.busy))
                    deliveries.create_task(self._deliver(bot, endpoint, key, update))
                wait = 3600.0 if next_retry is None else max(next_retry - now, 0.001)
                await Notifier.wait(token, wait)

    async def _deliver(
        self, bot: Bot, endpoint: _Endpoint, key: int | str, update: dict[str, Any]
    ) -> None:
        try:
            error, reply = await self._post(bot, endpoint.url, update)
            if bot.webhook_url != endpoint.url:
                return
            if error is None:
                self._forget(bot, update["update_id"])
                endpoint.backoff.pop(key, None)
                self.deliveries += 1
                if reply is not None:
                    await self._run_reply(bot, reply)
                return
            bot.last_error_date = int(time.time())
            bot.last_error_message = error
            self.api.state.changed()
            previous = endpoint.backoff.get(key)
            delay = (
                min(previous.delay * 2, self.settings.webhook_retry_max)
                if previous
                else self.settings.webhook_retry_initial
            )
            endpoint.backoff[key] = _Backoff(delay, asyncio.get_running_loop().time() + delay)
            log.info(
                "webhook delivery to %s failed: %s; retry in %.2fs", endpoint.url, error, delay
            )
        finally:
            endpoint.busy.discard(key)
            bot.update_notifier.notify()

    def _forget(self, bot: Bot, update_id: int) -> None:
        """Drop a delivered update; it may be gone already (drop_pending_updates)."""
        for index, pending in enumerate(bot.updates):
            if pending["update_id"] == update_id:
                del bot.updates[index]
                self.api.state.changed()
                return

    async def _post(self, bot: Bot, url: str, update: dict[str, Any]) -> tuple[str | None, Any]:
        headers = {"Content-Type": "application/json"}
        if bot.webhook_secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = bot.webhook_secret
        body = json.dumps(update, ensure_ascii=False).encode("utf-8")
        try:
            async with self._client().post(url, data=body, headers=headers) as response:
                if not 200 <= response.status < 300:
                    status = f"{response.status} {response.reason}"
                    return f"Wrong response from the webhook: {status}", None
                reply = None
                content_type = response.headers.get("Content-Type", "").lower()
                try:
                    if content_type.startswith("multipart/"):
                        reply = await read_response_params(response.headers, response.content, None)
                    else:
                        raw = await response.read()
                        if raw.strip():
                            reply = await read_response_params(response.headers, None, raw)
                except (ApiError, ValueError, aiohttp.ClientError):
                    reply = None
                return None, reply
        except TimeoutError:
            return "Timeout expired", None
        except aiohttp.ClientConnectorError as exc:
            if exc.os_error is not None and exc.os_error.errno == errno.ECONNREFUSED:
                return "Connection refused", None
            return f"Connection failed: {exc.os_error or exc}", None
        except aiohttp.ClientError as exc:
            return f"Connection failed: {type(exc).__name__}: {exc}", None
        except (OSError, ValueError) as exc:
            return f"Connection failed: {exc}", None

    async def _run_reply(self, bot: Bot, reply: Any) -> None:
        """Telegram executes a method given in the webhook's HTTP answer (and ignores errors)."""
        method = reply.str("method") if reply is not None else None
        if not method:
            return
        try:
            await self.api.call(bot, method, reply)
        except ApiError as exc:
            log.info("method %s in webhook reply failed: %s", method, exc.description)
        except Exception:  # never let a bad reply stop delivery
            log.exception("method %s in webhook reply crashed", method)
