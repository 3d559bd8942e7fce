"""Structured logging: one JSON event per line, with the update and member in context.

Phone numbers never reach a log line in clear: long digit runs are masked.
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


def redact(text: str) -> str:
    return _PHONE.sub(lambda m: "…" + re.sub(r"\D", "", m.group())[-2:], text)


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
            event[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            event["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(event, ensure_ascii=False, default=str)


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiosqlite", "asyncio", "sqlalchemy.engine", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    logger.log(level, event, extra={"fields": fields})
