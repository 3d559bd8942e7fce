"""What the web handlers find on the aiohttp application."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.config import Settings

SESSIONS = web.AppKey("timebank_sessions", async_sessionmaker[AsyncSession])
SETTINGS = web.AppKey("timebank_settings", Settings)
