"""Serving updates: long polling, or a webhook behind a reverse proxy. Both stop on SIGTERM.

Either way an update is confirmed to the Bot API only once it was handled: by long polling,
the next `getUpdates` offset passes an update only after its transaction committed (or its
handling ended); by webhook, the HTTP answer waits for the handling. A process killed in the
middle of a handler gets the update again after its restart (and the record of handled
updates skips whatever had committed). An update whose handling raised is never confirmed
as handled: by long polling it is handled again after a pause (`Poller`); by webhook the
answer is a 500, and the Bot API sends it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import itertools
import json
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.types import Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from aiolimiter import AsyncLimiter
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError

from bot.app import App, create_app, create_bot
from bot.lazy_types import build_update_types
from bot.retry import retried_by_caller
from bot.web.menu import offer_dashboard
from bot.web.server import add_web_routes, start_web_server
from core.config import Settings
from core.db import is_retryable
from core.logs import log_event

log = logging.getLogger("timebank.runner")
WEBHOOK_PATH = "/telegram/webhook"
POLL_TIMEOUT = 30
POLL_LIMIT = 100
# While updates are in flight, `getUpdates` returns them again at once (they are not
# confirmed yet), so the poller asks again only once the oldest one finished, or after
# BUSY_WAIT for new ones behind them; never more often than every `Poller.pause()`. An
# answer that brought new updates and had room for more is asked again after that pause: a
# burst is arriving, and the rest of it must not wait for the first update's replies. Each
# answer brings every update in flight back, so the pause grows with them, up to
# MIN_INTERVAL for a full window: a few in flight cost little to ask about again.
BUSY_WAIT = 0.1
MIN_INTERVAL = 0.02
RUNNING_LIMIT = 2 * POLL_LIMIT
FIRST_DELAY = 1.0
MAX_DELAY = 60.0
# An update whose handling raised is handled again after a pause, doubling up to
# LONGEST_RETRY_PAUSE. A lost connection (database, Redis, network) is waited out however
# long it lasts. Anything else (a bug) fails the same way each time, and left unconfirmed
# it would hold back every later update for good (the offset stays at the oldest one in
# flight), so after GIVE_UP_AFTER attempts it is logged as an error and let go.
FIRST_RETRY_PAUSE = 0.5
LONGEST_RETRY_PAUSE = 30.0
GIVE_UP_AFTER = 5


class ApiRefused(Exception):
    """The Bot API answered, and refused the token (or the URL is not a Bot API)."""


async def serve(
    settings: Settings,
    *,
    webhook: bool = False,
    handle_signals: bool = True,
    reuse_port: bool = False,
) -> None:
    """Serve until SIGINT/SIGTERM (or until cancelled, when signals are left to the caller).

    `reuse_port` lets several worker processes listen on the webhook's port (`bot.workers`).
    """
    limit_malloc_arenas()
    app = create_app(settings)
    bot = create_bot(settings)
    freeze_start_up_heap()
    try:
        await wait_for_api(bot)
        if webhook:
            await _serve_webhook(app, bot, settings, handle_signals, reuse_port)
        else:
            await bot.delete_webhook()
            pages = await start_web_server(settings, app.engine)
            try:
                await offer_dashboard(bot, app.engine, settings)
                await _poll(app, bot, handle_signals)
            finally:
                if pages is not None:
                    await pages.cleanup()
    finally:
        await app.close()
        await bot.session.close()


def freeze_start_up_heap() -> None:
    """Move what start-up built (modules, aiogram's routers and models, SQLAlchemy's
    mappers) out of the garbage collector's sight: it lives as long as the process, and each
    full collection would walk all of it again while updates wait."""
    build_update_types()
    gc.collect()
    gc.freeze()


M_ARENA_MAX = -8  # glibc's mallopt parameter, as MALLOC_ARENA_MAX sets it
MALLOC_ARENAS = 2


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Let glibc's malloc keep at most `arenas` arenas (as `MALLOC_ARENA_MAX` would), unless
    the operator chose (`MALLOC_ARENA_MAX`, or `glibc.malloc.arena_max` in `GLIBC_TUNABLES`);
    whether the limit was set here. Call it before threads start: arenas made already stay,
    and once glibc has made more than 8 it keeps its own limit whatever this sets.

    By default each thread that allocates gets an arena of its own, up to 8 per core, and on
    SQLite each pooled connection is a thread of aiosqlite's: its prepared statements and
    page cache live in that thread's arena, and what one transaction freed (a scan's pages)
    stays resident there, of no use to the others. On a 100,000-member city day that was
    ~2 MB left free in each of 14 arenas; in two arenas the threads reuse each other's freed
    memory. Elsewhere than glibc (musl, macOS) this does nothing."""
    chosen = os.environ.get("MALLOC_ARENA_MAX") or "arena_max" in os.environ.get(
        "GLIBC_TUNABLES", ""
    )
    if chosen or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_ARENA_MAX, arenas))


