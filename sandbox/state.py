"""What the sandbox knows: bots, users, private chats, messages, files, updates, events.

Everything here is plain data plus small helpers; the Bot API methods live in ``methods.py``
and the control API in ``control.py``. ``SandboxState.to_dict``/``from_dict`` give the JSON
snapshot used by ``--state-file``.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .markup import is_inline, is_reply_keyboard

DEFAULT_ALLOWED_UPDATES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
ALL_UPDATE_TYPES = DEFAULT_ALLOWED_UPDATES | {
    "chat_member",
    "message_reaction",
    "message_reaction_count",
}
MAX_EVENTS_KEPT = 20_000
MAX_PERSISTED_FILE_BYTES = 1024 * 1024


def now_ts() -> int:
    return int(time.time())


class Notifier:
    """Wakes every waiter when something happened (no lost wake-ups: take ``token()`` first)."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def token(self) -> asyncio.Event:
        if self._event is None:
            self._event = asyncio.Event()
        return self._event

    def notify(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = None

    @staticmethod
    async def wait(token: asyncio.Event, seconds: float) -> bool:
        if seconds <= 0:
            return token.is_set()
        try:
            # asyncio.timeout rather than wait_for: on 3.11 wait_for can swallow a cancellation
            async with asyncio.timeout(seconds):
                await token.wait()
        except TimeoutError:
            return False
        return True


@dataclass
class User:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    phone_number: str | None = None
    is_premium: bool = False
    # Privacy > Voice messages set to "Nobody" (a Premium setting): bots can't send them one.
    voice_messages_forbidden: bool = False

    def api(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        if self.is_premium:
            data["is_premium"] = True
        return data

    def chat_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        return data

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> User:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class Bot:
    id: int
    token: str
    username: str
    first_name: str
    commands: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    menu_buttons: dict[str, dict[str, Any]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)  # name/description/short_description
    webhook_url: str = ""
    webhook_secret: str | None = None
    webhook_max_connections: int = 40
    allowed_updates: list[str] | None = None
    updates: list[dict[str, Any]] = field(default_factory=list)
    next_update_id: int = 0
    last_error_date: int | None = None
    last_error_message: str | None = None
    # runtime only
    update_notifier: Notifier = field(default_factory=Notifier, repr=False, compare=False)
    poll_generation: int = field(default=0, repr=False, compare=False)
    poll_terminated_by: dict[int, str] = field(default_factory=dict, repr=False, compare=False)

    _PERSISTED = (
        "id",
        "token",
        "username",
        "first_name",
        "commands",
        "menu_buttons",
        "texts",
        "webhook_url",
        "webhook_secret",
        "webhook_max_connections",
        "allowed_updates",
        "updates",
        "next_update_id",
        "last_error_date",
        "last_error_message",
    )

    def __post_init__(self) -> None:
        if not self.next_update_id:
            # Update ids keep increasing across sandbox restarts (bots deduplicate by them).
            self.next_update_id = int(time.time() * 1000) % 10**13

    def api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
        }

    def me(self) -> dict[str, Any]:
        return {
            **self.api(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def accepts(self, update_type: str) -> bool:
        allowed = DEFAULT_ALLOWED_UPDATES if not self.allowed_updates else self.allowed_updates
        return update_type in allowed

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._PERSISTED}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Bot:
        return cls(**{k: v for k, v in data.items() if k in cls._PERSISTED})


@dataclass
class Message:
    message_id: int
    date: int
    sender: str  # "user" or "bot"
    kind: str  # text, command, contact, location, voice, sticker, photo, document
    api: dict[str, Any]  # the Bot API Message object as it is now
    raw_text: str | None = None  # text/caption as sent (HTML/Markdown source for bot messages)
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None  # any markup, reply keyboards included
    edits: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False
    seq: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    @property
    def text(self) -> str | None:
        return self.api.get("text", self.api.get("caption"))


@dataclass
class CallbackQuery:
    id: str
    bot_id: int
    chat_id: int
    message_id: int
    data: str
    created: float
    answered: bool = False
    answer: dict[str, Any] | None = None
    answered_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "message_id": self.message_id,
            "data": self.data,
            "pressed_at": self.created,
            "answered": self.answered,
            "answer": self.answer,
        }

    def persist(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Chat:
    """The private chat of one user with one bot (chat id = user id, as in Telegram)."""

    bot_id: int
    user_id: int
    started: bool = False
    blocked: bool = False
    next_message_id: int = 1
    messages: list[Message] = field(default_factory=list)
    keyboard: dict[str, Any] | None = None  # reply keyboard currently shown
    callbacks: list[CallbackQuery] = field(default_factory=list)
    by_id: dict[int, Message] = field(default_factory=dict, repr=False, compare=False)

    def add(self, message: Message) -> None:
        self.messages.append(message)
        self.by_id[message.message_id] = message
        if message.sender == "bot" and message.reply_markup is not None:
            if is_reply_keyboard(message.reply_markup):
                self.keyboard = message.reply_markup
            elif message.reply_markup.get("remove_keyboard"):
                self.keyboard = None

    def new_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id

    def get(self, message_id: int | None) -> Message | None:
        if message_id is None:
            return None
        message = self.by_id.get(message_id)
        if message is None or message.deleted:
            return None
        return message

    def last_inline_messages(self) -> Iterator[Message]:
        for message in reversed(self.messages):
            if not message.deleted and message.sender == "bot" and is_inline(message.reply_markup):
                yield message

    def to_dict(self) -> dict[str, Any]:
        return {
            "bot_id": self.bot_id,
            "user_id": self.user_id,
            "started": self.started,
            "blocked": self.blocked,
            "next_message_id": self.next_message_id,
            "messages": [m.to_dict() for m in self.messages],
            "keyboard": self.keyboard,
            "callbacks": [c.persist() for c in self.callbacks[-200:]],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Chat:
        chat = cls(
            bot_id=data["bot_id"],
            user_id=data["user_id"],
            started=data.get("started", False),
            blocked=data.get("blocked", False),
            next_message_id=data.get("next_message_id", 1),
            keyboard=data.get("keyboard"),
        )
        for item in data.get("messages", []):
            message = Message.from_dict(item)
            chat.messages.append(message)
            chat.by_id[message.message_id] = message
        chat.callbacks = [CallbackQuery(**c) for c in data.get("callbacks", [])]
        return chat


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    kind: str
    file_path: str
    size: int
    mime_type: str | None = None
    file_name: str | None = None
    data: bytes | None = None
    width: int | None = None
    height: int | None = None
    duration: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        blob = data.pop("data")
        if blob is not None and len(blob) <= MAX_PERSISTED_FILE_BYTES:
            data["data_b64"] = base64.b64encode(blob).decode("ascii")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoredFile:
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "data_b64" in data:
            values["data"] = base64.b64decode(data["data_b64"])
        return cls(**values)


class SandboxState:
    def __init__(self) -> None:
        self.bots_by_token: dict[str, Bot] = {}
        self.bots_by_id: dict[int, Bot] = {}
        self.users: dict[int, User] = {}
        self.chats: dict[tuple[int, int], Chat] = {}
        self.files: dict[str, StoredFile] = {}
        self.callbacks: dict[str, CallbackQuery] = {}
        self.events: list[dict[str, Any]] = []
        self.seq = 0
        self.event_notifier = Notifier()
        self.next_user_id = 100_001
        self.next_bot_id = 7_000_000_001
        self._file_counter = itertools.count(1)
        self.on_change: Callable[[], None] | None = None
        self.closing = False  # set while the server shuts down: long polls return at once

    # -- changes and events -------------------------------------------------------------
    def changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def emit(self, event_type: str, *, bot_id: int | None, chat_id: int | None, by: str,
             **payload: Any) -> dict[str, Any]:
        self.seq += 1
        event = {
            "seq": self.seq,
            "type": event_type,
            "bot_id": bot_id,
            "chat_id": chat_id,
            "by": by,
            "time": time.time(),
            **payload,
        }
        self.events.append(event)
        if len(self.events) > MAX_EVENTS_KEPT:
            del self.events[: len(self.events) - MAX_EVENTS_KEPT]
        self.event_notifier.notify()
        self.changed()
        return event

    def events_after(
        self, after: int, *, bot_id: int | None = None, chat_id: int | None = None
    ) -> list[dict[str, Any]]:
        if not self.events or self.events[-1]["seq"] <= after:
            return []
        first = self.events[0]["seq"]
        start = max(after - first + 1, 0)
        return [
            e
            for e in self.events[start:]
            if (bot_id is None or e["bot_id"] == bot_id)
            and (chat_id is None or e["chat_id"] == chat_id)
        ]

    # -- bots and users -----------------------------------------------------------------
    def add_bot(
        self, token: str | None = None, username: str | None = None, first_name: str | None = None
    ) -> Bot:
        if token is None:
            bot_id = self.next_bot_id
            while bot_id in self.bots_by_id:
                bot_id += 1
            token = f"{bot_id}:SANDBOX{secrets.token_urlsafe(24)}"
        left, sep, right = token.partition(":")
        if not (sep and left.isdigit() and right) or any(c.isspace() for c in token):
            raise ValueError("a bot token looks like '<digits>:<secret>'")
        if token in self.bots_by_token:
            bot = self.bots_by_token[token]
            if username:
                bot.username = username
            if first_name:
                bot.first_name = first_name
            return bot
        bot_id = int(left)
        if bot_id in self.bots_by_id:
            raise ValueError(f"another token already uses bot id {bot_id}")
        self.next_bot_id = max(self.next_bot_id, bot_id + 1)
        username = username or f"sandbox_{bot_id}_bot"
        bot = Bot(id=bot_id, token=token, username=username, first_name=first_name or "Sandbox Bot")
        self.bots_by_token[token] = bot
        self.bots_by_id[bot_id] = bot
        self.changed()
        return bot

    def add_user(self, first_name: str, *, user_id: int | None = None, **fields: Any) -> User:
        if user_id is None:
            user_id = self.next_user_id
            while user_id in self.users or user_id in self.bots_by_id:
                user_id += 1
        if user_id in self.users:
            raise ValueError(f"user {user_id} already exists")
        self.next_user_id = max(self.next_user_id, user_id + 1)
        user = User(id=user_id, first_name=first_name, **fields)
        self.users[user_id] = user
        self.changed()
        return user

    def chat(self, bot: Bot, user_id: int, *, create: bool = False) -> Chat | None:
        key = (bot.id, user_id)
        chat = self.chats.get(key)
        if chat is None and create and user_id in self.users:
            chat = Chat(bot_id=bot.id, user_id=user_id)
            self.chats[key] = chat
        return chat

    def new_file_ids(self, kind: str) -> tuple[str, str]:
        number = next(self._file_counter)
        prefix = {"photo": "AgAC", "voice": "AwAC", "sticker": "CAAC"}.get(kind, "BQAC")
        file_id = f"{prefix}SBX{number:06d}{secrets.token_urlsafe(12)}"
        unique = f"AQAD{number:06d}{secrets.token_hex(3)}"
        return file_id, unique

    def add_file(self, stored: StoredFile) -> StoredFile:
        self.files[stored.file_id] = stored
        self.changed()
        return stored

    # -- persistence --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "bots": [b.to_dict() for b in self.bots_by_id.values()],
            "users": [u.to_dict() for u in self.users.values()],
            "chats": [c.to_dict() for c in self.chats.values()],
            "files": [f.to_dict() for f in self.files.values()],
            "seq": self.seq,
            "next_user_id": self.next_user_id,
            "next_bot_id": self.next_bot_id,
        }

    def load_dict(self, data: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]
        for item in data.get("bots", []):
            bot = Bot.from_dict(item)
            self.bots_by_token[bot.token] = bot
            self.bots_by_id[bot.id] = bot
        for item in data.get("users", []):
            user = User.from_dict(item)
            self.users[user.id] = user
        for item in data.get("chats", []):
            chat = Chat.from_dict(item)
            self.chats[(chat.bot_id, chat.user_id)] = chat
            for query in chat.callbacks:
                self.callbacks[query.id] = query
        numbers = [0]
        for item in data.get("files", []):
            stored = StoredFile.from_dict(item)
            self.files[stored.file_id] = stored
            digits = stored.file_id[7:13]
            if digits.isdigit():
                numbers.append(int(digits))
        self._file_counter = itertools.count(max(numbers) + 1)
        self.seq = int(data.get("seq", 0))
        self.next_user_id = int(data.get("next_user_id", self.next_user_id))
        self.next_bot_id = int(data.get("next_bot_id", self.next_bot_id))


def message_transcript(message: Message, chat: Chat, state: SandboxState) -> dict[str, Any]:
    """A message as the control API shows it (sender, text, markup, edits, deleted, ...)."""
    api = message.api
    sender = api.get("from", {})
    entry: dict[str, Any] = {
        "message_id": message.message_id,
        "seq": message.seq,
        "from": message.sender,
        "sender": {
            "id": sender.get("id"),
            "first_name": sender.get("first_name"),
            "username": sender.get("username"),
            "is_bot": sender.get("is_bot", False),
        },
        "date": message.date,
        "kind": message.kind,
        "text": api.get("text", api.get("caption")),
        "raw_text": message.raw_text,
        "parse_mode": message.parse_mode,
        "entities": api.get("entities", api.get("caption_entities", [])),
        "reply_markup": message.reply_markup,
        "edited": bool(message.edits),
        "edit_date": api.get("edit_date"),
        "edits": message.edits,
        "deleted": message.deleted,
    }
    for key in ("contact", "location", "venue", "voice", "sticker", "document"):
        if key in api:
            entry[key] = api[key]
    if "photo" in api:
        entry["photo"] = api["photo"]
    file_id = _message_file_id(api)
    if file_id is not None:
        entry["file_url"] = f"/sandbox/files/{file_id}"
    reply = api.get("reply_to_message")
    if reply:
        entry["reply_to_message_id"] = reply.get("message_id")
    answers = [
        c.to_dict()
        for c in chat.callbacks
        if c.message_id == message.message_id
    ]
    if answers:
        entry["callbacks"] = answers
    return entry


def _message_file_id(api: dict[str, Any]) -> str | None:
    for key in ("document", "voice", "sticker"):
        if key in api:
            return api[key].get("file_id")
    if api.get("photo"):
        return api["photo"][-1].get("file_id")
    return None
