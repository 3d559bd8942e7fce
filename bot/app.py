"""Assembling and running the bot: the same code path for polling, webhook, demo and tests."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseEventIsolation
from aiogram.fsm.storage.memory import DisabledEventIsolation, SimpleEventIsolation
from aiogram.methods import (
    DeleteWebhook,
    GetFile,
    GetMe,
    GetUpdates,
    Response,
    SetMyCommands,
    SetWebhook,
)
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.commands import set_commands
from bot.conversations import (
    broadcast,
    enrol_child,
    honour,
    need,
    new_class,
    new_team,
    offer_help,
    onboarding,
    request_help,
    share_parking,
    shop_item,
    shop_registration,
    shop_settlement,
)
from bot.conversations import market as market_conversations
from bot.deferred import QUEUED, DeferringMiddleware
from bot.fit import FitMiddleware
from bot.flood import FloodMiddleware
from bot.handlers.account import fallback, presence, privacy
from bot.handlers.account import handlers as account
from bot.handlers.asking import handlers as asking
from bot.handlers.branches import handlers as branches
from bot.handlers.broadcasts import handlers as broadcasts
from bot.handlers.classes import handlers as classes
from bot.handlers.coordination import disputes
from bot.handlers.coordination import handlers as coordination
from bot.handlers.digest import handlers as digest
from bot.handlers.family import handlers as family
from bot.handlers.helping import handlers as helping
from bot.handlers.market import handlers as market
from bot.handlers.nearby import handlers as nearby
from bot.handlers.needs import handlers as needs
from bot.handlers.offers import handlers as offers
from bot.handlers.parking import handlers as parking
from bot.handlers.passbook import handlers as passbook
from bot.handlers.rewards import counter as shop_counter
from bot.handlers.rewards import handlers as rewards
from bot.handlers.rewards import recognition
from bot.handlers.rewards import shops as shop_admin
from bot.handlers.stats import handlers as stats
from bot.handlers.teams import handlers as teams
from bot.handlers.volunteer_profile import handlers as volunteer_profile
from bot.i18n import MemberI18nMiddleware, create_i18n
from bot.kit.guards import install_error_boundary
from bot.lean_session import LeanSession
from bot.lookups import Lookups
from bot.middlewares import (
    ButtonsFromBeforeMiddleware,
    ChatLockMiddleware,
    ChatStateMiddleware,
    MemberMiddleware,
    UnitOfWorkMiddleware,
)
from bot.pace import Pace, PaceMiddleware
from bot.retry import RetryMiddleware
from bot.scheduler import Background, start_background
from bot.storage import SqlStorage
from core import matching
from core.config import OFFICIAL_API_URL, Settings
from core.db import create_engine, session_factory, transaction
from core.logs import log_event
from core.updates import forget_old_updates

log = logging.getLogger("timebank.app")


# aiogram parses every answer as `Response[T]`, a pydantic generic that pydantic caches only
# weakly: with no one holding it, each call built its schema again (~0.3 ms of CPU).
_RESPONSE_TYPES = tuple(
    Response[method.__returning__]  # type: ignore[name-defined]
    for method in (*QUEUED, GetUpdates, GetMe, GetFile, SetMyCommands, SetWebhook, DeleteWebhook)
)


def _inline(check: Callable[..., Any]) -> Callable[..., Any]:
    async def inline(*args: Any, **kwargs: Any) -> Any:
        return check(*args, **kwargs)

    return inline


def run_filters_inline(dispatcher: Dispatcher) -> None:
    """Make every synchronous filter of the dispatcher's routers run in the event loop.

    aiogram runs a synchronous filter (`F.text == …`, a lambda) through `asyncio.to_thread`
    at each check: for each update, every handler tried costs a hop to a thread and back
    (~0.1 ms, and the GIL taken back and forth with the database's threads). Ours only
    compare a few fields, so they run where they are called. The routers are module-level
    and outlive an app, so a filter already made asynchronous is left as it is.
    """
    for router in dispatcher.chain_tail:
        for observer in router.observers.values():
            for handler in (observer._handler, *observer.handlers):
                for check in handler.filters or ():
                    if not check.awaitable:
                        check.callback = _inline(check.callback)
                        check.awaitable = True


def create_bot(settings: Settings) -> Bot:
    api = (
        TelegramAPIServer.from_base(settings.telegram_api_url)
        if settings.telegram_api_url != OFFICIAL_API_URL
        else None
    )
    session = LeanSession(api=api) if api else LeanSession()
    session.middleware(DeferringMiddleware())
    session.middleware(RetryMiddleware())
    session.middleware(FitMiddleware())
    session.middleware(PaceMiddleware(Pace(settings.send_rate)))
    return Bot(
        settings.token,
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


def _chat_locks(settings: Settings) -> BaseEventIsolation:
    """The per-chat lock: in this process, or in Redis when several workers share the chats.

    The conversation state itself always lives in the database (`bot.storage`), so a step
    and the effects of the answer that led to it commit together. In Redis, a worker killed
    between writing the new step and committing would leave the chat a step ahead of what
    happened: the redelivered answer would then be taken for the next question's. The lock
    is taken and given back through a dropped connection to Redis (`bot.locks`).
    """
    if not settings.redis_url:
        return SimpleEventIsolation()
    from aiogram.fsm.storage.redis import RedisEventIsolation
    from redis.asyncio import Redis

    from bot.locks import SteadyRedisIsolation

    return SteadyRedisIsolation(RedisEventIsolation(Redis.from_url(settings.redis_url)))


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
    isolation = _chat_locks(settings)
    # aiogram would read the conversation state before our unit of work begins, in a
    # session of its own; so its FSM middleware is registered after ours, and the per-chat
    # lock, which must be taken before the database lock, gets a middleware of its own.
    dispatcher = Dispatcher(
        storage=SqlStorage(sessions), events_isolation=DisabledEventIsolation(), disable_fsm=True
    )
    dispatcher["coordinators"] = settings.coordinators
    dispatcher["settings"] = settings
    i18n = create_i18n(settings.default_language)
    # A flood is dropped before it takes a chat lock or a database connection.
    dispatcher.update.outer_middleware(
        FloodMiddleware(i18n, settings.flood_burst, settings.flood_seconds)
    )
    dispatcher.update.outer_middleware(ChatLockMiddleware(dispatcher.fsm, isolation))
    lookups = Lookups()
    dispatcher.update.outer_middleware(UnitOfWorkMiddleware(sessions, dispatcher.fsm, lookups))
    dispatcher.update.outer_middleware(ChatStateMiddleware(dispatcher.fsm))
    dispatcher.update.outer_middleware(MemberMiddleware(lookups))
    MemberI18nMiddleware(i18n).setup(dispatcher)
    dispatcher.callback_query.outer_middleware(ButtonsFromBeforeMiddleware())
    install_error_boundary(dispatcher)
    # One router per feature and conversation, in the order they may claim an update.
    dispatcher.include_routers(
        presence.router,
        account.router,
        privacy.router,
        market.router,
        market_conversations.router,
        shop_counter.router,
        onboarding.router,
        shop_item.router,
        shop_registration.router,
        shop_settlement.router,
        honour.router,
        asking.router,
        request_help.router,
        need.router,
        family.router,
        passbook.router,
        rewards.router,
        shop_admin.router,
        recognition.router,
        helping.router,
        nearby.router,
        classes.router,
        enrol_child.router,
        new_class.router,
        offers.router,
        offer_help.router,
        parking.router,
        share_parking.router,
        disputes.router,
        volunteer_profile.router,
        coordination.router,
        branches.router,
        broadcast.router,
        broadcasts.router,
        stats.router,
        needs.router,
        new_team.router,
        teams.router,
        digest.router,
        fallback.router,
    )
    run_filters_inline(dispatcher)
    app = App(settings, engine, dispatcher, i18n, isolation)
    dispatcher.startup.register(app.on_startup)
    return app
