"""Composing a broadcast and steering it: texts, buttons, audience, send now or later,
pause, resume, cancel.

Each service takes plain values and the caller's session; it flushes, never commits.
Creating is idempotent by the draft's key; state changes are conditional UPDATEs, so a
double tap changes things once.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import outbox
from core.broadcasts.audience import Audience, AudienceCount, count
from core.broadcasts.notices import BroadcastProgressNotice
from core.broadcasts.tables import Broadcast, BroadcastDelivery, BroadcastStatus
from core.coordinators import coordinator_of
from core.db import utcnow
from core.errors import N_, DomainError, InvalidInput, NotFound
from core.languages import LANGUAGES
from core.logs import log_event
from core.market.tables import MarketEvent
from core.models import Branch, Member, OutboxMessage, OutboxStatus

log = logging.getLogger("timebank.broadcasts")

# Telegram takes 4,096 characters a message and 1,024 in a photo's caption; a longer
# text goes out in parts (`split_text`), so a text may be a few messages long.
MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
MAX_TEXT = 3 * MESSAGE_LIMIT
MAX_BUTTONS = 3
MAX_LABEL = 40
CANCELLED = "cancelled"  # the error of an outbox message a cancel skipped


class TextTooLong(InvalidInput):
    key = N_("Please keep the announcement under {maximum} characters.")


class NoText(InvalidInput):
    key = N_("Please write the announcement in at least one language.")


class ButtonInvalid(InvalidInput):
    key = N_("Please send a link that starts with https://, or choose a button below.")


class SendTimeInPast(InvalidInput):
    key = N_("That time has already passed. Please choose a later one.")


class OptedOut(NotFound):
    """The member turned announcements off after the broadcast was expanded: not sent."""


class WrongState(DomainError):
    key = N_("This announcement has moved on; nothing was changed.")


@dataclass(frozen=True)
class Button:
    """A link (`url`, with a label per language), "I'll come" to an event, or open an event."""

    kind: str
    url: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    event_id: int | None = None

    URL = "url"
    COME = "come"
    EVENT = "event"

    @classmethod
    def link(cls, url: str, labels: dict[str, str]) -> Button:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("https", "http") or not parts.hostname or len(url) > 512:
            raise ButtonInvalid()
        cleaned = {k: " ".join(v.split())[:MAX_LABEL] for k, v in labels.items() if v.strip()}
        if not cleaned or any(language not in LANGUAGES for language in cleaned):
            raise ButtonInvalid()
        return cls(cls.URL, url=url.strip(), labels=cleaned)

    @classmethod
    def coming(cls, event_id: int) -> Button:
        return cls(cls.COME, event_id=event_id)

    @classmethod
    def open_event(cls, event_id: int) -> Button:
        return cls(cls.EVENT, event_id=event_id)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Button:
        return cls(
            kind=data["kind"],
            url=data.get("url"),
            labels=dict(data.get("labels") or {}),
            event_id=data.get("event_id"),
        )


@dataclass(frozen=True)
class Draft:
    """A finished composition, as plain values (the conversation's draft)."""

    texts: dict[str, str]
    audience: Audience
    fallback_language: str | None = None
    photo_file_id: str | None = None
    buttons: tuple[Button, ...] = ()


@dataclass(frozen=True)
class Message:
    """What a reader of one language gets: the text (in parts), a photo, the buttons."""

    language: str
    parts: tuple[str, ...]
    photo_file_id: str | None
    buttons: tuple[Button, ...]


def clean_texts(texts: dict[str, str]) -> dict[str, str]:
    """Texts per language, trimmed; an empty language is left out. Refuses no text at all."""
    cleaned: dict[str, str] = {}
    for language, text in texts.items():
        if language not in LANGUAGES:
            raise InvalidInput()
        text = (text or "").strip()
        if len(text) > MAX_TEXT:
            raise TextTooLong(maximum=MAX_TEXT)
        if text:
            cleaned[language] = text
    if not cleaned:
        raise NoText()
    return cleaned


def split_text(text: str, first_limit: int = MESSAGE_LIMIT) -> list[str]:
    """The text in parts Telegram takes: cut at a paragraph, else a line, else a space.

    `first_limit` is the first part's room (a photo's caption holds 1,024 characters).
    Cut before escaping: the adapter escapes each part, which may lengthen it, so the
    limits keep a margin of a tenth.
    """
    parts: list[str] = []
    limit = first_limit
    rest = text.strip()
    while rest:
        room = limit * 9 // 10
        if len(rest) <= room:
            parts.append(rest)
            break
        cut = max(rest.rfind("\n\n", 0, room), -1)
        for separator in ("\n", " "):
            if cut <= 0:
                cut = rest.rfind(separator, 0, room)
        if cut <= 0:
            cut = room
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].strip()
        limit = MESSAGE_LIMIT
    return parts


