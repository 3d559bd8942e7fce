"""The authorization matrix: every command, button and web endpoint tried by every kind of
actor (`tests/bot/authorization_table.py`). An allowed actor reaches the feature; anyone
else gets a kind answer and the database is as it was, row for row.

Updates are forged and fed to the real dispatcher (its middlewares, filters and handlers),
whose Bot API calls a spy answers; web requests go to the real web application. After a
cell that changed something (an allowed one may), the changed tables are put back as they
were, so every cell starts from the same world.

`pytest -s` prints the matrix; it is also written to `authorization_matrix.txt` in the
test's tmp dir.
"""

from __future__ import annotations

import enum
import importlib
import itertools
import operator
import pkgutil
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram import BaseMiddleware
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData, CallbackQueryFilter
from aiogram.methods import GetMe, TelegramMethod
from aiogram.types import Chat, Message, Update, User
from aiohttp.test_utils import TestClient, TestServer
from magic_filter.operations import CombinationOperation, ComparatorOperation, FunctionOperation
from sqlalchemy import delete, insert, select, text
from sqlmodel import SQLModel

import bot.conversations
import bot.handlers
import core.tables  # noqa: F401  (every table, for the snapshots)
from bot.app import create_app, create_bot
from bot.commands import command_list, coordinator_command_list
from bot.handlers.account.handlers import help_text
from bot.runner import webhook_app
from core import catalog, family, helping, ledger, nudges, orders, outbox, screen
from core.config import load_settings
from core.db import transaction, utcnow
from core.demo import seed_demo
from core.errors import DomainError
from core.members import erase_member
from core.models import Identity, Member, Membership, MembershipRole, Nudge
from core.orders import HelpRequest, Place
from core.rewards.tables import Merchant, MerchantStaff
from core.schedule import When
from sandbox.webapp import sign_init_data
from tests.bot.authorization_table import ACTORS, ROWS, Row, Web

TOKEN = "424242:TEST-authorization"
SECRET = "webhook-secret-of-the-test"
TABLE = "tests/bot/authorization_table.py"
# Bookkeeping any handled update may write: which updates were handled.
BOOKKEEPING = {"processed_updates"}
# What a refusal says, besides every domain error's message (msgids, English): a cell is
# denied when the bot says one of them.
REFUSALS = (
    "Sorry, this button is not for you.",
    "This button is no longer active.",
    "We keep nothing about you yet.",
    "I do not know that command. Send /help to see what I can do.",
    "Hello! Tap the button below to sign up, or send /help.",
    "Please finish signing up first: send /start.",
    "Please finish signing up first, then your passbook is here.",
)
# Domain error messages the bot also asks with: a question, not a refusal.
PROMPTS = ("Please type the time in minutes (like 45) or hours and minutes (like 1:30).",)
# Volunteers' homes: at Luoshan's centre, near every request of the world.
NEAR = {"home_latitude": 31.2135, "home_longitude": 121.5560}
TELEGRAM_IDS = {actor: 880_001 + n for n, actor in enumerate(ACTORS)}


# Discovery: what the bot offers, found in its code, so that nothing goes untried.


def domain_error_keys() -> set[str]:
    """The message of every rule in core that can say no."""
    import core

    list(_modules(core))
    keys, pending = set(), [DomainError]
    while pending:
        cls = pending.pop()
        keys.add(cls.key)
        pending.extend(cls.__subclasses__())
    return keys


def _modules(package: Any) -> Iterator[Any]:
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        yield importlib.import_module(info.name)


def callback_classes() -> list[type[CallbackData]]:
    found = {
        value
        for module in [*_modules(bot.handlers), *_modules(bot.conversations)]
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, CallbackData) and value is not CallbackData
    }
    return sorted(found, key=lambda cls: cls.__prefix__)


def _compared_values(rule: Any) -> set[str]:
    """The values a handler's `F.action == x` or `F.action.in_(...)` filter names."""
    values: set[str] = set()
    if rule is None:
        return values
    operations = list(getattr(rule, "_operations", ()))
    names = [getattr(op, "name", None) for op in operations]
    for op in operations:
        if (
            isinstance(op, ComparatorOperation)
            and op.comparator is operator.eq
            and "action" in names
        ):
            values.add(str(op.right))
        elif isinstance(op, FunctionOperation) and "action" in names:
            values.update(
                str(v)
                for arg in op.args
                for v in arg
                if isinstance(arg, set | list | tuple | frozenset)
            )
        elif isinstance(op, CombinationOperation):
            values |= _compared_values(op.right)
    return values


