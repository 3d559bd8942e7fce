"""A market day through the local Bot API server, in Chinese, Korean and English: a resident
opens the seeded market day from the announcement's deep link, books a haircut in three
taps and gets the QR; the stand's volunteer checks them in by the QR's deep link; the
coordinator's report counts them. A stale or forged check-in, a volunteer of no stand and
another branch's coordinator get a kind answer and change nothing."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.handlers.market.callbacks import Act, Market
from core import helping, market
from core.catalog import localized
from core.db import transaction, utcnow
from core.demo import DEMO_MARKET_KEY
from core.market.tables import (
    BookingStatus,
    MarketBooking,
    MarketEvent,
    MarketShift,
    MarketUnit,
)
from core.models import Member
from core.volunteers import CoordinatorOnly
from tests.bot.lang import t
from tests.bot.test_request_help import coordinator_member, member, member_id
from tests.bot.test_volunteer_journey import until

NAMES = {
    "zh_Hans": ("王芳", "李明", "张伟"),
    "ko": ("김영희", "박민수", "이지은"),
    "en": ("Margaret", "Tom", "Ann"),
}


async def _seeded_market(sessions) -> tuple[int, MarketUnit]:
    async with sessions() as session:
        event_id = await session.scalar(
            select(MarketEvent.id).where(MarketEvent.key == DEMO_MARKET_KEY)
        )
        haircuts = await session.scalar(
            select(MarketUnit).where(MarketUnit.event_id == event_id, MarketUnit.capacity == 6)
        )
    return event_id, haircuts


async def _bookings(sessions) -> list[MarketBooking]:
    async with sessions() as session:
        return list(await session.scalars(select(MarketBooking).order_by(MarketBooking.id)))


async def tap_starting(p, prefix: str) -> dict:
    """Tap the inline button of the latest message whose label starts with `prefix`."""
    await p.sync()
    label = next(x for x in p.inline_labels() if x.startswith(prefix))
    return await p.tap_inline(label)


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
async def test_book_a_haircut_check_in_and_report(person, sessions, lang) -> None:
    resident_name, volunteer_name, stranger_name = NAMES[lang]
    event_id, haircuts = await _seeded_market(sessions)
    unit_name = localized(haircuts.names, lang)

    # The stand's volunteer signs up for its shift from the event view.
    volunteer = await member(
        person, sessions, volunteer_name, lang, branch="luoshan",
        is_resident=False, is_volunteer=True,
    )  # fmt: skip
    await volunteer.command(f"/start ev-{event_id}")
    await volunteer.wait_reply()
    await volunteer.tap_inline(t(lang, "🙋 Help at a stand"))
    await volunteer.wait_reply()
    answer = await volunteer.tap_inline(unit_name)
    assert answer["text"] == t(lang, "Thank you! You are on the list.")

    # The resident: the announcement's button (1), the stand (2), the time (3).
    resident = await member(person, sessions, resident_name, lang, branch="luoshan")
    await resident.command(f"/start ev-{event_id}")
    shown = await resident.wait_reply()
    assert unit_name in shown["text"]
    await tap_starting(resident, unit_name)
    await resident.wait_reply()
    slot_label = resident.inline_labels()[0]
    answer = await resident.tap_inline(slot_label)
    assert answer["text"] == t(lang, "Booked!")
    await resident.wait_for(lambda e: (e.get("message") or {}).get("kind") == "photo", 10)
    [booking] = await _bookings(sessions)
    photo = resident.last_message()
    assert photo["kind"] == "photo"
    assert str(booking.number) in photo["text"]
    assert booking.status == BookingStatus.BOOKED and booking.slot_id is not None
    qr = await resident.client.download(photo["photo"][-1]["file_id"])
    assert qr == market.qr_png(market.check_in_link("sandbox_424242_bot", booking.token))

    # A stale or forged code, and someone who staffs no stand: kind words, nothing changes.
    stranger = await member(
        person, sessions, stranger_name, lang, branch="luoshan",
        is_resident=False, is_volunteer=True,
    )  # fmt: skip
    await stranger.command(f"/start chk-{booking.token}")
    await until(
        stranger, t(lang, "Only the volunteers of this stand or a coordinator can check people in.")
    )
    await volunteer.command("/start chk-NOT-A-REAL-TOKEN")
    await until(
        volunteer,
        t(lang, "I could not find this booking at this market day. Please check the number."),
    )
    assert (await _bookings(sessions))[0].status == BookingStatus.BOOKED

    # The volunteer scans the QR: its deep link checks the resident in, once.
    await volunteer.command(f"/start chk-{booking.token}")
    checked = await until(
        volunteer, t(lang, "✅ Number {number} is checked in at {unit}. {name}").split("{")[0]
    )
    assert resident_name in checked
    await volunteer.command(f"/start chk-{booking.token}")
    await until(
        volunteer,
        t(lang, "☑️ Number {number} was already checked in at {unit}. {name}").split("{")[0],
    )
    [booking] = await _bookings(sessions)
    assert booking.status == BookingStatus.CHECKED_IN
    assert t(lang, "✅ Check people in") in volunteer.inline_labels()  # the desk, for walk-ins

    # Another branch's coordinator cannot see the report, even with a forged button.
    other = await member(
        person, sessions, "Other " + stranger_name, lang, branch="mapo",
        is_resident=False, is_coordinator=True,
    )  # fmt: skip
    await other.command(f"/start ev-{event_id}")
    await other.wait_reply()
    assert t(lang, "📊 Report") not in other.inline_labels()
    forged = Market(action=Act.REPORT, event=event_id).pack()
    answer = await other.forge_tap(forged)
    assert answer["text"] == t(lang, CoordinatorOnly.key)

    # The coordinator's report counts the resident as checked in.
    coordinator = await coordinator_member(person, sessions, "Coordinator", lang)
    await coordinator.command(f"/start ev-{event_id}")
    await coordinator.wait_reply()
    await coordinator.tap_inline(t(lang, "📊 Report"))
    report = await coordinator.wait_reply()
    expected = t(
        lang,
        "Booked {booked} · checked in {checked_in} · walk-ins {walk_ins} · no-shows {no_shows}",
    ).format(booked=1, checked_in=1, walk_ins=0, no_shows=0)
    assert expected in report["text"]


async def _event_named(sessions, name: str) -> MarketEvent:
    async with sessions() as session:
        return await session.scalar(
            select(MarketEvent).where(MarketEvent.names["en"].as_string() == name)
        )


async def _tap_when_shown(p, label: str) -> None:
    if label not in p.inline_labels():
        await p.wait_for(lambda _e: label in p.inline_labels(), 10)
    await p.tap_inline(label)


async def test_a_coordinator_runs_a_market_day_from_the_chat(person, sessions) -> None:
    """Create it with the wizard, book for a resident without a phone, the waiting list and
    the place that frees up, the desk (number and walk-in), moving the day, confirming
    the shifts after it (with a correction) once, and the CSV."""
    coordinator = await coordinator_member(person, sessions, "Li Wei", "en")
    await coordinator.tap("🎪 Market days")
    await coordinator.wait_reply()
    await coordinator.tap_inline("➕ New market day")
    await coordinator.wait_reply()
    await coordinator.send("友邻集市\n이웃 장터\n<b>&Tom</b> market")
    await coordinator.wait_reply()
    await coordinator.tap(coordinator.keyboard_labels()[1])  # the second weekend day shown
    await coordinator.wait_reply()
    await coordinator.tap("9:00–11:30")
    await coordinator.wait_reply()
    await coordinator.send("300 Luoshan Road")
    await coordinator.wait_reply()
    await coordinator.tap("Skip ➡️")
    await coordinator.wait_reply()
    for names, places in (("理发\n이발\nHaircuts", "1"), ("Crafts", "🚶 Walk-in, no booking")):
        if names == "Crafts":
            await coordinator.tap("➕ Add another stand")
            await coordinator.wait_reply()
        await coordinator.send(names)
        await coordinator.wait_reply()
        await coordinator.tap(places)
        await coordinator.wait_reply()
        await coordinator.tap("Skip ➡️")
        review = await coordinator.wait_reply()
    assert "<b>&Tom</b> market" in review["text"]  # escaped: shown as typed
    await coordinator.tap("✅ Create the market day")
    await until(coordinator, "https://t.me/sandbox_424242_bot?start=ev-")
    event = await _event_named(sessions, "<b>&Tom</b> market")
    assert event is not None and event.names["ko"] == "이웃 장터"

    # A resident without a phone, booked by the coordinator; two residents after them wait.
    await coordinator.command(f"/start ev-{event.id}")
    await coordinator.wait_reply()
    await coordinator.tap_inline("🤲 Book for someone else")
    await coordinator.wait_reply()
    await coordinator.tap("➕ Someone without a phone")
    await coordinator.wait_reply()
    await coordinator.send("Grandma Zhou")
    await coordinator.wait_reply()
    await coordinator.send("1 Luoshan Road")
    await until(coordinator, "Booking for Grandma Zhou.")
    await tap_starting(coordinator, "Haircuts")
    await coordinator.wait_reply()
    assert (await coordinator.tap_inline(coordinator.inline_labels()[0]))["text"] == "Booked!"
    await until(coordinator, "For Grandma Zhou")
    resident = await member(person, sessions, "Margaret", "en", branch="luoshan")
    await resident.command(f"/start ev-{event.id}")
    await resident.wait_reply()
    await tap_starting(resident, "Haircuts")
    await resident.wait_reply()
    first_slot = resident.inline_labels()[0]
    assert first_slot.endswith("waiting list")
    answer = await resident.tap_inline(first_slot)
    assert answer["text"] == "You are on the waiting list."
    await until(resident, "On the waiting list, number 1 in line")
    [booked, waiting] = await _bookings(sessions)
    async with sessions() as session:
        offline = await session.get(Member, booked.member_id)
    assert (offline.name, offline.address, booked.status) == (
        "Grandma Zhou", "1 Luoshan Road", BookingStatus.BOOKED,
    )  # fmt: skip

    # The coordinator cancels Grandma Zhou's place: Margaret gets it and is told.
    await coordinator.tap_inline("✖️ Cancel this booking")
    await coordinator.wait_reply()
    await coordinator.tap_inline("Yes, cancel it")
    await until(resident, "A place has freed up!", timeout=15)
    [_cancelled, waiting] = await _bookings(sessions)
    assert waiting.status == BookingStatus.BOOKED

    # The day moves a week, then the venue: Margaret is told each time.
    await coordinator.command(f"/start ev-{event.id}")
    await coordinator.wait_reply()
    await coordinator.tap_inline("✏️ Change day or hours")
    await coordinator.wait_reply()
    moved_to = (event.starts_at + timedelta(days=7)).astimezone(ZoneInfo("Asia/Shanghai")).date()
    await coordinator.send(f"{moved_to.isoformat()} 9:00-12:00")
    await until(coordinator, "✅ Changed.")
    await until(resident, "has changed", timeout=15)
    await coordinator.tap_inline("📍 Change the place")
    await coordinator.wait_reply()
    await coordinator.send("2 Luoshan Road, <community hall>")
    await coordinator.wait_reply()
    await coordinator.tap("Skip ➡️")
    await until(resident, "📍 2 Luoshan Road, <community hall>", timeout=15)

    # The desk: Margaret by her number, then a walk-in at the crafts.
    await coordinator.command(f"/start ev-{event.id}")
    await coordinator.wait_reply()
    await coordinator.tap_inline("✅ Check people in")
    await coordinator.wait_reply()
    await coordinator.send(str(waiting.number))
    await until(coordinator, f"Number {waiting.number} is checked in at Haircuts. Margaret")
    await coordinator.tap("➕ Walk-in: Crafts")
    await until(coordinator, "Walk-in recorded at Crafts")
    await coordinator.tap("✖️ Cancel")
    await coordinator.wait_reply()

    # A volunteer's shift; the day is held; the coordinator corrects the time and confirms.
    volunteer = await member(
        person, sessions, "Tom", "en", branch="luoshan", is_resident=False, is_volunteer=True
    )
    async with transaction(sessions, write=True) as session:
        unit = await session.scalar(select(MarketUnit).where(MarketUnit.event_id == event.id))
        await market.sign_up(session, await member_id(sessions, volunteer), unit.id)
    async with transaction(sessions, write=True) as session:
        held = await session.get(MarketEvent, event.id)
        back = held.ends_at - utcnow() + timedelta(minutes=1)
        held.starts_at, held.ends_at = held.starts_at - back, held.ends_at - back
        shifts = select(MarketShift).where(MarketShift.unit_id == unit.id)
        for shift in await session.scalars(shifts):
            shift.starts_at, shift.ends_at = shift.starts_at - back, shift.ends_at - back
    await coordinator.command(f"/start ev-{event.id}")
    await coordinator.wait_reply()
    await coordinator.tap_inline("👥 Shifts")
    await coordinator.wait_reply()
    await coordinator.tap_inline("✏️ Tom")
    await coordinator.wait_reply()
    await coordinator.send("1:30")
    await _tap_when_shown(coordinator, "✅ Confirm and credit")
    await until(volunteer, "1 hour 30 min went into your passbook", timeout=15)
    async with sessions() as session:
        shift = await session.scalar(select(MarketShift).where(MarketShift.unit_id == unit.id))
        assert (shift.status, shift.minutes) == ("credited", 90)
        assert await helping.balance(session, await member_id(sessions, volunteer)) == 90

    await coordinator.tap_inline("⬅️ All stands")
    await coordinator.wait_reply()
    await coordinator.tap_inline("📊 Report")
    await coordinator.wait_reply()
    await coordinator.tap_inline("📊 CSV (Excel)")
    document = await coordinator.wait_for(
        lambda e: (e.get("message") or {}).get("kind") == "document", 10
    )
    assert document["message"]["document"]["file_name"] == f"market-{event.id}.csv"

    # The seeded market day is called off; a second tap on the old button changes nothing.
    demo_event, _haircuts = await _seeded_market(sessions)
    await coordinator.command(f"/start ev-{demo_event}")
    await coordinator.wait_reply()
    await coordinator.tap_inline("✖️ Call the day off")
    await coordinator.wait_reply()
    assert (await coordinator.tap_inline("Yes, call it off"))["text"] == "Called off."
    await until(coordinator, "The market day is called off. 0 people who booked are being told.")
    again = Market(action=Act.CALL_OFF_YES, event=demo_event, n=1).pack()
    answer = await coordinator.forge_tap(again)
    assert answer["text"] == "This market day was changed in the meantime; please look at it again."
