"""The Bot API methods the sandbox implements, validated the way Telegram validates them."""

from __future__ import annotations

import asyncio
import mimetypes
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import ApiError, bad_request, conflict, forbidden
from .formatting import format_text, normalize_parse_mode, utf16_len
from .markup import is_inline, is_reply_keyboard, parse_reply_markup
from .media import guess_extension, image_size
from .params import Params, UploadedFile
from .ratelimit import RateLimiter
from .state import (
    ALL_UPDATE_TYPES,
    Bot,
    Chat,
    Message,
    Notifier,
    SandboxState,
    StoredFile,
    User,
    message_transcript,
    now_ts,
)

if TYPE_CHECKING:
    from .webhook import WebhookDelivery

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_PENDING_UPDATES = 100_000
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
COMMAND_SCOPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_LANGUAGE = re.compile(r"[a-z]{2}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
GET_UPDATES_CONFLICT = (
    "terminated by other getUpdates request; make sure that only one bot instance is running"
)


@dataclass
class Settings:
    """Behaviour knobs of the sandbox (all times in seconds)."""

    callback_query_ttl: float = 15.0
    max_poll_timeout: float = 50.0
    webhook_timeout: float = 10.0
    webhook_retry_initial: float = 1.0
    webhook_retry_max: float = 60.0


Handler = Callable[[Bot, Params], Awaitable[Any]]


class BotApi:
    """Implements Bot API methods over a ``SandboxState``."""

    def __init__(
        self,
        state: SandboxState,
        limiter: RateLimiter,
        settings: Settings,
    ) -> None:
        self.state = state
        self.limiter = limiter
        self.settings = settings
        self.webhooks: WebhookDelivery | None = None
        self.methods: dict[str, Handler] = {}
        for name in dir(self):
            if name.startswith("m_"):
                self.methods[name[2:].replace("_", "").lower()] = getattr(self, name)

    async def call(self, bot: Bot, method: str, params: Params) -> Any:
        handler = self.methods.get(method.lower())
        if handler is None:
            raise ApiError(404, "Not Found")
        return await handler(bot, params)

    # ------------------------------------------------------------------ helpers
    def _chat(self, bot: Bot, params: Params, *, sending: bool = True) -> tuple[Chat, User]:
        raw = params.str("chat_id")
        if raw is None:
            raise bad_request("chat_id is empty")
        try:
            chat_id = int(raw.strip())
        except ValueError:
            raise bad_request("chat not found") from None
        user = self.state.users.get(chat_id)
        chat = self.state.chat(bot, chat_id) if user is not None else None
        if user is None or chat is None:
            if user is not None and sending:
                raise forbidden("bot can't initiate conversation with a user")
            raise bad_request("chat not found")
        if not chat.started and sending:
            raise forbidden("bot can't initiate conversation with a user")
        if chat.blocked and sending:
            raise forbidden("bot was blocked by the user")
        return chat, user

    def _format(
        self,
        params: Params,
        field: str,
        *,
        mode_field: str = "parse_mode",
        entities_field: str = "entities",
        limit: int,
        required: bool,
    ) -> tuple[str | None, str | None, list[dict[str, Any]], str | None]:
        """Returns (plain text, parse_mode, entities, raw text)."""
        raw = params.str(field)
        parse_mode = normalize_parse_mode(params.str(mode_field))
        explicit = params.json(entities_field, "can't parse entities JSON object")
        if explicit is not None and not (
            isinstance(explicit, list) and all(_valid_entity(e) for e in explicit)
        ):
            raise bad_request("can't parse entities JSON object")
        if raw is None:
            if required:
                raise bad_request("message text is empty")
            return None, parse_mode, [], None
        plain, entities = format_text(raw, parse_mode, explicit)
        entities = self._resolve_mentions(entities)
        if not plain:
            if required:
                raise bad_request("message text is empty")
            return None, parse_mode, [], raw
        if utf16_len(plain) > limit:
            if field == "text":
                raise bad_request("message is too long")
            raise bad_request("message caption is too long")
        return plain, parse_mode, entities, raw

    def _resolve_mentions(self, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """text_mention carries the whole User; users the sandbox does not know are dropped,
        as Telegram drops mentions of users the bot has never seen."""
        if not any(e["type"] == "text_mention" for e in entities):
            return entities
        resolved = []
        for entity in entities:
            if entity["type"] == "text_mention":
                user_id = (entity.get("user") or {}).get("id")
                known = self.state.users.get(user_id) if isinstance(user_id, int) else None
                bot = self.state.bots_by_id.get(user_id) if isinstance(user_id, int) else None
                if known is None and bot is None:
                    continue
                entity = {**entity, "user": known.api() if known else bot.api()}  # type: ignore[union-attr]
            resolved.append(entity)
        return resolved

    def _reply_to(self, chat: Chat, params: Params) -> Message | None:
        reply_parameters = params.json(
            "reply_parameters", "can't parse reply parameters JSON object"
        )
        allow_missing = params.bool("allow_sending_without_reply")
        message_id: int | None = None
        if reply_parameters is not None:
            if not isinstance(reply_parameters, dict):
                raise bad_request("object expected as reply parameters")
            try:
                message_id = int(reply_parameters.get("message_id") or 0)
            except (TypeError, ValueError):
                message_id = 0
            allow_missing = bool(reply_parameters.get("allow_sending_without_reply", allow_missing))
            other_chat = reply_parameters.get("chat_id")
            if other_chat not in (None, "", chat.user_id, str(chat.user_id)):
                raise bad_request("message to be replied not found")
        elif params.raw("reply_to_message_id") is not None:
            message_id = params.int("reply_to_message_id")
        if message_id is None:
            return None
        message = chat.get(message_id)
        if message is None and not allow_missing:
            raise bad_request("message to be replied not found")
        return message

    def _markup(self, params: Params) -> dict[str, Any] | None:
        return parse_reply_markup(params.raw("reply_markup"))

    def _tolerate(self, params: Params, *names: str) -> None:
        for name in names:
            params.json(name, f"can't parse {name.replace('_', ' ')} JSON object")

    def _post_bot_message(
        self,
        bot: Bot,
        chat: Chat,
        user: User,
        *,
        kind: str,
        body: dict[str, Any],
        markup: dict[str, Any] | None,
        raw_text: str | None,
        parse_mode: str | None,
        reply_to: Message | None,
    ) -> dict[str, Any]:
        self.limiter.check(bot.id, chat.user_id)
        message_id = chat.new_message_id()
        api: dict[str, Any] = {
            "message_id": message_id,
            "from": bot.api(),
            "chat": user.chat_api(),
            "date": now_ts(),
        }
        if reply_to is not None:
            api["reply_to_message"] = _without_reply(reply_to.api)
        api.update(body)
        if is_inline(markup):
            api["reply_markup"] = markup
        message = Message(
            message_id=message_id,
            date=api["date"],
            sender="bot",
            kind=kind,
            api=api,
            raw_text=raw_text,
            parse_mode=parse_mode,
            reply_markup=markup,
        )
        chat.add(message)
        event = self.state.emit(
            "message",
            bot_id=bot.id,
            chat_id=chat.user_id,
            by="bot",
            message=None,
        )
        message.seq = event["seq"]
        event["message"] = message_transcript(message, chat, self.state)
        if markup is not None and (is_reply_keyboard(markup) or markup.get("remove_keyboard")):
            event["keyboard"] = chat.keyboard
        return api

    def _input_file(
        self, params: Params, field: str, kind: str
    ) -> tuple[StoredFile, bool]:
        """The file a send method refers to; returns (file, is_new)."""
        upload = params.file(field)
        if upload is None:
            ref = params.str(field)
            if ref is None:
                raise bad_request(f"there is no {field} in the request")
            ref = ref.strip()
            if ref.startswith("attach://"):
                upload = params.file(ref[len("attach://") :])
                if upload is None:
                    raise bad_request(f"there is no {field} in the request")
            elif ref in self.state.files:
                stored = self.state.files[ref]
                if kind in ("photo", "voice") and stored.kind != kind:
                    raise bad_request("type of file mismatch")
                return stored, False
            elif ref.startswith(("http://", "https://")):
                # The sandbox has no internet access, like a Telegram that cannot fetch it.
                raise bad_request("failed to get HTTP URL content")
            else:
                raise bad_request("wrong file identifier/HTTP URL specified")
        return self._store_upload(upload, kind), True

    def _store_upload(self, upload: UploadedFile, kind: str) -> StoredFile:
        file_id, unique_id = self.state.new_file_ids(kind)
        number = file_id[7:13].lstrip("0") or "0"
        mime_type = upload.content_type
        if not mime_type or mime_type == "application/octet-stream":
            mime_type = mimetypes.guess_type(upload.filename or "")[0] or mime_type
        width = height = None
        if kind == "photo":
            size = image_size(upload.data)
            if size is None:
                raise bad_request("IMAGE_PROCESS_FAILED")
            width, height = size
            ext, folder = "jpg", "photos"
        elif kind == "voice":
            ext, folder = "oga", "voice"
        else:
            ext, folder = guess_extension(upload.filename, mime_type, "bin"), "documents"
        stored = StoredFile(
            file_id=file_id,
            file_unique_id=unique_id,
            kind=kind,
            file_path=f"{folder}/file_{number}.{ext}",
            size=len(upload.data),
            mime_type=mime_type,
            file_name=upload.filename,
            data=upload.data,
            width=width,
            height=height,
        )
        return self.state.add_file(stored)

    # ------------------------------------------------------------------ identity
    async def m_getMe(self, bot: Bot, params: Params) -> Any:
        return bot.me()

    async def m_logOut(self, bot: Bot, params: Params) -> Any:
        return True

    async def m_close(self, bot: Bot, params: Params) -> Any:
        return True

    # ------------------------------------------------------------------ updates
    def enqueue_update(self, bot: Bot, update_type: str, payload: dict[str, Any]) -> int | None:
        if not bot.accepts(update_type):
            return None
        update_id = bot.next_update_id
        bot.next_update_id += 1
        bot.updates.append({"update_id": update_id, update_type: payload})
        if len(bot.updates) > MAX_PENDING_UPDATES:
            del bot.updates[: len(bot.updates) - MAX_PENDING_UPDATES]
        bot.update_notifier.notify()
        self.state.changed()
        return update_id

    def _terminate_polls(self, bot: Bot, reason: str) -> None:
        bot.poll_generation += 1
        bot.poll_terminated_by = {bot.poll_generation - 1: reason}
        bot.update_notifier.notify()

    async def m_getUpdates(self, bot: Bot, params: Params) -> Any:
        if bot.webhook_url:
            raise conflict(
                "can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first"
            )
        offset = params.int("offset", 0) or 0
        limit = params.int("limit", 100) or 100
        limit = min(max(limit, 1), 100)
        timeout = min(max(params.float("timeout", 0.0) or 0.0, 0.0), self.settings.max_poll_timeout)
        allowed = params.json("allowed_updates", "can't parse allowed updates JSON object")
        if allowed is not None:
            if not isinstance(allowed, list):
                raise bad_request("field \"allowed_updates\" must be an Array")
            chosen = [a for a in allowed if isinstance(a, str) and a in ALL_UPDATE_TYPES]
            bot.allowed_updates = chosen or None

        self._terminate_polls(bot, GET_UPDATES_CONFLICT)
        generation = bot.poll_generation
        if offset > 0:
            before = len(bot.updates)
            bot.updates = [u for u in bot.updates if u["update_id"] >= offset]
            if len(bot.updates) != before:
                self.state.changed()
        elif offset < 0:
            bot.updates = bot.updates[offset:]
            self.state.changed()

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != bot.poll_generation:
                raise conflict(bot.poll_terminated_by.get(generation, GET_UPDATES_CONFLICT))
            if bot.webhook_url:
                raise conflict("terminated by setWebhook request")
            token = bot.update_notifier.token()
            if bot.updates:
                return bot.updates[:limit]
            if self.state.closing:
                return []
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            await Notifier.wait(token, remaining)

    async def m_setWebhook(self, bot: Bot, params: Params) -> Any:
        url = (params.str("url") or "").strip()
        if url and not re.match(r"^https?://[^\s/]+", url):
            raise bad_request("invalid webhook URL specified")
        secret = params.str("secret_token")
        if secret is not None:
            if len(secret) > 256:
                raise bad_request("secret token is too long")
            if not _SECRET.fullmatch(secret):
                raise bad_request("secret token contains unallowed characters")
        max_connections = params.int("max_connections", 40) or 40
        allowed = params.json("allowed_updates", "can't parse allowed updates JSON object")
        if allowed is not None and not isinstance(allowed, list):
            raise bad_request("field \"allowed_updates\" must be an Array")
        if params.bool("drop_pending_updates"):
            bot.updates.clear()
        if allowed is not None:
            chosen = [a for a in allowed if isinstance(a, str) and a in ALL_UPDATE_TYPES]
            bot.allowed_updates = chosen or None
        changed_url = url != bot.webhook_url
        bot.webhook_url = url
        bot.webhook_secret = secret if url else None
        bot.webhook_max_connections = min(max(max_connections, 1), 100)
        if changed_url:
            bot.last_error_date = None
            bot.last_error_message = None
        if url:
            self._terminate_polls(bot, "terminated by setWebhook request")
        self.state.changed()
        if self.webhooks is not None:
            self.webhooks.refresh(bot)
        return True

    async def m_deleteWebhook(self, bot: Bot, params: Params) -> Any:
        if params.bool("drop_pending_updates"):
            bot.updates.clear()
        if bot.webhook_url:
            bot.last_error_date = None
            bot.last_error_message = None
        bot.webhook_url = ""
        bot.webhook_secret = None
        self.state.changed()
        if self.webhooks is not None:
            self.webhooks.refresh(bot)
        return True

    async def m_getWebhookInfo(self, bot: Bot, params: Params) -> Any:
        info: dict[str, Any] = {
            "url": bot.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(bot.updates),
        }
        if bot.webhook_url:
            info["max_connections"] = bot.webhook_max_connections
            info["ip_address"] = "127.0.0.1"
            if bot.allowed_updates:
                info["allowed_updates"] = list(bot.allowed_updates)
        if bot.last_error_date is not None:
            info["last_error_date"] = bot.last_error_date
            info["last_error_message"] = bot.last_error_message
        return info

    # ------------------------------------------------------------------ messages
    async def m_sendMessage(self, bot: Bot, params: Params) -> Any:
        chat, user = self._chat(bot, params)
        text, parse_mode, entities, raw = self._format(
            params, "text", limit=MAX_TEXT, required=True
        )
        markup = self._markup(params)
        reply_to = self._reply_to(chat, params)
        self._tolerate(params, "link_preview_options")
        body: dict[str, Any] = {"text": text}
        if entities:
            body["entities"] = entities
        return self._post_bot_message(
            bot, chat, user, kind="text", body=body, markup=markup, raw_text=raw,
            parse_mode=parse_mode, reply_to=reply_to,
        )

    def _editable(self, bot: Bot, params: Params) -> tuple[Chat, User, Message]:
        if params.raw("inline_message_id") is not None and params.raw("chat_id") is None:
            raise bad_request("MESSAGE_ID_INVALID")
        chat, user = self._chat(bot, params)
        message_id = params.int("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        message = chat.get(message_id)
        if message is None:
            raise bad_request("message to edit not found")
        if message.sender != "bot":
            raise bad_request("message can't be edited")
        return chat, user, message

    def _apply_edit(
        self,
        bot: Bot,
        chat: Chat,
        message: Message,
        *,
        body: dict[str, Any],
        remove: tuple[str, ...],
        markup: dict[str, Any] | None,
        raw_text: str | None,
        parse_mode: str | None,
        raw_changed: bool,
    ) -> dict[str, Any]:
        if is_inline(markup):
            new_markup = markup
        elif is_inline(message.reply_markup):
            new_markup = None  # an edit without reply_markup removes the inline keyboard
        else:
            new_markup = message.reply_markup
        unchanged_content = all(message.api.get(k) == v for k, v in body.items()) and all(
            k not in message.api for k in remove
        )
        if unchanged_content and new_markup == message.reply_markup:
            raise bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        message.edits.append(
            {
                "text": message.text,
                "raw_text": message.raw_text,
                "parse_mode": message.parse_mode,
                "entities": message.api.get("entities", message.api.get("caption_entities", [])),
                "reply_markup": message.reply_markup,
                "date": message.api.get("edit_date", message.date),
            }
        )
        api = message.api
        for key in remove:
            api.pop(key, None)
        api.update(body)
        api["edit_date"] = max(now_ts(), message.date)
        if is_inline(new_markup):
            api["reply_markup"] = new_markup
        else:
            api.pop("reply_markup", None)
        message.reply_markup = new_markup
        if raw_changed:
            message.raw_text = raw_text
            message.parse_mode = parse_mode
        self.state.emit(
            "edit",
            bot_id=bot.id,
            chat_id=chat.user_id,
            by="bot",
            message=message_transcript(message, chat, self.state),
        )
        return api

    async def m_editMessageText(self, bot: Bot, params: Params) -> Any:
        chat, _user, message = self._editable(bot, params)
        text, parse_mode, entities, raw = self._format(
            params, "text", limit=MAX_TEXT, required=True
        )
        markup = self._markup(params)
        if markup is not None and not is_inline(markup):
            raise bad_request("inline keyboard expected")
        self._tolerate(params, "link_preview_options")
        if "text" not in message.api:
            raise bad_request("there is no text in the message to edit")
        body: dict[str, Any] = {"text": text}
        remove: tuple[str, ...] = ()
        if entities:
            body["entities"] = entities
        else:
            remove = ("entities",)
        return self._apply_edit(
            bot, chat, message, body=body, remove=remove, markup=markup, raw_text=raw,
            parse_mode=parse_mode, raw_changed=True,
        )

    async def m_editMessageCaption(self, bot: Bot, params: Params) -> Any:
        chat, _user, message = self._editable(bot, params)
        caption, parse_mode, entities, raw = self._format(
            params, "caption", entities_field="caption_entities", limit=MAX_CAPTION,
            required=False,
        )
        markup = self._markup(params)
        if markup is not None and not is_inline(markup):
            raise bad_request("inline keyboard expected")
        if "text" in message.api:
            raise bad_request("there is no caption in the message to edit")
        body: dict[str, Any] = {}
        remove: list[str] = []
        if caption:
            body["caption"] = caption
        else:
            remove.append("caption")
        if entities:
            body["caption_entities"] = entities
        else:
            remove.append("caption_entities")
        return self._apply_edit(
            bot, chat, message, body=body, remove=tuple(remove), markup=markup, raw_text=raw,
            parse_mode=parse_mode, raw_changed=True,
        )

    async def m_editMessageReplyMarkup(self, bot: Bot, params: Params) -> Any:
        chat, _user, message = self._editable(bot, params)
        markup = self._markup(params)
        if markup is not None and not is_inline(markup):
            raise bad_request("inline keyboard expected")
        return self._apply_edit(
            bot, chat, message, body={}, remove=(), markup=markup, raw_text=None,
            parse_mode=None, raw_changed=False,
        )

    async def m_deleteMessage(self, bot: Bot, params: Params) -> Any:
        chat, _user = self._chat(bot, params, sending=False)
        message = chat.get(params.int("message_id"))
        if message is None:
            raise bad_request("message to delete not found")
        self._delete(bot, chat, message)
        return True

    async def m_deleteMessages(self, bot: Bot, params: Params) -> Any:
        chat, _user = self._chat(bot, params, sending=False)
        ids = params.json("message_ids", "can't parse message identifiers JSON object")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise bad_request("message identifiers are not specified")
        for message_id in ids:
            message = chat.get(message_id if isinstance(message_id, int) else None)
            if message is not None:
                self._delete(bot, chat, message)
        return True

    def _delete(self, bot: Bot, chat: Chat, message: Message) -> None:
        message.deleted = True
        self.state.emit(
            "delete",
            bot_id=bot.id,
            chat_id=chat.user_id,
            by="bot",
            message=message_transcript(message, chat, self.state),
        )

    async def m_answerCallbackQuery(self, bot: Bot, params: Params) -> Any:
        query_id = params.str("callback_query_id")
        query = self.state.callbacks.get(query_id or "")
        expired = (
            query is None
            or query.bot_id != bot.id
            or query.answered
            or time.time() - query.created > self.settings.callback_query_ttl
        )
        if expired:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        assert query is not None
        text = params.str("text")
        answer = {
            "text": text,
            "show_alert": params.bool("show_alert"),
            "url": params.str("url"),
            "cache_time": params.int("cache_time", 0),
        }
        query.answered = True
        query.answer = answer
        query.answered_at = time.time()
        self.state.emit(
            "callback_answer",
            bot_id=bot.id,
            chat_id=query.chat_id,
            by="bot",
            callback=query.to_dict(),
            message_id=query.message_id,
        )
        return True

    # ------------------------------------------------------------------ media
    async def _send_media(
        self, bot: Bot, params: Params, field: str, kind: str
    ) -> dict[str, Any]:
        chat, user = self._chat(bot, params)
        caption, parse_mode, entities, raw = self._format(
            params, "caption", entities_field="caption_entities", limit=MAX_CAPTION,
            required=False,
        )
        markup = self._markup(params)
        reply_to = self._reply_to(chat, params)
        stored, _new = self._input_file(params, field, kind)
        body: dict[str, Any] = {}
        if kind == "photo":
            if stored.width is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
            body["photo"] = [
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "width": stored.width,
                    "height": stored.height,
                    "file_size": stored.size,
                }
            ]
        elif kind == "voice":
            duration = params.int("duration", stored.duration or 0) or 0
            stored.duration = duration
            body["voice"] = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "duration": duration,
                "mime_type": stored.mime_type or "audio/ogg",
                "file_size": stored.size,
            }
        else:
            document: dict[str, Any] = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": stored.size,
            }
            if stored.file_name:
                document["file_name"] = stored.file_name
            if stored.mime_type:
                document["mime_type"] = stored.mime_type
            body["document"] = document
        if caption:
            body["caption"] = caption
            if entities:
                body["caption_entities"] = entities
        return self._post_bot_message(
            bot, chat, user, kind=kind, body=body, markup=markup, raw_text=raw,
            parse_mode=parse_mode, reply_to=reply_to,
        )

    async def m_sendDocument(self, bot: Bot, params: Params) -> Any:
        return await self._send_media(bot, params, "document", "document")

    async def m_sendPhoto(self, bot: Bot, params: Params) -> Any:
        return await self._send_media(bot, params, "photo", "photo")

    async def m_sendVoice(self, bot: Bot, params: Params) -> Any:
        _chat, user = self._chat(bot, params)
        if user.voice_messages_forbidden:
            raise bad_request("VOICE_MESSAGES_FORBIDDEN")
        return await self._send_media(bot, params, "voice", "voice")

    async def m_sendLocation(self, bot: Bot, params: Params) -> Any:
        chat, user = self._chat(bot, params)
        latitude, longitude = _point(params)
        markup = self._markup(params)
        reply_to = self._reply_to(chat, params)
        location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
        accuracy = params.float("horizontal_accuracy")
        if accuracy:
            location["horizontal_accuracy"] = min(max(accuracy, 0.0), 1500.0)
        return self._post_bot_message(
            bot, chat, user, kind="location", body={"location": location}, markup=markup,
            raw_text=None, parse_mode=None, reply_to=reply_to,
        )

    async def m_sendVenue(self, bot: Bot, params: Params) -> Any:
        """A venue is a location with a title and an address, both plain text and required;
        the message carries it as `venue` and its point as `location` too, as Telegram's does."""
        chat, user = self._chat(bot, params)
        latitude, longitude = _point(params)
        title = (params.str("title") or "").strip()
        address = (params.str("address") or "").strip()
        if not title:
            raise bad_request("venue title is empty")
        if not address:
            raise bad_request("venue address is empty")
        markup = self._markup(params)
        reply_to = self._reply_to(chat, params)
        location = {"latitude": latitude, "longitude": longitude}
        venue: dict[str, Any] = {"location": location, "title": title, "address": address}
        for kind in ("foursquare", "google_place"):
            for optional in (f"{kind}_id", f"{kind}_type"):
                if params.str(optional):
                    venue[optional] = params.str(optional)
        return self._post_bot_message(
            bot, chat, user, kind="venue", body={"venue": venue, "location": location},
            markup=markup, raw_text=None, parse_mode=None, reply_to=reply_to,
        )

    async def m_sendContact(self, bot: Bot, params: Params) -> Any:
        chat, user = self._chat(bot, params)
        phone = params.str("phone_number")
        first_name = params.str("first_name")
        if not phone:
            raise bad_request("phone number is not specified")
        if not first_name:
            raise bad_request("first name is not specified")
        markup = self._markup(params)
        reply_to = self._reply_to(chat, params)
        contact = {"phone_number": phone, "first_name": first_name}
        if params.str("last_name"):
            contact["last_name"] = params.str("last_name") or ""
        return self._post_bot_message(
            bot, chat, user, kind="contact", body={"contact": contact}, markup=markup,
            raw_text=None, parse_mode=None, reply_to=reply_to,
        )

    async def m_sendChatAction(self, bot: Bot, params: Params) -> Any:
        chat, _user = self._chat(bot, params)
        action = (params.str("action") or "").strip().lower()
        if not action:
            raise bad_request("action is empty")
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self.state.emit("chat_action", bot_id=bot.id, chat_id=chat.user_id, by="bot", action=action)
        return True

    async def m_getFile(self, bot: Bot, params: Params) -> Any:
        file_id = (params.str("file_id") or "").strip()
        if not file_id:
            raise bad_request("file_id not specified")
        stored = self.state.files.get(file_id)
        if stored is None:
            raise bad_request("wrong file_id or the file is temporarily unavailable")
        if stored.size > MAX_DOWNLOAD_BYTES:
            raise bad_request("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }

    # ------------------------------------------------------------------ chats
    async def m_getChat(self, bot: Bot, params: Params) -> Any:
        _chat, user = self._chat(bot, params, sending=False)
        info = user.chat_api()
        info.update(
            {
                "accent_color_id": user.id % 7,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": True,
                    "limited_gifts": True,
                    "unique_gifts": True,
                    "premium_subscription": True,
                    "gifts_from_channels": True,
                },
            }
        )
        return info

    async def m_setChatMenuButton(self, bot: Bot, params: Params) -> Any:
        key = "default"
        if params.raw("chat_id") is not None:
            chat, _user = self._chat(bot, params, sending=False)
            key = str(chat.user_id)
        button = params.json("menu_button", "can't parse menu button JSON object")
        if button is None:
            bot.menu_buttons.pop(key, None)
        else:
            if not isinstance(button, dict):
                raise bad_request("object expected as menu button")
            kind = button.get("type")
            if kind not in ("commands", "web_app", "default"):
                raise bad_request("can't parse menu button: MenuButton must be of type commands, "
                                  "web_app or default")
            if kind == "web_app" and not (
                isinstance(button.get("text"), str)
                and isinstance(button.get("web_app"), dict)
                and isinstance(button["web_app"].get("url"), str)
            ):
                raise bad_request("can't parse menu button: web_app, text and url are required")
            bot.menu_buttons[key] = button
        self.state.changed()
        return True

    async def m_getChatMenuButton(self, bot: Bot, params: Params) -> Any:
        if params.raw("chat_id") is not None:
            chat, _user = self._chat(bot, params, sending=False)
            button = bot.menu_buttons.get(str(chat.user_id)) or bot.menu_buttons.get("default")
        else:
            button = bot.menu_buttons.get("default")
        return button or {"type": "commands"}

    # ------------------------------------------------------------------ commands
    def _scope_key(self, bot: Bot, params: Params) -> str:
        scope = params.json("scope", "can't parse BotCommandScope JSON object")
        if scope is None:
            return "default"
        if not isinstance(scope, dict):
            raise bad_request("can't parse BotCommandScope: Object expected")
        kind = scope.get("type")
        if kind not in COMMAND_SCOPES:
            raise bad_request("can't parse BotCommandScope: unsupported type specified")
        if kind in ("chat", "chat_administrators", "chat_member"):
            chat_id = scope.get("chat_id")
            try:
                chat_id = int(chat_id)
            except (TypeError, ValueError):
                raise bad_request("chat not found") from None
            if chat_id not in self.state.users:
                raise bad_request("chat not found")
            if kind == "chat_member":
                return f"chat_member:{chat_id}:{scope.get('user_id')}"
            return f"{kind}:{chat_id}"
        return str(kind)

    def _language(self, params: Params) -> str:
        language = (params.str("language_code") or "").strip()
        if language and not _LANGUAGE.fullmatch(language):
            raise bad_request("invalid language code specified")
        return language

    async def m_setMyCommands(self, bot: Bot, params: Params) -> Any:
        commands = params.json("commands", "can't parse commands JSON object")
        if commands is None:
            commands = []
        if not isinstance(commands, list):
            raise bad_request("field \"commands\" must be an Array")
        if len(commands) > 100:
            raise bad_request("too many commands specified")
        cleaned = []
        for item in commands:
            if not isinstance(item, dict):
                raise bad_request("can't parse BotCommand: Object expected")
            command = item.get("command")
            description = item.get("description")
            if not isinstance(command, str):
                raise bad_request(
                    "can't parse BotCommand: Field \"command\" must be of type String"
                )
            if not isinstance(description, str):
                raise bad_request(
                    "can't parse BotCommand: Field \"description\" must be of type String"
                )
            command = command.strip().removeprefix("/")
            if not _COMMAND.fullmatch(command):
                raise bad_request("BOT_COMMAND_INVALID")
            description = description.strip()
            if not 1 <= len(description) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": command, "description": description})
        key = f"{self._scope_key(bot, params)}|{self._language(params)}"
        if cleaned:
            bot.commands[key] = cleaned
        else:
            bot.commands.pop(key, None)
        self.state.changed()
        return True

    async def m_getMyCommands(self, bot: Bot, params: Params) -> Any:
        key = f"{self._scope_key(bot, params)}|{self._language(params)}"
        return bot.commands.get(key, [])

    async def m_deleteMyCommands(self, bot: Bot, params: Params) -> Any:
        key = f"{self._scope_key(bot, params)}|{self._language(params)}"
        bot.commands.pop(key, None)
        self.state.changed()
        return True

    def _set_text(self, bot: Bot, params: Params, field: str, limit: int) -> bool:
        value = params.str(field) or ""
        if len(value) > limit:
            raise bad_request(f"{field.replace('_', ' ')} is too long")
        key = f"{field}|{self._language(params)}"
        if value:
            bot.texts[key] = value
        else:
            bot.texts.pop(key, None)
        self.state.changed()
        return True

    def _get_text(self, bot: Bot, params: Params, field: str) -> dict[str, str]:
        language = self._language(params)
        value = bot.texts.get(f"{field}|{language}", bot.texts.get(f"{field}|", ""))
        if field == "name" and not value:
            value = bot.first_name
        return {field: value}

    async def m_setMyName(self, bot: Bot, params: Params) -> Any:
        return self._set_text(bot, params, "name", 64)

    async def m_getMyName(self, bot: Bot, params: Params) -> Any:
        return self._get_text(bot, params, "name")

    async def m_setMyDescription(self, bot: Bot, params: Params) -> Any:
        return self._set_text(bot, params, "description", 512)

    async def m_getMyDescription(self, bot: Bot, params: Params) -> Any:
        return self._get_text(bot, params, "description")

    async def m_setMyShortDescription(self, bot: Bot, params: Params) -> Any:
        return self._set_text(bot, params, "short_description", 120)

    async def m_getMyShortDescription(self, bot: Bot, params: Params) -> Any:
        return self._get_text(bot, params, "short_description")