def callback_keys(dispatcher: Any) -> set[str]:
    """A key per action of a callback class, where the action is an Enum or handlers' filters
    name it (`F.action == x`); else one key for the class."""
    actions: dict[str, set[str]] = {cls.__prefix__: set() for cls in callback_classes()}
    for cls in callback_classes():
        action = cls.model_fields.get("action")
        annotation = action.annotation if action else None
        if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
            actions[cls.__prefix__] |= {str(member.value) for member in annotation}
    for router in _routers(dispatcher):
        for handler in router.callback_query.handlers:
            for flt in handler.filters or ():
                if isinstance(flt.callback, CallbackQueryFilter):
                    prefix = flt.callback.callback_data.__prefix__
                    actions.setdefault(prefix, set()).update(_compared_values(flt.callback.rule))
    return {
        f"{prefix}:{action}" if action else prefix
        for prefix, named in actions.items()
        for action in (sorted(named) or [""])
    }


def _routers(router: Any) -> Iterator[Any]:
    yield router
    for sub in router.sub_routers:
        yield from _routers(sub)


def command_keys(dispatcher: Any, i18n: Any) -> set[str]:
    with i18n.context(), i18n.use_locale("en"):
        menu = {c.command for c in [*command_list(), *coordinator_command_list()]}
    handled = {
        command if isinstance(command, str) else command.pattern
        for router in _routers(dispatcher)
        for handler in router.message.handlers
        for flt in handler.filters or ()
        if isinstance(flt.callback, Command)
        for command in flt.callback.commands
    }
    return {f"/{c}" for c in menu | handled}


def web_keys(web_app: Any) -> set[str]:
    keys = set()
    for route in web_app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if path is None or route.method == "HEAD":  # static files: no data, no actor
            continue
        keys.add(f"{route.method} {path}")
    return keys


# The world every cell starts from.


