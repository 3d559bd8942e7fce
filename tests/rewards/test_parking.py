"""Parking spaces: the area before booking, the address after; no overlaps, even racing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core import ledger
from core.db import transaction, utcnow
from core.ledger import atomically
from core.models import Neighbourhood, OutboxMessage
from core.rewards import merchants, parking
from core.rewards.tables import ParkingBooking
from tests.rewards.conftest import add_member, available, give

RACERS = 20


@pytest.fixture
async def space(sessions, town) -> dict:
    start = utcnow() + timedelta(hours=2)
    async with transaction(sessions, write=True) as session:
        area = Neighbourhood(
            branch_id=town.branch, code="luoshan-7", latitude=31.2102, longitude=121.5611,
            names={"zh_Hans": "罗山七村", "en": "Village 7"},
        )  # fmt: skip
        session.add(area)
        await session.flush()
        owner = await add_member(session, town.branch, "Owner Zhou", neighbourhood_id=area.id)
        listed = await parking.list_space(session, owner, address="罗山七村 12 号楼 B2-17")
        await parking.offer_window(session, owner, listed.id, start, start + timedelta(hours=8))
        await merchants.set_reward_settings(
            session, town.coordinator, town.branch, parking_minutes_per_hour=10
        )
    return {"owner": owner, "id": listed.id, "start": start}


async def _book(sessions, member, space_id, start, hours, key):
    async with transaction(sessions, write=True) as session:
        return await parking.book_space(
            session, member, space_id, start, start + timedelta(hours=hours), key=key
        )


async def test_the_area_before_booking_and_the_address_after(sessions, town, space) -> None:
    neighbour = town.residents[0]
    async with sessions() as session:
        [card] = await parking.spaces_near(session, neighbour)
    assert card.area["en"] == "Village 7" and card.minutes_per_hour == 10
    assert "B2-17" not in repr(card)
    booked = await _book(sessions, neighbour, space["id"], space["start"], 3, "b1")
    assert booked.address == "罗山七村 12 号楼 B2-17" and booked.minutes_owed == 30
    assert await available(sessions, neighbour) == 90
    again = await _book(sessions, neighbour, space["id"], space["start"], 3, "b1")
    assert again.replayed and again.booking_id == booked.booking_id
    async with sessions() as session:
        with pytest.raises(Exception):  # noqa: B017  (a stranger to the booking)
            await parking.booking_view(session, town.residents[1], booked.booking_id)
        [card] = await parking.spaces_near(session, town.residents[1])
        assert len(card.booked) == 1

    for who in (neighbour, space["owner"], space["owner"]):
        async with transaction(sessions, write=True) as session:
            view = await parking.confirm_handover(session, who, booked.booking_id)
    assert view.status == "done" and view.replayed
    async with sessions() as session:
        owner_account = await ledger.find_member_account(session, space["owner"])
        assert (await ledger.balance_of(session, owner_account.id)).balance == 30
        kinds = sorted(m.kind for m in await session.scalars(select(OutboxMessage)))
    assert kinds == ["parking_booked", "parking_handover", "parking_handover"]
    assert await available(sessions, neighbour) == 90
    report = await ledger.verify_ledger(sessions)
    assert report.ok, report.summary


async def test_bad_bookings_change_nothing(sessions, town, space) -> None:
    start = space["start"]
    with pytest.raises(parking.TimeInPast):
        await _book(sessions, town.residents[0], space["id"], utcnow() - timedelta(hours=1), 1, "p")
    with pytest.raises(parking.NotOffered):
        await _book(sessions, town.residents[0], space["id"], start + timedelta(hours=7), 2, "n")
    with pytest.raises(parking.OwnSpace):
        await _book(sessions, space["owner"], space["id"], start, 1, "o")
    with pytest.raises(parking.TimesInvalid):
        await _book(sessions, town.residents[0], space["id"], start, 0, "z")
    with pytest.raises(Exception):  # noqa: B017  (another branch)
        await _book(sessions, town.other_staff, space["id"], start, 1, "x")
    first = await _book(sessions, town.residents[0], space["id"], start, 2, "a")
    with pytest.raises(parking.AlreadyBooked):
        await _book(sessions, town.residents[1], space["id"], start + timedelta(hours=1), 2, "b")
    # Back to back is fine.
    await _book(sessions, town.residents[1], space["id"], start + timedelta(hours=2), 2, "c")
    async with transaction(sessions, write=True) as session:
        cancelled = await parking.cancel_booking(session, space["owner"], first.booking_id)
        assert cancelled.status == "cancelled"
        with pytest.raises(parking.BookingClosed):
            await parking.confirm_handover(session, town.residents[0], first.booking_id)
        with pytest.raises(parking.WindowsOverlap):
            await parking.offer_window(
                session,
                space["owner"],
                space["id"],
                start - timedelta(hours=1),
                start + timedelta(hours=1),
            )
    assert await available(sessions, town.residents[0]) == 120
    await _book(sessions, town.residents[2], space["id"], start, 1, "d")
    report = await ledger.verify_ledger(sessions)
    assert report.ok, report.summary


async def test_twenty_neighbours_racing_for_overlapping_times_one_wins(
    sessions, town, space
) -> None:
    async with transaction(sessions, write=True) as session:
        racers = [await add_member(session, town.branch, f"N{i}") for i in range(RACERS)]
        for racer in racers:
            await give(session, racer, town.branch, 60)
    start = space["start"]

    async def book(s, i: int):
        # Every try overlaps every other: all cover the window's third hour.
        return await parking.book_space(
            s, racers[i], space["id"], start + timedelta(minutes=10 * (i % 12)),
            start + timedelta(hours=3), key=f"race:{i}",
        )  # fmt: skip

    results = await asyncio.gather(
        *(atomically(sessions, lambda s, i=i: book(s, i)) for i in range(RACERS)),
        return_exceptions=True,
    )
    won = [r for r in results if isinstance(r, parking.BookingView)]
    refused = [r for r in results if isinstance(r, parking.AlreadyBooked)]
    assert len(won) == 1 and len(refused) == RACERS - 1, results
    async with sessions() as session:
        count = await session.scalar(select(func.count()).select_from(ParkingBooking))
    assert count == 1
