"""``SandboxServer``: the local Bot API server (aiohttp) with its control API and web page."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import json
import logging
import os
import socket
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .control import ControlApi
from .errors import ApiError, ControlError
from .faults import Fault, FaultInjector
from .methods import BotApi, Settings
from .params import MAX_UPLOAD_BYTES, read_request_params
from .ratelimit import RateLimiter, RateLimits
from .state import Bot, SandboxState, User
from .user_actions import UserActions
from .webhook import WebhookDelivery

if TYPE_CHECKING:
    from .client import SandboxClient
    from .persona import Persona

DEFAULT_PERSONAS: list[dict[str, Any]] = [
    {
        "key": "resident",
        "role": "resident",
        "first_name": "Mei",
        "last_name": "Chen",
        "username": "mei_resident",
        "language_code": "zh-hans",
        "phone_number": "+8613800000001",
        "location": {"latitude": 31.2304, "longitude": 121.4737},
    },
    {
        "key": "volunteer",
        "role": "volunteer",
        "first_name": "Ji-woo",
        "last_name": "Park",
        "username": "jiwoo_volunteer",
        "language_code": "ko",
        "phone_number": "+821000000002",
        "location": {"latitude": 37.5665, "longitude": 126.978},
    },
    {
        "key": "coordinator",
        "role": "coordinator",
        "first_name": "Alex",
        "last_name": "Morgan",
        "username": "alex_coordinator",
        "language_code": "en",
        "phone_number": "+441000000003",
        "location": {"latitude": 31.2243, "longitude": 121.4692},
    },
]
DEFAULT_LANGUAGES: list[dict[str, str]] = [
    {"code": "zh-hans", "label": "中文"},
    {"code": "ko", "label": "한국어"},
    {"code": "en", "label": "English"},
]


SANDBOX_KEY: web.AppKey[SandboxServer] = web.AppKey("sandbox")


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


class SandboxServer:
    """A local Telegram Bot API server.

    >>> async with SandboxServer(bots=["123:ABC"]) as sandbox:
    ...     sandbox.base_url  # 'http://127.0.0.1:<port>'; bots call <base_url>/bot<token>/<method>
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        bots: Iterable[str | dict[str, Any]] = (),
        rate_limits: RateLimits | None = None,
        settings: Settings | None = None,
        state_file: str | os.PathLike[str] | None = None,
        demo_personas: list[dict[str, Any]] | None = None,
        demo_languages: list[dict[str, str]] | None = None,
        language_command: str | None = None,
        demo_guide: dict[str, Any] | None = None,
        web_page: bool = True,
        save_delay: float = 0.25,
    ) -> None:
        self.host = host
        self.port = port
        self.log = logging.getLogger("sandbox")
        self.state = SandboxState()
        # a copy: tests tweak settings of one server without touching the others
        self.settings = dataclasses.replace(settings) if settings else Settings()
        self.limiter = RateLimiter(rate_limits or RateLimits())
        self.api = BotApi(self.state, self.limiter, self.settings)
        self.webhooks = WebhookDelivery(self.api)
        self.actions = UserActions(self.api)
        self.faults = FaultInjector()
        # Calls the server itself refused (not injected faults): what a test asserts is empty.
        self.api_errors: collections.deque[dict[str, Any]] = collections.deque(maxlen=1000)
        self.api_calls: collections.Counter[str] = collections.Counter()
        self.control = ControlApi(self)
        self.state_file = Path(state_file) if state_file else None
        self.demo_personas = demo_personas if demo_personas is not None else DEFAULT_PERSONAS
        self.demo_languages = demo_languages if demo_languages is not None else DEFAULT_LANGUAGES
        self.language_command = language_command
        # What the page suggests trying: {"steps": [{"persona": key, "text": {lang: text}}]}.
        self.demo_guide = demo_guide
        self.web_page = web_page
        self.save_delay = save_delay
        self._initial_bots = list(bots)
        self._runner: web.AppRunner | None = None
        self._save_handle: asyncio.TimerHandle | None = None
        self._client: Any = None
        for spec in self._initial_bots:
            self._add_bot_spec(spec)

    # ------------------------------------------------------------------ lifecycle
    @property
    def base_url(self) -> str:
        """``http://host:port`` — give it to aiogram as ``TelegramAPIServer.from_base``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def bot_url(self, token: str | None = None) -> str:
        return f"{self.base_url}/bot{token or self.token}"

    @property
    def default_bot(self) -> Bot:
        return self.find_bot(None)

    @property
    def token(self) -> str:
        return self.default_bot.token

    async def start(self) -> None:
        if self._runner is not None:
            return
        if self.state_file is not None and self.state_file.exists():
            self._load_state()
        self.state.on_change = self._schedule_save
        app = self.make_app()
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        site = web.SockSite(self._runner, sock)
        await site.start()
        self.webhooks.open()
        for bot in self.state.bots_by_id.values():
            if bot.webhook_url:
                self.webhooks.refresh(bot)
        self.log.info("sandbox Bot API server on %s", self.base_url)

    async def stop(self) -> None:
        if self._runner is None:
            return
        self.state.closing = True
        for bot in self.state.bots_by_id.values():
            bot.update_notifier.notify()
        self.state.event_notifier.notify()
        await self.webhooks.close()
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._save_handle is not None:
            self._save_handle.cancel()
            self._save_handle = None
        self.save_state()
        runner, self._runner = self._runner, None
        await runner.cleanup()
        self.state.closing = False
        self.state.on_change = None

    async def __aenter__(self) -> SandboxServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES + 1024 * 1024)
        app[SANDBOX_KEY] = self
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{file_path:.+}", self._handle_file)
        app.router.add_routes(self.control.routes())
        if self.web_page:
            from .web import add_routes

            add_routes(app)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        return app

    # ------------------------------------------------------------------ in-process API
    def _add_bot_spec(self, spec: str | dict[str, Any]) -> Bot:
        if isinstance(spec, str):
            return self.add_bot(spec)
        return self.add_bot(spec.get("token"), spec.get("username"), spec.get("first_name"))

    def add_bot(
        self, token: str | None = None, username: str | None = None, first_name: str | None = None
    ) -> Bot:
        """Register a bot (a random token when none is given); returns it (``.token``, ``.id``)."""
        return self.state.add_bot(token, username, first_name)

    def add_user(self, first_name: str, *, user_id: int | None = None, **fields: Any) -> User:
        return self.state.add_user(first_name, user_id=user_id, **fields)

    def find_bot(self, ref: str | int | None) -> Bot:
        bots = self.state.bots_by_id
        if not bots:
            raise ControlError(409, "no bot is registered: POST /sandbox/bots first")
        if ref is None or ref == "":
            return next(iter(bots.values()))
        ref_text = str(ref).lstrip("@")
        bot = self.state.bots_by_token.get(ref_text)
        if bot is None and ref_text.isdigit():
            bot = bots.get(int(ref_text))
        if bot is None:
            bot = next((b for b in bots.values() if b.username == ref_text), None)
        if bot is None:
            raise ControlError(404, f"bot {ref!r} not found")
        return bot

    def add_fault(self, method: str = "*", **spec: Any) -> Fault:
        from .faults import fault_from_spec

        return self.faults.add(fault_from_spec({"method": method, **spec}))

    def reset(self, *, bots: bool = False) -> None:
        """Forget users, chats, files, pending updates and faults (and bots if asked)."""
        state = self.state
        state.users.clear()
        state.chats.clear()
        state.files.clear()
        state.callbacks.clear()
        if bots:
            for bot in list(state.bots_by_id.values()):
                bot.webhook_url = ""
                self.webhooks.refresh(bot)
            state.bots_by_id.clear()
            state.bots_by_token.clear()
        for bot in state.bots_by_id.values():
            bot.updates.clear()
            bot.last_error_date = None
            bot.last_error_message = None
        self.faults.clear()
        self.limiter.reset()
        state.emit("reset", bot_id=None, chat_id=None, by="control")

    def client(self, bot: str | int | None = None) -> SandboxClient:
        """A new ``SandboxClient`` for the control API of this server (close it when done)."""
        from .client import SandboxClient

        return SandboxClient(self.base_url, bot=bot)

    async def user(self, first_name: str, **kwargs: Any) -> Persona:
        """Create a user and return its ``Persona`` (see ``SandboxClient.user``)."""
        if self._client is None:
            self._client = self.client()
        return await self._client.user(first_name, **kwargs)

    # ------------------------------------------------------------------ persistence
    def _load_state(self) -> None:
        assert self.state_file is not None
        try:
            data = json.loads(self.state_file.read_text("utf-8"))
            self.state.load_dict(data)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.log.warning("could not load %s (%s); starting empty", self.state_file, exc)
            self.state.load_dict({})
        for spec in self._initial_bots:
            self._add_bot_spec(spec)

    def _schedule_save(self) -> None:
        if self.state_file is None or self._save_handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._save_handle = loop.call_later(self.save_delay, self._save_now)

    def _save_now(self) -> None:
        self._save_handle = None
        try:
            self.save_state()
        except OSError as exc:
            self.log.warning("could not save %s: %s", self.state_file, exc)

    def save_state(self) -> None:
        if self.state_file is None:
            return
        data = _dumps(self.state.to_dict())
        directory = self.state_file.parent
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".sandbox-", suffix=".json", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(data)
            os.replace(tmp, self.state_file)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    # ------------------------------------------------------------------ HTTP handlers
    def _json(self, payload: dict[str, Any], status: int = 200) -> web.Response:
        response = web.Response(
            text=_dumps(payload), status=status, content_type="application/json"
        )
        retry_after = payload.get("parameters", {}).get("retry_after")
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        try:
            bot = self.state.bots_by_token.get(request.match_info["token"])
            if bot is None:
                raise ApiError(401, "Unauthorized")
            name = request.match_info["method"].lower()
            handler = self.api.methods.get(name)
            if handler is None:
                raise ApiError(404, "Not Found")
            self.api_calls[name] += 1
            params = await read_request_params(request)
            faults = self.faults.take(name)
            for fault in faults:
                if fault.latency > 0:
                    await asyncio.sleep(fault.latency)
            failing = [f for f in faults if f.kind in ("error", "drop")]
            before = next((f for f in failing if not f.after), None)
            if before is not None:
                return self._fail(request, before)
            result = await handler(bot, params)
            after = next((f for f in failing if f.after), None)
            if after is not None:
                return self._fail(request, after)
            return self._json({"ok": True, "result": result})
        except ApiError as exc:
            self.api_errors.append(
                {
                    "method": request.match_info.get("method", ""),
                    "error_code": exc.code,
                    "description": exc.payload().get("description"),
                    "time": time.time(),
                }
            )
            return self._json(exc.payload(), status=exc.code)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.log.exception("Bot API call %s crashed", request.path)
            return self._json(
                {"ok": False, "error_code": 500, "description": "Internal Server Error"},
                status=500,
            )

    def _fail(self, request: web.Request, fault: Fault) -> web.StreamResponse:
        if fault.kind == "drop":
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)
        error = fault.api_error()
        return self._json(error.payload(), status=error.code)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] not in self.state.bots_by_token:
            return self._json(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        path = request.match_info["file_path"]
        stored = next((f for f in self.state.files.values() if f.file_path == path), None)
        if stored is None or stored.data is None:
            return self._json({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        return self._json({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