async def wait_for_api(bot: Bot, first_delay: float = FIRST_DELAY) -> None:
    """Until the Bot API answers `getMe`: each failed attempt is one log line, then a longer
    wait (up to a minute). A refused token raises `ApiRefused` at once."""
    delay = first_delay
    attempt = 0
    while True:
        attempt += 1
        try:
            with retried_by_caller():
                await bot.me()
            return
        except (TelegramUnauthorizedError, TelegramNotFound) as error:
            raise ApiRefused(error.message) from None
        except (TelegramNetworkError, TelegramServerError, TimeoutError, OSError) as error:
            log_event(
                log,
                "bot api unreachable, retrying",
                logging.WARNING,
                attempt=attempt,
                delay=delay,
                reason=str(error)[:200],
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, MAX_DELAY)


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


async def _poll(app: App, bot: Bot, handle_signals: bool) -> None:
    dispatcher = app.dispatcher
    workflow = {"dispatcher": dispatcher, "bots": [bot], **dispatcher.workflow_data}
    workflow.pop("bot", None)
    await dispatcher.emit_startup(bot=bot, **workflow)
    poller = Poller(dispatcher, bot, workflow)
    try:
        if handle_signals:
            stop = asyncio.Event()
            _stop_on_signals(stop)
            polling = asyncio.ensure_future(poller.run())
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({polling, stopped}, return_when=asyncio.FIRST_COMPLETED)
            for task in (polling, stopped):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        else:
            await poller.run()
    finally:
        await poller.drain()
        await dispatcher.emit_shutdown(bot=bot, **workflow)


