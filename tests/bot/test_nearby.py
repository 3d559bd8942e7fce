"""Near me through the local Bot API server: a volunteer sees the open requests around
them, with the area and never the address, and takes one; first tap wins. A partner shop
put on the map when it is added is listed by its distance from a resident's home. In
Chinese, Korean and English."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot.kit.formatters import distance_text
from core import catalog, orders
from core.db import transaction
from core.matching import distance_m
from core.models import Category, Neighbourhood, Order, OrderStatus
from core.orders import HelpRequest, Place
from core.rewards.tables import Merchant, RewardItem
from core.schedule import When
from tests.bot.lang import _i18n, t
from tests.bot.test_request_help import coordinator_member, member, member_id
from tests.bot.test_rewards import PLACE_QUESTION
from tests.bot.test_volunteer_journey import grant, until, volunteer

HOSTILE = "<b>&Tom</b>"
ADDRESS = "12 Luoshan Road, flat 3"


@pytest.fixture(autouse=True)
def _no_scheduled_sweep(monkeypatch) -> None:
    monkeypatch.setenv("TIMEBANK_SWEEP_SECONDS", "0")


async def _ask(sessions, resident_id: int, code: str) -> int:
    async with transaction(sessions, write=True) as session:
        category = await session.scalar(select(Category).where(Category.code == code))
        placed = await orders.place_order(
            session,
            requester_id=resident_id,
            beneficiary_id=resident_id,
            request=HelpRequest(
                category_id=category.id,
                when=When.day_part(date.today() + timedelta(days=1), "afternoon"),
                place=Place.typed(ADDRESS),
                estimated_minutes=60,
                description=f"{HOSTILE} the kitchen tap drips",
            ),
            key=f"nearby-test:{code}",
            max_open=3,
        )
        return placed.order.id


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
async def test_a_volunteer_takes_a_request_from_near_me(person, sessions, lang) -> None:
    async with sessions() as session:
        area = await session.scalar(select(Neighbourhood).where(Neighbourhood.code == "luoshan-1"))
    resident = await member(
        person, sessions, "Margaret", lang, branch="luoshan", neighbourhood_id=area.id
    )
    rid = await member_id(sessions, resident)
    await grant(sessions, rid, 300)
    order_id = await _ask(sessions, rid, "repairs")
    await _ask(sessions, rid, "shopping")  # not their skill: not shown
    first = await volunteer(person, sessions, "Li", lang, 0.001)
    second = await volunteer(person, sessions, "Wu", lang, 0.002)

    heading = t(lang, "🙋 <b>Requests near you</b>").replace("<b>", "").replace("</b>", "")
    for helper in (first, second):
        await helper.tap(t(lang, "📍 Near me"))
        shown = await until(helper, heading)
        assert ADDRESS not in shown
        assert catalog.localized(area.names, lang) in shown
        assert HOSTILE in shown  # escaped: shown as typed, not as markup
        async with sessions() as session:
            repairs = await session.scalar(select(Category).where(Category.code == "repairs"))
            shopping = await session.scalar(select(Category).where(Category.code == "shopping"))
        assert catalog.localized(repairs.names, lang) in shown
        assert catalog.localized(shopping.names, lang) not in shown
    accept = t(lang, "✅ Accept {number}").format(number=1)
    await first.tap_inline(accept)
    taken = await until(first, t(lang, "🙏 Thank you! It is yours."))
    assert ADDRESS in taken
    # The second volunteer's list is stale now: a kind answer, nothing changes.
    answer = await second.tap_inline(accept)
    assert answer["text"] == t(
        lang, "Another volunteer has already said yes. Thank you all the same!"
    )
    assert (await first.forge_tap("near:t:0:999999"))["text"] == t(
        lang, "Sorry, I could not find that."
    )
    async with sessions() as session:
        order = await session.get(Order, order_id)
        assert order.status == OrderStatus.ACCEPTED
        assert order.volunteer_id == await member_id(sessions, first)


SHOP = {"zh_Hans": "<b>&老李</b> 菜场", "ko": "<b>&이씨</b> 반찬가게", "en": "<b>&Tom</b>'s Greens"}
GREENS = {"zh_Hans": "一筐青菜", "ko": "채소 한 바구니", "en": "A basket of greens"}
SHOP_AT = (31.2300, 121.5560)  # about 2 km north of the demo's shops
HOME_AT = (31.2327, 121.5560)  # about 300 m north of the new shop


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
async def test_a_shop_pinned_on_the_map_comes_first_near_me(person, sessions, lang) -> None:
    coordinator = await coordinator_member(person, sessions, "Li Wei", lang)
    await coordinator.command("/shops")
    await coordinator.wait_reply()
    await coordinator.tap_inline(t(lang, "➕ Add a partner shop"), timeout=15)
    await until(coordinator, t(lang, "What is the shop called?"))
    await coordinator.send(SHOP[lang])
    await until(coordinator, t(lang, "What is its address? You may skip this."))
    await coordinator.tap(t(lang, "Skip ➡️"))
    await until(coordinator, t(lang, PLACE_QUESTION))
    await coordinator.share_location(*SHOP_AT)  # 📎 → Location, the pin moved to the shop
    contact = (
        "How can people reach the shop (a phone number or a contact person)? You may skip this."
    )
    await until(coordinator, t(lang, contact))
    await coordinator.tap(t(lang, "Skip ➡️"))
    await until(coordinator, "mst-")
    async with transaction(sessions, write=True) as session:
        shop = await session.scalar(select(Merchant).where(Merchant.name == SHOP[lang]))
        assert (shop.latitude, shop.longitude) == pytest.approx(SHOP_AT)
        session.add(
            RewardItem(
                merchant_id=shop.id, category="groceries", names={lang: GREENS[lang]},
                descriptions={}, price_minutes=30,
            )
        )  # fmt: skip

    resident = await member(
        person, sessions, "Margaret", lang, branch="luoshan",
        home_latitude=HOME_AT[0], home_longitude=HOME_AT[1],
    )  # fmt: skip
    await resident.tap(t(lang, "📍 Near me"))
    await resident.wait_for(lambda _e: t(lang, "🎁 Spend my hours") in resident.inline_labels(), 8)
    await resident.tap_inline(t(lang, "🎁 Spend my hours"))
    shelf = await until(resident, GREENS[lang])
    first = next(i for i, line in enumerate(shelf.splitlines()) if line[:2] in ("✅ ", "▫️"))
    item, where = shelf.splitlines()[first : first + 2]
    with _i18n().context(), _i18n().use_locale(lang):
        far = distance_text(round(distance_m(*HOME_AT, *SHOP_AT)))
    assert GREENS[lang] in item and SHOP[lang] in where and far in where
