"""Coordinators' broadcasts: compose in three languages, choose an audience, send through
the outbox's low lane, steer (pause, resume, cancel), watch progress, keep a history."""

from core.broadcasts.audience import Audience, AudienceCount, Near, count, set_announcements
from core.broadcasts.compose import (
    Button,
    Draft,
    Message,
    cancel,
    count_audience,
    create,
    message_for,
    pause,
    preview,
    resume,
    send,
    split_text,
)
from core.broadcasts.delivery import (
    HistoryLine,
    Progress,
    expand_chunk,
    history,
    progress,
    say_coming,
    sending_rate,
    sweep,
)
from core.broadcasts.notices import BroadcastNotice, BroadcastReportNotice
from core.broadcasts.tables import Broadcast, BroadcastDelivery, BroadcastStatus

__all__ = [
    "Audience",
    "AudienceCount",
    "Broadcast",
    "BroadcastDelivery",
    "BroadcastNotice",
    "BroadcastReportNotice",
    "BroadcastStatus",
    "Button",
    "Draft",
    "HistoryLine",
    "Message",
    "Near",
    "Progress",
    "cancel",
    "count",
    "count_audience",
    "create",
    "expand_chunk",
    "history",
    "message_for",
    "pause",
    "preview",
    "progress",
    "resume",
    "say_coming",
    "send",
    "sending_rate",
    "set_announcements",
    "split_text",
    "sweep",
]
