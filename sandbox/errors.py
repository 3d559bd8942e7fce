"""Bot API errors as Telegram reports them."""

from __future__ import annotations

from typing import Any

_PREFIXES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class ApiError(Exception):
    """An error answered as ``{"ok": false, "error_code": ..., "description": ...}``."""

    def __init__(self, code: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(message: str) -> ApiError:
    """``400 Bad Request: <message>`` (first letter lowered unless it is an UPPER_CODE)."""
    return ApiError(400, "Bad Request: " + _lower_first(message))


def forbidden(message: str) -> ApiError:
    return ApiError(403, "Forbidden: " + message)


def conflict(message: str) -> ApiError:
    return ApiError(409, "Conflict: " + message)


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(
        429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
    )


def http_error(code: int, description: str | None = None) -> ApiError:
    """An error with the default Telegram description for ``code``."""
    return ApiError(code, description or _PREFIXES.get(code, "Error"))


def _lower_first(message: str) -> str:
    if len(message) >= 2 and (message[1] == "_" or message[1].isupper()):
        return message
    return message[:1].lower() + message[1:]


class ControlError(Exception):
    """An error of the sandbox control API (not a Bot API error)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
