"""Who a broadcast goes to: branches, roles, languages, a skill, neighbourhoods, a distance.

Members who turned announcements off, blocked the bot, were erased or have no chat
(a resident registered without a phone) are never recipients. A member reads the
broadcast in their own language (the branch's when they chose none).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import matching, members
from core.errors import N_, InvalidInput
from core.languages import LANGUAGES
from core.models import BlockedMember, Branch, Identity, Member, Neighbourhood, VolunteerProfile

ROLES: tuple[str, ...] = ("resident", "volunteer", "coordinator")
MAX_RADIUS_M = 50_000


class AudienceInvalid(InvalidInput):
    key = N_("Please choose who should get the announcement with the buttons below.")


@dataclass(frozen=True)
class Near:
    latitude: float
    longitude: float
    radius_m: int


@dataclass(frozen=True)
class Audience:
    """An empty filter means everyone: no `roles` is every role, no `languages` every language."""

    branch_ids: tuple[int, ...]
    roles: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    skill_id: int | None = None
    neighbourhood_ids: tuple[int, ...] = ()
    near: Near | None = None

    def __post_init__(self) -> None:
        if not self.branch_ids or any(role not in ROLES for role in self.roles):
            raise AudienceInvalid()
        if any(language not in LANGUAGES for language in self.languages):
            raise AudienceInvalid()
        if self.near is not None and not (
            -90 <= self.near.latitude <= 90
            and -180 <= self.near.longitude <= 180
            and 0 < self.near.radius_m <= MAX_RADIUS_M
        ):
            raise AudienceInvalid()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Audience:
        near = data.get("near")
        return cls(
            branch_ids=tuple(data["branch_ids"]),
            roles=tuple(data.get("roles") or ()),
            languages=tuple(data.get("languages") or ()),
            skill_id=data.get("skill_id"),
            neighbourhood_ids=tuple(data.get("neighbourhood_ids") or ()),
            near=Near(**near) if near else None,
        )


@dataclass(frozen=True)
class Candidate:
    member_id: int
    language: str
    opted_out: bool
    blocked: bool
    latitude: float | None
    longitude: float | None


_LANGUAGE = func.coalesce(Member.language, Branch.default_language)
_OPTED_OUT = Member.announcements.is_(False)
_BLOCKED = exists().where(BlockedMember.member_id == Member.id)


def _query(audience: Audience) -> Select:
    """The audience's members by id, reachable or not (the caller tells them apart)."""
    query = (
        select(
            Member.id,
            _LANGUAGE,
            _OPTED_OUT,
            _BLOCKED,
            func.coalesce(Member.home_latitude, Neighbourhood.latitude),
            func.coalesce(Member.home_longitude, Neighbourhood.longitude),
        )
        .join(Branch, Branch.id == Member.branch_id)
        .outerjoin(Neighbourhood, Neighbourhood.id == Member.neighbourhood_id)
        .where(
            Member.branch_id.in_(audience.branch_ids),
            Member.erased_at.is_(None),
            exists().where(Identity.member_id == Member.id),
        )
        .order_by(Member.id)
    )
    if audience.roles:
        flags = {
            "resident": Member.is_resident,
            "volunteer": Member.is_volunteer,
            "coordinator": Member.is_coordinator,
        }
        query = query.where(or_(*(flags[role].is_(True) for role in audience.roles)))
    if audience.languages:
        query = query.where(_LANGUAGE.in_(audience.languages))
    if audience.skill_id is not None:
        bit = matching.skill_bit(audience.skill_id)
        query = query.where(
            exists().where(
                VolunteerProfile.member_id == Member.id,
                VolunteerProfile.skills.op("&")(bit) != 0,
            )
        )
    if audience.neighbourhood_ids:
        query = query.where(Member.neighbourhood_id.in_(audience.neighbourhood_ids))
    return query


def _within(audience: Audience, candidate: Candidate) -> bool:
    near = audience.near
    if near is None:
        return True
    if candidate.latitude is None or candidate.longitude is None:
        return False
    distance = matching.distance_m(
        near.latitude, near.longitude, candidate.latitude, candidate.longitude
    )
    return distance <= near.radius_m


async def candidates(
    session: AsyncSession,
    audience: Audience,
    *,
    after_id: int = 0,
    limit: int | None = None,
    reachable_only: bool = False,
) -> tuple[list[Candidate], int | None]:
    """The audience's members with ids above `after_id`, up to `limit` looked at; and the
    last id looked at (None when none was), which is where the next call starts."""
    query = _query(audience).where(Member.id > after_id)
    if reachable_only:
        query = query.where(~_OPTED_OUT, ~_BLOCKED)
    if limit is not None:
        query = query.limit(limit)
    rows = [Candidate(*row) for row in await session.execute(query)]
    last = rows[-1].member_id if rows else None
    return [c for c in rows if _within(audience, c)], last


@dataclass(frozen=True)
class AudienceCount:
    """What the coordinator sees before sending.

    `by_language` counts who will get it, per language of the text they get; `without_text`
    those of the audience who read a language the broadcast has no text in (and no fallback),
    per their language.
    """

    by_language: dict[str, int] = field(default_factory=dict)
    without_text: dict[str, int] = field(default_factory=dict)
    opted_out: int = 0
    blocked: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_language.values())


def reading_language(
    language: str, texts: dict[str, str], fallback_language: str | None
) -> str | None:
    """The text a reader of `language` gets: their own, the fallback, or none."""
    if texts.get(language):
        return language
    if fallback_language is not None and texts.get(fallback_language):
        return fallback_language
    return None


async def count(
    session: AsyncSession,
    audience: Audience,
    texts: dict[str, str],
    fallback_language: str | None = None,
) -> AudienceCount:
    by_language: dict[str, int] = {}
    without_text: dict[str, int] = {}
    opted_out = blocked = 0
    found, _last = await candidates(session, audience)
    for candidate in found:
        if candidate.opted_out:
            opted_out += 1
        elif candidate.blocked:
            blocked += 1
        elif (read := reading_language(candidate.language, texts, fallback_language)) is None:
            without_text[candidate.language] = without_text.get(candidate.language, 0) + 1
        else:
            by_language[read] = by_language.get(read, 0) + 1
    return AudienceCount(by_language, without_text, opted_out, blocked)


async def set_announcements(session: AsyncSession, member_id: int, wanted: bool) -> Member:
    """The profile's one-tap setting: whether the member gets coordinators' announcements."""
    member = await members.get_member(session, member_id)
    member.announcements = wanted
    await session.flush()
    return member
