"""Request parameters as the Bot API reads them.

Telegram accepts the query string, ``application/json``, form-encoded and multipart bodies.
Inside the server every parameter is a string: a nested JSON value sent in a JSON body is
kept as its JSON text, just as when it arrives JSON-encoded in a form field. ``Params``
offers typed accessors that fail the way Telegram does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, MultipartReader, web
from multidict import CIMultiDictProxy, MultiDictProxy

from .errors import ApiError, bad_request

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


@dataclass
class UploadedFile:
    """A file part of a multipart request."""

    filename: str
    content_type: str
    data: bytes


class Params:
    """Parameters of one Bot API call (strings, or ``UploadedFile`` for file parts)."""

    def __init__(self, values: Mapping[str, str | UploadedFile] | None = None) -> None:
        self._values: dict[str, str | UploadedFile] = dict(values or {})

    def __contains__(self, name: str) -> bool:
        return self.raw(name) is not None

    def __repr__(self) -> str:
        return f"Params({self._values!r})"

    def names(self) -> list[str]:
        return list(self._values)

    def raw(self, name: str) -> str | UploadedFile | None:
        """The value, or None when absent or empty (Telegram treats both alike)."""
        value = self._values.get(name)
        if value is None or value == "":
            return None
        return value

    def str(self, name: str, default: str | None = None) -> str | None:
        value = self.raw(name)
        if value is None:
            return default
        if isinstance(value, UploadedFile):
            return value.data.decode("utf-8", "replace")
        return value

    def int(self, name: str, default: int | None = None) -> int | None:
        """An integer; a malformed one reads as 0, as in the Bot API server."""
        value = self.str(name)
        if value is None:
            return default
        try:
            return int(value.strip())
        except ValueError:
            try:
                number = float(value)
            except ValueError:
                return 0
            return int(number) if number == number and abs(number) != float("inf") else 0

    def float(self, name: str, default: float | None = None) -> float | None:
        value = self.str(name)
        if value is None:
            return default
        try:
            number = float(value.strip())
        except ValueError:
            return 0.0
        return number if number == number and abs(number) != float("inf") else 0.0

    def bool(self, name: str, default: bool = False) -> bool:
        value = self.str(name)
        if value is None:
            return default
        return value.strip().lower() in ("true", "1")

    def json(self, name: str, error: str) -> Any:
        """A JSON-encoded parameter; ``error`` is the Bad Request text when it does not parse."""
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, UploadedFile):
            raise bad_request(error)
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            raise bad_request(error) from None

    def file(self, name: str) -> UploadedFile | None:
        value = self._values.get(name)
        return value if isinstance(value, UploadedFile) else None


def params_from_json_object(obj: Mapping[str, Any]) -> Params:
    values: dict[str, str | UploadedFile] = {}
    for key, value in obj.items():
        values[str(key)] = _to_param_string(value)
    return Params(values)


def _to_param_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def parse_json_body(body: bytes) -> dict[str, str | UploadedFile]:
    """Parse an ``application/json`` body the way the Bot API server does."""
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return {}
    if text.startswith('"'):
        try:
            return {"content": json.loads(text)}
        except ValueError as exc:
            raise bad_request(f"can't parse string content: {_json_reason(exc)}") from None
    if not text.startswith("{"):
        raise ApiError(400, "Bad Request: JSON object expected")
    try:
        obj = json.loads(text)
    except RecursionError:
        raise ApiError(400, "Bad Request: can't parse parameter value: too deep") from None
    except ValueError as exc:
        raise ApiError(
            400, f"Bad Request: can't parse JSON object: {_json_reason(exc)}"
        ) from None
    if not isinstance(obj, dict):
        raise ApiError(400, "Bad Request: JSON object expected")
    return {str(k): _to_param_string(v) for k, v in obj.items()}


def _json_reason(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at character {exc.pos}"
    return str(exc)


async def read_request_params(request: web.Request) -> Params:
    """Merge query-string parameters with those of the body; never raises except ApiError."""
    values: dict[str, str | UploadedFile] = dict(request.query)
    content_type = request.content_type.lower()
    try:
        if content_type == "application/json":
            values.update(parse_json_body(await request.read()))
        elif content_type == "application/x-www-form-urlencoded":
            form = await request.post()
            values.update(_form_values(form))
        elif content_type.startswith("multipart/"):
            values.update(await read_multipart(await request.multipart()))
        elif request.can_read_body and content_type not in ("", "application/octet-stream"):
            await request.read()  # drain and ignore, as Telegram ignores unknown bodies
    except ApiError:
        raise
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, "Request Entity Too Large") from None
    except (ValueError, AssertionError, RuntimeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"Bad Request: can't parse request body: {exc}") from None
    return Params(values)


def _form_values(form: MultiDictProxy[Any]) -> dict[str, str | UploadedFile]:
    values: dict[str, str | UploadedFile] = {}
    for key, value in form.items():
        if isinstance(value, str):
            values[key] = value
        elif hasattr(value, "file"):
            values[key] = UploadedFile(
                filename=value.filename or key,
                content_type=value.content_type or "application/octet-stream",
                data=value.file.read(),
            )
    return values


async def read_multipart(reader: MultipartReader) -> dict[str, str | UploadedFile]:
    values: dict[str, str | UploadedFile] = {}
    total = 0
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, BodyPartReader):
            continue  # nested multipart is not part of the Bot API
        name = part.name
        data = await part.read(decode=True)
        total += len(data)
        if total > MAX_UPLOAD_BYTES:
            raise ApiError(413, "Request Entity Too Large")
        if not name:
            continue
        if part.filename is not None:
            values[name] = UploadedFile(
                filename=part.filename or name,
                content_type=part.headers.get("Content-Type", "application/octet-stream"),
                data=bytes(data),
            )
        else:
            charset = part.get_charset(default="utf-8")
            values[name] = bytes(data).decode(charset, "replace")
    return values


async def read_response_params(
    headers: CIMultiDictProxy[str], content: Any, body: bytes | None
) -> Params | None:
    """Parameters of a webhook reply (a method call in the HTTP answer), if any."""
    content_type = headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type == "application/json" and body is not None:
        return Params(parse_json_body(body))
    if content_type == "application/x-www-form-urlencoded" and body is not None:
        from urllib.parse import parse_qsl

        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        return Params(dict(pairs))
    if content_type.startswith("multipart/") and content is not None:
        return Params(await read_multipart(MultipartReader(headers, content)))
    return None
