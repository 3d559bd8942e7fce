"""The notices broadcasts put in the outbox: kind strings and their payloads."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from core.notices import Kind


@dataclass(frozen=True)
class BroadcastNotice:
    """The announcement itself, in `language` (low lane): see `compose.message_for`."""

    KIND: ClassVar[str] = Kind.BROADCAST
    broadcast_id: int
    language: str

    def payload(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BroadcastReportNotice:
    """To the author when the broadcast is done: see `delivery.progress` for the figures."""

    KIND: ClassVar[str] = Kind.BROADCAST_REPORT
    broadcast_id: int

    def payload(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BroadcastProgressNotice:
    """To the author when sending starts: the progress message, edited in place as it goes."""

    KIND: ClassVar[str] = Kind.BROADCAST_PROGRESS
    broadcast_id: int

    def payload(self) -> dict[str, Any]:
        return asdict(self)

    def key(self) -> str:
        return f"broadcast_progress:{self.broadcast_id}"
