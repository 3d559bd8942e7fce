"""A coordinator finds someone when the waves run out: the alert, the list of waiting
requests, the wider list of volunteers with why each was not asked, asking one personally,
who accepts; stale and forged buttons. In Chinese, Korean and English."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core import catalog, ledger, matching, volunteers
from core.db import transaction, utcnow
from core.demo import DEMO_POOL_MINUTES
from core.models import (
    Category,
    Member,
    Nudge,
    Order,
    OrderFunding,
    OrderStatus,
    OutboxMessage,
    VolunteerProfile,
)
from tests.bot.conftest import COORDINATOR_ID
from tests.bot.lang import t
from tests.bot.rows import snapshot
from tests.bot.test_request_help import (
    category_label,
    coordinator_member,
    fill_in,
    member,
    member_id,
)
from tests.bot.test_volunteer_journey import d, grant, sweep, until, volunteer

NAMES = {
    "zh_Hans": ("王芳", "李伟", "张伟", "陈静", "罗山一村"),
    "ko": ("김영희", "이민호", "박민수", "이지은", "뤄산 1촌"),
    "en": ("Margaret", "Li Wei", "Tom", "Ann", "Luoshan Village 1"),
}


CANNOT = "🙏 {volunteer} cannot help with {category} for {name} this time."
PERSONALLY = "🙋 {name} from the time bank asked you personally."


def upto_when(lang: str, message: str, **values: str) -> str:
    """The translated message, filled in, up to where its date and time go."""
    return t(lang, message).split("{when}")[0].format(**values)


def plain(lang: str, message: str) -> str:
    """What the member reads of a message in HTML: the text without its tags."""
    return re.sub(r"<[^>]+>", "", t(lang, message))


@pytest.fixture(autouse=True)
def _no_scheduled_sweep(monkeypatch) -> None:
    monkeypatch.setenv("TIMEBANK_SWEEP_SECONDS", "0")


async def paused_volunteers(sessions, count: int) -> list[int]:
    """Volunteers of the branch with the skill who paused their nudges (not on Telegram)."""
    ids = []
    async with transaction(sessions, write=True) as s:
        repairs = await s.scalar(select(Category.id).where(Category.code == "repairs"))
        branch_id = (await catalog.branch_by_code(s, "luoshan")).id
        for n in range(count):
            row = Member(
                name=f"Helper {n + 1}",
                language="en",
                branch_id=branch_id,
                is_volunteer=True,
                verified=True,
                home_latitude=31.2135 + 0.01 * (n + 1),
                home_longitude=121.5560,
            )
            s.add(row)
            await s.flush()
            profile = await volunteers.profile(s, row.id)
            profile.skills = matching.skill_bit(repairs)
            profile.max_distance_m = 5000
            profile.paused = True
            ids.append(row.id)
    return ids


async def run_out_of_waves(sessions) -> None:
    now = utcnow()
    for minutes in (0, 11, 22):
        await sweep(sessions, now + timedelta(minutes=minutes))
    report = await sweep(sessions, now + timedelta(minutes=33))
    assert len(report.escalated) == 1, report


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
async def test_the_coordinator_finds_someone_after_the_last_wave(person, sessions, lang) -> None:
    resident_name, coordinator_name, tom_name, ann_name, area = NAMES[lang]
    coordinator = await coordinator_member(person, sessions, coordinator_name, lang)
    resident = await member(person, sessions, resident_name, lang, branch="luoshan")
    await grant(sessions, await member_id(sessions, resident), 300)
    tom = await volunteer(person, sessions, tom_name, lang, 0.001)
    ann = await volunteer(person, sessions, ann_name, lang, 0.002)
    async with transaction(sessions, write=True) as s:
        (await s.get(VolunteerProfile, await member_id(sessions, ann))).paused = True
    await paused_volunteers(sessions, 5)
    await fill_in(resident, sessions, lang)
    await resident.tap_inline(t(lang, "✅ Send"))
    await resident.wait_reply()

    await sweep(sessions, utcnow())
    await until(tom, t(lang, "🔔 Someone near you would like help"))
    await tom.tap_inline(t(lang, "Not this time"))
    await until(tom, t(lang, "👌 No problem. Thank you for letting me know!"))
    await run_out_of_waves(sessions)

    # The alert, with its button.
    await until(coordinator, resident_name)
    await coordinator.tap_inline(t(lang, "🔎 Find someone"))
    view = await until(coordinator, t(lang, "paused"))
    assert area in view and resident_name in view
    assert "12 Luoshan Road" not in view
    assert f"{ann_name} · " in view
    assert t(lang, "said not this time") not in view  # Tom is on the second page
    await coordinator.tap_inline("▶")
    second = await until(coordinator, t(lang, "said not this time"))
    assert tom_name in second and ann_name not in second

    # The list of waiting requests leads to the same view.
    await coordinator.tap_inline(t(lang, "📋 All waiting requests"))
    await until(coordinator, plain(lang, "📋 <b>Requests still waiting for a volunteer</b>"))
    [entry] = coordinator.inline_labels()
    assert entry.startswith("📣 ") and resident_name in entry
    await coordinator.tap_inline(entry)
    await until(coordinator, t(lang, "paused"))

    ask_ann = t(lang, "🙋 Ask {name}").format(name=ann_name)
    asked = t(lang, "📨 I have asked {name}.").format(name=ann_name)
    assert (await coordinator.tap_inline(ask_ann))["text"] == asked
    assert (await coordinator.tap_inline(ask_ann))["text"] == asked  # a double tap
    await until(coordinator, t(lang, "already asked"))

    nudge = await until(ann, t(lang, "🔔 Someone near you would like help"))
    assert t(lang, PERSONALLY).format(name=coordinator_name) in nudge
    await ann.tap_inline(t(lang, "✅ Accept"))
    await until(ann, t(lang, "🙏 Thank you! It is yours."))
    assert "12 Luoshan Road, flat 3" in ann.last_text()
    await until(resident, ann_name)
    repairs = await category_label(sessions, "repairs", lang)
    said_yes = "✅ {volunteer} said yes to {category} for {name}."
    await until(
        coordinator,
        upto_when(lang, said_yes, volunteer=ann_name, category=repairs, name=resident_name),
    )
    # Tom said no to a wave's nudge, not to a personal ask: nobody is told of it.
    cannot = t(lang, CANNOT).format(volunteer=tom_name, category=repairs, name=resident_name)
    assert not [m for m in coordinator.bot_messages() if cannot in (m.get("text") or "")]

    # The order is taken: the coordinator's buttons say so kindly, in a coordinator's words,
    # and change nothing.
    taken = t(lang, "A volunteer has already said yes to this request, so nothing more is needed.")
    helper = t(lang, "🙋 Ask {name}").format(name="Helper 1")
    before = await snapshot(sessions)
    assert (await coordinator.tap_inline(helper))["text"] == taken
    assert (await coordinator.tap_inline(t(lang, "🔁 Another round")))["text"] == taken
    assert await snapshot(sessions) == before
    await coordinator.command("/waiting")
    await until(coordinator, t(lang, "🎉 Every request has a volunteer. Nothing is waiting."))

    async with sessions() as s:
        [order] = list(await s.scalars(select(Order)))
        assert order.status == OrderStatus.ACCEPTED
        assert order.volunteer_id == await member_id(sessions, ann)
        assert await s.scalar(select(func.count()).select_from(Nudge)) == 2
        asks = await s.scalar(select(func.count()).where(OutboxMessage.key.like("ask:%")))
        assert asks == 1
    nudged = [
        m
        for m in ann.bot_messages()
        if t(lang, "🔔 Someone near you would like help") in (m.get("text") or "")
        or t(lang, "🙏 Thank you! It is yours.") in (m.get("text") or "")
    ]
    assert len(nudged) == 1


async def test_forged_buttons_get_a_kind_answer_and_change_nothing(person, sessions) -> None:
    from datetime import date

    from core import orders
    from core.models import OrderProgress
    from core.orders import HelpRequest, Place
    from core.schedule import When

    ann = await member(person, sessions, "Ann", "en", branch="luoshan")
    li = await member(person, sessions, "Li", "en", branch="luoshan", is_coordinator=True)
    kim = await member(person, sessions, "Kim", "en", branch="mapo", is_coordinator=True)
    eve = await person("Eve", language_code="en")
    await eve.command("/start")
    await eve.wait_reply()
    ann_id = await member_id(sessions, ann)
    await grant(sessions, ann_id, 300)  # she can pay herself
    async with transaction(sessions, write=True) as s:
        category = await s.scalar(select(Category).where(Category.code == "repairs"))
        placed = await orders.place_order(
            s,
            requester_id=ann_id,
            beneficiary_id=ann_id,
            request=HelpRequest(
                category_id=category.id,
                when=When.day_part(date.today() + timedelta(days=2), "morning"),
                place=Place.typed("1 Main Street"),
                estimated_minutes=60,
            ),
            key="forged-coordinator",
            max_open=3,
        )
    order_id = placed.order.id
    [helper] = await paused_volunteers(sessions, 1)
    only_coordinators = "Only a coordinator can do that."
    not_found = "Sorry, I could not find that."
    forged = [
        (ann, f"crd:view:{order_id}:0", only_coordinators),
        (ann, f"crd:ask:{order_id}:{helper}", only_coordinators),
        (ann, "crd:list:0:0", only_coordinators),
        (eve, f"crd:view:{order_id}:0", "Sorry, this button is not for you."),
        (kim, f"crd:view:{order_id}:0", not_found),
        (kim, f"crd:ask:{order_id}:{helper}", not_found),
        (li, f"crd:ask:{order_id}:{ann_id}", not_found),
        (li, f"crd:ask:999999:{helper}", not_found),
        (li, f"crd:hack:{order_id}:0", "This button is no longer active."),
        (
            li,
            f"crd:round:{order_id}:1",
            "The nudges for this request are still going out. Please wait a little.",
        ),
    ]
    for persona, data, expected in forged:
        assert (await persona.forge_tap(data))["text"] == expected, data
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Nudge)) == 0
        assert await s.scalar(select(func.count()).select_from(OrderProgress)) == 0
        assert await s.scalar(select(func.count()).select_from(OutboxMessage)) == 0


async def test_coordinators_have_waiting_in_their_command_menu(
    person, sessions, running_bot
) -> None:
    import asyncio

    from aiogram.types import BotCommandScopeChat

    from bot.app import create_bot

    coordinator = await member(
        person, sessions, "Li Wei", "ko", user_id=COORDINATOR_ID, is_coordinator=True
    )
    resident = await member(person, sessions, "김영희", "ko")
    await running_bot.restart()  # the menus are set at start-up, for chats that exist
    bot = create_bot(running_bot.settings)
    try:
        for _ in range(50):
            mine = await bot.get_my_commands(
                scope=BotCommandScopeChat(chat_id=coordinator.id), language_code="ko"
            )
            if mine:
                break
            await asyncio.sleep(0.1)
        theirs = await bot.get_my_commands(
            scope=BotCommandScopeChat(chat_id=resident.id), language_code="ko"
        )
    finally:
        await bot.session.close()
    waiting = [c.description for c in mine if c.command == "waiting"]
    assert waiting == [t("ko", "Requests waiting for a volunteer")]
    assert "waiting" not in [c.command for c in theirs]
    await coordinator.command("/waiting")
    await until(coordinator, t("ko", "🎉 Every request has a volunteer. Nothing is waiting."))
    # The main menu leads there too, although this coordinator does not volunteer.
    await coordinator.tap(t("ko", "🤝 Volunteering"))
    await until(coordinator, t("ko", "🧭 Your coordinator tools are below."))
    assert t("ko", "🙋 Become a volunteer") in coordinator.inline_labels()
    await coordinator.tap_inline(t("ko", "📋 All waiting requests"))
    await until(coordinator, t("ko", "🎉 Every request has a volunteer. Nothing is waiting."))
    await resident.command("/waiting")
    await until(resident, t("ko", "Only a coordinator can do that."))


async def uncovered_request(person, sessions, lang: str):
    """A resident with no credit, in a branch that gives residents no overdraft, asks for help;
    a coordinator and a volunteer are around. Returns (coordinator, resident, volunteer)."""
    resident_name, coordinator_name, tom_name, _ann, _area = NAMES[lang]
    async with transaction(sessions, write=True) as s:
        luoshan = await catalog.branch_by_code(s, "luoshan")
        await ledger.set_branch_policy(
            s, luoshan.id, actor=ledger.Actor(is_coordinator=True), resident_overdraft_limit=0
        )
    coordinator = await coordinator_member(person, sessions, coordinator_name, lang)
    resident = await member(person, sessions, resident_name, lang, branch="luoshan")
    tom = await volunteer(person, sessions, tom_name, lang, 0.001)
    await fill_in(resident, sessions, lang)
    await resident.tap_inline(t(lang, "✅ Send"))
    await until(resident, t(lang, "A coordinator will see that it needs help with the cost."))
    return coordinator, resident, tom


@pytest.mark.parametrize("lang", ["zh_Hans", "ko"])
async def test_the_pool_covers_a_resident_without_enough_credit(person, sessions, lang) -> None:
    resident_name, _coordinator, tom_name, _ann, _area = NAMES[lang]
    coordinator, resident, tom = await uncovered_request(person, sessions, lang)
    assert (await sweep(sessions, utcnow())).nudged == 0

    alert = await until(coordinator, resident_name)
    assert "12 Luoshan Road" not in alert
    await coordinator.tap_inline(t(lang, "🔎 Find someone"))
    pool_line = (
        "💝 {name} does not have enough credit for this. The community pool can still give {pool}. "
        "Once the cost is covered, the nudges go out by themselves."
    )
    await until(
        coordinator, t(lang, pool_line).format(name=resident_name, pool=d(lang, DEMO_POOL_MINUTES))
    )
    ask = t(lang, "🙋 Ask {name}").format(name=tom_name)
    assert ask not in coordinator.inline_labels()  # nobody is asked before the cost is covered
    paid = t(lang, "💝 Thank you. The community pool pays, and the nudges go out now.")
    assert (await coordinator.tap_inline(t(lang, "💝 The community pool pays")))["text"] == paid
    good_news = "💝 Good news: the community pool will pay for {category}."
    await until(resident, t(lang, good_news).split("{")[0])

    assert (await sweep(sessions, utcnow())).nudged == 1
    await until(tom, t(lang, "🔔 Someone near you would like help"))
    await tom.tap_inline(t(lang, "✅ Accept"))
    await until(tom, t(lang, "🙏 Thank you! It is yours."))
    async with sessions() as s:
        [order] = list(await s.scalars(select(Order)))
        assert order.funding == OrderFunding.POOL and order.status == OrderStatus.ACCEPTED
        pool = await ledger.pool_account(s, order.branch_id)
        assert (await ledger.balance_of(s, pool.id)).held == order.estimated_minutes


async def window_end_of_the_order(sessions):
    async with sessions() as s:
        [order] = list(await s.scalars(select(Order)))
        return order.window_end


@pytest.mark.parametrize("lang", ["ko", "en"])
async def test_a_no_to_a_personal_ask_leads_back_to_the_view(person, sessions, lang) -> None:
    resident_name, coordinator_name, tom_name, _ann, _area = NAMES[lang]
    coordinator = await coordinator_member(person, sessions, coordinator_name, lang)
    other = await member(
        person, sessions, "Eve", lang, branch="luoshan", is_resident=False, is_coordinator=True
    )
    resident = await member(person, sessions, resident_name, lang, branch="luoshan")
    await grant(sessions, await member_id(sessions, resident), 300)
    tom = await volunteer(person, sessions, tom_name, lang, 0.001)
    await fill_in(resident, sessions, lang)
    await resident.tap_inline(t(lang, "✅ Send"))
    await resident.wait_reply()

    # Before any wave, the coordinator asks Tom personally.
    await coordinator.command("/waiting")
    await until(coordinator, plain(lang, "📋 <b>Requests still waiting for a volunteer</b>"))
    [entry] = coordinator.inline_labels()
    await coordinator.tap_inline(entry)
    ask_tom = t(lang, "🙋 Ask {name}").format(name=tom_name)
    await until(coordinator, f"✅ {tom_name} · ")
    await coordinator.tap_inline(ask_tom)
    await until(tom, t(lang, PERSONALLY).format(name=coordinator_name))
    await tom.tap_inline(t(lang, "Not this time"))

    repairs = await category_label(sessions, "repairs", lang)
    cannot = t(lang, CANNOT).format(volunteer=tom_name, category=repairs, name=resident_name)
    note = await until(coordinator, cannot)
    assert t(lang, "Shall we ask someone else?") in note
    await coordinator.tap_inline(t(lang, "🔎 Find someone"))
    await until(coordinator, t(lang, "said not this time"))
    await other.sync()
    assert not [m for m in other.bot_messages() if tom_name in (m.get("text") or "")]

    # Its time passes with the view open: the sweep expires it, and the buttons say so kindly.
    report = await sweep(sessions, await window_end_of_the_order(sessions))
    assert len(report.expired) == 1
    expired = t(
        lang,
        "😔 I am sorry: nobody was free in time for {category}. You are very welcome to ask again.",
    )
    await until(resident, expired.format(category=repairs))
    gone = t(lang, "This request is no longer waiting for a volunteer, so nothing was changed.")
    assert (await coordinator.tap_inline(ask_tom))["text"] == gone
    async with sessions() as s:
        asks = await s.scalar(select(func.count()).where(OutboxMessage.key.like("ask:%")))
        assert asks == 1


async def test_a_request_nobody_covered_lapses_honestly(person, sessions) -> None:
    lang = "zh_Hans"
    resident_name = NAMES[lang][0]
    coordinator, resident, tom = await uncovered_request(person, sessions, lang)
    await until(coordinator, resident_name)  # the alert

    await resident.tap(t(lang, "📋 My requests"))
    await until(resident, t(lang, "🕓 Waiting for a coordinator to help with the cost"))
    report = await sweep(sessions, await window_end_of_the_order(sessions))
    assert len(report.expired) == 1 and report.nudged == 0
    repairs = await category_label(sessions, "repairs", lang)
    uncovered = t(
        lang,
        "😔 I am sorry: the time for {category} has passed before its cost could be covered, "
        "so I could not ask the volunteers. A coordinator can help with credit; you are very "
        "welcome to ask again.",
    )
    await until(resident, uncovered.format(category=repairs))
    await resident.tap(t(lang, "📋 My requests"))
    await until(resident, t(lang, "⌛ Expired: the cost was not covered in time"))
    nobody_free = t(lang, "😔 I am sorry: nobody was free in time for {category}. "
                          "You are very welcome to ask again.")  # fmt: skip
    assert not [
        m
        for m in resident.bot_messages()
        if nobody_free.format(category=repairs) in (m.get("text") or "")
    ]
    lapsed = (
        "⌛ The time for {category} for {name} has passed. Nobody covered its cost, "
        "so no volunteer was asked. Perhaps check in with {name}?"
    )
    await until(coordinator, upto_when(lang, lapsed, category=repairs, name=resident_name))

    # The alert loses its buttons: it says there is nothing more to do, and spends nothing.
    expired = "⌛ {category}: this request has expired. There is nothing more to do."
    await until(coordinator, t(lang, expired).format(category=repairs))
    with pytest.raises(LookupError):
        await coordinator.tap_inline(t(lang, "💝 The community pool pays"))
    await tom.sync()
    assert not [
        m for m in tom.bot_messages()
        if t(lang, "🔔 Someone near you would like help") in (m.get("text") or "")
    ]  # fmt: skip
    async with sessions() as s:
        [order] = list(await s.scalars(select(Order)))
        assert order.status == OrderStatus.EXPIRED
        assert order.funding == OrderFunding.NEEDS_SPONSOR
        pool = await ledger.pool_account(s, order.branch_id)
        assert (await ledger.balance_of(s, pool.id)).held == 0
