"""What a newcomer reads, through the local Bot API server: a request's time as it was asked,
help the community pool paid for in the passbook, the home's neighbourhood in "My details".
In Chinese, Korean and English."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.kit import times
from core import catalog, orders, schedule
from core.db import transaction, utcnow
from core.models import Category, Order, OrderEvent, OrderFunding, OrderStatus
from core.orders import HelpRequest, Place
from core.schedule import When
from tests.bot.lang import _i18n, t
from tests.bot.test_request_help import member, member_id
from tests.bot.test_volunteer_journey import grant, sweep, until, volunteer

LANGS = ["zh_Hans", "ko", "en"]
NAMES = {"zh_Hans": ("王芳", "李明"), "ko": ("김영희", "박민수"), "en": ("Margaret", "Tom")}
NUDGE = "🔔 Someone near you would like help"
CLOCK = re.compile(r"\d:\d\d")


@pytest.fixture(autouse=True)
def _no_scheduled_sweep(monkeypatch) -> None:
    monkeypatch.setenv("TIMEBANK_SWEEP_SECONDS", "0")


def say(lang: str, render):
    i18n = _i18n()
    with i18n.context(), i18n.use_locale(lang):
        return render()


async def ask(sessions, resident_id: int, when: When, key: str) -> Order:
    """The resident's request, placed as the wizard's Send places it."""
    async with transaction(sessions, write=True) as session:
        repairs = await session.scalar(select(Category.id).where(Category.code == "repairs"))
        request = HelpRequest(repairs, when, Place.typed("12 Luoshan Road"), 60)
        placed = await orders.place_order(
            session, requester_id=resident_id, beneficiary_id=resident_id,
            request=request, key=key, max_open=5,
        )  # fmt: skip
        return placed.order


@pytest.mark.parametrize("lang", LANGS)
async def test_as_soon_as_possible_reaches_everyone_as_asked(person, sessions, lang) -> None:
    resident_name, helper_name = NAMES[lang]
    resident = await member(person, sessions, resident_name, lang, branch="luoshan")
    rid = await member_id(sessions, resident)
    await grant(sessions, rid, 300)
    helper = await volunteer(person, sessions, helper_name, lang, 0.001)
    await ask(sessions, rid, When.asap(), f"asap-{lang}")
    await sweep(sessions, utcnow())

    asap = t(lang, "As soon as possible")
    nudge = await until(helper, t(lang, NUDGE))
    assert asap in nudge and not CLOCK.search(nudge), nudge
    await helper.tap_inline(t(lang, "✅ Accept"))
    card = await until(helper, t(lang, "🙏 Thank you! It is yours."))
    assert asap in card and not CLOCK.search(card), card
    news = await until(resident, helper_name)
    assert asap in news and not CLOCK.search(news), news


@pytest.mark.parametrize("lang", LANGS)
async def test_a_morning_reads_as_the_morning_not_as_eight_oclock(person, sessions, lang) -> None:
    resident_name, helper_name = NAMES[lang]
    resident = await member(person, sessions, resident_name, lang, branch="luoshan")
    rid = await member_id(sessions, resident)
    await grant(sessions, rid, 300)
    helper = await volunteer(person, sessions, helper_name, lang, 0.001)
    tomorrow = schedule.local_today("Asia/Shanghai", utcnow()) + timedelta(days=1)
    order = await ask(sessions, rid, When.day_part(tomorrow, "morning"), f"morning-{lang}")
    await sweep(sessions, utcnow())

    morning = say(lang, lambda: times.order_when_text(order, "Asia/Shanghai"))
    assert say(lang, lambda: times.day_text(tomorrow, tomorrow - timedelta(days=1))) in morning
    nudge = await until(helper, t(lang, NUDGE))
    assert morning in nudge and "08:00 " not in nudge.replace(morning, ""), nudge
    await helper.tap_inline(t(lang, "✅ Accept"))
    assert morning in await until(resident, helper_name)

    await resident.tap(t(lang, "📋 My requests"))
    listed = await resident.wait_reply()
    short = say(lang, lambda: times.order_when_text(order, "Asia/Shanghai", short=True))
    assert short in listed["text"], listed["text"]


async def _helped_by_the_pool(sessions, resident_id: int, helper_id: int, minutes: int) -> None:
    """A request the community pool paid for, done by the helper and confirmed."""
    async with transaction(sessions, write=True) as session:
        repairs = await session.scalar(select(Category).where(Category.code == "repairs"))
        branch = await catalog.branch_by_code(session, "luoshan")
        order = Order(
            branch_id=branch.id, requester_id=resident_id, beneficiary_id=resident_id,
            category_id=repairs.id, estimated_minutes=60, actual_minutes=minutes,
            volunteer_id=helper_id, status=OrderStatus.CONFIRMED, funding=OrderFunding.POOL,
            when_asked=When.day_part(date(2026, 3, 2), "morning").to_dict(),
            idempotency_key=f"pool-paid-{resident_id}",
        )  # fmt: skip
        session.add(order)
        await session.flush()
        at = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
        session.add(OrderEvent(order_id=order.id, from_status="done", to_status="confirmed", at=at))


@pytest.mark.parametrize("lang", LANGS)
async def test_help_the_pool_paid_for_is_in_the_passbook(person, sessions, lang) -> None:
    resident_name, helper_name = NAMES[lang]
    resident = await member(person, sessions, resident_name, lang, branch="luoshan")
    helper = await member(person, sessions, helper_name, lang, branch="luoshan")
    await _helped_by_the_pool(
        sessions, await member_id(sessions, resident), await member_id(sessions, helper), 45
    )
    await resident.tap(t(lang, "📒 My passbook"))
    text = (await resident.wait_reply())["text"]
    assert (
        t(lang, "🤝 <b>Help paid by the community pool</b>").replace("<b>", "").replace("</b>", "")
        in text
    )
    minutes = {"zh_Hans": "45分钟", "ko": "45분", "en": "45 min"}[lang]
    line = t(lang, "{duration} from {name}, paid by the community pool")
    assert line.format(duration=minutes, name=helper_name) in text
    assert t(lang, "Your balance does not change for these.") in text


HOMES = {
    # Next to Luoshan Village 7's centre; about 7 km from any Luoshan neighbourhood.
    "near": (31.2105, 121.5605),
    "far": (31.2400, 121.4900),
}


@pytest.mark.parametrize("lang", LANGS)
async def test_my_details_say_the_neighbourhood_not_coordinates(person, sessions, lang) -> None:
    near = await member(
        person, sessions, NAMES[lang][0], lang, branch="luoshan",
        home_latitude=HOMES["near"][0], home_longitude=HOMES["near"][1],
    )  # fmt: skip
    await near.tap(t(lang, "👤 My details"))
    text = await until(near, t(lang, "Here is everything we keep about you:"))
    village = {"zh_Hans": "罗山七村", "ko": "뤄산 7촌", "en": "Luoshan Village 7"}[lang]
    home = t(lang, "near {area}").format(area=village)
    assert t(lang, "Neighbourhood: {value}").format(value=home) in text
    assert "31.21" not in text and "121.5" not in text

    far = await member(
        person, sessions, NAMES[lang][1], lang, branch="luoshan",
        home_latitude=HOMES["far"][0], home_longitude=HOMES["far"][1],
    )  # fmt: skip
    await far.tap(t(lang, "👤 My details"))
    text = await until(far, t(lang, "Here is everything we keep about you:"))
    branch = {"zh_Hans": "上海罗山", "ko": "상하이 뤄산", "en": "Luoshan, Shanghai"}[lang]
    away = t(lang, "a place you shared, away from the neighbourhoods of {branch}")
    assert t(lang, "Neighbourhood: {value}").format(value=away.format(branch=branch)) in text
    assert "31.24" not in text
