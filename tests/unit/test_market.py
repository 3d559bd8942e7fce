"""Market days: booking under a race, the waiting list, check-in, reminders, changes,
shifts credited once, reports."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from core import ledger, market
from core.db import transaction
from core.ledger import atomically
from core.market.bookings import AlreadyBooked, CannotBookFor, NotActive, NotForYou
from core.market.checkin import NotCheckable, NotStaff, UnknownCode
from core.market.events import EventClosed, EventMoved, HoursInvalid
from core.market.shifts import CorrectionInvalid, NotOverYet, VolunteersOnly
from core.market.tables import MarketBooking, MarketShift, MarketSlot
from core.models import Branch, Identity, Member, OutboxMessage
from core.volunteers import CoordinatorOnly

NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)  # Thursday 10:00 in Qingdao
MARKET_DAY = date(2026, 12, 5)  # Saturday, 09:00-11:30 local = 01:00-03:30 UTC
OPENS = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)
CLOSES = datetime(2026, 12, 5, 3, 30, tzinfo=UTC)
HAIRCUT = {"zh_Hans": "公益理发", "ko": "무료 이발", "en": "Haircuts"}


async def _branch(session, code: str) -> Branch:
    branch = Branch(
        code=code, names={"en": code}, time_zone="Asia/Shanghai", default_language="zh_Hans"
    )
    session.add(branch)
    await session.flush()
    return branch


async def _member(session, branch: Branch, name: str, *, chat: bool = True, **fields) -> Member:
    fields.setdefault("is_resident", True)
    member = Member(name=name, branch_id=branch.id, language="zh_Hans", **fields)
    session.add(member)
    await session.flush()
    if chat:
        session.add(Identity(platform="telegram", external_id=f"c{member.id}", member_id=member.id))
        await session.flush()
    return member


@pytest.fixture
async def world(sessions):
    """Dongcheng's market day with a haircut stand (6 a half hour) and a walk-in TCM stand;
    its coordinator and two volunteers (one staffing the haircuts); 60 residents; one
    without a phone; and another branch with its coordinator and a resident."""
    async with transaction(sessions, write=True) as session:
        branch = await _branch(session, "dongcheng")
        other = await _branch(session, "laoshan")
        coordinator = await _member(session, branch, "Coordinator", is_coordinator=True)
        barber = await _member(session, branch, "Barber", is_volunteer=True)
        helper = await _member(session, branch, "Helper", is_volunteer=True)
        residents = [await _member(session, branch, f"R{n}") for n in range(60)]
        phoneless = await _member(session, branch, "No phone", chat=False)
        stranger = await _member(session, other, "Other coordinator", is_coordinator=True)
        outsider = await _member(session, other, "Outsider")
        event_id = await market.create_event(
            session, coordinator.id, branch_id=branch.id,
            names={"zh_Hans": "友邻集市", "en": "Friendly Neighbours market"},
            hours=market.Hours(MARKET_DAY, time(9), time(11, 30)),
            venue=market.Venue("东城国际社区北区广场", 36.1, 120.47), key="market-1", now=NOW,
        )  # fmt: skip
        haircut = await market.add_unit(
            session, coordinator.id, event_id,
            market.UnitDraft(HAIRCUT, "Caring Mothers team", capacity=6, slot_minutes=30), now=NOW,
        )  # fmt: skip
        tcm = await market.add_unit(
            session, coordinator.id, event_id,
            market.UnitDraft({"en": "TCM consultation"}, "Community clinic"), now=NOW,
        )  # fmt: skip
        await market.sign_up(session, barber.id, haircut)
        pool = await ledger.pool_account(session, branch.id)
        await ledger.grant(session, pool.id, 600, key="pool", memo="market test pool")
        view = await market.event_view(session, event_id, now=NOW)
        return {
            "branch": branch.id,
            "coordinator": coordinator.id,
            "barber": barber.id,
            "helper": helper.id,
            "residents": [r.id for r in residents],
            "phoneless": phoneless.id,
            "stranger": stranger.id,
            "outsider": outsider.id,
            "event": event_id,
            "haircut": haircut,
            "tcm": tcm,
            "slots": [slot.slot_id for slot in view.units[0].slots],
        }


async def _book(sessions, world, n: int, slot: int = 0, **fields) -> market.Booking:
    return await atomically(
        sessions,
        lambda s: market.book(
            s, booker_id=world["residents"][n], slot_id=world["slots"][slot],
            key=f"book:{n}:{slot}", now=NOW, **fields,
        ),
    )  # fmt: skip


async def test_the_event_has_half_hour_slots_and_a_walk_in_unit(sessions, world) -> None:
    async with transaction(sessions) as session:
        view = await market.event_view(session, world["event"], now=NOW)
    haircut, tcm = view.units
    assert [s.starts_at for s in haircut.slots][:2] == [OPENS, OPENS + timedelta(minutes=30)]
    assert len(haircut.slots) == 5 and haircut.free == 30
    assert tcm.walk_in and tcm.slots == ()
    assert (view.starts_at, view.ends_at, view.time_zone) == (OPENS, CLOSES, "Asia/Shanghai")


async def test_fifty_residents_racing_for_the_last_places_get_exactly_capacity(
    sessions, world
) -> None:
    for n in range(4):
        await _book(sessions, world, n)
    results = await asyncio.gather(*(_book(sessions, world, n) for n in range(4, 54)))
    statuses = [r.status for r in results]
    assert statuses.count("booked") == 2 and statuses.count("waiting") == 48
    async with transaction(sessions) as session:
        slot = await session.get(MarketSlot, world["slots"][0])
        booked = await session.scalar(
            select(func.count()).select_from(MarketBooking).where(
                MarketBooking.slot_id == slot.id, MarketBooking.status == "booked"
            )
        )  # fmt: skip
        numbers = list(await session.scalars(select(MarketBooking.number)))
    assert slot.booked == booked == 6
    assert sorted(numbers) == list(range(1, 55))
    waiting = sorted(r.waiting_position for r in results if r.status == "waiting")
    assert waiting[0] == 1


async def test_booking_is_idempotent_once_per_unit_and_only_for_oneself_or_kin(
    sessions, world
) -> None:
    first = await _book(sessions, world, 0)
    assert (await _book(sessions, world, 0)).booking_id == first.booking_id
    assert first.number == 1 and len(first.token) >= 16
    with pytest.raises(AlreadyBooked):
        await atomically(
            sessions,
            lambda s: market.book(
                s, booker_id=world["residents"][0], slot_id=world["slots"][1], key="other",
                now=NOW,
            ),
        )  # fmt: skip
    with pytest.raises(CannotBookFor):
        await _book(sessions, world, 1, resident_id=world["residents"][2])
    with pytest.raises(NotForYou):
        await atomically(
            sessions,
            lambda s: market.book(
                s, booker_id=world["residents"][3], slot_id=world["slots"][0], key="book:0:0",
            ),
        )  # fmt: skip
    with pytest.raises(market.bookings.NotFound):
        await atomically(
            sessions,
            lambda s: market.book(
                s, booker_id=world["outsider"], slot_id=world["slots"][0], key="out", now=NOW
            ),
        )
    # A coordinator books for a resident without a phone.
    booked = await atomically(
        sessions,
        lambda s: market.book(
            s, booker_id=world["coordinator"], resident_id=world["phoneless"],
            slot_id=world["slots"][2], key="for-phoneless", now=NOW,
        ),
    )  # fmt: skip
    assert booked.member_id == world["phoneless"] and booked.status == "booked"
    with pytest.raises(market.bookings.SlotOver):
        await atomically(
            sessions,
            lambda s: market.book(
                s, booker_id=world["residents"][5], slot_id=world["slots"][0], key="late",
                now=OPENS,
            ),
        )  # fmt: skip


async def test_a_cancelled_place_goes_to_the_first_waiting_who_is_told(sessions, world) -> None:
    bookings = [await _book(sessions, world, n) for n in range(8)]
    assert [b.status for b in bookings[6:]] == ["waiting", "waiting"]
    await atomically(
        sessions,
        lambda s: market.cancel_booking(s, bookings[2].booking_id, world["residents"][2], now=NOW),
    )
    with pytest.raises(NotActive):
        await atomically(
            sessions,
            lambda s: market.cancel_booking(
                s, bookings[2].booking_id, world["residents"][2], now=NOW
            ),
        )
    with pytest.raises(NotForYou):
        await atomically(
            sessions,
            lambda s: market.cancel_booking(s, bookings[3].booking_id, world["residents"][4]),
        )
    async with transaction(sessions) as session:
        promoted = await market.get_booking(session, bookings[6].booking_id, world["residents"][6])
        still = await market.get_booking(session, bookings[7].booking_id, world["residents"][7])
        slot = await session.get(MarketSlot, world["slots"][0])
        told = list(
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == "market_place_freed")
            )
        )
    assert promoted.status == "booked" and still.waiting_position == 1
    assert slot.booked == 6
    assert [(m.member_id, m.payload) for m in told] == [
        (world["residents"][6], {"booking_id": bookings[6].booking_id})
    ]


async def test_check_in_is_idempotent_and_only_for_the_units_staff(sessions, world) -> None:
    booking = await _book(sessions, world, 0)
    for n in range(1, 7):
        await _book(sessions, world, n)
    waiting = await _book(sessions, world, 7)
    for refused in (world["helper"], world["stranger"], world["residents"][1]):
        with pytest.raises(NotStaff):
            await atomically(
                sessions, lambda s, who=refused: market.check_in(s, who, token=booking.token)
            )
    first = await atomically(
        sessions, lambda s: market.check_in(s, world["barber"], token=booking.token, now=OPENS)
    )
    again = await atomically(
        sessions,
        lambda s: market.check_in(
            s, world["coordinator"], number=booking.number, event_id=world["event"]
        ),
    )
    assert (first.already, again.already) == (False, True)
    assert first.resident_name == "R0"
    with pytest.raises(UnknownCode):
        await atomically(
            sessions,
            lambda s: market.check_in(s, world["barber"], token=booking.token, event_id=999),
        )
    with pytest.raises(UnknownCode):
        await atomically(sessions, lambda s: market.check_in(s, world["barber"], token="forged"))
    with pytest.raises(NotCheckable):
        await atomically(
            sessions, lambda s: market.check_in(s, world["barber"], token=waiting.token)
        )
    numbers = [
        await atomically(
            sessions,
            lambda s, k=k: market.record_walk_in(s, world["barber"], world["haircut"], key=k),
        )
        for k in ("walk-1", "walk-1", "walk-2")
    ]
    assert numbers[0] == numbers[1] != numbers[2]
    with pytest.raises(NotStaff):
        await atomically(
            sessions, lambda s: market.record_walk_in(s, world["barber"], world["tcm"], key="w3")
        )


async def test_reminders_the_day_before_and_an_hour_before_once(sessions, world) -> None:
    early = await _book(sessions, world, 0)
    late = await atomically(
        sessions,
        lambda s: market.book(
            s, booker_id=world["residents"][1], slot_id=world["slots"][0], key="late",
            now=OPENS - timedelta(hours=5),
        ),
    )  # fmt: skip

    async def remind(at: datetime) -> int:
        return await atomically(sessions, lambda s: market.send_reminders(s, at))

    assert await remind(OPENS - timedelta(hours=25)) == 0
    assert await remind(OPENS - timedelta(hours=23)) == 1
    assert await remind(OPENS - timedelta(hours=22)) == 0
    assert await remind(OPENS - timedelta(minutes=50)) == 2
    assert await remind(OPENS - timedelta(minutes=40)) == 0
    async with transaction(sessions) as session:
        sent = sorted(
            (m.payload["booking_id"], m.payload["ahead"])
            for m in await session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == "market_reminder")
            )
        )
    assert sent == sorted(
        [(early.booking_id, "day"), (early.booking_id, "hour"), (late.booking_id, "hour")]
    )


async def test_moving_and_cancelling_the_day_tells_every_booked_member(sessions, world) -> None:
    for n in range(3):
        await _book(sessions, world, n)
    await atomically(
        sessions,
        lambda s: market.book(
            s, booker_id=world["coordinator"], resident_id=world["phoneless"],
            slot_id=world["slots"][1], key="for-phoneless", now=NOW,
        ),
    )  # fmt: skip
    later = market.Hours(date(2026, 12, 6), time(9), time(11, 30))
    with pytest.raises(CoordinatorOnly):
        await atomically(
            sessions,
            lambda s: market.move_event(
                s, world["event"], world["stranger"], seen_version=1, hours=later, now=NOW
            ),
        )
    with pytest.raises(HoursInvalid):
        await atomically(
            sessions,
            lambda s: market.move_event(
                s, world["event"], world["coordinator"], seen_version=1,
                hours=market.Hours(date(2026, 12, 6), time(9), time(10)), now=NOW,
            ),
        )  # fmt: skip
    version = await atomically(
        sessions,
        lambda s: market.move_event(
            s, world["event"], world["coordinator"], seen_version=1, hours=later, now=NOW
        ),
    )
    with pytest.raises(EventMoved):
        await atomically(
            sessions,
            lambda s: market.move_event(
                s, world["event"], world["coordinator"], seen_version=1, hours=later, now=NOW
            ),
        )
    async with transaction(sessions) as session:
        view = await market.event_view(session, world["event"], now=NOW)
        changed = list(
            await session.scalars(
                select(OutboxMessage.member_id).where(OutboxMessage.kind == "market_changed")
            )
        )
        shift = await session.scalar(select(MarketShift))
    assert version == 2
    assert view.units[0].slots[0].starts_at == OPENS + timedelta(days=1)
    assert shift.starts_at == OPENS + timedelta(days=1)
    # The three residents, and the coordinator for the resident without a phone.
    assert sorted(changed) == sorted([*world["residents"][:3], world["coordinator"]])

    assert (
        await atomically(
            sessions,
            lambda s: market.cancel_event(s, world["event"], world["coordinator"], now=NOW),
        )
        == 4
    )
    with pytest.raises(EventClosed):
        await atomically(
            sessions, lambda s: market.cancel_event(s, world["event"], world["coordinator"])
        )
    with pytest.raises(EventClosed):
        await _book(sessions, world, 9)
    async with transaction(sessions) as session:
        cancelled = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.kind == "market_cancelled"
            )
        )  # fmt: skip
    assert cancelled == 4


async def test_shift_credit_is_posted_once_after_confirmation(sessions, world) -> None:
    helper_shift = await atomically(
        sessions,
        lambda s: market.sign_up(
            s, world["coordinator"], world["tcm"], volunteer_id=world["helper"],
            starts_at=OPENS, ends_at=OPENS + timedelta(hours=2),
        ),
    )  # fmt: skip
    with pytest.raises(VolunteersOnly):
        await atomically(sessions, lambda s: market.sign_up(s, world["residents"][0], world["tcm"]))
    after = CLOSES + timedelta(hours=1)
    with pytest.raises(NotOverYet):
        await atomically(
            sessions, lambda s: market.confirm_shifts(s, world["event"], world["coordinator"])
        )
    with pytest.raises(CoordinatorOnly):
        await atomically(
            sessions,
            lambda s: market.confirm_shifts(s, world["event"], world["stranger"], now=after),
        )
    with pytest.raises(CorrectionInvalid):
        await atomically(
            sessions,
            lambda s: market.confirm_shifts(
                s, world["event"], world["coordinator"], corrections={999: 60}, now=after
            ),
        )
    confirmed = await atomically(
        sessions,
        lambda s: market.confirm_shifts(
            s, world["event"], world["coordinator"], corrections={helper_shift: 90}, now=after
        ),
    )
    replayed = await atomically(
        sessions,
        lambda s: market.confirm_shifts(
            s, world["event"], world["coordinator"], corrections={helper_shift: 30}, now=after
        ),
    )
    assert confirmed == market.Confirmation(credited=2, absent=0, minutes=150 + 90)
    assert replayed == market.Confirmation(0, 0, 0)
    async with transaction(sessions) as session:
        barber = await ledger.find_member_account(session, world["barber"])
        helper = await ledger.find_member_account(session, world["helper"])
        pool = await ledger.pool_account(session, world["branch"])
        balances = [
            (await ledger.balance_of(session, a.id)).balance for a in (barber, helper, pool)
        ]
        lines = await market.shift_list(session, world["event"], world["coordinator"])
    assert balances == [150, 90, 600 - 240]
    assert {line.credited_minutes for line in lines} == {150, 90}
    assert (await ledger.verify_ledger(sessions)).ok


async def test_reports_per_unit_and_across_the_branchs_markets(sessions, world) -> None:
    bookings = [await _book(sessions, world, n) for n in range(8)]
    for booking in bookings[:4]:
        await atomically(
            sessions, lambda s, b=booking: market.check_in(s, world["barber"], token=b.token)
        )
    await atomically(
        sessions, lambda s: market.record_walk_in(s, world["coordinator"], world["tcm"], key="w")
    )
    after = CLOSES + timedelta(hours=1)
    await atomically(
        sessions,
        lambda s: market.confirm_shifts(s, world["event"], world["coordinator"], now=after),
    )
    async with transaction(sessions) as session:
        haircut, tcm = await market.unit_reports(
            session, world["event"], world["coordinator"], now=after
        )
        before = await market.unit_reports(session, world["event"], world["coordinator"], now=NOW)
        overall = await market.branch_markets(
            session, world["branch"], world["coordinator"], now=after
        )
        with pytest.raises(CoordinatorOnly):
            await market.unit_reports(session, world["event"], world["stranger"])
    assert (haircut.booked, haircut.checked_in, haircut.no_shows, haircut.waiting) == (6, 4, 2, 2)
    assert (haircut.residents_served, haircut.volunteers, haircut.volunteer_minutes) == (4, 1, 150)
    assert (tcm.walk_ins, tcm.residents_served, tcm.booked) == (1, 1, 0)
    assert before[0].no_shows == 0
    assert overall == market.BranchMarkets(
        markets=1, units=2, bookings=8, residents_served=5, distinct_residents=4, walk_ins=1,
        volunteers=1, volunteer_minutes=150,
    )  # fmt: skip
    text = market.units_csv([haircut, tcm], "zh_Hans")
    assert text.splitlines()[0].startswith("unit,organiser,booked,checked_in")
    assert text.splitlines()[1] == "公益理发,Caring Mothers team,6,4,0,2,4,2,1,150"


def test_the_qr_carries_the_check_in_deep_link() -> None:
    link = market.check_in_link("@timebank_bot", "AbCdEfGh12345678")
    assert link == "https://t.me/timebank_bot?start=chk-AbCdEfGh12345678"
    assert market.token_of("chk-AbCdEfGh12345678") == "AbCdEfGh12345678"
    assert market.token_of("ref-123") is None and market.token_of("chk-x") is None
    assert market.qr_png(link).startswith(b"\x89PNG\r\n\x1a\n")


async def test_the_demo_seeds_one_upcoming_market_day_once(sessions) -> None:
    from core.demo import seed_demo

    async with transaction(sessions, write=True) as session:
        assert (await seed_demo(session))["market days"] == 1
    async with transaction(sessions, write=True) as session:
        assert (await seed_demo(session))["market days"] == 0
        coordinator = await session.scalar(select(Member).where(Member.name == "Li Wei"))
        (event,) = await market.upcoming_events(session, coordinator.id)
        view = await market.event_view(session, event.id)
    assert [unit.walk_in for unit in view.units] == [False, False, False, True]
    assert view.units[0].free == 5 * 6