def resolve_commands(bot: Bot, chat_id: int, language_code: str | None) -> list[dict[str, str]]:
    """The command menu a user of this language sees in their private chat (Telegram's order)."""
    language = (language_code or "").split("-")[0].lower()
    for scope in (f"chat:{chat_id}", "all_private_chats", "default"):
        for lang in ([language] if language else []) + [""]:
            commands = bot.commands.get(f"{scope}|{lang}")
            if commands:
                return commands
    return []


def _without_reply(api: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in api.items() if k != "reply_to_message"}


_ENTITY_TYPES = frozenset(
    {
        "mention",
        "hashtag",
        "cashtag",
        "bot_command",
        "url",
        "email",
        "phone_number",
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "blockquote",
        "expandable_blockquote",
        "code",
        "pre",
        "text_link",
        "text_mention",
        "custom_emoji",
        "date_time",
    }
)


def _valid_entity(entity: Any) -> bool:
    return (
        isinstance(entity, dict)
        and entity.get("type") in _ENTITY_TYPES
        and isinstance(entity.get("offset"), int)
        and isinstance(entity.get("length"), int)
        and entity["offset"] >= 0
        and entity["length"] > 0
    )


def _point(params: Params) -> tuple[float, float]:
    """The latitude and longitude of a location or venue, refused as Telegram refuses them."""
    latitude = params.float("latitude")
    longitude = params.float("longitude")
    if latitude is None:
        raise bad_request("latitude is empty")
    if longitude is None:
        raise bad_request("longitude is empty")
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise bad_request("wrong location specified")
    return latitude, longitude
