"""The needs survey: residents say what their neighbourhood lacks, coordinators act on it.

A need falls in one of the branch's categories (Qingdao's survey collected 120 items in nine),
told in words or by voice, anonymously if the member wishes. Coordinators see them counted
by category, fold duplicates into one, and mark a need planned or done with a note; everyone
who raised it (or a need folded into it) is told through the outbox, in their language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import outbox
from core.coordinators import coordinator_of
from core.db import utcnow
from core.errors import InvalidInput, NotFound
from core.models import Member, Need, NeedCategory, NeedStatus
from core.notices import Kind

MAX_TEXT = 1000
MAX_NOTE = 500
TREND_DAYS = 30

# Qingdao's nine, in the order its survey listed them.
NINE: list[tuple[str, dict[str, str]]] = [
    ("education", {"zh_Hans": "儿童教育", "ko": "아이 교육", "en": "Children's education"}),
    ("neighbours", {"zh_Hans": "邻里互助", "ko": "이웃 돕기", "en": "Neighbourhood help"}),
    ("environment", {"zh_Hans": "环境卫生", "ko": "환경", "en": "Environment"}),
    ("health", {"zh_Hans": "健康医疗", "ko": "건강", "en": "Health"}),
    ("elderly", {"zh_Hans": "养老助老", "ko": "어르신 돌봄", "en": "Elderly care"}),
    ("culture", {"zh_Hans": "文化休闲", "ko": "문화와 여가", "en": "Culture and leisure"}),
    ("safety", {"zh_Hans": "平安建设", "ko": "안전", "en": "Safety"}),
    ("employment", {"zh_Hans": "就业帮扶", "ko": "일자리", "en": "Employment"}),
    ("services", {"zh_Hans": "生活服务", "ko": "생활 서비스", "en": "Everyday services"}),
]


class UnknownNeed(NotFound):
    pass


class UnknownNeedCategory(NotFound):
    pass


class NeedTextInvalid(InvalidInput):
    pass


class CannotMerge(InvalidInput):
    pass


async def ensure_need_categories(session: AsyncSession, branch_id: int) -> list[NeedCategory]:
    """The branch's categories, the nine added where missing."""
    have = {
        c.code: c
        for c in await session.scalars(
            select(NeedCategory).where(NeedCategory.branch_id == branch_id)
        )
    }
    for order, (code, names) in enumerate(NINE):
        if code not in have:
            have[code] = NeedCategory(branch_id=branch_id, code=code, names=names, sort_order=order)
            session.add(have[code])
    await session.flush()
    return sorted(have.values(), key=lambda c: (c.sort_order, c.id))


def _clean(text: str | None, limit: int) -> str:
    text = " ".join((text or "").split())
    if len(text) > limit:
        raise NeedTextInvalid()
    return text


async def raise_need(
    session: AsyncSession,
    *,
    member_id: int,
    category_id: int,
    key: str,
    text: str | None = None,
    voice_file_id: str | None = None,
    anonymous: bool = False,
    recorded_by_id: int | None = None,
) -> Need:
    """Record a need of `member_id`'s branch; the same key again returns the first one.

    `recorded_by_id` is the coordinator who wrote it down for the resident (a market-day
    stall); the resident is still the one told when it changes."""
    found = await session.scalar(select(Need).where(Need.idempotency_key == key))
    if found is not None:
        return found
    member = await session.get(Member, member_id)
    if member is None or member.branch_id is None or member.erased_at is not None:
        raise NotFound()
    category = await session.get(NeedCategory, category_id)
    if category is None or category.branch_id != member.branch_id:
        raise UnknownNeedCategory()
    if recorded_by_id is not None:
        await coordinator_of(session, recorded_by_id, member.branch_id)
    cleaned = _clean(text, MAX_TEXT)
    if not cleaned and not voice_file_id:
        raise NeedTextInvalid()
    need = Need(
        branch_id=member.branch_id,
        category_id=category.id,
        raised_by_id=member.id,
        recorded_by_id=recorded_by_id,
        text=cleaned,
        voice_file_id=voice_file_id,
        anonymous=anonymous,
        idempotency_key=key,
    )
    session.add(need)
    await session.flush()
    return need


@dataclass(frozen=True, slots=True)
class CategoryCount:
    category: NeedCategory
    open: int
    planned: int
    done: int
    last_days: int  # raised in the last TREND_DAYS days
    days_before: int  # raised in the TREND_DAYS days before those

    @property
    def total(self) -> int:
        return self.open + self.planned + self.done


