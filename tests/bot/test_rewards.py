"""Spending hours at a partner shop, end to end through the local Bot API server, in Chinese,
Korean and English: a coordinator adds a shop and invites its staff, who add an item; a
resident gets a code; the staff open its QR's deep link and confirm; both get receipts, and
the hours move by exactly the price. A second code expires unused and its hold is released.
Then the coordinator honours the staff member, who gets a certificate (PDF and picture) in
their language, and asks for one of their own."""

from __future__ import annotations

import re
import subprocess
from datetime import timedelta

import pytest
from sqlalchemy import select

from core import helping, ledger, statements
from core.db import transaction, utcnow
from core.ledger import PostingKind
from core.models import Member
from core.rewards import redemption
from core.rewards.merchants import CATEGORIES
from core.rewards.tables import Merchant, Redemption, RedemptionStatus, RewardItem
from sandbox.persona import Persona
from tests.bot.lang import t
from tests.bot.test_request_help import coordinator_member, member, member_id
from tests.bot.test_volunteer_journey import d, grant, until

SHOP = {"zh_Hans": "<b>&老王</b> 粮油", "ko": "<b>&박씨</b> 가게", "en": "<b>&Tom</b>'s Oil"}
ITEM = {"zh_Hans": "食用油一桶", "ko": "식용유 한 통", "en": "A bottle of oil"}
RESIDENT = {"zh_Hans": "王芳", "ko": "김영희", "en": "Margaret Lee"}
FIRST_NAME = {"zh_Hans": "芳", "ko": "영희", "en": "Margaret"}
STAFF = {"zh_Hans": "张秀英", "ko": "박민수", "en": "Ann Staff"}
PHONE = "+86 138 0013 8000"
PLACE_QUESTION = (
    "Where is the shop on the map? Neighbours nearby then see it first. If you are at the "
    "shop, tap the button; if not, send its place with 📎 → Location. You may skip this."
)


@pytest.fixture(autouse=True)
def _no_scheduled_sweep(monkeypatch) -> None:
    monkeypatch.setenv("TIMEBANK_SWEEP_SECONDS", "0")


def pdf_text(data: bytes) -> str:
    done = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True
    )
    return " ".join(done.stdout.decode("utf-8").split())


async def last_with(persona: Persona, key: str, timeout: float = 60.0) -> dict:  # noqa: ASYNC109
    """The bot's latest message to the persona that carries a `key` (document, photo)."""
    await persona.wait_for(lambda _e: any(key in m for m in persona.bot_messages()), timeout)
    return next(m for m in reversed(persona.bot_messages()) if key in m)


async def add_shop(coordinator: Persona, lang: str) -> str:
    """The coordinator adds the shop; returns the staff's invite code."""
    await coordinator.command("/shops")
    await coordinator.wait_reply()
    await coordinator.tap_inline(t(lang, "➕ Add a partner shop"), timeout=15)
    await until(coordinator, t(lang, "What is the shop called?"))
    await coordinator.send(SHOP[lang])
    await until(coordinator, t(lang, "What is its address? You may skip this."))
    await coordinator.tap(t(lang, "⬅️ Back"))  # Back works, then on again
    # Both questions were asked before: the replies to these taps are waited for, not found.
    assert t(lang, "What is the shop called?") in (await coordinator.wait_reply())["text"]
    await coordinator.send(SHOP[lang])
    asked = (await coordinator.wait_reply())["text"]
    assert t(lang, "What is its address? You may skip this.") in asked
    await coordinator.tap(t(lang, "Skip ➡️"))
    await until(coordinator, t(lang, PLACE_QUESTION))
    await coordinator.tap(t(lang, "Skip ➡️"))
    await until(
        coordinator,
        t(
            lang,
            "How can people reach the shop (a phone number or a contact person)? "
            "You may skip this.",
        ),
    )
    await coordinator.tap(t(lang, "Skip ➡️"))
    invite = await until(coordinator, "mst-")
    assert SHOP[lang] in await until(coordinator, SHOP[lang])  # shown literally, escaped
    return re.search(r"mst-(\d{8})", invite)[1]


