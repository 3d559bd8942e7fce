"""Assembling and running the bot: the same code path for polling, webhook, demo and tests."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import DisabledEventIsolation, SimpleEventIsolation
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.commands import set_commands
from bot.conversations import onboarding
from bot.fit import FitMiddleware
from bot.handlers import (
    common,
    coordinator,
    disputes,
    fallback,
    orders,
    passbook,
    presence,
    privacy,
    volunteer,
    volunteer_profile,
)
from bot.i18n import MemberI18nMiddleware, create_i18n
from bot.middlewares import ChatLockMiddleware, MemberMiddleware, UnitOfWorkMiddleware
from bot.retry import RetryMiddleware
from bot.scheduler import Background, start_background
from bot.storage import SqlStorage
from core import matching
from core.config import OFFICIAL_API_URL, Settings
from core.db import create_engine, session_factory, transaction
from core.logs import log_event
from core.updates import forget_old_updates

log = logging.getLogger("timebank.app")


def create_bot(settings: Settings) -> Bot:
    api = (
        TelegramAPIServer.from_base(settings.telegram_api_url)
        if settings.telegram_api_url != OFFICIAL_API_URL
        else None
    )
    session = AiohttpSession(api=api) if api else AiohttpSession()
    session.middleware(RetryMiddleware())
    session.middleware(FitMiddleware())
    return Bot(
        settings.token,
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


def _fsm_backends(
    settings: Settings, storage: BaseStorage
) -> tuple[BaseStorage, BaseEventIsolation]:
    if not settings.redis_url:
        return storage, SimpleEventIsolation()
    from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage

    redis_storage = RedisStorage.from_url(settings.redis_url)
    return redis_storage, RedisEventIsolation(redis_storage.redis)


@dataclass
class App:
    settings: Settings
    engine: AsyncEngine
    dispatcher: Dispatcher
    i18n: I18n
    chat_locks: BaseEventIsolation
    background: Background | None = None

    async def on_startup(self, bot: Bot) -> None:
        await set_commands(bot, self.i18n, self.settings.coordinators)
        async with transaction(session_factory(self.engine), write=True) as session:
            forgotten = await forget_old_updates(session)
        # SQLite's planner statistics, which matching's grid index needs (PostgreSQL's own
        # autovacuum keeps them there; this does nothing on it).
        await matching.optimize(self.engine)
        self.background = start_background(
            bot, session_factory(self.engine), self.i18n, self.settings
        )
        me = await bot.me()
        log_event(log, "bot started", username=me.username, old_updates_forgotten=forgotten)

    async def close(self) -> None:
        if self.background is not None:
            await self.background.stop()
        # The routers are module-level; release them so a new app (a restart in the same
        # process, the next test) can attach them again.
        for router in self.dispatcher.sub_routers:
            router._parent_router = None
        self.dispatcher.sub_routers.clear()
        await self.dispatcher.storage.close()
        await self.chat_locks.close()
        await self.engine.dispose()


def create_app(settings: Settings, engine: AsyncEngine | None = None) -> App:
    engine = engine or create_engine(settings.database_url)
    sessions = session_factory(engine)
    storage, isolation = _fsm_backends(settings, SqlStorage(sessions))
    # aiogram would read the conversation state before our unit of work begins, in a
    # session of its own; so its FSM middleware is registered after ours, and the per-chat
    # lock, which must be taken before the database lock, gets a middleware of its own.
    dispatcher = Dispatcher(
        storage=storage, events_isolation=DisabledEventIsolation(), disable_fsm=True
    )
    dispatcher["coordinators"] = settings.coordinators
    dispatcher["settings"] = settings
    dispatcher.update.outer_middleware(ChatLockMiddleware(dispatcher.fsm, isolation))
    dispatcher.update.outer_middleware(UnitOfWorkMiddleware(sessions))
    dispatcher.update.outer_middleware(dispatcher.fsm)
    dispatcher.update.outer_middleware(MemberMiddleware())
    i18n = create_i18n(settings.default_language)
    MemberI18nMiddleware(i18n).setup(dispatcher)
    dispatcher.include_routers(presence.router, common.router, privacy.router, onboarding.router)
    dispatcher.include_router(orders.router)
    dispatcher.include_router(passbook.router)
    dispatcher.include_router(volunteer.router)
    dispatcher.include_router(disputes.router)
    dispatcher.include_router(volunteer_profile.router)
    dispatcher.include_router(coordinator.router)
    dispatcher.include_router(fallback.router)
    app = App(settings, engine, dispatcher, i18n, isolation)
    dispatcher.startup.register(app.on_startup)
    return app