@dataclass
class World:
    member_ids: dict[str, int] = field(default_factory=dict)
    open: int = 0  # the resident's order nudged to both volunteers, still open
    accepted: int = 0  # the resident's order the volunteer accepted
    disputed: int = 0  # done by the volunteer, disputed by the resident
    ended: int = 0  # done by the volunteer, confirmed by the resident
    nudge: int = 0  # the other volunteer's nudge for the open order
    category: int = 0  # the help category of the orders
    link: int = 0  # the resident's active link with the relative
    pending_link: int = 0  # the other volunteer asked to link with the resident
    branch_id: int = 0
    other_branch_id: int = 0  # Mapo, the other coordinator's home
    screen_token: str = ""
    # The features' things (`add_feature_world`), all in the resident's branch.
    market_event: int = 0  # the demo's market day
    market_unit: int = 0  # a unit booked by slot
    market_slot: int = 0
    market_booking: int = 0  # the resident's
    market_shift: int = 0  # the volunteer's, at that unit
    market_other_slot: int = 0  # a slot of another unit
    market_version: int = 0  # the market day's version, as its buttons carry it
    shop: int = 0  # the merchant's shop
    shop_item: int = 0
    redemption: int = 0  # the resident's code for that item
    redemption_code: str = ""
    community_class: int = 0  # taught by the volunteer
    class_session: int = 0
    enrolment: int = 0  # the resident's seat
    parking_space: int = 0  # the resident's
    parking_start: int = 0  # a free time of it, in epoch minutes
    parking_booking: int = 0  # the volunteer's booking of it
    offer: int = 0  # the volunteer's standing offer
    broadcast: int = 0  # sending, to the residents who read English
    paused_broadcast: int = 0
    need_category: int = 0
    need: int = 0  # the resident's
    other_need: int = 0  # the relative's, in the same category
    team: int = 0  # led by the volunteer, with the other volunteer

    def __getattr__(self, name: str) -> int:
        try:
            return self.__dict__["member_ids"][name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def branch_param(self) -> dict[str, str]:
        return {"branch": str(self.branch_id)}


def _user(actor: str) -> dict[str, Any]:
    return {
        "id": TELEGRAM_IDS[actor], "is_bot": False, "first_name": actor.title(),
        "language_code": "en",
    }  # fmt: skip


async def build_world(sessions) -> World:
    world = World()
    now = utcnow()
    async with transaction(sessions, write=True) as s:
        await seed_demo(s)
        luoshan = await catalog.branch_by_code(s, "luoshan")
        mapo = await catalog.branch_by_code(s, "mapo")
        shinan = await catalog.branch_by_code(s, "shinan")
        world.branch_id, world.other_branch_id = luoshan.id, mapo.id
        roles = {
            "resident": {"is_resident": True, "phone": "+8613900000001",
                         "address": "Flat 3, 7 Luoshan Road"},
            "relative": {"is_resident": True},
            "volunteer": {"is_volunteer": True, "verified": True, **NEAR},
            "other_volunteer": {"is_volunteer": True, **NEAR},
            "coordinator": {"is_coordinator": True},
            "other_coordinator": {"is_coordinator": True, "branch_id": mapo.id},
            "second_coordinator": {"is_coordinator": True, "branch_id": shinan.id,
                                   "working_branch_id": luoshan.id},
            "merchant": {},
            "deleted": {"is_resident": True},
            "blocked": {"is_resident": True},
        }  # fmt: skip
        for actor, fields in roles.items():
            member = Member(
                name=actor.title(), language="en", onboarded_at=now - timedelta(days=30),
                created_at=now - timedelta(days=30), **{"branch_id": luoshan.id, **fields},
            )  # fmt: skip
            s.add(member)
            await s.flush()
            s.add(Identity(platform="telegram", external_id=str(TELEGRAM_IDS[actor]),
                           member_id=member.id))  # fmt: skip
            world.member_ids[actor] = member.id
            account = await ledger.open_member_account(s, member.id, member.branch_id)
            await ledger.grant(s, account.id, 600, key=f"authz:grant:{actor}")
        # Coordinators of a second branch: the second coordinator of the resident's (where
        # they work now), the other coordinator of Shinan, which leaves Luoshan their third.
        for actor, branch in (("second_coordinator", luoshan), ("other_coordinator", shinan)):
            s.add(Membership(member_id=world.member_ids[actor], branch_id=branch.id,
                             role=MembershipRole.COORDINATOR))  # fmt: skip
        await s.flush()
        for actor in ("volunteer", "other_volunteer"):
            profile = await _profile(s, world.member_ids[actor])
            profile.skills = -1 & 0x7FFFFFFF
            profile.max_distance_m, profile.max_open = 5000, 5
            profile.availability = (1 << 21) - 1
        shop = await s.scalar(select(Merchant).where(Merchant.branch_id == luoshan.id))
        s.add(MerchantStaff(member_id=world.merchant, merchant_id=shop.id))
        await erase_member(s, world.deleted)
        await outbox.block(s, world.blocked, "telegram")

        invite = await family.create_invite(s, world.resident)
        asked = await family.use_invite(s, world.relative, invite.code)
        await family.answer_link(s, world.resident, asked.link.id, accept=True)
        world.link = asked.link.id
        invite = await family.create_invite(s, world.resident)
        world.pending_link = (
            await family.use_invite(s, world.other_volunteer, invite.code)
        ).link.id

        category = (await catalog.categories(s))[0]
        world.category = category.id
        day = (now + timedelta(days=3)).date()

        async def place(key: str) -> int:
            placed = await orders.place_order(
                s, requester_id=world.resident, beneficiary_id=world.resident,
                request=HelpRequest(
                    category_id=category.id, when=When.day_part(day, "afternoon"),
                    place=Place.typed("Flat 3, 7 Luoshan Road"), estimated_minutes=60,
                    description="The kitchen tap drips",
                ),
                key=key, max_open=10, now=now,
            )  # fmt: skip
            return placed.order.id

        async def nudge(order_id: int, actor: str) -> int:
            row = Nudge(order_id=order_id, member_id=world.member_ids[actor], round=1, wave=1,
                        distance_m=500, created_at=now)  # fmt: skip
            s.add(row)
            await s.flush()
            return row.id

        world.open = await place("authz:open")
        world.nudge = await nudge(world.open, "other_volunteer")
        (await nudges.progress_of(s, world.open)).escalated_at = now  # the coordinators' turn
        world.accepted = await place("authz:accepted")
        await helping.accept(s, nudge_id=await nudge(world.accepted, "volunteer"),
                             member_id=world.volunteer, now=now)  # fmt: skip
        world.disputed = await place("authz:disputed")
        await helping.accept(s, nudge_id=await nudge(world.disputed, "volunteer"),
                             member_id=world.volunteer, now=now)  # fmt: skip
        await helping.mark_done(s, order_id=world.disputed, member_id=world.volunteer,
                                minutes=60, now=now)  # fmt: skip
        await helping.dispute(s, order_id=world.disputed, member_id=world.resident, now=now)
        world.ended = await place("authz:ended")
        await helping.accept(
            s, nudge_id=await nudge(world.ended, "volunteer"), member_id=world.volunteer, now=now
        )
        await helping.mark_done(
            s, order_id=world.ended, member_id=world.volunteer, minutes=60, now=now
        )
        await helping.confirm(s, order_id=world.ended, member_id=world.resident, rating=5, now=now)
        world.screen_token = await screen.screen_token(s, luoshan.id)
        await add_feature_world(s, world, now)
    return world


async def add_feature_world(s, world: World, now: datetime) -> None:
    """A market day's booking and shift, a shop's code, a class, a parking space, an offer,
    broadcasts, needs and a team, made by the features' own services."""
    from core import broadcasts, digests, market, needs, teams
    from core.demo import DEMO_MARKET_KEY
    from core.market.tables import MarketEvent, MarketSlot, MarketUnit
    from core.models import NeedCategory
    from core.rewards import classes, offers, parking, redemption
    from core.rewards.tables import ClassSession, RewardItem

    event = await s.scalar(select(MarketEvent).where(MarketEvent.key == DEMO_MARKET_KEY))
    world.market_event = event.id
    world.market_unit = await s.scalar(
        select(MarketUnit.id)
        .where(MarketUnit.event_id == event.id, MarketUnit.capacity.is_not(None))
        .order_by(MarketUnit.id)
    )
    world.market_slot = await s.scalar(
        select(MarketSlot.id).where(MarketSlot.unit_id == world.market_unit).order_by(MarketSlot.id)
    )
    world.market_booking = (
        await market.book(
            s, booker_id=world.resident, slot_id=world.market_slot, key="authz:market", now=now
        )
    ).booking_id
    world.market_shift = await market.sign_up(s, world.volunteer, world.market_unit)
    world.market_other_slot = await s.scalar(
        select(MarketSlot.id)
        .join(MarketUnit, MarketUnit.id == MarketSlot.unit_id)
        .where(MarketUnit.event_id == event.id, MarketUnit.id != world.market_unit)
        .order_by(MarketSlot.id)
    )
    world.market_version = (await market.event_view(s, event.id, now=now)).version

    shop = await s.scalar(
        select(MerchantStaff.merchant_id).where(MerchantStaff.member_id == world.merchant)
    )
    world.shop = shop
    world.shop_item = await s.scalar(
        select(RewardItem.id).where(RewardItem.merchant_id == shop).order_by(RewardItem.id)
    )
    issued = await redemption.redeem(
        s, world.resident, world.shop_item, key="authz:redeem", now=now
    )
    world.redemption, world.redemption_code = issued.redemption_id, issued.code

    course = await classes.create_class(
        s,
        world.volunteer,
        titles={"en": "Tai chi"},
        seats=4,
        sessions=[(now + timedelta(days=2), 60)],
        now=now,
    )
    world.community_class = course.id
    world.class_session = await s.scalar(
        select(ClassSession.id).where(ClassSession.class_id == course.id)
    )
    world.enrolment = (await classes.enrol(s, world.resident, course.id, now=now)).enrolment_id

    space = await parking.list_space(s, world.resident, address="Flat 3, 7 Luoshan Road, B-2")
    world.parking_space = space.id
    starts = (now + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    await parking.offer_window(
        s, world.resident, space.id, starts, starts + timedelta(hours=8), now=now
    )
    world.parking_start = int(starts.timestamp()) // 60 + 2 * 60  # after the booking
    world.parking_booking = (
        await parking.book_space(
            s,
            world.volunteer,
            space.id,
            starts,
            starts + timedelta(hours=2),
            key="authz:parking",
            now=now,
        )
    ).booking_id

    category = (await catalog.categories(s))[0]
    world.offer = (await offers.offer_skill(s, world.volunteer, category.id)).id
    # Another branch's coordinator with a home, to whom a forged "ask for this" could place
    # a request in their own branch.
    (await s.get(Member, world.other_coordinator)).address = "Flat 9, 1 Mapo Road"

    async def broadcast(key: str) -> int:
        draft = broadcasts.Draft(
            texts={"en": "The market opens on Saturday."},
            audience=broadcasts.Audience(
                branch_ids=(world.branch_id,), roles=("resident",), languages=("en",)
            ),
        )
        found = await broadcasts.create(s, world.coordinator, draft, key=key)
        await broadcasts.send(s, found, world.coordinator, now=now)
        while await broadcasts.expand_chunk(s, found, now=now) is not None:
            pass
        return found

    world.broadcast = await broadcast("authz:broadcast")
    world.paused_broadcast = await broadcast("authz:broadcast:paused")
    await broadcasts.pause(s, world.paused_broadcast, world.coordinator)

    world.need_category = await s.scalar(
        select(NeedCategory.id)
        .where(NeedCategory.branch_id == world.branch_id)
        .order_by(NeedCategory.id)
    )
    for attribute, actor in (("need", "resident"), ("other_need", "relative")):
        raised = await needs.raise_need(
            s,
            member_id=world.member_ids[actor],
            category_id=world.need_category,
            key=f"authz:need:{actor}",
            text="A bench by the bus stop",
        )
        setattr(world, attribute, raised.id)

    world.team = (
        await teams.create_team(
            s,
            coordinator_id=world.coordinator,
            branch_id=world.branch_id,
            names={"zh_Hans": "周二小组", "ko": "화요일 모임", "en": "Tuesday team"},
            leader_id=world.volunteer,
            member_ids=[world.other_volunteer],
            key="authz:team",
        )
    ).id
    await digests.subscribe(s, world.resident, 9)


async def _profile(session, member_id: int):
    from core import volunteers

    return await volunteers.profile(session, member_id)


# Snapshots of every table, and putting changed tables back.


Snapshot = dict[str, list[dict[str, Any]]]


def _tables():
    return [t for t in SQLModel.metadata.sorted_tables if t.name not in BOOKKEEPING]


async def snapshot(engine) -> Snapshot:
    taken: Snapshot = {}
    async with engine.connect() as connection:
        for table in _tables():
            order = list(table.primary_key.columns) or list(table.columns)
            rows = await connection.execute(select(table).order_by(*order))
            taken[table.name] = [dict(r._mapping) for r in rows]
    return taken


def _fingerprint_sql(dialect: str) -> str:
    """One statement that reads every table whole, as one text per table."""
    parts = []
    for table in _tables():
        order = ", ".join(f'"{c.name}"' for c in (table.primary_key.columns or table.columns))
        if dialect == "postgresql":
            rows = f"(SELECT string_agg(r::text, '|' ORDER BY {order}) FROM \"{table.name}\" r)"
        else:
            row = " || ',' || ".join(f'quote("{c.name}")' for c in table.columns)
            rows = (
                f"(SELECT group_concat(x, '|') FROM "
                f'(SELECT {row} AS x FROM "{table.name}" ORDER BY {order}))'
            )
        parts.append(f"SELECT '{table.name}', {rows}")
    return " UNION ALL ".join(parts)


async def fingerprint(engine) -> dict[str, str | None]:
    async with engine.connect() as connection:
        rows = await connection.execute(text(_fingerprint_sql(engine.dialect.name)))
        return dict(rows.all())


def changed_tables(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [name for name in before if before[name] != after[name]]


async def put_back(engine, before: Snapshot, names: list[str]) -> None:
    tables = {t.name: t for t in _tables()}
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            await connection.execute(text("PRAGMA defer_foreign_keys = ON"))
        for name in names:
            await connection.execute(delete(tables[name]))
            if before[name]:
                await connection.execute(insert(tables[name]), before[name])


# Feeding forged updates to the dispatcher.


class Spy:
    """The Bot API as the bot sees it: every call answered at once, the texts kept."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.calls: list[str] = []
        self._ids = itertools.count(1000)

    async def __call__(self, bot, method: TelegramMethod, timeout=None):  # noqa: ASYNC109
        self.calls.append(type(method).__name__)
        said = getattr(method, "text", None) or getattr(method, "caption", None)
        if said:
            self.texts.append(said)
        if isinstance(method, GetMe):
            return User(id=424242, is_bot=True, first_name="Time bank", username="timebank_bot")
        if method.__returning__ is Message:
            chat_id = getattr(method, "chat_id", 0)
            return Message(
                message_id=next(self._ids), date=datetime.now(UTC),
                chat=Chat(id=chat_id if isinstance(chat_id, int) else 0, type="private"),
                text=getattr(method, "text", None),
            )  # fmt: skip
        return True


class HandlerSeen(BaseMiddleware):
    """Remembers which handler took the update and whether a rule refused it."""

    def __init__(self) -> None:
        self.handler: str | None = None
        self.refused: DomainError | None = None

    async def __call__(self, handler, event, data):
        callback = data["handler"].callback
        self.handler = f"{callback.__module__}.{callback.__name__}"
        try:
            return await handler(event, data)
        except DomainError as error:
            self.refused = error
            raise


@dataclass
class Outcome:
    allowed: bool
    said: str
    changed: list[str]
    handler: str | None = None


_update_ids = itertools.count(70_000_000)


def forged_update(actor: str, sent: str) -> Update:
    user, now = _user(actor), int(time.time())
    chat = {"id": user["id"], "type": "private"}
    if sent.startswith("/"):
        return Update.model_validate({
            "update_id": next(_update_ids),
            "message": {
                "message_id": 1, "date": now, "chat": chat, "from": user, "text": sent,
                "entities": [{"type": "bot_command", "offset": 0, "length": len(sent)}],
            },
        })  # fmt: skip
    return Update.model_validate({
        "update_id": next(_update_ids),
        "callback_query": {
            "id": f"authz-{next(_update_ids)}", "chat_instance": "1", "data": sent, "from": user,
            "message": {"message_id": 2, "date": now, "chat": chat, "text": "…",
                        "from": {"id": 424242, "is_bot": True, "first_name": "Time bank"}},
        },
    })  # fmt: skip


class Harness:
    def __init__(self, app, bot, web: TestClient, world: World, engine, refusals: set[str]):
        self.app, self.bot, self.web, self.world, self.engine = app, bot, web, world, engine
        self.refusals = refusals
        self.pristine: dict[str, str | None] = {}
        self.seen = HandlerSeen()
        app.dispatcher.message.middleware(self.seen)
        app.dispatcher.callback_query.middleware(self.seen)

    async def telegram(self, actor: str, sent: str) -> Outcome:
        spy = Spy()
        self.bot.session.make_request = spy
        self.seen.handler, self.seen.refused = None, None
        await self.app.dispatcher.feed_update(self.bot, forged_update(actor, sent))
        said = " | ".join(t for t in spy.texts if t)
        refused = (
            self.seen.refused is not None
            or (self.seen.handler or "").startswith("bot.handlers.account.fallback")
            or any(r in said for r in self.refusals)
        )
        if not said and "AnswerCallbackQuery" not in spy.calls and not spy.calls:
            said = "(silence)"
        return Outcome(not refused, said, [], self.seen.handler)

    async def web_request(self, actor: str, request: Web) -> Outcome:
        headers = {"Authorization": f"tma {sign_init_data(TOKEN, _user(actor))}"}
        json = request.body
        if request.path == "/telegram/webhook":
            json = forged_update(actor, "/help").model_dump(mode="json", exclude_none=True)
        response = await self.web.request(
            request.method, request.path, params=request.params, headers=headers, json=json
        )
        body = (await response.read()).decode(errors="replace")
        return Outcome(response.status < 400, f"{response.status} {body[:60]}", [])


def _cell(outcome: Outcome, expected: bool) -> str:
    mark = "allow" if outcome.allowed else "deny"
    return mark if outcome.allowed == expected else f"{mark}!"


def render(matrix: dict[str, dict[str, str]]) -> str:
    width = max(len(k) for k in matrix) + 1
    short = {a: a.replace("other_", "o.")[:11] for a in ACTORS}
    lines = [" " * width + " ".join(f"{short[a]:>11}" for a in ACTORS)]
    for key, cells in matrix.items():
        lines.append(f"{key:<{width}}" + " ".join(f"{cells[a]:>11}" for a in ACTORS))
    return "\n".join(lines)


@pytest.fixture
async def harness(engine, sessions, database_url):
    world = await build_world(sessions)
    settings = load_settings(
        telegram_token=TOKEN, database_url=database_url, log_level="WARNING",
        webhook_secret=SECRET, web_init_data_max_age=3600,
        flood_burst=0,  # each actor sends ~75 updates in a few seconds: no pacing here
    )  # fmt: skip
    app, bot = create_app(settings, engine), create_bot(settings)
    with app.i18n.context(), app.i18n.use_locale("en"):
        refusals = {
            app.i18n.gettext(r, locale="en").split("{")[0]
            for r in (*REFUSALS, *(domain_error_keys() - set(PROMPTS)))
        }
    async with TestClient(TestServer(webhook_app(app, bot, settings))) as web:
        yield Harness(app, bot, web, world, engine, refusals)
    await bot.session.close()
    for router in app.dispatcher.sub_routers:
        router._parent_router = None
    app.dispatcher.sub_routers.clear()


def test_every_command_button_and_endpoint_has_a_row(harness) -> None:
    dispatcher = harness.app.dispatcher
    offered = (
        command_keys(dispatcher, harness.app.i18n)
        | callback_keys(dispatcher)
        | web_keys(harness.web.server.app)
    )
    rows = {r.key for r in ROWS}
    missing = sorted(offered - rows)
    assert not missing, "\n".join(f"add a row for {key} in {TABLE}" for key in missing)
    classes = {cls.__prefix__ for cls in callback_classes()}
    stale = sorted(
        k for k in rows
        if not k.startswith(("/", "GET ", "POST ")) and k.split(":")[0] not in classes
    )  # fmt: skip
    assert not stale, f"rows for buttons the bot no longer has: {stale}"


async def _try(harness: Harness, row: Row, actor: str, pristine: Snapshot) -> Outcome:
    made = row.make(harness.world)
    if isinstance(made, Web):
        outcome = await harness.web_request(actor, made)
    else:
        outcome = await harness.telegram(actor, made)
    changed = changed_tables(harness.pristine, await fingerprint(harness.engine))
    if changed:
        await put_back(harness.engine, pristine, changed)
    if actor == "blocked":  # writing to the bot makes them reachable again: expected
        changed = [name for name in changed if name != "blocked_members"]
    outcome.changed = changed
    return outcome


async def test_authorization_matrix(harness, tmp_path) -> None:
    pristine = await snapshot(harness.engine)
    harness.pristine = await fingerprint(harness.engine)
    matrix: dict[str, dict[str, str]] = {}
    wrong: list[str] = []
    for row in ROWS:
        matrix[row.key] = {}
        for actor in ACTORS:
            outcome = await _try(harness, row, actor, pristine)
            expected = actor in row.allowed
            matrix[row.key][actor] = _cell(outcome, expected)
            where = f"{row.key} by {actor}"
            if outcome.allowed != expected:
                verb = "allowed" if outcome.allowed else "denied"
                wrong.append(f"{where}: {verb} ({outcome.handler}: {outcome.said[:120]})")
            elif not outcome.allowed and outcome.changed:
                wrong.append(f"{where}: denied but changed {outcome.changed}")
            elif not outcome.allowed and not outcome.said:
                wrong.append(f"{where}: denied without a word")
    assert await fingerprint(harness.engine) == harness.pristine, "the world was not put back"
    printed = render(matrix)
    print("\n" + printed)
    (tmp_path / "authorization_matrix.txt").write_text(printed + "\n")
    assert not wrong, "\n".join(wrong)


def test_help_and_the_menu_list_every_registered_command(harness) -> None:
    """A command a router handles but /help and the menu leave out is one nobody finds."""
    i18n = harness.app.i18n
    handled = {key.removeprefix("/") for key in command_keys(harness.app.dispatcher, i18n)}
    coordinator = Member(name="c", branch_id=1, is_coordinator=True)
    resident = Member(name="r", branch_id=1)
    for language in ("zh_Hans", "ko", "en"):
        with i18n.context(), i18n.use_locale(language):
            menu = {c.command for c in coordinator_command_list()}
            everyone = {c.command for c in command_list()}
            help_for_coordinator, help_for_resident = help_text(coordinator), help_text(resident)
        listed = set(re.findall(r"^/(\w+) – ", help_for_coordinator, re.MULTILINE))
        assert handled <= listed, sorted(handled - listed)
        assert listed == menu
        assert set(re.findall(r"^/(\w+) – ", help_for_resident, re.MULTILINE)) == everyone
