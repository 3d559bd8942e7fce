"""Read-only lists the conversations offer as buttons: branches, neighbourhoods, categories."""

from __future__ import annotations

from typing import Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.matching import distance_m
from core.models import Branch, Category, Neighbourhood

# How far from a neighbourhood's centre a home may be and still be called "near" it.
NEAR_AREA_M = 2000


class Named(Protocol):
    names: dict[str, str]


T = TypeVar("T", bound=Named)


def localized(names: dict[str, str], language: str) -> str:
    """A name in the wanted language, falling back to English, then to any name at all."""
    return names.get(language) or names.get("en") or next(iter(names.values()), "")


async def branches(session: AsyncSession) -> list[Branch]:
    return list(await session.scalars(select(Branch).order_by(Branch.id)))


async def branch_by_code(session: AsyncSession, code: str) -> Branch | None:
    return await session.scalar(select(Branch).where(Branch.code == code))


async def neighbourhoods(session: AsyncSession, branch_id: int) -> list[Neighbourhood]:
    return list(
        await session.scalars(
            select(Neighbourhood)
            .where(Neighbourhood.branch_id == branch_id)
            .order_by(Neighbourhood.sort_order, Neighbourhood.id)
        )
    )


async def nearest_neighbourhood(
    session: AsyncSession, branch_id: int, latitude: float, longitude: float
) -> Neighbourhood | None:
    """The branch's neighbourhood whose centre is nearest the point, if one is within
    NEAR_AREA_M: farther than that, naming it would mislead."""
    found = [
        (distance_m(latitude, longitude, area.latitude, area.longitude), area)
        for area in await neighbourhoods(session, branch_id)
    ]
    distance, area = min(found, key=lambda pair: pair[0], default=(NEAR_AREA_M, None))
    return area if distance < NEAR_AREA_M else None


async def categories(session: AsyncSession) -> list[Category]:
    return list(await session.scalars(select(Category).order_by(Category.sort_order)))


def named(items: list[T], text: str | None, language: str) -> T | None:
    """The branch, area or category whose name, as the member sees it, is `text`."""
    return next((item for item in items if localized(item.names, language) == text), None)