async def _check_draft(session: AsyncSession, coordinator_id: int, draft: Draft) -> Draft:
    for branch_id in draft.audience.branch_ids:
        await coordinator_of(session, coordinator_id, branch_id)
    texts = clean_texts(draft.texts)
    fallback = draft.fallback_language
    if fallback is not None and fallback not in texts:
        raise NoText()
    if len(draft.buttons) > MAX_BUTTONS:
        raise ButtonInvalid()
    for button in draft.buttons:
        if button.kind in (Button.COME, Button.EVENT):
            event = await session.get(MarketEvent, button.event_id or 0)
            if event is None or event.branch_id not in draft.audience.branch_ids:
                raise NotFound()
        elif button.kind != Button.URL:
            raise ButtonInvalid()
    photo = (draft.photo_file_id or "").strip() or None
    if photo is not None and len(photo) > 256:
        raise InvalidInput()
    return Draft(texts, draft.audience, fallback, photo, tuple(draft.buttons))


async def count_audience(session: AsyncSession, coordinator_id: int, draft: Draft) -> AudienceCount:
    """How many the draft would reach, per language, before it is sent."""
    draft = await _check_draft(session, coordinator_id, draft)
    return await count(session, draft.audience, draft.texts, draft.fallback_language)


async def create(session: AsyncSession, coordinator_id: int, draft: Draft, *, key: str) -> int:
    """Save the draft as a broadcast (not yet sent); the same key again returns the same one."""
    found = await session.scalar(select(Broadcast).where(Broadcast.key == key))
    if found is not None:
        if found.author_id != coordinator_id:
            raise NotFound()
        return found.id
    draft = await _check_draft(session, coordinator_id, draft)
    broadcast = Broadcast(
        branch_id=draft.audience.branch_ids[0],
        author_id=coordinator_id,
        texts=draft.texts,
        fallback_language=draft.fallback_language,
        photo_file_id=draft.photo_file_id,
        buttons=[button.to_dict() for button in draft.buttons],
        audience=draft.audience.to_dict(),
        key=key,
    )
    session.add(broadcast)
    await session.flush()
    return broadcast.id


async def _steerable(session: AsyncSession, broadcast_id: int, coordinator_id: int) -> Broadcast:
    broadcast = await session.get(Broadcast, broadcast_id, populate_existing=True)
    if broadcast is None:
        raise NotFound()
    await coordinator_of(session, coordinator_id, broadcast.branch_id)
    return broadcast


async def _move(
    session: AsyncSession, broadcast_id: int, from_: tuple[str, ...], to: str, **values: Any
) -> bool:
    moved = await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast_id, Broadcast.status.in_(from_))
        .values(status=to, **values)
        .execution_options(synchronize_session=False)
    )
    return moved.rowcount == 1


async def send(
    session: AsyncSession,
    broadcast_id: int,
    coordinator_id: int,
    *,
    at: datetime | None = None,
    now: datetime | None = None,
) -> str:
    """Send now (`at` None) or at `at`, a wall-clock time in the branch's time zone (naive).

    Returns the new status; a second tap finds it moved on and changes nothing. Sending
    itself is the sweep's (`delivery.sweep`), so a scheduled broadcast survives restarts.
    """
    now = now or utcnow()
    broadcast = await _steerable(session, broadcast_id, coordinator_id)
    if at is None:
        send_at = now
        status = BroadcastStatus.SENDING
    else:
        branch = await session.get(Branch, broadcast.branch_id)
        assert branch is not None
        send_at = at.replace(tzinfo=ZoneInfo(branch.time_zone)).astimezone(now.tzinfo)
        if send_at <= now:
            raise SendTimeInPast()
        status = BroadcastStatus.SCHEDULED
    started = {"started_at": now} if status == BroadcastStatus.SENDING else {}
    if not await _move(
        session, broadcast_id, (BroadcastStatus.DRAFT,), status, send_at=send_at, **started
    ):
        raise WrongState()
    if status == BroadcastStatus.SENDING:
        await show_progress(session, broadcast_id, broadcast.author_id)
    log_event(log, "broadcast " + status, broadcast_id=broadcast_id, by=coordinator_id)
    return status