async def add_item(staff: Persona, lang: str) -> None:
    await staff.command("/shop")
    await staff.wait_reply()
    await staff.tap_inline(t(lang, "➕ Add an item"), timeout=15)
    await until(staff, t(lang, "Which shelf does the new item go on?"))
    await staff.tap(f"🛒 {CATEGORIES['groceries'][lang]}")
    await until(
        staff, t(lang, "What is the item called? For example: a 5-litre bottle of cooking oil.")
    )
    await staff.send(ITEM[lang])
    for _other in range(2):
        await staff.wait_reply()
        await staff.tap(t(lang, "Skip ➡️"))
    await until(
        staff, t(lang, "How much time does it cost? Tap a button or type it, like 45 or 1:30.")
    )
    await staff.tap(t(lang, "1 hour"))
    await until(staff, t(lang, "Send a photo of it, or skip."))
    await staff.tap(t(lang, "Skip ➡️"))
    await until(staff, t(lang, "How many do you have? Type a number, or tap Unlimited."))
    await staff.send("5")
    await until(staff, t(lang, "How long is it offered?"))
    await staff.tap(t(lang, "No end date"))
    added = t(lang, "✅ Added: {item}, {hours}. Members can see it under “🎁 Spend my hours” now.")
    await until(staff, added.format(item=ITEM[lang], hours=d(lang, 60)))


async def get_code(resident: Persona, sessions, lang: str) -> Redemption:
    async with sessions() as session:
        rid = await member_id(sessions, resident)
        _, spendable = await redemption.spending_power(session, await session.get(Member, rid))
    await resident.tap(t(lang, "🎁 Spend my hours"))
    await until(resident, t(lang, "You can spend {hours} now.").format(hours=d(lang, spendable)))
    await resident.tap_inline(f"{ITEM[lang]} · {d(lang, 60)}", timeout=15)
    await until(resident, t(lang, "⏳ Price: {hours}").format(hours=d(lang, 60)))
    await resident.tap_inline(t(lang, "🎟 Get a code"), timeout=15)
    caption = await until(
        resident, t(lang, "Show this picture at the shop, or read them the code. It works once.")
    )
    code = re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}", caption)[0]
    async with sessions() as session:
        return await session.scalar(
            select(Redemption).where(Redemption.code == code.replace("-", ""))
        )


