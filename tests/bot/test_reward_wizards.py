"""The rewards' wizards through the local Bot API server, with what members really send: Back
and Cancel at every step, a sticker where words were asked, the longest message Telegram
allows (4,096 characters). Each bad answer gets a short kind reply and the question again;
leaving adds nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core import ledger
from core.db import transaction
from core.ledger import PostingKind
from core.models import Member, OutboxMessage
from core.notices import Kind
from core.rewards import merchants
from core.rewards.merchants import CATEGORIES
from core.rewards.tables import Merchant, RewardItem
from sandbox.persona import Persona
from tests.bot.lang import t
from tests.bot.test_request_help import coordinator_member, member, member_id
from tests.bot.test_rewards import PLACE_QUESTION
from tests.bot.test_volunteer_journey import grant, until

LANG = "en"
LONGEST = "x" * 4096


@pytest.fixture(autouse=True)
def _no_scheduled_sweep(monkeypatch) -> None:
    monkeypatch.setenv("TIMEBANK_SWEEP_SECONDS", "0")


async def answer(persona: Persona, send) -> str:
    """What the bot says to one answer (sent by `send`, an awaitable)."""
    await send
    return (await persona.wait_reply())["text"]


async def test_the_certificate_title_reasks_and_leaves_with_back_or_cancel(
    person, sessions
) -> None:
    coordinator = await coordinator_member(person, sessions, "Li Wei", LANG)
    helper = await member(person, sessions, "Ann", LANG, branch="luoshan", is_volunteer=True)
    resident = await member(person, sessions, "Ruth", LANG, branch="luoshan")
    rid, hid = await member_id(sessions, resident), await member_id(sessions, helper)
    await grant(sessions, rid, 120)
    async with transaction(sessions, write=True) as session:
        paying = await ledger.find_member_account(session, rid)
        helped = await ledger.open_member_account(session, hid, paying.branch_id)
        await ledger.transfer(
            session, paying.id, helped.id, 60, kind=PostingKind.SERVICE, key="test:help"
        )
    question = t(
        LANG, "How should the certificates be signed? Your name goes with the title you type."
    )
    left = t(LANG, "Okay, no certificates were sent.")
    for leave in ("⬅️ Back", "✖️ Cancel"):
        await coordinator.command("/leaderboard")
        await coordinator.wait_reply()
        await coordinator.tap_inline(t(LANG, "This year"), timeout=15)
        await until(coordinator, "Ann")
        await coordinator.tap_inline("▫️ Ann", timeout=15)
        await coordinator.tap_inline(t(LANG, "🏅 Send certificates"), timeout=15)
        await until(coordinator, question)
        said = await answer(coordinator, coordinator.send_sticker())
        assert t(LANG, "Please type the title, or tap the button.") in said and question in said
        said = await answer(coordinator, coordinator.send(LONGEST))
        hint = t(LANG, "Please type it as a short text, up to {maximum} letters.")
        assert hint.format(maximum=100) in said and question in said
        assert await answer(coordinator, coordinator.tap(t(LANG, leave))) == left
    async with sessions() as session:
        sent = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == Kind.CERTIFICATE)
        )
        assert list(sent) == []


async def test_adding_a_shop_reasks_goes_back_and_cancels(person, sessions) -> None:
    coordinator = await coordinator_member(person, sessions, "Li Wei", LANG)
    name_q = t(LANG, "What is the shop called?")
    address_q = t(LANG, "What is its address? You may skip this.")
    contact_q = t(
        LANG,
        "How can people reach the shop (a phone number or a contact person)? You may skip this.",
    )
    place_q = t(LANG, PLACE_QUESTION)
    short = t(LANG, "Please answer with a short text.")
    limit = t(LANG, "Please type it as a short text, up to {maximum} letters.")
    left = t(LANG, "Okay, no shop was added.")

    async def add_a_shop() -> None:
        await coordinator.command("/shops")
        await coordinator.wait_reply()
        await coordinator.tap_inline(t(LANG, "➕ Add a partner shop"), timeout=15)
        await until(coordinator, name_q)

    await add_a_shop()
    assert await answer(coordinator, coordinator.tap(t(LANG, "⬅️ Back"))) == left
    await add_a_shop()
    said = await answer(coordinator, coordinator.send_sticker())
    assert short in said and name_q in said
    said = await answer(coordinator, coordinator.send(LONGEST))
    assert limit.format(maximum=100) in said and name_q in said
    assert await answer(coordinator, coordinator.send("Tom's Oil")) == address_q
    assert await answer(coordinator, coordinator.tap(t(LANG, "⬅️ Back"))) == name_q
    assert await answer(coordinator, coordinator.send("Tom's Oil")) == address_q
    said = await answer(coordinator, coordinator.send(LONGEST))
    assert limit.format(maximum=300) in said and address_q in said
    assert await answer(coordinator, coordinator.tap(t(LANG, "Skip ➡️"))) == place_q
    said = await answer(coordinator, coordinator.send(LONGEST))
    assert t(LANG, "Please send the shop's place on the map, or tap “Skip ➡️”.") in said
    assert place_q in said
    assert await answer(coordinator, coordinator.tap(t(LANG, "⬅️ Back"))) == address_q
    assert await answer(coordinator, coordinator.tap(t(LANG, "Skip ➡️"))) == place_q
    assert await answer(coordinator, coordinator.tap(t(LANG, "Skip ➡️"))) == contact_q
    said = await answer(coordinator, coordinator.send_photo())
    assert short in said and contact_q in said
    assert await answer(coordinator, coordinator.tap(t(LANG, "⬅️ Back"))) == place_q
    assert await answer(coordinator, coordinator.tap(t(LANG, "✖️ Cancel"))) == left
    async with sessions() as session:
        assert await session.scalar(select(Merchant).where(Merchant.name == "Tom's Oil")) is None


async def a_shop_with_staff(sessions, coordinator: Persona, staff: Persona) -> int:
    coordinator_id = await member_id(sessions, coordinator)
    async with transaction(sessions, write=True) as session:
        branch_id = (await session.get(Member, coordinator_id)).branch_id
        shop = await merchants.register_merchant(
            session, coordinator_id, branch_id, name="Tom's Oil"
        )
        invite = await merchants.invite_staff(session, coordinator_id, shop.id)
        await merchants.join_staff(session, await member_id(sessions, staff), invite.code)
        return shop.id


async def test_adding_an_item_reasks_goes_back_and_cancels(person, sessions) -> None:
    coordinator = await coordinator_member(person, sessions, "Li Wei", LANG)
    staff = await member(person, sessions, "Ann", LANG, branch="luoshan")
    shop_id = await a_shop_with_staff(sessions, coordinator, staff)
    shelf_q = t(LANG, "Which shelf does the new item go on?")
    name_q = t(LANG, "What is the item called? For example: a 5-litre bottle of cooking oil.")
    other_q = t(LANG, "Its name in {language}? You may skip this.")
    chinese, korean = other_q.format(language="中文"), other_q.format(language="한국어")
    price_q = t(LANG, "How much time does it cost? Tap a button or type it, like 45 or 1:30.")
    photo_q = t(LANG, "Send a photo of it, or skip.")
    stock_q = t(LANG, "How many do you have? Type a number, or tap Unlimited.")
    until_q = t(LANG, "How long is it offered?")
    buttons = t(LANG, "Please choose one of the buttons below.")
    left = t(LANG, "Okay, nothing was added.")
    back, skip = t(LANG, "⬅️ Back"), t(LANG, "Skip ➡️")

    async def add_an_item() -> None:
        await staff.command("/shop")
        await staff.wait_reply()
        await staff.tap_inline(t(LANG, "➕ Add an item"), timeout=15)
        await until(staff, shelf_q)

    await add_an_item()
    said = await answer(staff, staff.send_sticker())
    assert buttons in said and shelf_q in said
    assert await answer(staff, staff.tap(back)) == left
    await add_an_item()
    assert await answer(staff, staff.tap(f"🛒 {CATEGORIES['groceries'][LANG]}")) == name_q
    said = await answer(staff, staff.send(LONGEST))
    assert t(LANG, "Please type it as a short text, up to {maximum} letters.").format(
        maximum=100
    ) in said and said.endswith(name_q)
    assert await answer(staff, staff.send("Oil")) == chinese
    assert await answer(staff, staff.tap(skip)) == korean
    assert await answer(staff, staff.tap(back)) == chinese
    assert await answer(staff, staff.tap(skip)) == korean
    assert await answer(staff, staff.tap(skip)) == price_q
    assert await answer(staff, staff.tap(back)) == korean
    assert await answer(staff, staff.tap(skip)) == price_q
    said = await answer(staff, staff.send("a lot"))
    price = t(LANG, "Please give the price as a whole number of minutes from 1 to {maximum}.")
    assert price.format(maximum=6000) in said and said.endswith(price_q)
    assert await answer(staff, staff.send("1:30")) == photo_q
    said = await answer(staff, staff.send_sticker())
    assert t(LANG, "Please send a photo, or tap “Skip ➡️”.") in said and said.endswith(photo_q)
    assert await answer(staff, staff.send_photo()) == stock_q
    said = await answer(staff, staff.send(LONGEST))
    assert (
        t(
            LANG,
            "Please give the stock as a whole number from 0 to {maximum}, or leave it unlimited.",
        ).format(maximum="100000")
        in said
    )
    assert await answer(staff, staff.tap(back)) == photo_q
    assert await answer(staff, staff.tap(skip)) == stock_q
    assert await answer(staff, staff.send("5")) == until_q
    said = await answer(staff, staff.send("forever"))
    assert buttons in said and said.endswith(until_q)
    assert await answer(staff, staff.tap(t(LANG, "✖️ Cancel"))) == left
    async with sessions() as session:
        items = await session.scalars(select(RewardItem).where(RewardItem.merchant_id == shop_id))
        assert list(items) == []


async def test_settling_a_shop_reasks_goes_back_and_cancels(person, sessions) -> None:
    coordinator = await coordinator_member(person, sessions, "Li Wei", LANG)
    staff = await member(person, sessions, "Ann", LANG, branch="luoshan")
    shop_id = await a_shop_with_staff(sessions, coordinator, staff)
    minutes_q = t(
        LANG, "How much of {shop}'s hours did the branch settle? Type it, like 90 or 1:30."
    ).format(shop="Tom's Oil")
    reason_q = t(LANG, "Why? For example: paid by the street office for November.")
    left = t(LANG, "Okay, nothing was recorded.")
    back = t(LANG, "⬅️ Back")

    async def settle() -> None:
        await coordinator.command("/shops")
        await coordinator.wait_reply()
        await coordinator.tap_inline("🏪 Tom's Oil", timeout=15)
        await coordinator.tap_inline(t(LANG, "💱 Settle hours"), timeout=15)
        await until(coordinator, minutes_q)

    await settle()
    said = await answer(coordinator, coordinator.send_sticker())
    price = t(LANG, "Please give the price as a whole number of minutes from 1 to {maximum}.")
    assert price.format(maximum=6000) in said and said.endswith(minutes_q)
    assert await answer(coordinator, coordinator.tap(back)) == left
    await settle()
    assert await answer(coordinator, coordinator.send("1:30")) == reason_q
    said = await answer(coordinator, coordinator.send(LONGEST))
    short = t(LANG, "Please type it as a short text, up to {maximum} letters.")
    assert short.format(maximum=200) in said and said.endswith(reason_q)
    assert await answer(coordinator, coordinator.tap(back)) == minutes_q
    assert await answer(coordinator, coordinator.send("30")) == reason_q
    confirm_q = await answer(coordinator, coordinator.send("Paid by the street office"))
    said = await answer(coordinator, coordinator.send_sticker())
    assert t(LANG, "Please choose one of the buttons below.") in said
    assert said.endswith(confirm_q)
    assert await answer(coordinator, coordinator.tap(back)) == reason_q
    assert await answer(coordinator, coordinator.tap(t(LANG, "✖️ Cancel"))) == left
    async with sessions() as session:
        shop = await session.get(Merchant, shop_id)
        account = await ledger.merchant_account(session, shop_id, shop.branch_id)
        assert (await ledger.balance_of(session, account.id)).balance == 0
