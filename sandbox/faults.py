"""Fault injection for Bot API methods: latency, HTTP errors, dropped connections."""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import ApiError, ControlError

FAULT_KINDS = ("latency", "error", "drop")
_counter = itertools.count(1)


@dataclass
class Fault:
    """One injected fault.

    ``method``: Bot API method name (case-insensitive) or ``"*"`` for every method.
    ``kind``: ``latency`` (answer after ``latency`` seconds), ``error`` (answer ``status`` with
    ``description``), ``drop`` (close the connection without an answer).
    ``times``: how many calls it affects (None: until cleared).
    ``after``: for ``error``/``drop``: run the method first, then fail — the client sees a
    failure although Telegram did the work (e.g. the message was sent).
    ``latency`` is also honoured by ``error``/``drop`` faults (wait, then fail).
    """

    method: str
    kind: str = "error"
    status: int = 500
    description: str | None = None
    latency: float = 0.0
    times: int | None = 1
    after: bool = False
    retry_after: int | None = None
    id: int = field(default_factory=lambda: next(_counter))
    hits: int = 0

    def matches(self, method: str) -> bool:
        return self.method == "*" or self.method == method

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def api_error(self) -> ApiError:
        description = self.description or _DEFAULT_DESCRIPTIONS.get(self.status, "Error")
        return ApiError(self.status, description, retry_after=self.retry_after)


_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    403: "Forbidden",
    429: "Too Many Requests: retry after 1",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def fault_from_spec(spec: dict[str, Any]) -> Fault:
    if not isinstance(spec, dict):
        raise ControlError(400, "fault must be a JSON object")
    method = str(spec.get("method") or "*").strip().lower()
    kind = str(spec.get("kind") or "").strip().lower()
    if not kind:
        if spec.get("drop"):
            kind = "drop"
        elif "status" not in spec and spec.get("latency"):
            kind = "latency"
        else:
            kind = "error"
    if kind not in FAULT_KINDS:
        raise ControlError(400, f"fault kind must be one of {', '.join(FAULT_KINDS)}")
    try:
        status = int(spec.get("status", 500))
        latency = float(spec.get("latency") or 0.0)
        times_raw = spec.get("times", 1 if kind != "latency" else None)
        times = None if times_raw is None else int(times_raw)
        retry_after = spec.get("retry_after")
        retry_after = None if retry_after is None else int(retry_after)
    except (TypeError, ValueError):
        raise ControlError(400, "status, latency, times and retry_after must be numbers") from None
    if not 400 <= status <= 599:
        raise ControlError(400, "status must be an HTTP error status (400-599)")
    if latency < 0 or latency > 600:
        raise ControlError(400, "latency must be between 0 and 600 seconds")
    if times is not None and times < 1:
        raise ControlError(400, "times must be at least 1 (or null for until cleared)")
    if status == 429 and retry_after is None:
        retry_after = 1
    return Fault(
        method=method,
        kind=kind,
        status=status,
        description=spec.get("description"),
        latency=latency,
        times=times,
        after=bool(spec.get("after", False)),
        retry_after=retry_after,
    )


class FaultInjector:
    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        self._faults.append(fault)
        return fault

    def clear(self, method: str | None = None) -> int:
        before = len(self._faults)
        if method is None or method == "":
            self._faults.clear()
        else:
            method = method.lower()
            self._faults = [f for f in self._faults if f.method != method]
        return before - len(self._faults)

    def list(self) -> list[dict[str, Any]]:
        return [f.to_dict() for f in self._faults]

    def take(self, method: str) -> list[Fault]:
        """Faults that apply to this call (their remaining count is decremented)."""
        if not self._faults:
            return []
        taken = []
        for fault in self._faults:
            if fault.matches(method):
                fault.hits += 1
                taken.append(fault)
                if fault.times is not None:
                    fault.times -= 1
        self._faults = [f for f in self._faults if f.times is None or f.times > 0]
        return taken