async def show_progress(session: AsyncSession, broadcast_id: int, author_id: int) -> None:
    """The author's progress message, sent once when sending starts (the bot edits it in
    place as the broadcast goes)."""
    notice = BroadcastProgressNotice(broadcast_id)
    await outbox.enqueue(
        session,
        key=notice.key(),
        member_id=author_id,
        kind=notice.KIND,
        payload=notice.payload(),
    )


def _fed(broadcast_id: int):
    return select(BroadcastDelivery.outbox_id).where(BroadcastDelivery.broadcast_id == broadcast_id)


async def _set_messages(
    session: AsyncSession, broadcast_id: int, from_: tuple[str, ...], **values: Any
) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(_fed(broadcast_id)), OutboxMessage.status.in_(from_))
        .values(**values)
        .execution_options(synchronize_session=False)
    )


async def pause(session: AsyncSession, broadcast_id: int, coordinator_id: int) -> None:
    """Stop sending: messages not yet claimed wait (held) until resumed. Those already on
    their way (a second at most) still go."""
    await _steerable(session, broadcast_id, coordinator_id)
    if not await _move(session, broadcast_id, (BroadcastStatus.SENDING,), BroadcastStatus.PAUSED):
        raise WrongState()
    await _set_messages(session, broadcast_id, (OutboxStatus.PENDING,), status=OutboxStatus.HELD)
    log_event(log, "broadcast paused", broadcast_id=broadcast_id, by=coordinator_id)


async def resume(session: AsyncSession, broadcast_id: int, coordinator_id: int) -> None:
    await _steerable(session, broadcast_id, coordinator_id)
    if not await _move(session, broadcast_id, (BroadcastStatus.PAUSED,), BroadcastStatus.SENDING):
        raise WrongState()
    await _set_messages(session, broadcast_id, (OutboxStatus.HELD,), status=OutboxStatus.PENDING)
    log_event(log, "broadcast resumed", broadcast_id=broadcast_id, by=coordinator_id)


async def cancel(
    session: AsyncSession, broadcast_id: int, coordinator_id: int, now: datetime | None = None
) -> None:
    """Nothing more goes out; what was sent stays sent."""
    await _steerable(session, broadcast_id, coordinator_id)
    open_ = (
        BroadcastStatus.DRAFT,
        BroadcastStatus.SCHEDULED,
        BroadcastStatus.SENDING,
        BroadcastStatus.PAUSED,
    )
    if not await _move(
        session, broadcast_id, open_, BroadcastStatus.CANCELLED, finished_at=now or utcnow()
    ):
        raise WrongState()
    await _set_messages(
        session,
        broadcast_id,
        (OutboxStatus.PENDING, OutboxStatus.HELD),
        status=OutboxStatus.SKIPPED,
        error=CANCELLED,
    )
    log_event(log, "broadcast cancelled", broadcast_id=broadcast_id, by=coordinator_id)


def message_of(broadcast: Broadcast, language: str) -> Message:
    text = broadcast.texts.get(language, "")
    first = CAPTION_LIMIT if broadcast.photo_file_id else MESSAGE_LIMIT
    return Message(
        language=language,
        parts=tuple(split_text(text, first)),
        photo_file_id=broadcast.photo_file_id,
        buttons=tuple(Button.from_dict(b) for b in broadcast.buttons),
    )


async def message_for(
    session: AsyncSession, broadcast_id: int, language: str, member_id: int | None = None
) -> Message:
    """What the sender renders for a `broadcast` notice (its payload names the language).

    With `member_id`, a member who turned announcements off since the broadcast was
    expanded gets nothing (OptedOut): the sender skips the message.
    """
    broadcast = await session.get(Broadcast, broadcast_id)
    if broadcast is None or not broadcast.texts.get(language):
        raise NotFound()
    if member_id is not None:
        member = await session.get(Member, member_id)
        if member is None or not member.announcements or member.erased_at is not None:
            raise OptedOut()
    return message_of(broadcast, language)


async def preview(session: AsyncSession, broadcast_id: int, coordinator_id: int) -> list[Message]:
    """Each language exactly as its readers will get it."""
    broadcast = await _steerable(session, broadcast_id, coordinator_id)
    return [
        message_of(broadcast, language) for language in LANGUAGES if language in broadcast.texts
    ]
