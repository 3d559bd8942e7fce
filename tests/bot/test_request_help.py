"""Asking for help end to end through the local Bot API server, as members would do it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core import catalog, ledger
from core.db import transaction, utcnow
from core.models import (
    Category,
    Identity,
    Member,
    Order,
    OrderEvent,
    OrderFunding,
    OrderStatus,
)
from sandbox.persona import Persona
from tests.bot.conftest import COORDINATOR_ID
from tests.bot.lang import t

BRANCH_OF = {"zh_Hans": "luoshan", "ko": "mapo", "en": "luoshan"}
TAG_OF = {"zh_Hans": "zh-hans", "ko": "ko", "en": "en"}


async def member(
    person, sessions, name: str, lang: str, *, user_id: int | None = None, **fields
) -> Persona:
    """A persona who has signed up already (saved as onboarding would), at the main menu."""
    extra = {"user_id": user_id} if user_id else {}
    persona = await person(name, language_code=TAG_OF[lang], **extra)
    async with transaction(sessions, write=True) as session:
        branch = await catalog.branch_by_code(session, fields.pop("branch", BRANCH_OF[lang]))
        fields.setdefault("is_resident", True)
        row = Member(name=name, language=lang, branch_id=branch.id, onboarded_at=utcnow(), **fields)
        session.add(row)
        await session.flush()
        session.add(Identity(platform="telegram", external_id=str(persona.id), member_id=row.id))
    await persona.command("/start")
    await persona.wait_reply()
    return persona


async def coordinator_member(person, sessions, name: str, lang: str) -> Persona:
    """The running bot's coordinator (COORDINATOR_ID) of Luoshan, signed up, at the main menu."""
    return await member(
        person, sessions, name, lang, user_id=COORDINATOR_ID,
        branch="luoshan", is_resident=False, is_coordinator=True,
    )  # fmt: skip


async def member_id(sessions, persona: Persona) -> int:
    async with sessions() as session:
        return await session.scalar(
            select(Identity.member_id).where(Identity.external_id == str(persona.id))
        )


def sent_message(p: Persona) -> str:
    """The bot's "✅ Sent!" after an order; an offer to remember the address may follow it."""
    return next(m["text"] for m in reversed(p.bot_messages()) if m["text"].startswith("✅"))


async def all_orders(sessions) -> list[Order]:
    async with sessions() as session:
        return list(await session.scalars(select(Order).order_by(Order.id)))


async def category_label(sessions, code: str, lang: str) -> str:
    async with sessions() as session:
        category = await session.scalar(select(Category).where(Category.code == code))
    return f"{category.emoji} {catalog.localized(category.names, lang)}"


