"""Webhook delivery: POST each pending update in order, retry with backoff on failure."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import time
from typing import Any

import aiohttp

from .errors import ApiError
from .methods import BotApi
from .params import read_response_params
from .state import Bot, Notifier

log = logging.getLogger("sandbox.webhook")


class WebhookDelivery:
    """One delivery task per bot that has a webhook URL."""

    def __init__(self, api: BotApi) -> None:
        self.api = api
        self.settings = api.settings
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._urls: dict[int, str] = {}
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self.deliveries = 0
        api.webhooks = self

    def refresh(self, bot: Bot) -> None:
        """Start, restart or stop the delivery task after the bot's webhook changed."""
        task = self._tasks.get(bot.id)
        if task is not None and not task.done() and self._urls.get(bot.id) == bot.webhook_url:
            bot.update_notifier.notify()
            return
        if task is not None:
            task.cancel()
            self._tasks.pop(bot.id, None)
        if bot.webhook_url and not self._closed:
            self._urls[bot.id] = bot.webhook_url
            self._tasks[bot.id] = asyncio.get_running_loop().create_task(
                self._run(bot), name=f"sandbox-webhook-{bot.id}"
            )

    def open(self) -> None:
        self._closed = False

    async def close(self) -> None:
        self._closed = True
        tasks = list(self._tasks.values())
        self._tasks.clear()
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
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.settings.webhook_timeout),
                connector=aiohttp.TCPConnector(limit=100, force_close=True),
            )
        return self._session

    async def _run(self, bot: Bot) -> None:
        url = bot.webhook_url
        delay = self.settings.webhook_retry_initial
        while bot.webhook_url == url and not self._closed:
            token = bot.update_notifier.token()
            if not bot.updates:
                await Notifier.wait(token, 3600)
                continue
            update = bot.updates[0]
            error, reply = await self._post(bot, url, update)
            if bot.webhook_url != url:
                return
            if error is None:
                if bot.updates and bot.updates[0]["update_id"] == update["update_id"]:
                    bot.updates.pop(0)
                    self.api.state.changed()
                self.deliveries += 1
                delay = self.settings.webhook_retry_initial
                if reply is not None:
                    await self._run_reply(bot, reply)
                continue
            bot.last_error_date = int(time.time())
            bot.last_error_message = error
            self.api.state.changed()
            log.info("webhook delivery to %s failed: %s; retry in %.2fs", url, error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.settings.webhook_retry_max)

    async def _post(
        self, bot: Bot, url: str, update: dict[str, Any]
    ) -> tuple[str | None, Any]:
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
