"""``Persona``: test helpers that read like a user's actions in a chat with the bot.

A persona keeps a local mirror of its chat, fed by the control API's event stream. Reading
helpers (``last_message``, ``keyboard_labels``, ``transcript``) use the mirror; waiting helpers
long-poll the event stream, so nothing sleeps for a fixed time except the short "quiet" window
that tells that the bot has finished answering.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import SandboxClient

REPLY_EVENTS = ("message", "edit")


class Persona:
    def __init__(
        self,
        client: SandboxClient,
        user: dict[str, Any],
        *,
        bot: str | int | None = None,
        quiet: float = 0.2,
    ) -> None:
        self.client = client
        self.user = user
        self.bot = bot
        self.quiet = quiet
        self.location: tuple[float, float] = (31.2304, 121.4737)
        self.phone: str = user.get("phone_number") or f"+1555{user['id'] % 10_000_000:07d}"
        self.replies: list[dict[str, Any]] = []  # bot messages new or edited since the action
        self.events: list[dict[str, Any]] = []  # every event seen, in order
        self._messages: dict[int, dict[str, Any]] = {}
        self._callbacks: dict[str, dict[str, Any]] = {}
        self._seen_seq = 0
        self._action_seq = 0
        self._reply_seq = 0  # seq of the latest reply seen
        self._acknowledged_seq = 0  # replies up to here were returned by wait_reply

    def __repr__(self) -> str:
        return f"<Persona {self.first_name} id={self.id}>"

    @property
    def id(self) -> int:
        return int(self.user["id"])

    @property
    def chat_id(self) -> int:
        return self.id

    @property
    def first_name(self) -> str:
        return str(self.user["first_name"])

    # ------------------------------------------------------------------ mirror
    async def sync(self) -> None:
        """Load the whole transcript and continue the event stream from now."""
        data = await self.client.transcript(self.id, bot=self.bot)
        self._messages = {m["message_id"]: m for m in data["messages"]}
        self._callbacks = {c["id"]: c for c in data.get("callbacks", [])}
        self._seen_seq = max(self._seen_seq, data["last_seq"])

    async def _pump(self, wait: float = 0.0) -> list[dict[str, Any]]:
        data = await self.client.events(self.id, after=self._seen_seq, timeout=wait, bot=self.bot)
        events = data["events"]
        for event in events:
            self._apply(event)
        if data["last_seq"] < self._seen_seq:  # the sandbox restarted
            self._seen_seq = data["last_seq"]
        return events

    def _apply(self, event: dict[str, Any]) -> None:
        self._seen_seq = max(self._seen_seq, event["seq"])
        self.events.append(event)
        message = event.get("message")
        if message is not None:
            self._messages[message["message_id"]] = message
            if (
                event["by"] == "bot"
                and event["type"] in REPLY_EVENTS
                and event["seq"] > self._action_seq
            ):
                self.replies = [r for r in self.replies if r["message_id"] != message["message_id"]]
                self.replies.append(message)
                self._reply_seq = event["seq"]
        callback = event.get("callback")
        if callback is not None:
            self._callbacks[callback["id"]] = callback

    def _acted(self, result: dict[str, Any]) -> dict[str, Any]:
        self._action_seq = int(result.get("seq", self._action_seq))
        self.replies = []
        message = result.get("message")
        if message is not None:
            self._messages[message["message_id"]] = message
        return message if message is not None else result

    # ------------------------------------------------------------------ actions
    async def send(self, text: str, *, reply_to: int | None = None) -> dict[str, Any]:
        """Send a text message; returns the user's message as the transcript shows it."""
        await self._pump()
        return self._acted(
            await self.client.send_text(self.id, text, reply_to_message_id=reply_to, bot=self.bot)
        )

    async def command(self, command: str) -> dict[str, Any]:
        """Send a command such as ``"/start b_xyz"`` (with its bot_command entity)."""
        await self._pump()
        return self._acted(await self.client.send_command(self.id, command, bot=self.bot))

    async def share_location(
        self, latitude: float | None = None, longitude: float | None = None
    ) -> dict[str, Any]:
        await self._pump()
        lat = self.location[0] if latitude is None else latitude
        lon = self.location[1] if longitude is None else longitude
        return self._acted(await self.client.send_location(self.id, lat, lon, bot=self.bot))

    async def share_contact(self, phone: str | None = None) -> dict[str, Any]:
        """Share the persona's own contact (as the request_contact button does)."""
        await self._pump()
        return self._acted(
            await self.client.send_contact(self.id, phone or self.phone, bot=self.bot)
        )

    async def send_voice(self, duration: int = 3) -> dict[str, Any]:
        await self._pump()
        return self._acted(await self.client.send_voice(self.id, duration, bot=self.bot))

    async def send_sticker(self, emoji: str = "👍") -> dict[str, Any]:
        await self._pump()
        return self._acted(await self.client.send_sticker(self.id, emoji, bot=self.bot))

    async def send_photo(
        self, *, width: int = 640, height: int = 480, caption: str | None = None
    ) -> dict[str, Any]:
        await self._pump()
        return self._acted(
            await self.client.send_photo(
                self.id, width=width, height=height, caption=caption, bot=self.bot
            )
        )

    async def send_document(
        self, file_name: str, data: bytes, *, mime_type: str | None = None
    ) -> dict[str, Any]:
        await self._pump()
        return self._acted(
            await self.client.send_document(
                self.id, file_name, data, mime_type=mime_type, bot=self.bot
            )
        )

    async def tap(self, label: str) -> dict[str, Any]:
        """Tap a button of the reply keyboard shown now (sends its text, or shares the
        contact/location for request_contact/request_location buttons)."""
        await self._pump()
        button = self._find_reply_button(label)
        if button.get("request_contact"):
            return await self.share_contact()
        if button.get("request_location"):
            return await self.share_location()
        return self._acted(await self.client.send_text(self.id, button["text"], bot=self.bot))

    async def tap_inline(
        self, label: str, *, message_id: int | None = None, timeout: float = 15.0  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """Press the inline button ``label`` in the latest message that has it and return the
        bot's callback answer (``text``, ``show_alert``, ``url``). URL buttons return
        ``{"url": ...}`` without a round trip."""
        await self._pump()
        message, button = self._find_inline_button(label, message_id)
        return await self._press(message, button, timeout)

    async def tap_inline_at(
        self, row: int, column: int, *, timeout: float = 15.0  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """Press the inline button at (``row``, ``column``) of the latest message, counted
        from 0, as a person taps a square of a grid whose squares look alike."""
        await self._pump()
        message = self.last_message()
        rows = ((message or {}).get("reply_markup") or {}).get("inline_keyboard", [])
        if message is None or not (0 <= row < len(rows) and 0 <= column < len(rows[row])):
            raise LookupError(f"{self.first_name}: no inline button at ({row}, {column})")
        return await self._press(message, rows[row][column], timeout)

    async def forge_tap(
        self, callback_data: str, *, timeout: float = 15.0  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """Send ``callback_data`` no button carries, as a tampering client would, on the bot's
        latest message; returns the bot's callback answer."""
        await self._pump()
        latest = self.last_message()
        if latest is None:
            raise LookupError(f"{self.first_name}: no message from the bot to tamper with")
        button = {"text": callback_data, "callback_data": callback_data}
        return await self._press(latest, button, timeout, forged=True)

    async def _press(
        self,
        message: dict[str, Any],
        button: dict[str, Any],
        timeout: float,  # noqa: ASYNC109
        *,
        forged: bool = False,
    ) -> dict[str, Any]:
        label = button["text"]
        if "url" in button:
            return {"url": button["url"], "text": None, "show_alert": False}
        if "callback_data" not in button:
            raise LookupError(f"inline button {label!r} is not a callback or URL button")
        pressed = await self.client.press(
            self.id, message["message_id"], button["callback_data"], bot=self.bot, forged=forged
        )
        self._action_seq = int(pressed["seq"])
        self.replies = []
        callback = await self.client.callback_answer(
            pressed["callback_query_id"], timeout=timeout
        )
        if not callback["answered"]:
            raise TimeoutError(
                f"{self.first_name}: the bot did not answer the callback query for "
                f"{label!r} within {timeout}s"
            )
        self._callbacks[callback["id"]] = callback
        return dict(callback["answer"])

    async def set_language(
        self, language_code: str, *, command: str | bool | None = True
    ) -> dict[str, Any]:
        """Change the user's language_code and send /start (new chat) or /language."""
        await self._pump()
        result = await self.client.set_language(
            self.id, language_code, command=command, bot=self.bot
        )
        self.user = result["user"]
        return self._acted(result)

    async def block(self) -> None:
        await self.client.block(self.id, bot=self.bot)

    async def unblock(self) -> None:
        await self.client.unblock(self.id, bot=self.bot)

    # ------------------------------------------------------------------ waiting
    async def wait_reply(
        self, timeout: float = 15.0, *, quiet: float | None = None  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """Wait until the bot has sent or edited a message since the last action and then has
        gone quiet for ``quiet`` seconds; returns the last such message."""
        quiet = self.quiet if quiet is None else quiet
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if self.replies:
                if remaining > 0:
                    events = await self._pump(wait=min(quiet, remaining))
                    if any(e["by"] == "bot" for e in events):
                        continue
                self._acknowledged_seq = self._reply_seq
                return self.replies[-1]
            if remaining <= 0:
                raise TimeoutError(
                    f"{self.first_name}: no reply from the bot within {timeout}s; "
                    f"last messages: {self._tail()}"
                )
            await self._pump(wait=remaining)

    async def wait_notice(self, timeout: float = 15.0) -> dict[str, Any]:  # noqa: ASYNC109
        """Wait for a message the bot sends of its own accord, such as a notice another
        member's action caused, which may come a while later through the bot's outbox: the
        first message (new or edited) after what ``wait_reply`` last returned."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._reply_seq <= max(self._action_seq, self._acknowledged_seq):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"{self.first_name}: no notice from the bot within {timeout}s; "
                    f"last messages: {self._tail()}"
                )
            await self._pump(wait=remaining)
        return await self.wait_reply(timeout=max(deadline - loop.time(), self.quiet))

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 15.0  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """Wait for an event (of any kind) that satisfies ``predicate``; returns it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        start = len(self.events)
        while True:
            for event in self.events[start:]:
                if predicate(event):
                    return event
            start = len(self.events)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"{self.first_name}: no matching event within {timeout}s")
            await self._pump(wait=remaining)

    async def expect_no_reply(self, within: float = 0.3) -> None:
        """Assert that the bot sends or edits nothing (beyond what ``wait_reply`` returned)
        since the last action, watching for ``within`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while (remaining := deadline - loop.time()) > 0:
            await self._pump(wait=remaining)
            if self._reply_seq > max(self._action_seq, self._acknowledged_seq):
                raise AssertionError(
                    f"{self.first_name}: expected no reply, got {self.replies[-1].get('text')!r}"
                )

    # ------------------------------------------------------------------ reading
    def transcript(self) -> list[dict[str, Any]]:
        """Every message of the chat seen so far, oldest first (deleted ones included)."""
        return [self._messages[k] for k in sorted(self._messages)]

    def bot_messages(self) -> list[dict[str, Any]]:
        return [m for m in self.transcript() if m["from"] == "bot" and not m["deleted"]]

    def last_message(self) -> dict[str, Any] | None:
        """The latest message from the bot that is not deleted (None if there is none)."""
        messages = self.bot_messages()
        return messages[-1] if messages else None

    def last_text(self) -> str | None:
        message = self.last_message()
        return None if message is None else message.get("text")

    def keyboard(self) -> dict[str, Any] | None:
        """The reply keyboard shown now (the latest one the bot sent, unless removed since)."""
        keyboard = None
        for message in self.transcript():
            markup = message.get("reply_markup")
            if message["from"] != "bot" or not markup:
                continue
            if "keyboard" in markup:
                keyboard = markup
            elif markup.get("remove_keyboard"):
                keyboard = None
        return keyboard

    def keyboard_labels(self) -> list[str]:
        keyboard = self.keyboard()
        if keyboard is None:
            return []
        return [button["text"] for row in keyboard["keyboard"] for button in row]

    def inline_labels(self, message: dict[str, Any] | None = None) -> list[str]:
        message = message or self.last_message()
        markup = (message or {}).get("reply_markup") or {}
        return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]

    def alerts(self) -> list[dict[str, Any]]:
        """Callback answers the bot gave, in order (``text``, ``show_alert``, ...)."""
        answered = [c for c in self._callbacks.values() if c.get("answered")]
        return [c["answer"] for c in sorted(answered, key=lambda c: c["pressed_at"])]

    def _find_reply_button(self, label: str) -> dict[str, Any]:
        keyboard = self.keyboard()
        if keyboard is None:
            raise LookupError(f"{self.first_name}: no reply keyboard is shown; {self._tail()}")
        buttons = [b for row in keyboard["keyboard"] for b in row]
        for match in (
            lambda b: b["text"] == label,
            lambda b: b["text"].casefold() == label.casefold(),
        ):
            found = [b for b in buttons if match(b)]
            if found:
                return found[0]
        raise LookupError(
            f"{self.first_name}: no reply button {label!r}; the keyboard has "
            f"{[b['text'] for b in buttons]}"
        )

    def _find_inline_button(
        self, label: str, message_id: int | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        candidates = [
            m for m in reversed(self.bot_messages())
            if message_id is None or m["message_id"] == message_id
        ]
        seen: list[str] = []
        for message in candidates:
            markup = message.get("reply_markup") or {}
            for row in markup.get("inline_keyboard", []):
                for button in row:
                    if button["text"] == label:
                        return message, button
                    seen.append(button["text"])
        raise LookupError(
            f"{self.first_name}: no inline button {label!r}; inline buttons seen: {seen}"
        )

    def _tail(self) -> list[tuple[str, str | None]]:
        return [(m["from"], m.get("text")) for m in self.transcript()[-5:]]