async def needs_by_category(
    session: AsyncSession, branch_id: int, now: datetime | None = None
) -> list[CategoryCount]:
    """Each category of the branch with its needs counted (merged ones left out) and trend."""
    now = now or utcnow()
    recent, before = now - timedelta(days=TREND_DAYS), now - timedelta(days=2 * TREND_DAYS)

    def count_if(condition) -> object:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    rows = await session.execute(
        select(
            NeedCategory,
            count_if(Need.status == NeedStatus.OPEN),
            count_if(Need.status == NeedStatus.PLANNED),
            count_if(Need.status == NeedStatus.DONE),
            count_if(Need.created_at >= recent),
            count_if((Need.created_at >= before) & (Need.created_at < recent)),
        )
        .outerjoin(
            Need,
            (Need.category_id == NeedCategory.id) & (Need.status != NeedStatus.MERGED),
        )
        .where(NeedCategory.branch_id == branch_id)
        .group_by(NeedCategory.id)
        .order_by(NeedCategory.sort_order, NeedCategory.id)
    )
    return [CategoryCount(category, *map(int, numbers)) for category, *numbers in rows]


@dataclass(frozen=True, slots=True)
class NeedRow:
    need_id: int
    category_id: int
    status: str
    text: str
    has_voice: bool
    raised_by: str | None  # None when raised anonymously
    note: str
    merged: int  # needs folded into this one
    created_at: datetime


async def list_needs(
    session: AsyncSession, branch_id: int, category_id: int | None = None
) -> list[NeedRow]:
    folded = Need.__table__.alias("folded")
    merged = select(func.count()).where(folded.c.merged_into_id == Need.id).scalar_subquery()
    query = (
        select(Need, Member.name, merged)
        .join(Member, Member.id == Need.raised_by_id)
        .where(Need.branch_id == branch_id, Need.status != NeedStatus.MERGED)
        .order_by(Need.created_at.desc(), Need.id.desc())
    )
    if category_id is not None:
        query = query.where(Need.category_id == category_id)
    return [
        NeedRow(
            need_id=need.id,
            category_id=need.category_id,
            status=need.status,
            text=need.text,
            has_voice=need.voice_file_id is not None,
            raised_by=None if need.anonymous else name,
            note=need.note,
            merged=int(count),
            created_at=need.created_at,
        )
        for need, name, count in await session.execute(query)
    ]


async def _need(session: AsyncSession, need_id: int) -> Need:
    need = await session.get(Need, need_id)
    if need is None:
        raise UnknownNeed()
    return need


async def need_of(session: AsyncSession, *, coordinator_id: int, need_id: int) -> Need:
    """One need, for a coordinator of its branch (its voice message, to play it)."""
    need = await _need(session, need_id)
    await coordinator_of(session, coordinator_id, need.branch_id)
    return need


async def merge_needs(
    session: AsyncSession, *, coordinator_id: int, keep_id: int, duplicate_ids: list[int]
) -> Need:
    """Fold duplicates into `keep_id`; needs already folded into them follow."""
    keep = await _need(session, keep_id)
    await coordinator_of(session, coordinator_id, keep.branch_id)
    if keep.status == NeedStatus.MERGED:
        raise CannotMerge()
    for duplicate_id in duplicate_ids:
        duplicate = await _need(session, duplicate_id)
        if duplicate.id == keep.id or duplicate.branch_id != keep.branch_id:
            raise CannotMerge()
        await session.execute(
            update(Need)
            .where(Need.merged_into_id == duplicate.id)
            .values(merged_into_id=keep.id, updated_at=utcnow())
        )
        duplicate.status = NeedStatus.MERGED
        duplicate.merged_into_id = keep.id
        duplicate.updated_at = utcnow()
    await session.flush()
    return keep


async def mark_need(
    session: AsyncSession,
    *,
    coordinator_id: int,
    need_id: int,
    status: str,
    note: str,
    key: str,
) -> int:
    """Mark a need planned or done, with a note; returns how many raisers are told.

    Each raiser (of the need and of those folded into it) gets one outbox message per
    `key`, so a retry tells nobody twice."""
    if status not in (NeedStatus.PLANNED, NeedStatus.DONE):
        raise InvalidInput()
    need = await _need(session, need_id)
    await coordinator_of(session, coordinator_id, need.branch_id)
    if need.status == NeedStatus.MERGED:
        raise CannotMerge()
    need.status = status
    need.note = _clean(note, MAX_NOTE)
    need.updated_at = utcnow()
    category = await session.get(NeedCategory, need.category_id)
    assert category is not None
    raisers = set(
        await session.scalars(
            select(Need.raised_by_id).where(or_(Need.id == need.id, Need.merged_into_id == need.id))
        )
    )
    for member_id in sorted(raisers):
        await outbox.enqueue(
            session,
            key=f"need:{need.id}:{key}:{member_id}",
            member_id=member_id,
            kind=Kind.NEED_UPDATE,
            payload={
                "need_id": need.id,
                "status": status,
                "note": need.note,
                "category": category.names,
                "text": need.text,
            },
        )
    await session.flush()
    return len(raisers)