async def tap_shown(p: Persona, label: str, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Tap the reply button `label` once the bot shows it. A step's buttons may come in a
    message of their own a moment after its first words: under load, after the quiet
    window that ends `wait_reply`."""
    if label not in p.keyboard_labels():
        await p.wait_for(lambda _event: label in p.keyboard_labels(), timeout)
    await p.tap(label)


async def fill_in(
    p: Persona,
    sessions,
    lang: str,
    *,
    category: str = "repairs",
    describe: str | None = "The kitchen tap drips",
    voice: bool = False,
    when: str = "☀️ Tomorrow afternoon",
    where: str | None = "12 Luoshan Road, flat 3",
    duration: str = "1 hour",
    start: str = "🙋 Ask for help",
) -> dict:
    """Answer every step up to the review; returns the summary message. How long it takes
    is about an hour unless the review's ✏️ changes it to `duration`."""
    if start:
        await p.tap(t(lang, start))
        await p.wait_reply()
    assert p.last_text().startswith(t(lang, "What do you need help with?")[:4])
    await tap_shown(p, await category_label(sessions, category, lang))
    await p.wait_reply()
    if voice:
        await p.send_voice(duration=4)
    elif describe is None:
        await p.tap(t(lang, "Skip ➡️"))
    else:
        await p.send(describe)
    await p.wait_reply()
    await tap_shown(p, t(lang, when))
    await p.wait_reply()
    if where is None:
        await tap_shown(p, t(lang, "📍 Share my location"))
    else:
        await p.send(where)
    summary = await p.wait_reply()
    if duration != "1 hour":
        await p.tap_inline(t(lang, "✏️ How long"), message_id=summary["message_id"])
        await p.wait_reply()
        await p.tap(t(lang, duration))
        summary = await p.wait_reply()
    return summary


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
async def test_a_resident_asks_for_help_in_their_language(person, sessions, lang) -> None:
    names = {"zh_Hans": "王芳", "ko": "김영희", "en": "Margaret"}
    p = await member(person, sessions, names[lang], lang)
    summary = await fill_in(p, sessions, lang)
    assert t(lang, "✅ Send") in p.inline_labels(summary)
    assert "12 Luoshan Road, flat 3" in summary["text"]
    answer = await p.tap_inline(t(lang, "✅ Send"))
    assert answer["text"] == t(lang, "Sent!")
    await p.wait_reply()
    sent = sent_message(p)
    assert sent.startswith(t(lang, "✅ Sent! I will let you know as soon as a volunteer says yes."))
    assert t(lang, "📋 My requests") in p.keyboard_labels()
    [order] = await all_orders(sessions)
    assert order.status == OrderStatus.OPEN
    assert order.description == "The kitchen tap drips"
    assert order.estimated_minutes == 60
    assert order.when_asked["part"] == "afternoon"


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
async def test_a_voice_message_describes_the_help(person, sessions, lang) -> None:
    p = await member(person, sessions, "김영희", lang)
    await fill_in(p, sessions, lang, voice=True, where=None, duration="2 hours")
    assert t(lang, "🎤 A voice message") in p.last_text()
    await p.tap_inline(t(lang, "✅ Send"))
    await p.wait_reply()
    [order] = await all_orders(sessions)
    assert order.voice_file_id and order.description == ""
    assert order.place_kind == "location" and order.latitude is not None
    assert order.estimated_minutes == 120


def _code(text: str) -> str:
    import re

    found = re.search(r"(\d{3}) (\d{3})", text)
    assert found, text
    return found.group(1) + found.group(2)


async def link_family(father: Persona, daughter: Persona, lang: str) -> None:
    await father.tap(t(lang, "👨‍👩‍👧 Family"))
    await father.wait_reply()
    await father.tap_inline(t(lang, "🔑 Give my family a code"))
    code = _code((await father.wait_reply())["text"])
    await daughter.tap(t(lang, "👨‍👩‍👧 Family"))
    await daughter.wait_reply()
    await daughter.tap_inline(t(lang, "⌨️ I have a code"))
    await daughter.wait_reply()
    await daughter.send(code[:3] + " " + code[3:])
    await daughter.wait_reply()
    question = await father.wait_notice()
    assert t(lang, "✅ Yes") in father.inline_labels(question)
    await father.tap_inline(t(lang, "✅ Yes"))
    await father.wait_reply()
    await daughter.wait_notice()


async def test_a_daughter_asks_for_her_father(person, sessions) -> None:
    lang = "zh_Hans"
    father = await member(person, sessions, "王建国", lang, address="罗山路 7 弄 3 号")
    daughter = await member(person, sessions, "王丽", lang)
    await link_family(father, daughter, lang)

    await daughter.tap(t(lang, "🤲 Ask for someone else"))
    await daughter.wait_reply()
    assert daughter.last_text() == t(lang, "Who is the help for?")
    await daughter.tap("👤 王建国")
    await daughter.wait_reply()
    await daughter.tap(await category_label(sessions, "shopping", lang))
    await daughter.wait_reply()
    await daughter.send("买一袋米和鸡蛋")
    await daughter.wait_reply()
    await daughter.tap(t(lang, "⚡ As soon as possible"))
    await daughter.wait_reply()
    assert t(lang, "🏠 At their home") in daughter.keyboard_labels()
    await daughter.tap(t(lang, "🏠 At their home"))
    summary = await daughter.wait_reply()
    assert "王建国" in summary["text"] and "罗山路 7 弄 3 号" in summary["text"]
    await daughter.tap_inline(t(lang, "✅ Send"))
    await daughter.wait_reply()

    [order] = await all_orders(sessions)
    assert order.requester_id == await member_id(sessions, daughter)
    assert order.beneficiary_id == await member_id(sessions, father)
    assert order.address == "罗山路 7 弄 3 号" and order.place_kind == "home"
    told = await father.wait_notice()
    assert "王丽" in told["text"]


async def test_a_coordinator_asks_for_a_resident_without_a_phone(person, sessions) -> None:
    lang = "en"
    li = await member(person, sessions, "Li Wei", lang, user_id=COORDINATOR_ID, is_coordinator=True)
    await li.tap(t(lang, "🤲 Ask for someone else"))
    await li.wait_reply()
    await li.tap(t(lang, "➕ Someone without a phone"))
    await li.wait_reply()
    await li.send("Grandma Zhou")
    await li.wait_reply()
    await li.tap("Luoshan, Shanghai")
    await li.wait_reply()
    await li.send("Luoshan Village 1, building 5, flat 201")
    await li.wait_reply()
    assert li.last_text().startswith(t(lang, "What does {name} need help with?")[:9])
    await li.tap(await category_label(sessions, "hospital", lang))
    await li.wait_reply()
    await li.tap(t(lang, "Skip ➡️"))
    await li.wait_reply()
    await li.tap(t(lang, "📅 Another day"))
    calendar = await li.wait_reply()
    days = li.inline_labels(calendar)
    assert len(days) == 15  # today, for a time of its own, and two weeks ahead
    await li.tap_inline(days[2])
    await li.wait_reply()
    await li.send("9:30")
    await li.wait_reply()
    await li.tap(t(lang, "🏠 At their home"))
    summary = await li.wait_reply()
    await li.tap_inline(t(lang, "✏️ How long"), message_id=summary["message_id"])
    await li.wait_reply()
    await li.tap(t(lang, "Half a day"))
    summary = await li.wait_reply()
    assert "Grandma Zhou" in summary["text"]
    await li.tap_inline(t(lang, "✅ Send"))
    await li.wait_reply()

    [order] = await all_orders(sessions)
    async with sessions() as session:
        grandma = await session.get(Member, order.beneficiary_id)
        identities = await session.scalar(
            select(func.count()).where(Identity.member_id == grandma.id)
        )
    assert grandma.name == "Grandma Zhou" and identities == 0
    assert order.address == "Luoshan Village 1, building 5, flat 201"
    assert order.when_asked["kind"] == "exact" and order.when_asked["at"] == "09:30:00"
    assert order.estimated_minutes == 240
    assert order.requester_id == await member_id(sessions, li)
    # The resident is listed the next time, to ask for them again in one tap.
    await li.tap(t(lang, "🤲 Ask for someone else"))
    await li.wait_reply()
    assert "👤 Grandma Zhou" in li.keyboard_labels()


async def test_asking_for_someone_else_without_a_link_explains_how(person, sessions) -> None:
    p = await member(person, sessions, "Ann", "en")
    await p.tap("🤲 Ask for someone else")
    reply = await p.wait_reply()
    assert "Family" in reply["text"]
    assert "🙋 Ask for help" in p.keyboard_labels()


async def _accept_in_db(sessions, order_id: int, volunteer_id: int) -> None:
    async with transaction(sessions, write=True) as session:
        order = await session.get(Order, order_id)
        order.status = OrderStatus.ACCEPTED
        order.volunteer_id = volunteer_id


async def test_cancel_an_accepted_order_tells_the_volunteer(person, sessions) -> None:
    p = await member(person, sessions, "Margaret", "en")
    helper = await member(person, sessions, "Tom", "en", is_volunteer=True, verified=True)
    await fill_in(p, sessions, "en")
    await p.tap_inline("✅ Send")
    await p.wait_reply()
    [order] = await all_orders(sessions)
    await _accept_in_db(sessions, order.id, await member_id(sessions, helper))
    # Accepting (a later issue) holds the cost on the requester's account.
    async with transaction(sessions, write=True) as session:
        payer = await ledger.find_member_account(session, order.beneficiary_id)
        await ledger.grant(session, payer.id, 60, key="start-grant")
        earner = await ledger.open_member_account(
            session, await member_id(sessions, helper), order.branch_id
        )
        hold = await ledger.place_hold(
            session, payer.id, earner.id, 60, key="accept", order_id=order.id
        )

    await p.tap(t("en", "📋 My requests"))
    listing = await p.wait_reply()
    assert "Tom is coming to help" in listing["text"]
    await p.tap_inline(p.inline_labels(listing)[0])
    details = await p.wait_reply()
    assert "12 Luoshan Road" in details["text"]
    await p.tap_inline("✖️ Cancel this request")
    await p.wait_reply()
    answer = await p.tap_inline("I found help elsewhere")
    assert answer["text"] == "Cancelled."
    assert "✖️ Cancelled" in (await p.wait_reply())["text"]

    told = await helper.wait_notice()
    assert "was cancelled, so there is no need to go" in told["text"]
    async with sessions() as session:
        order = await session.get(Order, order.id)
        event = await session.scalar(select(OrderEvent).order_by(OrderEvent.id.desc()))
        released = await ledger.get_hold(session, hold.id)
        balance = await ledger.balance_of(session, payer.id)
    assert order.status == OrderStatus.CANCELLED
    assert (event.from_status, event.to_status, event.note) == (
        "accepted",
        "cancelled",
        "found_help",
    )
    assert released.status == ledger.HoldStatus.VOIDED
    assert (balance.balance, balance.held) == (60, 0)


async def test_cancel_with_a_typed_reason(person, sessions) -> None:
    p = await member(person, sessions, "김영희", "ko")
    await fill_in(p, sessions, "ko")
    await p.tap_inline(t("ko", "✅ Send"))
    await p.wait_reply()
    await p.tap(t("ko", "📋 My requests"))
    listing = await p.wait_reply()
    await p.tap_inline(p.inline_labels(listing)[0])
    await p.wait_reply()
    await p.tap_inline(t("ko", "✖️ Cancel this request"))
    await p.wait_reply()
    await p.tap_inline(t("ko", "✏️ Type a reason"))
    await p.wait_reply()
    await p.send_sticker()
    await p.wait_reply()
    await p.send("아들이 와서 고쳐 줬어요")
    reply = await p.wait_reply()
    assert reply["text"].startswith(t("ko", "✖️ The request is cancelled."))
    async with sessions() as session:
        event = await session.scalar(select(OrderEvent).order_by(OrderEvent.id.desc()))
    assert event.note == "아들이 와서 고쳐 줬어요"


async def test_double_tapping_send_makes_one_order(person, sessions, client) -> None:
    p = await member(person, sessions, "Margaret", "en")
    summary = await fill_in(p, sessions, "en")
    send = next(
        b["callback_data"]
        for row in summary["reply_markup"]["inline_keyboard"]
        for b in row
        if b["text"] == "✅ Send"
    )
    first = await client.press(p.id, summary["message_id"], send)
    second = await client.press(p.id, summary["message_id"], send)
    answers = [
        (await client.callback_answer(q["callback_query_id"], timeout=5))["answer"]["text"]
        for q in (first, second)
    ]
    assert answers[0] == "Sent!"
    assert answers[1] == t(
        "en", "This request was already sent. You can see it in “📋 My requests”."
    )
    assert len(await all_orders(sessions)) == 1


async def test_a_restart_in_the_middle_resumes_at_the_same_step(
    person, sessions, running_bot
) -> None:
    p = await member(person, sessions, "王芳", "zh_Hans")
    await p.tap(t("zh_Hans", "🙋 Ask for help"))
    await p.wait_reply()
    await p.tap(await category_label(sessions, "cleaning", "zh_Hans"))
    await p.wait_reply()
    await p.send("擦窗户")
    await p.wait_reply()

    await running_bot.restart()

    await p.tap(t("zh_Hans", "⚡ As soon as possible"))
    reply = await p.wait_reply()
    assert reply["text"] == t(
        "zh_Hans",
        "Where should the volunteer come? Tap a button, or type the address. "
        "Only the volunteer who accepts will see it.",
    )
    await p.send("罗山路 7 弄")
    await p.wait_reply()
    await p.tap_inline(t("zh_Hans", "✅ Send"))
    await p.wait_reply()
    [order] = await all_orders(sessions)
    assert order.description == "擦窗户"


async def test_edit_a_field_from_the_review_and_come_back(person, sessions) -> None:
    p = await member(person, sessions, "Ann", "en")
    first = await fill_in(p, sessions, "en")
    await p.tap_inline("✏️ How long", message_id=first["message_id"])
    await p.wait_reply()
    assert p.last_text() == "About how long might it take?"
    await p.tap("2 hours")
    second = await p.wait_reply()
    assert "About 2 hours" in second["text"]
    # The older summary lost its buttons; its Send is no longer there to tap.
    old = next(m for m in p.bot_messages() if m["message_id"] == first["message_id"])
    assert not (old.get("reply_markup") or {}).get("inline_keyboard")
    await p.tap_inline("✏️ Where", message_id=second["message_id"])
    await p.wait_reply()
    await p.tap("⬅️ Back")  # Back while editing returns to the review unchanged
    third = await p.wait_reply()
    assert "12 Luoshan Road" in third["text"]
    await p.tap_inline("✅ Send", message_id=third["message_id"])
    await p.wait_reply()
    [order] = await all_orders(sessions)
    assert order.estimated_minutes == 120


async def test_back_and_cancel(person, sessions) -> None:
    p = await member(person, sessions, "Ann", "en")
    await p.tap("🙋 Ask for help")
    await p.wait_reply()
    await p.tap(await category_label(sessions, "pets", "en"))
    await p.wait_reply()
    await p.tap("⬅️ Back")
    assert (await p.wait_reply())["text"] == "What do you need help with?"
    await p.tap(await category_label(sessions, "pets", "en"))
    await p.wait_reply()
    await p.send("Walk Bella")
    await p.wait_reply()
    await p.tap("📅 Another day")
    await p.wait_reply()
    await p.tap("⬅️ Back")
    assert (await p.wait_reply())["text"] == "When would you like the help?"
    await p.tap("✖️ Cancel")
    reply = await p.wait_reply()
    assert reply["text"].startswith("Okay, I did not send anything.")
    assert "🙋 Ask for help" in p.keyboard_labels()
    assert await all_orders(sessions) == []


@pytest.mark.parametrize("bad", ["sticker", "photo"])
async def test_a_sticker_or_photo_where_text_is_asked_reprompts(person, sessions, bad) -> None:
    p = await member(person, sessions, "Ann", "en")
    await p.tap("🙋 Ask for help")
    await p.wait_reply()
    await p.tap(await category_label(sessions, "repairs", "en"))
    await p.wait_reply()
    await (p.send_sticker() if bad == "sticker" else p.send_photo())
    reply = await p.wait_reply()
    assert reply["text"].startswith("Please type a few words, or send a voice message.")
    await p.send("The door lock is stuck")
    assert (await p.wait_reply())["text"] == "When would you like the help?"


async def test_a_long_description_is_cut_kindly_after_asking(person, sessions) -> None:
    p = await member(person, sessions, "Ann", "en")
    await p.tap("🙋 Ask for help")
    await p.wait_reply()
    await p.tap(await category_label(sessions, "other", "en"))
    await p.wait_reply()
    await p.send("word " * 300)
    reply = await p.wait_reply()
    assert reply["text"].startswith("That is a long message!")
    await p.tap("✅ Yes, that is fine")
    assert (await p.wait_reply())["text"] == "When would you like the help?"
    await p.tap("⚡ As soon as possible")
    await p.wait_reply()
    await p.send("Flat 3")
    await p.wait_reply()
    await p.tap_inline("✅ Send")
    await p.wait_reply()
    [order] = await all_orders(sessions)
    assert len(order.description) <= 1000 and order.description.startswith("word word")


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
async def test_a_description_telegram_split_in_two_is_asked_about_once(
    person, sessions, lang
) -> None:
    """5,000 characters arrive as 4,096 and 904: the second part is not the description."""
    p = await member(person, sessions, "Ann", lang)
    await p.tap(t(lang, "🙋 Ask for help"))
    await p.wait_reply()
    await p.tap(await category_label(sessions, "other", lang))
    await p.wait_reply()
    await p.send("a" * 4096)
    await p.send("tail " * 180)
    await p.wait_reply()
    assert t(lang, "✅ Yes, that is fine") in p.keyboard_labels()
    await p.tap(t(lang, "✅ Yes, that is fine"))
    assert (await p.wait_reply())["text"] == t(lang, "When would you like the help?")
    await p.tap(t(lang, "⚡ As soon as possible"))
    await p.wait_reply()
    await p.send("Flat 3")
    await p.wait_reply()
    await p.tap_inline(t(lang, "✅ Send"))
    await p.wait_reply()
    [order] = await all_orders(sessions)
    assert order.description == "a" * len(order.description) and "tail" not in order.description


async def test_same_as_last_time_asks_only_when(person, sessions) -> None:
    p = await member(person, sessions, "Ann", "en")
    await fill_in(p, sessions, "en", category="smartphone", describe="Video calls")
    await p.tap_inline("✅ Send")
    await p.wait_reply()
    await p.tap("🙋 Ask for help")
    await p.wait_reply()
    assert p.keyboard_labels()[0] == "🔁 Same as last time"
    await p.tap("🔁 Same as last time")
    assert (await p.wait_reply())["text"] == "When would you like the help?"
    await p.tap("⚡ As soon as possible")
    summary = await p.wait_reply()
    assert "Video calls" in summary["text"] and "📱" in summary["text"]
    await p.tap_inline("✅ Send")
    await p.wait_reply()
    first, second = await all_orders(sessions)
    assert (second.category_id, second.description, second.address) == (
        first.category_id,
        first.description,
        first.address,
    )
    assert second.when_asked["kind"] == "asap"


async def test_the_open_order_limit_is_explained(person, sessions) -> None:
    p = await member(person, sessions, "Ann", "en")
    for _ in range(3):
        await fill_in(p, sessions, "en")
        await p.tap_inline("✅ Send")
        await p.wait_reply()
    await p.tap("🙋 Ask for help")
    reply = await p.wait_reply()
    assert reply["text"].startswith("There are already 3 open requests.")
    assert len(await all_orders(sessions)) == 3


async def test_a_time_already_past_today_is_refused(person, sessions) -> None:
    p = await member(person, sessions, "Ann", "en")
    await p.tap("🙋 Ask for help")
    await p.wait_reply()
    await p.tap(await category_label(sessions, "repairs", "en"))
    await p.wait_reply()
    await p.tap("Skip ➡️")
    await p.wait_reply()
    await p.tap("📅 Another day")
    await p.wait_reply()
    await p.tap_inline_at(0, 0)  # today
    await p.wait_reply()
    await p.send("0:01")
    reply = await p.wait_reply()
    assert reply["text"].startswith("That time has already passed.")


async def test_a_member_who_cannot_cover_the_cost_is_told_kindly(person, sessions) -> None:
    p = await member(person, sessions, "Ann", "en", is_resident=False)  # no residents' overdraft
    summary = await fill_in(p, sessions, "en")
    assert "💳 Cost: about 1 hour of time credit." in summary["text"]
    assert "You earn credit by helping a neighbour" in summary["text"]
    await p.tap_inline("✅ Send")
    await p.wait_reply()
    assert "A coordinator will see that it needs help with the cost." in sent_message(p)
    [order] = await all_orders(sessions)
    assert order.funding == OrderFunding.NEEDS_SPONSOR


async def test_forged_buttons_get_a_short_kind_answer_and_change_nothing(person, sessions) -> None:
    from datetime import date, timedelta

    from core import orders
    from core.orders import HelpRequest, Place
    from core.schedule import When

    ann = await member(person, sessions, "Ann", "en", branch="luoshan")
    eve = await member(person, sessions, "Eve", "en", branch="luoshan")
    async with transaction(sessions, write=True) as session:
        category = (await catalog.categories(session))[0]
        placed = await orders.place_order(
            session,
            requester_id=await member_id(sessions, ann),
            beneficiary_id=await member_id(sessions, ann),
            request=HelpRequest(
                category_id=category.id,
                when=When.day_part(date.today() + timedelta(days=2), "morning"),
                place=Place.typed("1 Main Street"),
                estimated_minutes=60,
            ),
            key="forged-test",
            max_open=3,
        )
    order_id = placed.order.id
    forged = {
        "ask:send:0123456789abcdef": "This button is no longer active.",
        "day:0123456789abcdef:20991231": "This button is no longer active.",
        "ord:999999": "Sorry, I could not find that.",
        "ord:abc": "This button is no longer active.",
        f"ordx:{order_id}:hack": "Sorry, I did not understand that.",
        "fam:unlink:999": "This button is no longer active.",
        "fam:hack:0": "Sorry, I did not understand that.",
        "famok:999:1": "Sorry, I could not find that.",
    }
    for data, answer in forged.items():
        assert (await ann.forge_tap(data))["text"] == answer, data
    # Eve may not cancel Ann's order, even with a well-formed button.
    cancel = await eve.forge_tap(f"ordx:{order_id}:not_needed")
    assert cancel["text"] == "Sorry, I could not find that."
    [order] = await all_orders(sessions)
    assert order.status == OrderStatus.OPEN
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OrderEvent)) == 1


