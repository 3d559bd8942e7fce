"""`timebank seed-demo` shows what credits buy in Luoshan: shops, a class, a parking space."""

from __future__ import annotations

from core.db import transaction
from core.demo import seed_demo
from core.rewards import classes, parking, redemption
from core.rewards.demo import _member


async def test_seed_demo_adds_shops_a_class_and_a_space_once(sessions) -> None:
    async with transaction(sessions, write=True) as session:
        first = await seed_demo(session)
    async with transaction(sessions, write=True) as session:
        again = await seed_demo(session)
    assert (first["shops"], first["items"], first["classes"], first["parking spaces"]) == (
        3,
        4,
        1,
        1,
    )
    assert again["shops"] == again["items"] == again["classes"] == again["parking spaces"] == 0
    async with sessions() as session:
        resident = await _member(session, "900001")
        coordinator = await _member(session, "900003")
        shelf = await redemption.spend_my_hours(session, resident.id, limit=10)
        assert len(shelf.items) == 4 and shelf.items[0].distance_m is not None
        [course] = await classes.classes_near(session, resident.id)
        assert course.titles["ko"] == "스마트폰 교실" and course.seats_left == 8
        [space] = await parking.spaces_near(session, coordinator.id)
        assert space.area["zh_Hans"] == "罗山一村" and "B-12" not in repr(space)
