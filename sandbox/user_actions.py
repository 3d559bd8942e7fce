"""What a user does in a private chat with a bot: the source of updates."""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

from .errors import ControlError
from .formatting import format_text
from .markup import is_inline
from .media import make_ogg, make_png, make_webp
from .methods import BotApi
from .state import Bot, CallbackQuery, Chat, Message, StoredFile, User, message_transcript, now_ts

MAX_USER_TEXT = 4096


class UserActions:
    def __init__(self, api: BotApi) -> None:
        self.api = api
        self.state = api.state

    # ------------------------------------------------------------------ helpers
    def _open_chat(self, bot: Bot, user: User) -> Chat:
        chat = self.state.chat(bot, user.id, create=True)
        assert chat is not None
        if chat.blocked:
            raise ControlError(409, "the user has blocked the bot; unblock it first")
        chat.started = True
        return chat

    def _post(
        self,
        bot: Bot,
        user: User,
        *,
        kind: str,
        body: dict[str, Any],
        reply_to_message_id: int | None = None,
    ) -> dict[str, Any]:
        chat = self._open_chat(bot, user)
        message_id = chat.new_message_id()
        api: dict[str, Any] = {
            "message_id": message_id,
            "from": user.api(),
            "chat": user.chat_api(),
            "date": now_ts(),
        }
        if reply_to_message_id is not None:
            replied = chat.get(reply_to_message_id)
            if replied is None:
                raise ControlError(404, f"message {reply_to_message_id} not found in this chat")
            api["reply_to_message"] = {
                k: v for k, v in replied.api.items() if k != "reply_to_message"
            }
        api.update(body)
        message = Message(
            message_id=message_id,
            date=api["date"],
            sender="user",
            kind=kind,
            api=api,
            raw_text=body.get("text", body.get("caption")),
        )
        chat.add(message)
        update_id = self.api.enqueue_update(bot, "message", api)
        event = self.state.emit(
            "message", bot_id=bot.id, chat_id=user.id, by="user", message=None
        )
        message.seq = event["seq"]
        entry = message_transcript(message, chat, self.state)
        event["message"] = entry
        return {"message": entry, "update_id": update_id, "seq": event["seq"]}

    # ------------------------------------------------------------------ messages
    def send_text(
        self, bot: Bot, user: User, text: str, *, reply_to_message_id: int | None = None
    ) -> dict[str, Any]:
        if not isinstance(text, str) or not text.strip():
            raise ControlError(400, "text must be a non-empty string")
        plain, entities = format_text(text, None)
        if len(plain) > MAX_USER_TEXT:
            raise ControlError(400, "a user message is at most 4096 characters")
        body: dict[str, Any] = {"text": plain}
        if entities:
            body["entities"] = entities
        kind = "command" if any(
            e["type"] == "bot_command" and e["offset"] == 0 for e in entities
        ) else "text"
        return self._post(bot, user, kind=kind, body=body, reply_to_message_id=reply_to_message_id)

    def edit_text(self, bot: Bot, user: User, message_id: int, text: str) -> dict[str, Any]:
        """The user edits a text message of theirs: an ``edited_message`` update."""
        chat = self._open_chat(bot, user)
        message = chat.get(message_id)
        if message is None or message.sender != "user" or "text" not in message.api:
            raise ControlError(404, f"no text message {message_id} of the user in this chat")
        if not isinstance(text, str) or not text.strip():
            raise ControlError(400, "text must be a non-empty string")
        plain, entities = format_text(text, None)
        if len(plain) > MAX_USER_TEXT:
            raise ControlError(400, "a user message is at most 4096 characters")
        message.api["text"] = plain
        message.api["edit_date"] = now_ts()
        message.api.pop("entities", None)
        if entities:
            message.api["entities"] = entities
        message.raw_text = plain
        update_id = self.api.enqueue_update(bot, "edited_message", dict(message.api))
        event = self.state.emit("edit", bot_id=bot.id, chat_id=user.id, by="user", message=None)
        entry = message_transcript(message, chat, self.state)
        event["message"] = entry
        return {"message": entry, "update_id": update_id, "seq": event["seq"]}

    def send_command(self, bot: Bot, user: User, command: str) -> dict[str, Any]:
        if not isinstance(command, str) or not command.strip():
            raise ControlError(400, "command must be a non-empty string")
        command = command.strip()
        if not command.startswith("/"):
            command = "/" + command
        name = command.split()[0]
        if len(name) < 2:
            raise ControlError(400, "command needs a name after '/'")
        return self.send_text(bot, user, command)

    def send_contact(
        self,
        bot: Bot,
        user: User,
        phone_number: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        own: bool = True,
    ) -> dict[str, Any]:
        if not isinstance(phone_number, str) or not phone_number.strip():
            raise ControlError(400, "phone_number must be a non-empty string")
        contact: dict[str, Any] = {
            "phone_number": phone_number.strip(),
            "first_name": first_name or user.first_name,
        }
        last = last_name if last_name is not None else (user.last_name if own else None)
        if last:
            contact["last_name"] = last
        if own:
            contact["user_id"] = user.id
            user.phone_number = phone_number.strip()
        return self._post(bot, user, kind="contact", body={"contact": contact})

    def send_location(
        self, bot: Bot, user: User, latitude: float, longitude: float
    ) -> dict[str, Any]:
        try:
            lat, lon = float(latitude), float(longitude)
        except (TypeError, ValueError):
            raise ControlError(400, "latitude and longitude must be numbers") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ControlError(400, "latitude must be in [-90, 90] and longitude in [-180, 180]")
        return self._post(
            bot, user, kind="location", body={"location": {"latitude": lat, "longitude": lon}}
        )

    def send_voice(self, bot: Bot, user: User, duration: int = 3) -> dict[str, Any]:
        try:
            duration = int(duration)
        except (TypeError, ValueError):
            raise ControlError(400, "duration must be a whole number of seconds") from None
        if not 0 <= duration <= 3600:
            raise ControlError(400, "duration must be between 0 and 3600 seconds")
        data = make_ogg(duration)
        stored = self._store("voice", data, "audio/ogg", "oga", duration=duration)
        voice = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": stored.size,
        }
        return self._post(bot, user, kind="voice", body={"voice": voice})

    def send_sticker(self, bot: Bot, user: User, emoji: str = "👍") -> dict[str, Any]:
        stored = self._store("sticker", make_webp(), "image/webp", "webp", width=512, height=512)
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji or "👍",
            "set_name": "SandboxStickers",
            "file_size": stored.size,
        }
        return self._post(bot, user, kind="sticker", body={"sticker": sticker})

    def send_photo(
        self, bot: Bot, user: User, *, width: int = 640, height: int = 480,
        caption: str | None = None,
    ) -> dict[str, Any]:
        try:
            width, height = int(width), int(height)
        except (TypeError, ValueError):
            raise ControlError(400, "width and height must be whole numbers") from None
        if not (1 <= width <= 2560 and 1 <= height <= 2560):
            raise ControlError(400, "width and height must be between 1 and 2560")
        sizes = []
        scale = min(1.0, 90 / max(width, height))
        small = (max(1, round(width * scale)), max(1, round(height * scale)))
        for w, h in ([small] if small != (width, height) else []) + [(width, height)]:
            stored = self._store("photo", make_png(w, h), "image/png", "jpg", width=w, height=h)
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "width": w,
                    "height": h,
                    "file_size": stored.size,
                }
            )
        body: dict[str, Any] = {"photo": sizes}
        if caption:
            plain, entities = format_text(caption, None)
            body["caption"] = plain
            if entities:
                body["caption_entities"] = entities
        return self._post(bot, user, kind="photo", body=body)

    def send_document(
        self, bot: Bot, user: User, *, file_name: str, data: bytes,
        mime_type: str | None = None, caption: str | None = None,
    ) -> dict[str, Any]:
        ext = file_name.rsplit(".", 1)[1] if "." in file_name else "bin"
        stored = self._store("document", data, mime_type, ext, file_name=file_name)
        document = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": file_name,
            "file_size": stored.size,
        }
        if mime_type:
            document["mime_type"] = mime_type
        body: dict[str, Any] = {"document": document}
        if caption:
            body["caption"] = caption
        return self._post(bot, user, kind="document", body=body)

    def _store(
        self, kind: str, data: bytes, mime_type: str | None, ext: str, **extra: Any
    ) -> StoredFile:
        file_id, unique_id = self.state.new_file_ids(kind)
        number = file_id[7:13].lstrip("0") or "0"
        folder = {"voice": "voice", "sticker": "stickers", "photo": "photos"}.get(kind, "documents")
        stored = StoredFile(
            file_id=file_id,
            file_unique_id=unique_id,
            kind=kind,
            file_path=f"{folder}/file_{number}.{ext}",
            size=len(data),
            mime_type=mime_type,
            data=data,
            **extra,
        )
        return self.state.add_file(stored)

    # ------------------------------------------------------------------ buttons
    @staticmethod
    def _check_button(message: Any, callback_data: str) -> None:
        if not is_inline(message.reply_markup):
            raise ControlError(400, f"message {message.message_id} has no inline keyboard")
        datas = [
            b.get("callback_data")
            for row in message.reply_markup["inline_keyboard"]
            for b in row
        ]
        if callback_data not in datas:
            raise ControlError(
                400,
                f"message {message.message_id} has no inline button with callback_data "
                f"{callback_data!r} (it has {[d for d in datas if d]!r})",
            )

    def press(
        self, bot: Bot, user: User, message_id: int, callback_data: str, *, forged: bool = False
    ) -> dict[str, Any]:
        """Press an inline button of a bot's message. ``forged``: send ``callback_data`` that
        no button carries, as a modified client can (Telegram passes it on unchecked)."""
        chat = self.state.chat(bot, user.id)
        if chat is None:
            raise ControlError(404, "this user has no chat with the bot yet")
        if chat.blocked:
            raise ControlError(409, "the user has blocked the bot; unblock it first")
        message = chat.get(message_id)
        if message is None:
            raise ControlError(404, f"message {message_id} not found (or deleted)")
        if message.sender != "bot":
            raise ControlError(400, f"message {message_id} is not the bot's")
        if not forged:
            self._check_button(message, callback_data)
        query = CallbackQuery(
            id=str(secrets.randbits(62) + 10**17),
            bot_id=bot.id,
            chat_id=user.id,
            message_id=message_id,
            data=callback_data,
            created=time.time(),
        )
        chat.callbacks.append(query)
        if len(chat.callbacks) > 500:
            del chat.callbacks[:-500]
        self.state.callbacks[query.id] = query
        self._prune_callbacks()
        chat_instance = str(
            int(hashlib.sha1(f"{bot.id}:{user.id}".encode()).hexdigest()[:15], 16)
        )
        payload = {
            "id": query.id,
            "from": user.api(),
            "message": message.api,
            "chat_instance": chat_instance,
            "data": callback_data,
        }
        update_id = self.api.enqueue_update(bot, "callback_query", payload)
        event = self.state.emit(
            "callback_query",
            bot_id=bot.id,
            chat_id=user.id,
            by="user",
            callback=query.to_dict(),
            message_id=message_id,
        )
        return {"callback_query_id": query.id, "update_id": update_id, "seq": event["seq"]}

    def _prune_callbacks(self) -> None:
        if len(self.state.callbacks) <= 10_000:
            return
        horizon = time.time() - 3600
        self.state.callbacks = {
            k: q for k, q in self.state.callbacks.items() if q.created >= horizon
        }

    # ------------------------------------------------------------------ blocking
    def set_blocked(self, bot: Bot, user: User, blocked: bool) -> dict[str, Any]:
        chat = self.state.chat(bot, user.id, create=True)
        assert chat is not None
        if chat.blocked == blocked:
            return {"blocked": blocked, "update_id": None, "seq": self.state.seq}
        chat.blocked = blocked
        old, new = ("member", "kicked") if blocked else ("kicked", "member")
        update_id = None
        if chat.started:
            payload = {
                "chat": user.chat_api(),
                "from": user.api(),
                "date": now_ts(),
                "old_chat_member": _member(bot, old),
                "new_chat_member": _member(bot, new),
            }
            update_id = self.api.enqueue_update(bot, "my_chat_member", payload)
        event = self.state.emit(
            "block" if blocked else "unblock", bot_id=bot.id, chat_id=user.id, by="user"
        )
        return {"blocked": blocked, "update_id": update_id, "seq": event["seq"]}

    def transcript(self, bot: Bot, user: User) -> dict[str, Any]:
        from .methods import resolve_commands

        chat = self.state.chat(bot, user.id)
        messages = [] if chat is None else [
            message_transcript(m, chat, self.state) for m in chat.messages
        ]
        return {
            "chat_id": user.id,
            "bot": {"id": bot.id, "username": bot.username, "first_name": bot.first_name},
            "user": user.to_dict(),
            "started": bool(chat and chat.started),
            "blocked": bool(chat and chat.blocked),
            "messages": messages,
            "callbacks": [] if chat is None else [c.to_dict() for c in chat.callbacks],
            "keyboard": None if chat is None else chat.keyboard,
            "commands": resolve_commands(bot, user.id, user.language_code),
            "menu_button": bot.menu_buttons.get(str(user.id)) or bot.menu_buttons.get("default")
            or {"type": "commands"},
            "last_seq": self.state.seq,
        }


def _member(bot: Bot, status: str) -> dict[str, Any]:
    member: dict[str, Any] = {"status": status, "user": bot.api()}
    if status == "kicked":
        member["until_date"] = 0
    return member