async def test_either_side_can_unlink(person, sessions) -> None:
    lang = "ko"
    father = await member(person, sessions, "박영수", lang)
    son = await member(person, sessions, "박민준", lang)
    await link_family(father, son, lang)
    await son.tap(t(lang, "👨‍👩‍👧 Family"))
    overview = await son.wait_reply()
    assert "박영수" in overview["text"]
    await son.tap_inline(t(lang, "✖️ Unlink {name}").format(name="박영수"))
    await son.wait_reply()
    await son.tap_inline(t(lang, "Yes, unlink"))
    await son.wait_reply()
    told = await father.wait_notice()
    assert "박민준" in told["text"]
    await son.tap(t(lang, "🤲 Ask for someone else"))
    reply = await son.wait_reply()
    assert reply["text"] == t(
        lang,
        "To ask for someone else, link with them first. They tap “👨‍👩‍👧 Family” and “Give my "
        "family a code”; then you tap “👨‍👩‍👧 Family”, “I have a code”, and type it in.",
    )


async def test_a_parent_may_say_no(person, sessions) -> None:
    lang = "en"
    mum = await member(person, sessions, "Mum", lang)
    son = await member(person, sessions, "Sam", lang)
    await mum.tap("👨‍👩‍👧 Family")
    await mum.wait_reply()
    await mum.tap_inline("🔑 Give my family a code")
    code = _code((await mum.wait_reply())["text"])
    await son.tap("👨‍👩‍👧 Family")
    await son.wait_reply()
    await son.tap_inline("⌨️ I have a code")
    await son.wait_reply()
    await son.send("999 999" if code != "999999" else "111 111")
    assert (await son.wait_reply())["text"].startswith("That code does not work.")
    await son.send(code)
    await son.wait_reply()
    await mum.wait_notice()
    await mum.tap_inline("✖️ No")
    assert (await mum.wait_reply())["text"] == "Okay, no link was made."
    assert (await son.wait_notice())["text"] == "Mum did not confirm the family link."


