"""The volunteer profile in core: when I am free, the languages I speak, and how matching
reads them; becoming a volunteer and being verified, and who hears of it."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from core import matching, nudges, volunteers
from core.db import transaction
from core.demo import seed_demo
from core.errors import InvalidInput, NotFound
from core.matching import PARTS, slot_bit
from core.models import Branch, Member, Order, OutboxMessage, VolunteerProfile
from core.volunteers import EVERY_SLOT, CoordinatorOnly, FreeTimes, free_times
from tests.unit.test_matching import NOW, _setup

WEEKDAYS = range(5)


def mask(days, parts) -> int:
    return sum(slot_bit(day, PARTS.index(part)) for day in days for part in parts)


async def _volunteer(sessions, *, language: str = "en", is_volunteer: bool = True) -> int:
    async with transaction(sessions, write=True) as s:
        await seed_demo(s)
        branch = await s.scalar(select(Branch).where(Branch.code == "luoshan"))
        person = Member(
            name="Lin", language=language, branch_id=branch.id, is_volunteer=is_volunteer
        )
        s.add(person)
        await s.flush()
        return person.id


async def _availability(sessions, member_id: int) -> int:
    async with sessions() as s:
        return (await s.get(VolunteerProfile, member_id)).availability


async def test_a_new_profile_is_free_any_time_and_speaks_the_members_language(sessions) -> None:
    vid = await _volunteer(sessions, language="ko")
    async with transaction(sessions, write=True) as s:
        row = await volunteers.profile(s, vid)
        assert row.availability == EVERY_SLOT
        assert row.languages == ["ko"]


async def test_a_box_ticks_and_unticks_one_slot(sessions) -> None:
    vid = await _volunteer(sessions)
    async with transaction(sessions, write=True) as s:
        await volunteers.toggle_slots(s, vid, [2], ["afternoon"])
    assert await _availability(sessions, vid) == EVERY_SLOT & ~mask([2], ["afternoon"])
    async with transaction(sessions, write=True) as s:
        await volunteers.toggle_slots(s, vid, [2], ["afternoon"])
    assert await _availability(sessions, vid) == EVERY_SLOT


async def test_a_whole_row_clears_what_is_ticked_else_fills_it(sessions) -> None:
    vid = await _volunteer(sessions)
    async with transaction(sessions, write=True) as s:
        # From every slot, weekday mornings in four taps, in any order.
        await volunteers.toggle_slots(s, vid, range(7), ["afternoon"])
        await volunteers.toggle_slots(s, vid, [5], PARTS)
        await volunteers.toggle_slots(s, vid, range(7), ["evening"])
        await volunteers.toggle_slots(s, vid, [6], PARTS)
        assert (await volunteers.profile(s, vid)).availability == mask(WEEKDAYS, ["morning"])
        # An empty row or column fills; a partly ticked one clears.
        weekday_mornings = mask(WEEKDAYS, ["morning"])
        await volunteers.toggle_slots(s, vid, [5], PARTS)
        assert (await volunteers.profile(s, vid)).availability == (
            weekday_mornings | mask([5], PARTS)
        )
        await volunteers.toggle_slots(s, vid, range(7), ["evening"])
        assert (await volunteers.profile(s, vid)).availability == (
            weekday_mornings | mask([5], ["morning", "afternoon"])
        )
        await volunteers.toggle_slots(s, vid, range(7), ["evening"])
        assert (await volunteers.profile(s, vid)).availability == (
            weekday_mornings | mask([5], ["morning", "afternoon"]) | mask(range(7), ["evening"])
        )
        await volunteers.toggle_slots(s, vid, range(7), PARTS)
        assert (await volunteers.profile(s, vid)).availability == 0
        await volunteers.toggle_slots(s, vid, range(7), PARTS)
        assert (await volunteers.profile(s, vid)).availability == EVERY_SLOT


@pytest.mark.parametrize(
    ("days", "parts"),
    [([7], ["morning"]), ([-1], ["morning"]), ([0], ["night"]), ([], ["morning"]), ([0], [])],
)
async def test_an_unknown_day_or_part_changes_nothing(sessions, days, parts) -> None:
    vid = await _volunteer(sessions)
    with pytest.raises(InvalidInput):
        async with transaction(sessions, write=True) as s:
            await volunteers.toggle_slots(s, vid, days, parts)
    async with sessions() as s:
        assert await s.get(VolunteerProfile, vid) is None


async def test_only_volunteers_have_a_profile(sessions) -> None:
    vid = await _volunteer(sessions, is_volunteer=False)
    with pytest.raises(volunteers.NotAVolunteer):
        async with transaction(sessions, write=True) as s:
            await volunteers.toggle_slots(s, vid, [0], ["morning"])


def test_free_times_read_as_people_say_them() -> None:
    weekday_mornings = mask(WEEKDAYS, ["morning"])
    weekend = mask([5, 6], PARTS)
    assert free_times(weekday_mornings | weekend) == [
        FreeTimes(runs=((0, 4),), parts=(0,)),
        FreeTimes(runs=((5, 6),), parts=(0, 1, 2)),
    ]
    assert free_times(mask([0, 2, 3, 6], ["morning", "evening"])) == [
        FreeTimes(runs=((0, 0), (2, 3), (6, 6)), parts=(0, 2))
    ]
    assert free_times(EVERY_SLOT) == [FreeTimes(runs=((0, 6),), parts=(0, 1, 2))]
    assert free_times(0) == []


async def test_languages_toggle_in_a_steady_order_and_the_last_one_stays(sessions) -> None:
    vid = await _volunteer(sessions, language="en")
    async with transaction(sessions, write=True) as s:
        assert (await volunteers.toggle_language(s, vid, "ko")).languages == ["ko", "en"]
        assert (await volunteers.toggle_language(s, vid, "zh_Hans")).languages == [
            "zh_Hans",
            "ko",
            "en",
        ]
        assert (await volunteers.toggle_language(s, vid, "en")).languages == ["zh_Hans", "ko"]
        assert (await volunteers.toggle_language(s, vid, "ko")).languages == ["zh_Hans"]
    for code, error in (("zh_Hans", volunteers.LastLanguage), ("fr", InvalidInput)):
        with pytest.raises(error):
            async with transaction(sessions, write=True) as s:
                await volunteers.toggle_language(s, vid, code)
    async with sessions() as s:
        assert (await s.get(VolunteerProfile, vid)).languages == ["zh_Hans"]


async def test_matching_honours_the_slot_of_the_order_and_the_languages(sessions) -> None:
    ctx = await _setup(sessions, [(0.001, 0), (0.002, 0)])
    near, far = ctx["volunteers"]
    async with transaction(sessions, write=True) as s:
        order = await s.get(Order, ctx["order"])
        need = await matching.need_for(s, order, NOW)
        local = need.at.astimezone(ZoneInfo(need.time_zone))
        day, part = local.weekday(), PARTS[matching.part_of(local.hour)]
        # The nearer volunteer unticks the order's slot; the other one learns Chinese, the
        # resident's language.
        await volunteers.toggle_slots(s, near, [day], [part])
        await volunteers.toggle_language(s, far, "zh_Hans")
        [candidate] = await matching.eligible(s, need, now=NOW)
        assert candidate.member_id == far and candidate.speaks_language
        # Any other slot of that day leaves them out still; ticking it again brings them back.
        await volunteers.toggle_slots(s, near, [day], [p for p in PARTS if p != part])
        assert [c.member_id for c in await matching.eligible(s, need, now=NOW)] == [far]
        await volunteers.toggle_slots(s, near, [day], [part])
        ranked = await matching.eligible(s, need, now=NOW)
    # Both within the same 500 m band: the one who speaks her language comes first.
    assert [(c.member_id, c.speaks_language) for c in ranked] == [(far, True), (near, False)]


async def _coordinator(sessions, branch_code: str) -> int:
    async with transaction(sessions, write=True) as s:
        branch = await s.scalar(select(Branch).where(Branch.code == branch_code))
        row = Member(name="Coord", branch_id=branch.id, is_coordinator=True)
        s.add(row)
        await s.flush()
        return row.id


async def _notices(sessions, kind: str) -> list[tuple[int, dict]]:
    async with sessions() as s:
        rows = await s.execute(
            select(OutboxMessage.member_id, OutboxMessage.payload)
            .where(OutboxMessage.kind == kind)
            .order_by(OutboxMessage.member_id)
        )
        return [tuple(row) for row in rows]


async def test_a_resident_who_volunteers_waits_for_the_branchs_coordinators(sessions) -> None:
    resident = await _volunteer(sessions, is_volunteer=False)
    here = await _coordinator(sessions, "luoshan")
    elsewhere = await _coordinator(sessions, "mapo")
    async with transaction(sessions, write=True) as s:
        branch_id = (await s.get(Member, resident)).branch_id
        coordinators = await nudges.coordinators(s, branch_id)
        assert await volunteers.ask_for_verification(s, resident) == 0  # not a volunteer yet
        await volunteers.become_volunteer(s, resident)
        await volunteers.become_volunteer(s, resident)  # a double tap: told once
    assert here in coordinators and elsewhere not in coordinators
    told = await _notices(sessions, volunteers.VERIFY_ASKED)
    assert told == [(c, {"volunteer_id": resident}) for c in coordinators]
    async with sessions() as s:
        member = await s.get(Member, resident)
        assert (member.is_resident, member.is_volunteer, member.verified) == (False, True, False)
        assert await s.get(VolunteerProfile, resident) is not None
        waiting = await volunteers.awaiting_verification(s, here)
        assert [person.member_id for person in waiting] == [resident]


async def test_verifying_tells_the_volunteer_once_and_only_the_branchs_coordinator_may(
    sessions,
) -> None:
    lin = await _volunteer(sessions)
    here = await _coordinator(sessions, "luoshan")
    elsewhere = await _coordinator(sessions, "mapo")
    async with transaction(sessions, write=True) as s:
        with pytest.raises(CoordinatorOnly):
            await volunteers.verify(s, lin, lin)
        with pytest.raises(NotFound):
            await volunteers.verify(s, elsewhere, lin)
    assert await _notices(sessions, volunteers.VERIFIED) == []
    for _ in range(2):
        async with transaction(sessions, write=True) as s:
            assert (await volunteers.verify(s, here, lin)).verified
    assert await _notices(sessions, volunteers.VERIFIED) == [(lin, {})]
    async with transaction(sessions, write=True) as s:
        assert await volunteers.ask_for_verification(s, lin) == 0  # verified already
