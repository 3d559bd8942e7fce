"""The sandbox control API (JSON under ``/sandbox/``): bots, users, user actions, transcripts,
events, faults, rate limits, reset.

Every endpoint that concerns one bot takes ``bot`` (token, id or username) in the query string
or the JSON body; without it the first registered bot is meant.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .errors import ApiError, ControlError
from .faults import fault_from_spec
from .ratelimit import RateLimits
from .state import Bot, Notifier, User
from .webapp import launch_url, sign_init_data

if TYPE_CHECKING:
    from .server import SandboxServer
    from .state import SandboxState

MAX_EVENT_WAIT = 60.0
ControlHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def ok(data: Any = None, status: int = 200) -> web.Response:
    body = {"ok": True}
    if isinstance(data, dict):
        body.update(data)
    elif data is not None:
        body["result"] = data
    return web.json_response(body, status=status, dumps=_dumps)


class ControlApi:
    def __init__(self, server: SandboxServer) -> None:
        self.server = server

    @property
    def state(self) -> SandboxState:
        return self.server.state

    # ------------------------------------------------------------------ plumbing
    def routes(self) -> list[web.RouteDef]:
        g, p, d = web.get, web.post, web.delete
        return [
            g("/sandbox/health", self._wrap(self.health)),
            g("/sandbox/bots", self._wrap(self.list_bots)),
            p("/sandbox/bots", self._wrap(self.create_bot)),
            g("/sandbox/bots/{bot}", self._wrap(self.get_bot)),
            g("/sandbox/users", self._wrap(self.list_users)),
            p("/sandbox/users", self._wrap(self.create_user)),
            g("/sandbox/users/{user_id}", self._wrap(self.get_user)),
            web.patch("/sandbox/users/{user_id}", self._wrap(self.update_user)),
            p("/sandbox/users/{user_id}", self._wrap(self.update_user)),
            p("/sandbox/users/{user_id}/language", self._wrap(self.set_language)),
            g("/sandbox/chats", self._wrap(self.list_chats)),
            g("/sandbox/chats/{chat_id}", self._wrap(self.transcript)),
            g("/sandbox/chats/{chat_id}/transcript", self._wrap(self.transcript)),
            g("/sandbox/chats/{chat_id}/events", self._wrap(self.chat_events)),
            p("/sandbox/chats/{chat_id}/messages", self._wrap(self.send_text)),
            p("/sandbox/chats/{chat_id}/command", self._wrap(self.send_command)),
            p("/sandbox/chats/{chat_id}/contact", self._wrap(self.send_contact)),
            p("/sandbox/chats/{chat_id}/location", self._wrap(self.send_location)),
            p("/sandbox/chats/{chat_id}/voice", self._wrap(self.send_voice)),
            p("/sandbox/chats/{chat_id}/sticker", self._wrap(self.send_sticker)),
            p("/sandbox/chats/{chat_id}/edit", self._wrap(self.edit_text)),
            p("/sandbox/chats/{chat_id}/photo", self._wrap(self.send_photo)),
            p("/sandbox/chats/{chat_id}/document", self._wrap(self.send_document)),
            p("/sandbox/chats/{chat_id}/press", self._wrap(self.press)),
            p("/sandbox/chats/{chat_id}/web_app", self._wrap(self.open_web_app)),
            p("/sandbox/chats/{chat_id}/block", self._wrap(self.block)),
            p("/sandbox/chats/{chat_id}/unblock", self._wrap(self.unblock)),
            g("/sandbox/callbacks/{query_id}", self._wrap(self.callback_answer)),
            g("/sandbox/events", self._wrap(self.all_events)),
            g("/sandbox/faults", self._wrap(self.list_faults)),
            p("/sandbox/faults", self._wrap(self.add_fault)),
            d("/sandbox/faults", self._wrap(self.clear_faults)),
            g("/sandbox/api_errors", self._wrap(self.list_api_errors)),
            g("/sandbox/api_calls", self._wrap(self.count_api_calls)),
            g("/sandbox/rate_limits", self._wrap(self.get_rate_limits)),
            web.put("/sandbox/rate_limits", self._wrap(self.set_rate_limits)),
            p("/sandbox/rate_limits", self._wrap(self.set_rate_limits)),
            p("/sandbox/reset", self._wrap(self.reset)),
            g("/sandbox/files/{file_id}", self._wrap(self.download)),
            g("/sandbox/demo/personas", self._wrap(self.demo_personas)),
        ]

    def _wrap(self, handler: ControlHandler) -> ControlHandler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except ControlError as exc:
                return web.json_response(
                    {"ok": False, "error": exc.message}, status=exc.status, dumps=_dumps
                )
            except ApiError as exc:
                return web.json_response(
                    {"ok": False, "error": exc.description}, status=exc.code, dumps=_dumps
                )
            except web.HTTPException:
                raise
            except (asyncio.CancelledError, ConnectionResetError):
                raise
            except Exception as exc:
                self.server.log.exception("control API %s failed", request.path)
                return web.json_response(
                    {"ok": False, "error": f"internal error: {type(exc).__name__}: {exc}"},
                    status=500,
                    dumps=_dumps,
                )

        return wrapped

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        raw = await request.read()
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise ControlError(400, f"body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise ControlError(400, "body must be a JSON object")
        return body

    def _bot(self, request: web.Request, body: dict[str, Any] | None = None) -> Bot:
        ref = request.query.get("bot") or (body or {}).get("bot")
        return self.server.find_bot(ref)

    def _user(self, request: web.Request, key: str = "chat_id") -> User:
        raw = request.match_info[key]
        try:
            user_id = int(raw)
        except ValueError:
            raise ControlError(400, f"{key} must be an integer") from None
        user = self.state.users.get(user_id)
        if user is None:
            raise ControlError(404, f"user {user_id} not found")
        return user

    @staticmethod
    def _float(request: web.Request, name: str, default: float) -> float:
        try:
            return float(request.query.get(name, default))
        except ValueError:
            raise ControlError(400, f"{name} must be a number") from None

    # ------------------------------------------------------------------ bots & users
    async def health(self, request: web.Request) -> web.Response:
        return ok({"bots": len(self.state.bots_by_id), "seq": self.state.seq})

    def _bot_info(self, bot: Bot) -> dict[str, Any]:
        return {
            "id": bot.id,
            "token": bot.token,
            "username": bot.username,
            "first_name": bot.first_name,
            "webhook_url": bot.webhook_url,
            "pending_update_count": len(bot.updates),
            "commands": bot.commands,
            "menu_buttons": bot.menu_buttons,
        }

    async def list_bots(self, request: web.Request) -> web.Response:
        return ok({"bots": [self._bot_info(b) for b in self.state.bots_by_id.values()]})

    async def get_bot(self, request: web.Request) -> web.Response:
        bot = self.server.find_bot(request.match_info["bot"])
        info = self._bot_info(bot)
        info["updates"] = bot.updates[:100]
        return ok({"bot": info})

    async def create_bot(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        try:
            bot = self.server.add_bot(
                token=body.get("token"),
                username=body.get("username"),
                first_name=body.get("first_name"),
            )
        except ValueError as exc:
            raise ControlError(400, str(exc)) from None
        return ok({"bot": self._bot_info(bot)})

    async def list_users(self, request: web.Request) -> web.Response:
        return ok({"users": [u.to_dict() for u in self.state.users.values()]})

    async def get_user(self, request: web.Request) -> web.Response:
        return ok({"user": self._user(request, "user_id").to_dict()})

    async def create_user(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        first_name = body.get("first_name")
        if not isinstance(first_name, str) or not first_name.strip():
            raise ControlError(400, "first_name must be a non-empty string")
        fields = _user_fields(body)
        username = fields.get("username")
        user_id = body.get("id", body.get("user_id"))
        if user_id is not None and (not isinstance(user_id, int) or isinstance(user_id, bool)):
            raise ControlError(400, "id must be an integer")
        if body.get("reuse"):
            existing = self.state.users.get(user_id) if user_id is not None else None
            if existing is None and username:
                existing = next(
                    (u for u in self.state.users.values() if u.username == username), None
                )
            if existing is not None:
                return ok({"user": existing.to_dict(), "created": False})
        if user_id is not None and (user_id <= 0 or user_id in self.state.bots_by_id):
            raise ControlError(400, "id must be a positive integer that is not a bot's id")
        try:
            user = self.state.add_user(first_name.strip(), user_id=user_id, **fields)
        except ValueError as exc:
            raise ControlError(409, str(exc)) from None
        if body.get("started"):
            bot = self._bot(request, body)
            chat = self.state.chat(bot, user.id, create=True)
            assert chat is not None
            chat.started = True
        self.state.emit("user", bot_id=None, chat_id=user.id, by="control", user=user.to_dict())
        return ok({"user": user.to_dict(), "created": True})

    async def update_user(self, request: web.Request) -> web.Response:
        user = self._user(request, "user_id")
        body = await self._body(request)
        for key, value in _user_fields(body).items():
            setattr(user, key, value)
        if "first_name" in body:
            if not isinstance(body["first_name"], str) or not body["first_name"].strip():
                raise ControlError(400, "first_name must be a non-empty string")
            user.first_name = body["first_name"].strip()
        self.state.emit("user", bot_id=None, chat_id=user.id, by="control", user=user.to_dict())
        return ok({"user": user.to_dict()})

    async def set_language(self, request: web.Request) -> web.Response:
        """Set the user's language_code, then send a command (default: /start or /language)."""
        user = self._user(request, "user_id")
        body = await self._body(request)
        language = body.get("language_code")
        if not isinstance(language, str) or not language.strip():
            raise ControlError(400, "language_code must be a non-empty string")
        bot = self._bot(request, body)
        user.language_code = language.strip()
        self.state.emit("user", bot_id=None, chat_id=user.id, by="control", user=user.to_dict())
        chat = self.state.chat(bot, user.id)
        started = chat is not None and chat.started
        default = (self.server.language_command or "/start") if started else "/start"
        command = body.get("command", default)
        result: dict[str, Any] = {"user": user.to_dict()}
        if command:
            result.update(self.server.actions.send_command(bot, user, str(command)))
        return ok(result)

    async def list_chats(self, request: web.Request) -> web.Response:
        bot = self._bot(request)
        chats = []
        for (bot_id, user_id), chat in self.state.chats.items():
            if bot_id != bot.id:
                continue
            user = self.state.users.get(user_id)
            chats.append(
                {
                    "chat_id": user_id,
                    "user": user.to_dict() if user else None,
                    "started": chat.started,
                    "blocked": chat.blocked,
                    "messages": len(chat.messages),
                }
            )
        return ok({"chats": chats})

    # ------------------------------------------------------------------ user actions
    async def transcript(self, request: web.Request) -> web.Response:
        user = self._user(request)
        return ok(self.server.actions.transcript(self._bot(request), user))

    async def _act(
        self, request: web.Request, action: Callable[[Bot, User, dict[str, Any]], dict[str, Any]]
    ) -> web.Response:
        user = self._user(request)
        body = await self._body(request)
        bot = self._bot(request, body)
        return ok(action(bot, user, body))

    async def send_text(self, request: web.Request) -> web.Response:
        return await self._act(
            request,
            lambda bot, user, body: self.server.actions.send_text(
                bot, user, body.get("text"),  # type: ignore[arg-type]
                reply_to_message_id=_opt_int(body, "reply_to_message_id"),
            ),
        )

    async def send_command(self, request: web.Request) -> web.Response:
        return await self._act(
            request,
            lambda bot, user, body: self.server.actions.send_command(
                bot, user, body.get("command") or body.get("text")  # type: ignore[arg-type]
            ),
        )

    async def send_contact(self, request: web.Request) -> web.Response:
        return await self._act(
            request,
            lambda bot, user, body: self.server.actions.send_contact(
                bot,
                user,
                body.get("phone_number"),  # type: ignore[arg-type]
                first_name=body.get("first_name"),
                last_name=body.get("last_name"),
                own=bool(body.get("own", True)),
            ),
        )

    async def send_location(self, request: web.Request) -> web.Response:
        return await self._act(
            request,
            lambda bot, user, body: self.server.actions.send_location(
                bot, user, body.get("latitude"), body.get("longitude")  # type: ignore[arg-type]
            ),
        )

    async def send_voice(self, request: web.Request) -> web.Response:
        return await self._act(
            request,
            lambda bot, user, body: self.server.actions.send_voice(
                bot, user, body.get("duration", 3)
            ),
        )

    async def edit_text(self, request: web.Request) -> web.Response:
        return await self._act(
            request,
            lambda bot, user, body: self.server.actions.edit_text(
                bot, user, int(body.get("message_id") or 0), body.get("text")
            ),
        )

    async def send_sticker(self, request: web.Request) -> web.Response:
        return await self._act(
            request,
            lambda bot, user, body: self.server.actions.send_sticker(
                bot, user, str(body.get("emoji") or "👍")
            ),
        )

    async def send_photo(self, request: web.Request) -> web.Response:
        return await self._act(
            request,
            lambda bot, user, body: self.server.actions.send_photo(
                bot,
                user,
                width=body.get("width", 640),
                height=body.get("height", 480),
                caption=body.get("caption"),
            ),
        )

    async def send_document(self, request: web.Request) -> web.Response:
        def action(bot: Bot, user: User, body: dict[str, Any]) -> dict[str, Any]:
            file_name = body.get("file_name") or "document.txt"
            if "content_base64" in body:
                try:
                    data = base64.b64decode(body["content_base64"], validate=True)
                except (binascii.Error, TypeError, ValueError):
                    raise ControlError(400, "content_base64 is not valid base64") from None
            else:
                data = str(body.get("text", "")).encode("utf-8")
            return self.server.actions.send_document(
                bot, user, file_name=str(file_name), data=data,
                mime_type=body.get("mime_type"), caption=body.get("caption"),
            )

        return await self._act(request, action)

    async def press(self, request: web.Request) -> web.Response:
        def action(bot: Bot, user: User, body: dict[str, Any]) -> dict[str, Any]:
            message_id = _opt_int(body, "message_id")
            data = body.get("callback_data")
            if message_id is None or not isinstance(data, str):
                raise ControlError(400, "message_id (int) and callback_data (str) are required")
            forged = body.get("forged", False) is True
            return self.server.actions.press(bot, user, message_id, data, forged=forged)

        return await self._act(request, action)

    async def open_web_app(self, request: web.Request) -> web.Response:
        """The URL a web_app button opens for this user, with initData signed by the bot."""
        user = self._user(request)
        body = await self._body(request)
        bot = self._bot(request, body)
        url = body.get("url")
        if not isinstance(url, str):
            raise ControlError(400, "url is required")
        try:
            opened = launch_url(url, sign_init_data(bot.token, user.api()))
        except ValueError as exc:
            raise ControlError(400, str(exc)) from None
        return ok({"url": opened})

    async def block(self, request: web.Request) -> web.Response:
        return await self._act(
            request, lambda bot, user, body: self.server.actions.set_blocked(bot, user, True)
        )

    async def unblock(self, request: web.Request) -> web.Response:
        return await self._act(
            request, lambda bot, user, body: self.server.actions.set_blocked(bot, user, False)
        )

    async def callback_answer(self, request: web.Request) -> web.Response:
        """The bot's answer to a callback query; waits up to ``timeout`` seconds for it."""
        query = self.state.callbacks.get(request.match_info["query_id"])
        if query is None:
            raise ControlError(404, "unknown callback query id")
        timeout = min(max(self._float(request, "timeout", 0.0), 0.0), MAX_EVENT_WAIT)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            token = self.state.event_notifier.token()
            if query.answered or self.state.closing:
                break
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await Notifier.wait(token, remaining)
        return ok({"callback": query.to_dict()})

    # ------------------------------------------------------------------ events
    async def _events(
        self, request: web.Request, *, chat_id: int | None
    ) -> web.Response:
        bot_ref = request.query.get("bot")
        bot_id = self.server.find_bot(bot_ref).id if bot_ref else None
        try:
            after = int(request.query.get("after", "0"))
        except ValueError:
            raise ControlError(400, "after must be an integer") from None
        timeout = min(max(self._float(request, "timeout", 0.0), 0.0), MAX_EVENT_WAIT)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            token = self.state.event_notifier.token()
            events = self.state.events_after(after, bot_id=bot_id, chat_id=chat_id)
            if events or self.state.closing:
                break
            if after > self.state.seq:
                after = self.state.seq  # the sandbox was restarted: start over
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await Notifier.wait(token, remaining)
        return ok({"events": events, "last_seq": self.state.seq})

    async def chat_events(self, request: web.Request) -> web.Response:
        return await self._events(request, chat_id=self._user(request).id)

    async def all_events(self, request: web.Request) -> web.Response:
        return await self._events(request, chat_id=None)

    # ------------------------------------------------------------------ faults & limits
    async def list_api_errors(self, request: web.Request) -> web.Response:
        return ok({"api_errors": list(self.server.api_errors)})

    async def count_api_calls(self, request: web.Request) -> web.Response:
        return ok({"api_calls": dict(self.server.api_calls)})

    async def list_faults(self, request: web.Request) -> web.Response:
        return ok({"faults": self.server.faults.list()})

    async def add_fault(self, request: web.Request) -> web.Response:
        fault = self.server.faults.add(fault_from_spec(await self._body(request)))
        return ok({"fault": fault.to_dict()})

    async def clear_faults(self, request: web.Request) -> web.Response:
        removed = self.server.faults.clear(request.query.get("method"))
        return ok({"removed": removed})

    async def get_rate_limits(self, request: web.Request) -> web.Response:
        return ok({"rate_limits": self.server.limiter.limits.to_dict()})

    async def set_rate_limits(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        try:
            limits = RateLimits.from_dict({**self.server.limiter.limits.to_dict(), **body})
            if limits.global_per_second < 0 or limits.chat_per_second < 0:
                raise ValueError("rates must not be negative")
        except (TypeError, ValueError) as exc:
            raise ControlError(400, f"bad rate limits: {exc}") from None
        self.server.limiter.configure(limits)
        return ok({"rate_limits": limits.to_dict()})

    async def reset(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        self.server.reset(bots=bool(body.get("bots", False)))
        return ok({"seq": self.state.seq})

    async def download(self, request: web.Request) -> web.StreamResponse:
        stored = self.state.files.get(request.match_info["file_id"])
        if stored is None or stored.data is None:
            raise ControlError(404, "file not found")
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )

    async def demo_personas(self, request: web.Request) -> web.Response:
        bot = self.server.find_bot(None) if self.state.bots_by_id else None
        return ok(
            {
                "personas": self.server.demo_personas,
                "languages": self.server.demo_languages,
                "language_command": self.server.language_command,
                "guide": self.server.demo_guide,
                "bot": None if bot is None else {"username": bot.username, "id": bot.id,
                                                  "first_name": bot.first_name},
            }
        )


_USER_FIELDS = ("last_name", "username", "language_code", "phone_number")


def _user_fields(body: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key in _USER_FIELDS:
        if key in body:
            value = body[key]
            if value is not None and not isinstance(value, str):
                raise ControlError(400, f"{key} must be a string")
            if key == "username" and value:
                value = value.lstrip("@")
            fields[key] = value or None
    for key in ("is_premium", "voice_messages_forbidden"):
        if key in body:
            fields[key] = bool(body[key])
    return fields


def _opt_int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        raise ControlError(400, f"{key} must be an integer")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ControlError(400, f"{key} must be an integer") from None
