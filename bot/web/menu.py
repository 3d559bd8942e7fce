"""The "📊 Dashboard" menu button in coordinators' chats, which opens the Mini App."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import MenuButtonWebApp, WebAppInfo
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.web.texts import TEXTS
from core.config import Settings
from core.db import session_factory
from core.logs import log_event
from core.models import Identity, Member

log = logging.getLogger("timebank.web")


def dashboard_url(settings: Settings) -> str:
    return f"{settings.web_public_url}/dashboard"


async def offer_dashboard(bot: Bot, engine: AsyncEngine, settings: Settings) -> int:
    """Give every coordinator on Telegram the dashboard's menu button; returns how many.

    Does nothing without `web_public_url`: Telegram must be able to open the page."""
    if not settings.web_public_url:
        return 0
    async with session_factory(engine)() as session:
        rows = await session.execute(
            select(Identity.external_id, Member.language)
            .join(Member, Member.id == Identity.member_id)
            .where(
                Identity.platform == "telegram",
                Member.is_coordinator.is_(True),
                Member.erased_at.is_(None),
            )
        )
        coordinators = rows.all()
    given = 0
    for chat_id, language in coordinators:
        texts = TEXTS.get(language or settings.default_language, TEXTS["en"])
        button = MenuButtonWebApp(
            text=f"📊 {texts['title']}", web_app=WebAppInfo(url=dashboard_url(settings))
        )
        try:
            await bot.set_chat_menu_button(chat_id=int(chat_id), menu_button=button)
            given += 1
        except TelegramAPIError as error:
            log_event(log, "dashboard button not set", level=logging.WARNING, error=str(error))
    log_event(log, "dashboard buttons set", coordinators=given)
    return given