async def honour_and_certificate(coordinator: Persona, staff: Persona, client, lang: str) -> None:
    await coordinator.command("/leaderboard")
    await coordinator.wait_reply()
    await coordinator.tap_inline(t(lang, "This year"), timeout=15)
    await until(coordinator, STAFF[lang])
    await coordinator.tap_inline(f"▫️ {STAFF[lang]}", timeout=15)
    await coordinator.tap_inline(t(lang, "🏅 Send certificates"), timeout=15)
    await until(
        coordinator,
        t(lang, "How should the certificates be signed? Your name goes with the title you type."),
    )
    await coordinator.tap(t(lang, "Coordinator"))
    await until(
        coordinator, t(lang, "✅ Certificates are on their way to {count} people.").format(count=1)
    )
    await until(
        staff,
        t(
            lang,
            "🏅 Thank you, {name}! Your branch honours the {hours} you gave to neighbours. "
            "Here is your certificate to print.",
        ).format(name=STAFF[lang], hours=d(lang, 90)),
        timeout=30,
    )
    document = await last_with(staff, "document")
    text = pdf_text(await client.download(document["document"]["file_id"]))
    assert STAFF[lang] in text.replace(" ", "") or STAFF[lang] in text
    hours = statements.duration(90, lambda message: t(lang, message))
    assert hours.replace(" ", "") in text.replace(" ", "")
    await last_with(staff, "photo")  # the preview, drawn from the PDF's first page
    # A certificate of one's own, for a school or an employer.
    await staff.command("/certificate")
    await staff.wait_reply()
    await staff.tap_inline(t(lang, "This year"), timeout=15)
    for key in ("document", "photo"):  # the PDF, then its picture
        await staff.wait_for(
            lambda _e, key=key: sum(key in m for m in staff.bot_messages()) == 2, timeout=60
        )


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
async def test_a_shop_joins_a_resident_spends_and_the_staff_confirm(
    person, sessions, client, lang
) -> None:
    coordinator = await coordinator_member(person, sessions, "Li Wei", lang)
    staff = await member(person, sessions, STAFF[lang], lang, branch="luoshan", is_volunteer=True)
    resident = await member(person, sessions, RESIDENT[lang], lang, branch="luoshan", phone=PHONE)
    rid, sid = await member_id(sessions, resident), await member_id(sessions, staff)
    await grant(sessions, rid, 210)
    async with transaction(sessions, write=True) as session:  # the staff member helped once
        paying = await ledger.find_member_account(session, rid)
        helped = await ledger.open_member_account(session, sid, paying.branch_id)
        await ledger.transfer(
            session, paying.id, helped.id, 90, kind=PostingKind.SERVICE, key="test:help"
        )

    code = await add_shop(coordinator, lang)
    await staff.command(f"/start mst-{code}")
    await until(staff, t(lang, "🏪 Welcome! You now serve at {shop}.").format(shop=SHOP[lang]))
    await add_item(staff, lang)

    held = await get_code(resident, sessions, lang)
    assert held.status == RedemptionStatus.PENDING and held.minutes == 60
    # A neighbour who does not serve at the shop scans it: a kind answer, nothing changes.
    stranger = await member(person, sessions, "Bo", lang, branch="luoshan")
    await stranger.command(f"/start {redemption.START_PREFIX}{held.token}")
    await until(stranger, t(lang, "Only people who serve at a partner shop can do this."))

    await staff.command(f"/start {redemption.START_PREFIX}{held.token}")
    seen = await until(staff, t(lang, "Hand the item over, then tap the button."))
    assert FIRST_NAME[lang] in seen and RESIDENT[lang] not in seen and "138" not in seen
    await staff.tap_inline(t(lang, "✅ Hand it over"), timeout=15)
    await until(staff, t(lang, "🧾 Received {hours} for {item} from {name}.").format(
        hours=d(lang, 60), item=ITEM[lang], name=FIRST_NAME[lang]
    ))  # fmt: skip
    await until(resident, t(lang, "Thank you for spending your hours with a neighbourhood shop!"))
    # The same QR again (a double scan): told it is used, nothing more is taken.
    await staff.command(f"/start {redemption.START_PREFIX}{held.token}")
    await until(staff, t(lang, "This code has already been used."))

    async with sessions() as session:
        shop = await session.scalar(select(Merchant).where(Merchant.name == SHOP[lang]))
        account = await ledger.merchant_account(session, shop.id, shop.branch_id)
        assert (await ledger.balance_of(session, account.id)).balance == 60
        assert await helping.balance(session, rid) == 210 - 90 - 60
        item = await session.scalar(select(RewardItem).where(RewardItem.merchant_id == shop.id))
        assert (item.stock, item.reserved) == (4, 0)

    # A second code, never used: the sweep expires it and the hold is released.
    second = await get_code(resident, sessions, lang)
    await ledger.atomically(
        sessions,
        lambda s: redemption.expire_due_redemptions(s, now=utcnow() + timedelta(hours=2)),
    )
    await until(
        resident,
        t(
            lang,
            "⌛ Your code for {item} was not used in time, so {hours} set aside are yours again.",
        ).format(item=ITEM[lang], hours=d(lang, 60)),
    )
    async with sessions() as session:
        account = await ledger.find_member_account(session, rid)
        balance = await ledger.balance_of(session, account.id)
        assert (balance.balance, balance.held) == (60, 0)
        assert (await session.get(Redemption, second.id)).status == RedemptionStatus.EXPIRED

    await honour_and_certificate(coordinator, staff, client, lang)
