"""Sharing a parking space through the local Bot API server: the owner shares it in the
chat, a neighbour sees the area (not the address) and books two hours, both confirm the
handover; a booking over the same time is refused kindly."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.handlers.parking.callbacks import ParkAction, ParkCb
from bot.handlers.parking.views import minute_of
from core.models import Neighbourhood
from core.rewards.tables import ParkingBooking, ParkingBookingStatus
from tests.bot.lang import t
from tests.bot.test_request_help import member, tap_shown
from tests.bot.test_volunteer_journey import until

ADDRESS = "Block 5, <b>&B-12</b>"


@pytest.fixture(autouse=True)
def _no_scheduled_sweep(monkeypatch) -> None:
    monkeypatch.setenv("TIMEBANK_SWEEP_SECONDS", "0")


def plain(text: str) -> str:
    return text.replace("<b>", "").replace("</b>", "")


async def test_share_book_and_hand_over_a_parking_space(person, sessions) -> None:
    lang = "en"
    async with sessions() as s:
        area = await s.scalar(select(Neighbourhood).where(Neighbourhood.code == "luoshan-1"))
    owner = await member(person, sessions, "Owen", lang, branch="luoshan", neighbourhood_id=area.id)
    await owner.tap(t(lang, "📍 Near me"))
    await owner.wait_for(lambda _e: t(lang, "🅿️ Parking spaces") in owner.inline_labels(), 8)
    await owner.tap_inline(t(lang, "🅿️ Parking spaces"))
    await owner.wait_for(
        lambda _e: t(lang, "➕ Share my parking space") in owner.inline_labels(), 8
    )
    await owner.tap_inline(t(lang, "➕ Share my parking space"))
    await until(owner, t(lang, "🅿️ Where is the space exactly?")[:20])
    await owner.send(ADDRESS)
    await tap_shown(owner, t(lang, "Skip ➡️"))
    await owner.wait_for(lambda _e: len(owner.keyboard_labels()) > 6, 8)
    await owner.tap(owner.keyboard_labels()[2])  # the day after tomorrow
    await tap_shown(owner, "8:00")
    await tap_shown(owner, "18:00")
    await tap_shown(owner, t(lang, "✅ Share it"))
    await until(owner, t(lang, "🎉 Thank you! Neighbours can book your space under “📍 Near me”."))

    neighbour = await member(person, sessions, "Nia", lang, branch="luoshan")
    await neighbour.tap(t(lang, "📍 Near me"))
    await neighbour.wait_for(lambda _e: t(lang, "🅿️ Parking spaces") in neighbour.inline_labels(), 8)
    # Near me links the shops' items and the market day ahead too.
    assert t(lang, "🎁 Spend my hours") in neighbour.inline_labels()
    assert "🎪 Friendly Neighbours market" in neighbour.inline_labels()
    await neighbour.tap_inline(t(lang, "🅿️ Parking spaces"))
    listed = await until(neighbour, plain(t(lang, "🅿️ <b>Parking spaces near you</b>")))
    assert "B-12" not in listed
    assert "Owen" in listed
    owens = next(block for block in listed.split("\n\n") if "Owen" in block)
    see = t(lang, "{number}. See the free times").format(number=owens.split(".")[0])
    await neighbour.tap_inline(see)
    await neighbour.wait_for(
        lambda _e: any(b.startswith("📅") for b in neighbour.inline_labels()), 8
    )
    free = next(b for b in neighbour.inline_labels() if b.startswith("📅"))
    await neighbour.tap_inline(free)
    await neighbour.wait_for(lambda _e: t(lang, "2 hours") in neighbour.inline_labels(), 8)
    await neighbour.tap_inline(t(lang, "2 hours"))
    booked = await until(neighbour, plain(t(lang, "🅿️ <b>Parking booking</b>")))
    assert ADDRESS in booked  # the address, escaped, once booked
    await until(owner, "Nia")
    await owner.tap_inline(t(lang, "✅ Handed over"))
    told = t(lang, "🅿️ The other side confirmed the handover ({when}). Please confirm it too.")
    await until(neighbour, told[:20])
    await neighbour.tap_inline(t(lang, "✅ Handed over"))
    await until(owner, t(lang, "🅿️ You both confirmed the handover ({when}). Thank you!")[:12])
    async with sessions() as s:
        [booking] = list(await s.scalars(select(ParkingBooking)))
        assert booking.status == ParkingBookingStatus.DONE
    # The same time, booked from a stale screen: a kind answer, nothing more.
    stale = ParkCb(
        action=ParkAction.BOOK, item=booking.space_id, value=minute_of(booking.starts_at), hours=2
    )
    answer = await neighbour.forge_tap(stale.pack())
    assert answer["text"] == t(
        lang, "Sorry, someone has just booked that time. Please choose another."
    )
    async with sessions() as s:
        assert len(list(await s.scalars(select(ParkingBooking)))) == 1
