"""Structured logging: one JSON event per line, with the update and member in context.

Phone numbers, bot tokens and the values of SQL statements never reach a log line in clear:
long digit runs are masked to their last two digits, a token to its bot id, and the
`[parameters: …]` that SQLAlchemy's errors carry (where a member's address or phone would
be) are dropped. Addresses have no shape to mask: they are never logged at all, which the
log audit test (tests/bot/test_log_audit.py) checks.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from typing import Any

update_id_var: ContextVar[int | None] = ContextVar("update_id", default=None)
member_id_var: ContextVar[int | None] = ContextVar("member_id", default=None)

_PHONE = re.compile(r"\+?\d[\d\s-]{6,}\d")
_TOKEN = re.compile(r"(?<!\d)(\d{3,}):[\w-]{10,}")
_SQL_PARAMETERS = re.compile(r"\[parameters: .*?\]$", re.MULTILINE)


def redact(text: str) -> str:
    text = _SQL_PARAMETERS.sub("[parameters hidden]", text)
    text = _TOKEN.sub(r"\1:…", text)
    return _PHONE.sub(lambda m: "…" + re.sub(r"\D", "", m.group())[-2:], text)


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_redacted(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": redact(record.getMessage()),
        }
        update_id, member_id = update_id_var.get(), member_id_var.get()
        if update_id is not None:
            event["update_id"] = update_id
        if member_id is not None:
            event["member_id"] = member_id
        for key, value in getattr(record, "fields", {}).items():
            event[key] = _redacted(value)
        if record.exc_info:
            event["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(event, ensure_ascii=False, default=str)


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiosqlite", "asyncio", "sqlalchemy.engine", "aiohttp.access", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    logger.log(level, event, extra={"fields": fields})