class Poller:
    """Long polling that confirms an update only once it committed or was handled.

    The Bot API forgets every update below the `offset` of the next `getUpdates`, so the
    offset stays at the oldest update still in flight; the updates above it that were
    already taken (every one below `next_id`, as the Bot API hands them out in order) are
    skipped when they come back, even when they finished while the call that brought them
    back was on its way. Updates are handled concurrently (the per-chat lock keeps each chat
    in order), up to the window of `POLL_LIMIT` unconfirmed updates. An update is confirmed
    when `update_committed` is called (`bot.middlewares.UnitOfWorkMiddleware` says when), or
    when its handling ends; its task may go on after that (its replies), and a stop waits
    for it all the same. At most `RUNNING_LIMIT` updates are handled or replying at once: a
    Bot API slow to take replies (a long 429) slows the taking of updates with it.
    """

    def __init__(self, dispatcher: Dispatcher, bot: Bot, workflow: dict[str, Any]) -> None:
        self.dispatcher = dispatcher
        self.bot = bot
        self.workflow = workflow
        self.in_flight: dict[int, asyncio.Task[None]] = {}  # taken, not yet confirmed
        self.running: set[asyncio.Task[None]] = set()
        self.room = asyncio.Event()  # set as a task ends
        self.next_id = 0  # one past the newest update taken
        self.changed = asyncio.Event()

    def offset(self) -> int:
        return min(self.in_flight) if self.in_flight else self.next_id

    async def run(self) -> None:
        allowed = self.dispatcher.resolve_used_update_types()
        delay = FIRST_DELAY
        while True:
            while len(self.running) >= RUNNING_LIMIT:
                self.room.clear()
                await self.room.wait()
            busy = bool(self.in_flight)
            try:
                updates = await self._get_updates(
                    {
                        "offset": self.offset() or None,
                        "limit": POLL_LIMIT,
                        "timeout": 0 if busy else POLL_TIMEOUT,
                        "allowed_updates": allowed,
                    }
                )
            except (aiohttp.ClientError, TimeoutError, ValueError, TelegramAPIError) as error:
                log_event(
                    log, "getUpdates failed", logging.WARNING, delay=delay, reason=str(error)[:200]
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_DELAY)
                continue
            delay = FIRST_DELAY
            fresh = 0
            for raw in updates:
                if raw["update_id"] >= self.next_id:
                    fresh += 1
                    self._start(Update.model_validate(raw, context={"bot": self.bot}))
            if fresh and len(updates) < POLL_LIMIT:
                # The long poll answers with the first update of a burst, the rest of it
                # behind: waiting for that first one to finish (its replies, ~a Bot API
                # round trip away) would hold the burst back by as much.
                await asyncio.sleep(self.pause())
            elif self.in_flight:
                await self.until_one_finishes()

    def pause(self) -> float:
        """The least time between two polls while updates are in flight: each answer brings
        them all back (the Bot API's and the bot's work grow with them), so a few are asked
        about again soon and a full window after MIN_INTERVAL. A fixed MIN_INTERVAL held the
        first updates of each burst (the long poll's answer brings one or a few) alone for
        20 ms, and an update arriving just after another finished waited as long."""
        return MIN_INTERVAL * min(1.0, len(self.in_flight) / POLL_LIMIT)

    async def until_one_finishes(self) -> None:
        """Until an update in flight finishes, between `pause()` and BUSY_WAIT.

        Not `asyncio.wait_for`: on Python 3.11 it swallows a cancellation that arrives as
        the event is set, and a stopping bot would then poll on for good."""
        self.changed.clear()
        pause = self.pause()
        await asyncio.sleep(pause)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(BUSY_WAIT - pause):
                await self.changed.wait()

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """`getUpdates`' answer as JSON: the updates still in flight come back on every call
        while they are, and parsing them again into aiogram's types cost more CPU than
        handling them; only the new ones are parsed (`run`)."""
        session = self.bot.session
        assert isinstance(session, AiohttpSession)
        http = await session.create_session()
        url = session.api.api_url(token=self.bot.token, method="getUpdates")
        payload = {key: value for key, value in params.items() if value is not None}
        timeout = aiohttp.ClientTimeout(total=POLL_TIMEOUT + 10)
        async with http.post(url, json=payload, timeout=timeout) as response:
            data = json.loads(await response.read())
        if not data.get("ok"):
            raise TelegramAPIError(GetUpdates(), str(data.get("description")))
        return list(data["result"])

    def _start(self, update: Update) -> None:
        update_id = update.update_id
        self.next_id = max(self.next_id, update_id + 1)
        task = asyncio.create_task(self._handle(update, self._finisher(update_id)))
        self.in_flight[update_id] = task
        self.running.add(task)
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self.running.discard(task)
        self.room.set()

    def _finisher(self, update_id: int) -> Callable[[], None]:
        def finish() -> None:
            if self.in_flight.pop(update_id, None) is None:
                return
            if self.offset() > update_id:  # it was the oldest: the offset moves on
                self.changed.set()

        return finish

    async def _handle(self, update: Update, finish: Callable[[], None]) -> None:
        """Handle the update until it goes through (see GIVE_UP_AFTER), then confirm it.

        A failed handling rolled back and sent nothing, so handling it again is what a
        redelivery would do; meanwhile the update stays in flight, holding the offset. A
        cancelled one (the bot stopping) stays unconfirmed, for the next start."""
        pause = FIRST_RETRY_PAUSE
        for attempt in itertools.count(1):
            try:
                await self.dispatcher.feed_update(
                    self.bot, update, update_committed=finish, **self.workflow
                )
                break
            except Exception as error:
                fields = {"update_id": update.update_id, "failure": type(error).__name__}
                if update.update_id not in self.in_flight:
                    # Committed before it raised: again would do it twice.
                    log.exception("update failed once handled", extra={"fields": fields})
                    break
                if attempt >= GIVE_UP_AFTER and not lost_connection(error):
                    log.exception("update given up", extra={"fields": fields})
                    break
                log.warning(
                    "update failed, handling it again", exc_info=True,
                    extra={"fields": {**fields, "attempt": attempt, "pause": pause}},
                )  # fmt: skip
            await asyncio.sleep(pause)
            pause = min(pause * 2, LONGEST_RETRY_PAUSE)
        finish()

    async def drain(self, within: float = 10.0) -> None:
        """Let the updates being handled finish (a stop, not a crash), then confirm them."""
        tasks = list(self.running)
        if tasks:
            await asyncio.wait(tasks, timeout=within)
        if not self.in_flight and self.next_id:
            with contextlib.suppress(Exception), retried_by_caller():
                await self.bot(GetUpdates(offset=self.next_id, limit=1, timeout=0))