@pytest.mark.parametrize(
    ("credit", "sponsored", "line", "funding"),
    [
        (150, False, "Your available balance: 2 hours 30 min.", OrderFunding.OWN),
        (0, True, "The community pool pays for this, so no credit is needed.", OrderFunding.POOL),
    ],
)
async def test_the_review_shows_the_cost_and_the_balance(
    person, sessions, credit, sponsored, line, funding
) -> None:
    p = await member(person, sessions, "Ann", "en", sponsored=sponsored)
    if credit:
        async with transaction(sessions, write=True) as session:
            me = await session.get(Member, await member_id(sessions, p))
            account = await ledger.open_member_account(session, me.id, me.branch_id)
            await ledger.grant(session, account.id, credit, key="start-grant")
    summary = await fill_in(p, sessions, "en", category="shopping")
    assert "🛒 Shopping & errands" in summary["text"]  # "&" sent escaped as HTML
    assert "💳 Cost: about 1 hour of time credit." in summary["text"]
    assert line in summary["text"]
    await p.tap_inline("✅ Send")
    reply = await p.wait_reply()
    assert "coordinator" not in reply["text"]
    await p.tap(t("en", "📋 My requests"))
    assert "🛒 Shopping & errands" in (await p.wait_reply())["text"]
    [order] = await all_orders(sessions)
    assert order.funding == funding


