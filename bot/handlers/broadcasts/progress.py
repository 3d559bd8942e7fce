"""The coordinator's progress message, kept up to date: the broadcast job edits it in place
(at most once a run, every few seconds, and only when its words changed) until the
broadcast is done or stopped.

The message itself went out through the outbox (`Kind.BROADCAST_PROGRESS`), whose row
keeps its chat and message id; the edits go beside the outbox, each in a slot of the
sender's pace, so they never push the bot over Telegram's limit.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.utils.i18n import I18n
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.handlers.broadcasts import views
from bot.sender import Sender
from core import outbox
from core.broadcasts import delivery
from core.broadcasts.notices import BroadcastProgressNotice
from core.broadcasts.tables import Broadcast, BroadcastStatus
from core.db import utcnow
from core.errors import DomainError
from core.logs import log_event
from core.models import Member, OutboxStatus

log = logging.getLogger("timebank.broadcasts")

# A finished broadcast's message is brought to its last words for this long after the end.
AFTER_THE_END = timedelta(minutes=2)


class ProgressBoard:
    def __init__(
        self, bot: Bot, sessions: async_sessionmaker[AsyncSession], i18n: I18n, sender: Sender
    ) -> None:
        self.bot, self.sessions, self.i18n, self.sender = bot, sessions, i18n, sender
        self.shown: dict[int, str] = {}

    async def _screens(self) -> list[tuple[int, str, int, str, object]]:
        """(broadcast, chat, message id, text, buttons) of every progress message to show."""
        screens = []
        async with self.sessions() as session:
            running = await session.scalars(
                select(Broadcast).where(
                    or_(
                        Broadcast.status.in_((BroadcastStatus.SENDING, BroadcastStatus.PAUSED)),
                        Broadcast.finished_at > utcnow() - AFTER_THE_END,
                    )
                )
            )
            for found in list(running):
                sent = await outbox.by_key(session, BroadcastProgressNotice(found.id).key())
                if sent is None or sent.status != OutboxStatus.SENT or sent.message_id is None:
                    continue
                author = await session.get(Member, found.author_id)
                if author is None or sent.chat_id is None:
                    continue
                locale = author.language
                if locale not in self.i18n.available_locales:
                    locale = self.i18n.default_locale
                with self.i18n.context(), self.i18n.use_locale(locale):
                    try:
                        figures = await delivery.progress(session, found.id, found.author_id)
                    except DomainError:  # the author no longer coordinates the branch
                        continue
                    text = views.progress_text(figures, views.opening(found.texts, locale))
                    buttons = views.progress_buttons(figures)
                screens.append((found.id, sent.chat_id, sent.message_id, text, buttons))
        return screens

    async def refresh(self) -> int:
        """Edit the progress messages whose figures changed; returns how many were edited."""
        edited = 0
        screens = await self._screens()
        for broadcast_id, chat_id, message_id, text, buttons in screens:
            if self.shown.get(broadcast_id) == text:
                continue
            await self.sender.paced()
            try:
                await self.bot.edit_message_text(
                    text=text, chat_id=int(chat_id), message_id=message_id, reply_markup=buttons
                )
            except TelegramBadRequest as error:
                if "message is not modified" not in str(error):
                    log_event(log, "progress not edited", reason=str(error)[:100])
            except TelegramAPIError as error:  # flood control, or Telegram away: next run
                log_event(log, "progress not edited", reason=str(error)[:100])
                continue
            self.shown[broadcast_id] = text
            edited += 1
        live = {screen[0] for screen in screens}
        self.shown = {k: v for k, v in self.shown.items() if k in live}
        return edited
