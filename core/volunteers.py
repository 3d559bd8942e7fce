"""A volunteer's profile: skills, availability, quiet hours, distance, languages, pause;
and the coordinator's "verified" mark. Only verified, unpaused volunteers are nudged.

A member becomes a volunteer at sign-up or later from the volunteering menu; either way
the branch's coordinators hear that someone waits to be verified, and the volunteer
hears when they are."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import coordinators, members, notices, nudges, outbox
from core.coordinators import CoordinatorOnly
from core.db import utcnow
from core.errors import N_, DomainError, InvalidInput, NotFound
from core.languages import LANGUAGES
from core.matching import DISTANCES_M, PARTS, cell_of, skill_bit, slot_bit
from core.models import Category, Member, VolunteerProfile

# Quiet hours offered as buttons: (start, end) in minutes after local midnight.
QUIET_CHOICES: dict[str, tuple[int | None, int | None]] = {
    "none": (None, None),
    "night": (21 * 60, 8 * 60),
    "evening": (19 * 60, 9 * 60),
}
DAYS = 7  # Monday first, as `datetime.weekday()` counts them in the branch's time zone
# The outbox notices: to a coordinator, someone waits to be verified; to them, they are.
VERIFY_ASKED = notices.VerifyAsked.KIND
VERIFIED = notices.Verified.KIND
EVERY_SLOT = sum(slot_bit(day, part) for day in range(DAYS) for part in range(len(PARTS)))


class NotAVolunteer(DomainError):
    key = N_("This is for volunteers. Tap “🤝 Volunteering” to become one.")


class LastLanguage(DomainError):
    key = N_("Please keep at least one language, so I know how to match you.")


async def profile(session: AsyncSession, member_id: int) -> VolunteerProfile:
    """The member's profile, created with sensible defaults the first time (every day,
    every part, 2 km, their own language), and the home point refreshed from the member."""
    member = await members.get_member(session, member_id)
    if not member.is_volunteer:
        raise NotAVolunteer()
    row = await session.get(VolunteerProfile, member_id)
    if row is None:
        row = VolunteerProfile(
            member_id=member_id,
            availability=EVERY_SLOT,
            max_distance_m=2000,
            languages=[member.language] if member.language else [],
        )
        session.add(row)
    _locate(row, member)
    await session.flush()
    return row


def _locate(row: VolunteerProfile, member: Member) -> None:
    row.branch_id = member.branch_id
    if member.home_latitude is not None and member.home_longitude is not None:
        row.latitude, row.longitude = member.home_latitude, member.home_longitude
        row.cell = cell_of(member.home_latitude, member.home_longitude)
    row.updated_at = utcnow()


def skills_of(row: VolunteerProfile) -> set[int]:
    return {bit for bit in range(1, 63) if row.skills & (1 << bit)}


async def toggle_skill(session: AsyncSession, member_id: int, category_id: int) -> VolunteerProfile:
    if await session.get(Category, category_id) is None:
        raise NotFound()
    row = await profile(session, member_id)
    row.skills ^= skill_bit(category_id)
    return row


def available(row: VolunteerProfile, day: int, part: int) -> bool:
    return bool(row.availability & slot_bit(day, part))


async def toggle_slots(
    session: AsyncSession, member_id: int, days: Sequence[int], parts: Sequence[str]
) -> VolunteerProfile:
    """Untick every slot of these days × parts (names from `PARTS`) if any is ticked, else
    tick them all. Untick first, because people mostly take times away from the every-slot
    default: the weekend, then the evenings, then the afternoons each clear in one tap,
    whichever order they come in."""
    if not days or not parts or any(not 0 <= day < DAYS for day in days):
        raise InvalidInput()
    if any(part not in PARTS for part in parts):
        raise InvalidInput()
    row = await profile(session, member_id)
    slots = sum({slot_bit(day, PARTS.index(part)) for day in days for part in parts})
    if row.availability & slots:
        row.availability &= ~slots
    else:
        row.availability |= slots
    return row


@dataclass(frozen=True)
class FreeTimes:
    """Days that share the same parts of the day: `runs` of consecutive days (first, last)
    and the indexes of the `parts` ticked on each of them."""

    runs: tuple[tuple[int, int], ...]
    parts: tuple[int, ...]


def free_times(availability: int) -> list[FreeTimes]:
    """The availability mask grouped as people say it: "Mon–Fri mornings, Sat all day"."""
    by_parts: dict[tuple[int, ...], list[int]] = {}
    for day in range(DAYS):
        parts = tuple(p for p in range(len(PARTS)) if availability & slot_bit(day, p))
        if parts:
            by_parts.setdefault(parts, []).append(day)
    groups = []
    for parts, days in by_parts.items():
        runs: list[tuple[int, int]] = []
        for day in days:
            if runs and runs[-1][1] == day - 1:
                runs[-1] = (runs[-1][0], day)
            else:
                runs.append((day, day))
        groups.append(FreeTimes(tuple(runs), parts))
    return groups


async def set_distance(session: AsyncSession, member_id: int, metres: int) -> VolunteerProfile:
    if metres not in DISTANCES_M:
        raise InvalidInput()
    row = await profile(session, member_id)
    row.max_distance_m = metres
    return row


async def set_quiet(session: AsyncSession, member_id: int, choice: str) -> VolunteerProfile:
    if choice not in QUIET_CHOICES:
        raise InvalidInput()
    row = await profile(session, member_id)
    row.quiet_start, row.quiet_end = QUIET_CHOICES[choice]
    return row


def quiet_choice(row: VolunteerProfile) -> str:
    for name, span in QUIET_CHOICES.items():
        if (row.quiet_start, row.quiet_end) == span:
            return name
    return "none"


async def toggle_language(session: AsyncSession, member_id: int, language: str) -> VolunteerProfile:
    """Add or remove a language the volunteer speaks; the last one stays."""
    if language not in LANGUAGES:
        raise InvalidInput()
    row = await profile(session, member_id)
    spoken = list(row.languages or [])
    if language not in spoken:
        row.languages = [code for code in LANGUAGES if code in spoken or code == language]
    elif len(spoken) == 1:
        raise LastLanguage()
    else:
        row.languages = [code for code in spoken if code != language]
    return row


async def set_paused(session: AsyncSession, member_id: int, paused: bool) -> VolunteerProfile:
    row = await profile(session, member_id)
    row.paused = paused
    return row


@dataclass(frozen=True)
class Unverified:
    member_id: int
    name: str


async def awaiting_verification(session: AsyncSession, coordinator_id: int) -> list[Unverified]:
    """Volunteers of the branch the coordinator works in, not yet verified, oldest first."""
    _coordinator, branch_id = await coordinators.working_branch(session, coordinator_id)
    rows = await session.execute(
        select(Member.id, Member.name)
        .where(
            Member.is_volunteer.is_(True),
            Member.verified.is_(False),
            Member.erased_at.is_(None),
            Member.branch_id == branch_id,
        )
        .order_by(Member.created_at, Member.id)
        .limit(20)
    )
    return [Unverified(*row) for row in rows]


async def ask_for_verification(session: AsyncSession, member_id: int) -> int:
    """Tell the branch's coordinators (once each) that this volunteer waits to be verified;
    returns how many were told. Nothing to tell for a verified member or a non-volunteer."""
    member = await members.get_member(session, member_id)
    if not member.is_volunteer or member.verified or member.branch_id is None:
        return 0
    told = 0
    for coordinator_id in await nudges.coordinators(session, member.branch_id):
        if coordinator_id == member_id:
            continue
        await outbox.enqueue(
            session,
            key=f"verify_asked:{member_id}:{coordinator_id}",
            member_id=coordinator_id,
            kind=VERIFY_ASKED,
            payload=notices.VerifyAsked(volunteer_id=member_id).payload(),
        )
        told += 1
    return told


async def become_volunteer(session: AsyncSession, member_id: int) -> VolunteerProfile:
    """A member who signed up for help volunteers too: a profile with the defaults, and
    the coordinators asked to verify them. Again: no change."""
    member = await members.get_member(session, member_id)
    member.is_volunteer = True
    row = await profile(session, member_id)
    await ask_for_verification(session, member_id)
    return row


async def verify(session: AsyncSession, coordinator_id: int, member_id: int) -> Member:
    """Mark a volunteer verified (again: no change). Coordinators of the volunteer's home
    branch only: that is where they signed up and are known."""
    coordinator = await members.get_member(session, coordinator_id)
    if not coordinator.is_coordinator:
        raise CoordinatorOnly()
    volunteer = await members.get_member(session, member_id)
    if not volunteer.is_volunteer or not await coordinators.coordinates(
        session, coordinator, volunteer.branch_id
    ):
        raise NotFound()
    if not volunteer.verified:
        volunteer.verified = True
        await outbox.enqueue(
            session, key=f"verified:{member_id}", member_id=member_id, kind=VERIFIED
        )
    return volunteer