@pytest.mark.parametrize("lang", ["zh_Hans", "ko"])
async def test_a_typed_address_can_become_my_home(person, sessions, lang) -> None:
    p = await member(person, sessions, "王芳" if lang == "zh_Hans" else "김영희", lang)
    await fill_in(p, sessions, lang)
    await p.tap_inline(t(lang, "✅ Send"))
    await p.wait_reply()
    offer = t(
        lang, "Is {address} your home? I can remember it, so next time you just tap “{my_home}”."
    )
    await p.wait_reply()
    assert p.last_text() == offer.format(
        address="12 Luoshan Road, flat 3", my_home=t(lang, "🏠 My home")
    )
    await p.tap_inline(t(lang, "🏠 Yes, remember it"))
    await p.wait_reply()
    assert "12 Luoshan Road, flat 3" in p.last_text()
    async with sessions() as session:
        me = await session.get(Member, await member_id(sessions, p))
        assert me.address == "12 Luoshan Road, flat 3"

    # Next time: "My home" is offered, and nobody asks again.
    await p.tap(t(lang, "🙋 Ask for help"))
    await p.wait_reply()
    await p.tap(await category_label(sessions, "shopping", lang))
    await p.wait_reply()
    await p.tap(t(lang, "Skip ➡️"))
    await p.wait_reply()
    await p.tap(t(lang, "☀️ Tomorrow afternoon"))
    await p.wait_reply()
    assert t(lang, "🏠 My home") in p.keyboard_labels()
    await p.tap(t(lang, "🏠 My home"))
    review = await p.wait_reply()
    assert "12 Luoshan Road, flat 3" in review["text"]
    await p.tap_inline(t(lang, "✅ Send"))
    await p.wait_reply(quiet=0.5)
    assert not any(offer[:6] in (m.get("text") or "") for m in p.bot_messages()[-2:])
    assert [o.place_kind for o in await all_orders(sessions)] == ["address", "home"]


async def test_someone_elses_order_cannot_become_my_home(person, sessions) -> None:
    ann = await member(person, sessions, "Ann", "en")
    eve = await member(person, sessions, "Eve", "en")
    await fill_in(ann, sessions, "en")
    await ann.tap_inline(t("en", "✅ Send"))
    await ann.wait_reply()
    [order] = await all_orders(sessions)
    answer = await eve.forge_tap(f"home:{order.id}:1")
    assert answer["text"] == "Sorry, I could not find that."
    async with sessions() as session:
        assert (await session.get(Member, await member_id(sessions, eve))).address is None
    await ann.tap_inline(t("en", "No, thank you"))
    await ann.wait_reply()
    assert ann.last_text() == "All right, I will not keep it."
    async with sessions() as session:
        assert (await session.get(Member, await member_id(sessions, ann))).address is None
