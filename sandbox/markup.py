"""Validation and normalisation of ``reply_markup`` as the Bot API does it."""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import ApiError, bad_request

MAX_CALLBACK_DATA_BYTES = 64


class _FieldError(Exception):
    pass


def _get(obj: dict[str, Any], name: str, kind: str, *, required: bool = False) -> Any:
    if name not in obj or obj[name] is None:
        if required:
            raise _FieldError(f'Can\'t find field "{name}"')
        return None
    value = obj[name]
    if kind == "String":
        if isinstance(value, bool):
            raise _FieldError(f'Field "{name}" must be of type String')
        if isinstance(value, str):
            return value
        if isinstance(value, int | float):
            return json.dumps(value)
        raise _FieldError(f'Field "{name}" must be of type String')
    if kind == "Boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1")
        raise _FieldError(f'Field "{name}" must be of type Boolean')
    if kind == "Object":
        if not isinstance(value, dict):
            raise _FieldError(f'Field "{name}" must be of type Object')
        return value
    if kind == "Array":
        if not isinstance(value, list):
            raise _FieldError(f'Field "{name}" must be of type Array')
        return value
    raise AssertionError(kind)


def _decode(raw: Any, error: str) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            raise bad_request(error) from None
    return raw


def parse_reply_markup(raw: Any) -> dict[str, Any] | None:
    """Return the normalised markup, None when there is none, or raise 400 like Telegram."""
    if raw is None or raw == "":
        return None
    value = _decode(raw, "can't parse reply keyboard markup JSON object")
    if not isinstance(value, dict):
        raise bad_request("object expected as reply markup")
    try:
        return _parse_markup_object(value)
    except _FieldError as exc:
        raise bad_request(str(exc)) from None


_KEYBOARD_OPTIONS = ("is_persistent", "resize_keyboard", "one_time_keyboard", "selective")
_INLINE_KINDS = (
    "url",
    "callback_data",
    "callback_game",
    "pay",
    "switch_inline_query",
    "switch_inline_query_chosen_chat",
    "switch_inline_query_current_chat",
    "login_url",
    "web_app",
    "copy_text",
)
_URL = re.compile(r"^(?:(?:https?|tg)://|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?:[/?#]|$))\S*$")


def _parse_markup_object(obj: dict[str, Any]) -> dict[str, Any] | None:
    rows: list[list[dict[str, Any]]] = []
    keyboard = _get(obj, "keyboard", "Array")
    if keyboard is not None:
        for row in keyboard:
            if not isinstance(row, list):
                raise _FieldError('Field "keyboard" must be an Array of Arrays')
            new_row = []
            for button in row:
                try:
                    new_row.append(_keyboard_button(button))
                except _FieldError as exc:
                    raise _FieldError(f"Can't parse keyboard button: {exc}") from None
            rows.append(new_row)

    inline_rows: list[list[dict[str, Any]]] = []
    inline_keyboard = _get(obj, "inline_keyboard", "Array")
    if inline_keyboard is not None:
        for row in inline_keyboard:
            if not isinstance(row, list):
                raise _FieldError(
                    'Field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
                )
            new_row = []
            for button in row:
                try:
                    new_row.append(_inline_button(button))
                except _FieldError as exc:
                    raise _FieldError(f"Can't parse inline keyboard button: {exc}") from None
            inline_rows.append(new_row)

    remove = bool(_get(obj, "remove_keyboard", "Boolean") or _get(obj, "hide_keyboard", "Boolean"))
    force_reply = bool(_get(obj, "force_reply", "Boolean"))
    selective = bool(_get(obj, "selective", "Boolean"))
    placeholder = _get(obj, "input_field_placeholder", "String")
    if placeholder is not None and len(placeholder) > 64:
        placeholder = placeholder[:64]

    if any(rows):
        result: dict[str, Any] = {"keyboard": [r for r in rows if r]}
        for option in _KEYBOARD_OPTIONS:
            if _get(obj, option, "Boolean"):
                result[option] = True
        if placeholder:
            result["input_field_placeholder"] = placeholder
        return result
    if any(inline_rows):
        _check_inline_limits(inline_rows)
        return {"inline_keyboard": [r for r in inline_rows if r]}
    if remove:
        result = {"remove_keyboard": True}
        if selective:
            result["selective"] = True
        return result
    if force_reply:
        result = {"force_reply": True}
        if selective:
            result["selective"] = True
        if placeholder:
            result["input_field_placeholder"] = placeholder
        return result
    return None


def _keyboard_button(button: Any) -> dict[str, Any]:
    if isinstance(button, str):
        return {"text": button}
    if not isinstance(button, dict):
        raise _FieldError("KeyboardButton must be a String or an Object")
    text = _get(button, "text", "String", required=True)
    result: dict[str, Any] = {"text": text}
    contact = _get(button, "request_contact", "Boolean")
    if contact or _get(button, "request_phone_number", "Boolean"):
        result["request_contact"] = True
    elif _get(button, "request_location", "Boolean"):
        result["request_location"] = True
    else:
        for kind in ("request_poll", "web_app", "request_users", "request_user", "request_chat"):
            value = _get(button, kind, "Object")
            if value is not None:
                if kind == "web_app":
                    _get(value, "url", "String", required=True)
                result[kind] = value
                break
    return result


def _inline_button(button: Any) -> dict[str, Any]:
    if not isinstance(button, dict):
        raise _FieldError("InlineKeyboardButton must be an Object")
    text = _get(button, "text", "String", required=True)
    result: dict[str, Any] = {"text": text}
    url = _get(button, "url", "String")
    if url:
        result["url"] = url
        return result
    callback_data = _get(button, "callback_data", "String")
    if callback_data:
        result["callback_data"] = callback_data
        return result
    for kind in _INLINE_KINDS[2:]:
        if kind in button and button[kind] is not None:
            value = button[kind]
            if kind in ("switch_inline_query", "switch_inline_query_current_chat"):
                value = _get(button, kind, "String", required=True)
            elif kind in ("switch_inline_query_chosen_chat", "login_url", "web_app", "copy_text"):
                value = _get(button, kind, "Object", required=True)
                if kind in ("login_url", "web_app"):
                    _get(value, "url", "String", required=True)
                if kind == "copy_text":
                    _get(value, "text", "String", required=True)
            result[kind] = value
            return result
    raise _FieldError("Text buttons are unallowed in the inline keyboard")


def _check_inline_limits(rows: list[list[dict[str, Any]]]) -> None:
    for row in rows:
        for button in row:
            data = button.get("callback_data")
            if data is not None and len(data.encode("utf-8")) > MAX_CALLBACK_DATA_BYTES:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            url = button.get("url")
            if url is not None and not _URL.match(url):
                raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")


def is_inline(markup: dict[str, Any] | None) -> bool:
    return bool(markup) and "inline_keyboard" in markup  # type: ignore[operator]


def is_reply_keyboard(markup: dict[str, Any] | None) -> bool:
    return bool(markup) and "keyboard" in markup  # type: ignore[operator]


def button_labels(markup: dict[str, Any] | None) -> list[str]:
    if not markup:
        return []
    rows = markup.get("keyboard") or markup.get("inline_keyboard") or []
    return [button["text"] for row in rows for button in row]
