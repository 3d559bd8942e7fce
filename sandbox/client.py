"""``SandboxClient``: an aiohttp client for the sandbox control API."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from .persona import Persona


class SandboxError(Exception):
    """The control API answered ``{"ok": false, "error": ...}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class SandboxClient:
    """Control API client. ``bot`` (token, id or username) picks the bot; default: the first."""

    def __init__(
        self,
        base_url: str,
        *,
        bot: str | int | None = None,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 90.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.bot = bot
        self._session = session
        self._own_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def __aenter__(self) -> SandboxClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None and self._own_session:
            await self._session.close()
        self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
            self._own_session = True
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        bot: str | int | None = None,
    ) -> dict[str, Any]:
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        chosen = bot if bot is not None else self.bot
        if chosen is not None:
            query["bot"] = str(chosen)
        async with self._http().request(
            method, f"{self.base_url}{path}", json=json, params=query
        ) as response:
            try:
                data = await response.json(content_type=None)
            except ValueError:
                text = await response.text()
                raise SandboxError(response.status, text[:500]) from None
        if not isinstance(data, dict) or not data.get("ok"):
            message = data.get("error", str(data)) if isinstance(data, dict) else str(data)
            raise SandboxError(response.status, message)
        return data

    # ------------------------------------------------------------------ bots and users
    async def health(self) -> dict[str, Any]:
        return await self.request("GET", "/sandbox/health")

    async def create_bot(
        self, token: str | None = None, *, username: str | None = None,
        first_name: str | None = None,
    ) -> dict[str, Any]:
        body = {"token": token, "username": username, "first_name": first_name}
        data = await self.request("POST", "/sandbox/bots", json=body)
        return data["bot"]

    async def bots(self) -> list[dict[str, Any]]:
        return (await self.request("GET", "/sandbox/bots"))["bots"]

    async def create_user(
        self,
        first_name: str,
        *,
        username: str | None = None,
        last_name: str | None = None,
        language_code: str | None = None,
        phone_number: str | None = None,
        user_id: int | None = None,
        started: bool = False,
        reuse: bool = False,
        bot: str | int | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "first_name": first_name,
            "username": username,
            "last_name": last_name,
            "language_code": language_code,
            "phone_number": phone_number,
            "started": started,
            "reuse": reuse,
        }
        if user_id is not None:
            body["id"] = user_id
        return (await self.request("POST", "/sandbox/users", json=body, bot=bot))["user"]

    async def update_user(self, user_id: int, **fields: Any) -> dict[str, Any]:
        return (await self.request("PATCH", f"/sandbox/users/{user_id}", json=fields))["user"]

    async def set_language(
        self, user_id: int, language_code: str, *, command: str | bool | None = True,
        bot: str | int | None = None,
    ) -> dict[str, Any]:
        """Set language_code; then send ``command`` (True: /start or /language; None: nothing)."""
        body: dict[str, Any] = {"language_code": language_code}
        if command is not True:
            body["command"] = command or None
        return await self.request(
            "POST", f"/sandbox/users/{user_id}/language", json=body, bot=bot
        )

    async def user(
        self,
        first_name: str,
        *,
        language_code: str | None = None,
        username: str | None = None,
        last_name: str | None = None,
        phone_number: str | None = None,
        location: tuple[float, float] | None = None,
        user_id: int | None = None,
        bot: str | int | None = None,
    ) -> Persona:
        """Create a user and return a ``Persona`` that acts as them."""
        from .persona import Persona

        user = await self.create_user(
            first_name,
            username=username,
            last_name=last_name,
            language_code=language_code,
            phone_number=phone_number,
            user_id=user_id,
            bot=bot,
        )
        persona = Persona(self, user, bot=bot if bot is not None else self.bot)
        if location is not None:
            persona.location = location
        await persona.sync()
        return persona

    async def persona(self, user_id: int, *, bot: str | int | None = None) -> Persona:
        """A ``Persona`` for a user that already exists (e.g. created with a fixed id)."""
        from .persona import Persona

        user = (await self.request("GET", f"/sandbox/users/{user_id}"))["user"]
        persona = Persona(self, user, bot=bot if bot is not None else self.bot)
        await persona.sync()
        return persona

    # ------------------------------------------------------------------ user actions
    async def _act(
        self, chat_id: int, action: str, body: dict[str, Any], bot: str | int | None
    ) -> dict[str, Any]:
        return await self.request("POST", f"/sandbox/chats/{chat_id}/{action}", json=body, bot=bot)

    async def send_text(
        self, chat_id: int, text: str, *, reply_to_message_id: int | None = None,
        bot: str | int | None = None,
    ) -> dict[str, Any]:
        body = {"text": text, "reply_to_message_id": reply_to_message_id}
        return await self._act(chat_id, "messages", body, bot)

    async def send_command(
        self, chat_id: int, command: str, *, bot: str | int | None = None
    ) -> dict[str, Any]:
        return await self._act(chat_id, "command", {"command": command}, bot)

    async def send_contact(
        self, chat_id: int, phone_number: str, *, first_name: str | None = None,
        last_name: str | None = None, own: bool = True, bot: str | int | None = None,
    ) -> dict[str, Any]:
        body = {
            "phone_number": phone_number,
            "first_name": first_name,
            "last_name": last_name,
            "own": own,
        }
        return await self._act(chat_id, "contact", body, bot)

    async def send_location(
        self, chat_id: int, latitude: float, longitude: float, *, bot: str | int | None = None
    ) -> dict[str, Any]:
        body = {"latitude": latitude, "longitude": longitude}
        return await self._act(chat_id, "location", body, bot)

    async def send_voice(
        self, chat_id: int, duration: int = 3, *, bot: str | int | None = None
    ) -> dict[str, Any]:
        return await self._act(chat_id, "voice", {"duration": duration}, bot)

    async def send_sticker(
        self, chat_id: int, emoji: str = "👍", *, bot: str | int | None = None
    ) -> dict[str, Any]:
        return await self._act(chat_id, "sticker", {"emoji": emoji}, bot)

    async def send_photo(
        self, chat_id: int, *, width: int = 640, height: int = 480, caption: str | None = None,
        bot: str | int | None = None,
    ) -> dict[str, Any]:
        body = {"width": width, "height": height, "caption": caption}
        return await self._act(chat_id, "photo", body, bot)

    async def send_document(
        self, chat_id: int, file_name: str, data: bytes, *, mime_type: str | None = None,
        caption: str | None = None, bot: str | int | None = None,
    ) -> dict[str, Any]:
        body = {
            "file_name": file_name,
            "content_base64": base64.b64encode(data).decode("ascii"),
            "mime_type": mime_type,
            "caption": caption,
        }
        return await self._act(chat_id, "document", body, bot)

    async def press(
        self,
        chat_id: int,
        message_id: int,
        callback_data: str,
        *,
        bot: str | int | None = None,
        forged: bool = False,
    ) -> dict[str, Any]:
        """Press an inline button (``forged``: with data no button of the message carries);
        returns ``callback_query_id``, ``update_id``, ``seq``."""
        body = {"message_id": message_id, "callback_data": callback_data, "forged": forged}
        return await self._act(chat_id, "press", body, bot)

    async def callback_answer(
        self, query_id: str, *, timeout: float = 0.0  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """The callback query record (``answered``, ``answer``), waiting up to ``timeout``."""
        data = await self.request(
            "GET", f"/sandbox/callbacks/{query_id}", params={"timeout": timeout}
        )
        return data["callback"]

    async def block(self, chat_id: int, *, bot: str | int | None = None) -> dict[str, Any]:
        return await self._act(chat_id, "block", {}, bot)

    async def unblock(self, chat_id: int, *, bot: str | int | None = None) -> dict[str, Any]:
        return await self._act(chat_id, "unblock", {}, bot)

    # ------------------------------------------------------------------ reading
    async def transcript(self, chat_id: int, *, bot: str | int | None = None) -> dict[str, Any]:
        return await self.request("GET", f"/sandbox/chats/{chat_id}", bot=bot)

    async def chats(self, *, bot: str | int | None = None) -> list[dict[str, Any]]:
        return (await self.request("GET", "/sandbox/chats", bot=bot))["chats"]

    async def events(
        self, chat_id: int | None = None, *, after: int = 0, timeout: float = 0.0,  # noqa: ASYNC109
        bot: str | int | None = None,
    ) -> dict[str, Any]:
        """Events with ``seq > after`` (waits up to ``timeout`` s for the first); + last_seq."""
        path = "/sandbox/events" if chat_id is None else f"/sandbox/chats/{chat_id}/events"
        return await self.request(
            "GET", path, params={"after": after, "timeout": timeout}, bot=bot
        )

    async def download(self, file_id: str) -> bytes:
        async with self._http().get(f"{self.base_url}/sandbox/files/{file_id}") as response:
            if response.status != 200:
                raise SandboxError(response.status, await response.text())
            return await response.read()

    # ------------------------------------------------------------------ faults, limits, reset
    async def add_fault(self, method: str = "*", **spec: Any) -> dict[str, Any]:
        """E.g. ``add_fault("sendMessage", status=502, times=2)``, ``kind="drop"``,
        ``kind="latency", latency=1.5``; ``after=True`` fails after doing the work."""
        data = await self.request("POST", "/sandbox/faults", json={"method": method, **spec})
        return data["fault"]

    async def clear_faults(self, method: str | None = None) -> int:
        params = {"method": method} if method else None
        return (await self.request("DELETE", "/sandbox/faults", params=params))["removed"]

    async def faults(self) -> list[dict[str, Any]]:
        return (await self.request("GET", "/sandbox/faults"))["faults"]

    async def rate_limits(self) -> dict[str, Any]:
        return (await self.request("GET", "/sandbox/rate_limits"))["rate_limits"]

    async def set_rate_limits(self, **changes: Any) -> dict[str, Any]:
        """E.g. ``set_rate_limits(enabled=False)`` or ``chat_per_second=5, chat_burst=10``."""
        return (await self.request("PUT", "/sandbox/rate_limits", json=changes))["rate_limits"]

    async def reset(self, *, bots: bool = False) -> None:
        await self.request("POST", "/sandbox/reset", json={"bots": bots})


def aiogram_session(base_url: str, **session_kwargs: Any) -> Any:
    """An aiogram ``AiohttpSession`` whose API server is the sandbox at ``base_url``.

    ``Bot(token, session=aiogram_session(sandbox.base_url))``. aiogram is imported lazily so the
    sandbox itself does not depend on it.
    """
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    return AiohttpSession(api=TelegramAPIServer.from_base(base_url), **session_kwargs)