def lost_connection(error: BaseException) -> bool:
    """Whether `error` (or what caused it) is a lost or busy connection to the database, to
    Redis or to the Bot API: trouble that passes, unlike a bug."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, DBAPIError) and (seen.connection_invalidated or is_retryable(seen)):
            return True
        if isinstance(
            seen, (OSError, RedisConnectionError, RedisTimeoutError, TelegramNetworkError)
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class WebhookHandler(SimpleRequestHandler):
    """aiogram's webhook endpoint (a wrong secret token gets 401), whose refusals are
    logged at a capped rate: someone knocking a thousand times a second must not fill the
    disk. The lines left out are counted in the next one written."""

    def __init__(self, *args: Any, refusals_per_minute: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refusal_logs = AsyncLimiter(refusals_per_minute, 60)
        self.unlogged = 0

    async def handle(self, request: web.Request) -> web.Response:
        token = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not self.verify_secret(token, self.bot):
            await self._log_refusal(request)
            return web.Response(body="Unauthorized", status=401)
        return await super().handle(request)

    async def _handle_request(self, bot: Bot, request: web.Request) -> web.Response:
        """The answer waits for the handling, however long it takes (aiogram's own would
        answer 200 after 55 s and go on in the background, confirming an update a killed
        worker never finished); an update whose handling raised gets a 500, so the Bot API
        delivers it again."""
        update = Update.model_validate(
            await request.json(loads=bot.session.json_loads), context={"bot": bot}
        )
        try:
            result = await self.dispatcher.feed_update(bot, update, **self.data)
        except Exception as error:
            log.warning(
                "update failed, left for the Bot API to deliver again", exc_info=True,
                extra={"fields": {"update_id": update.update_id, "failure": type(error).__name__}},
            )  # fmt: skip
            return web.Response(status=500)
        method = result if isinstance(result, TelegramMethod) else None
        return web.Response(body=self._build_response_writer(bot=bot, result=method))

    async def _log_refusal(self, request: web.Request) -> None:
        if not self.refusal_logs.has_capacity():
            self.unlogged += 1
            return
        await self.refusal_logs.acquire()
        log_event(
            log, "webhook request refused", reason="wrong secret token", status=401,
            peer=request.remote, not_logged_before=self.unlogged,
        )  # fmt: skip
        self.unlogged = 0


def webhook_app(app: App, bot: Bot, settings: Settings) -> web.Application:
    """The webhook's endpoint, which checks Telegram's secret token, and the web pages."""
    secret = settings.webhook_secret.get_secret_value() or None
    web_app = web.Application()
    # The answer waits for the handling, so an update whose worker dies is delivered again.
    WebhookHandler(
        app.dispatcher, bot, secret_token=secret, handle_in_background=False,
        refusals_per_minute=settings.refused_webhook_logs_per_minute,
    ).register(web_app, WEBHOOK_PATH)  # fmt: skip
    add_web_routes(web_app, settings, app.engine)
    return web_app


@web.middleware
async def _one_request_per_connection(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Workers sharing a port with SO_REUSEPORT: the kernel spreads connections, not
    requests. A connection kept alive stays with one worker, and a client that reuses the
    connection freed last hands ever more of the work to the worker that answers first (one
    of two workers did 95 % in bench.e2e). Closed after each answer, each update's
    connection is spread anew, for a loopback connect per update."""
    response = await handler(request)
    response.force_close()
    return response


async def _serve_webhook(
    app: App, bot: Bot, settings: Settings, handle_signals: bool, reuse_port: bool
) -> None:
    secret = settings.webhook_secret.get_secret_value() or None
    web_app = webhook_app(app, bot, settings)
    if reuse_port:
        web_app.middlewares.append(_one_request_per_connection)
    setup_application(web_app, app.dispatcher, bot=bot)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    await web.TCPSite(
        runner, settings.webhook_host, settings.webhook_port, reuse_port=reuse_port or None
    ).start()
    await bot.set_webhook(
        settings.webhook_url.rstrip("/") + WEBHOOK_PATH,
        secret_token=secret,
        max_connections=100,
        allowed_updates=app.dispatcher.resolve_used_update_types(),
    )
    await offer_dashboard(bot, app.engine, settings)
    stop = asyncio.Event()
    if handle_signals:
        _stop_on_signals(stop)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
