"""The services behind a volunteer's card: a stale "Not this time" after Accept changes
nothing (and says whose it is), one on a nudge someone else took is refused; the requests a
volunteer is helping with, and whose card may be shown again."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core import helping, nudges
from core.db import transaction
from core.models import Nudge, NudgeStatus, Order, OrderStatus
from tests.bot.rows import snapshot
from tests.unit.test_matching import NOW, _setup


async def _two_nudged_one_accepted(sessions) -> tuple[dict, int, int, int, int]:
    ctx = await _setup(sessions, [(0.001, 0), (0.002, 0)])
    first, second = ctx["volunteers"]
    async with transaction(sessions, write=True) as s:
        await nudges.sweep(s, now=NOW)
        mine = await s.scalar(select(Nudge).where(Nudge.member_id == first))
        theirs = await s.scalar(select(Nudge).where(Nudge.member_id == second))
        mine_id, theirs_id = mine.id, theirs.id
        await helping.accept(s, nudge_id=mine_id, member_id=first, now=NOW)
    return ctx, first, second, mine_id, theirs_id


async def test_a_stale_decline_changes_nothing(sessions) -> None:
    ctx, first, second, mine, theirs = await _two_nudged_one_accepted(sessions)
    before = await snapshot(sessions)
    async with transaction(sessions, write=True) as s:
        declined = await helping.decline(s, nudge_id=mine, member_id=first, now=NOW)
        assert declined.yours is not None and declined.yours.id == ctx["order"]
    async with transaction(sessions, write=True) as s:
        with pytest.raises(helping.AlreadyTaken):
            await helping.decline(s, nudge_id=theirs, member_id=second, now=NOW)
    assert await snapshot(sessions) == before
    async with sessions() as s:
        order = await s.get(Order, ctx["order"])
        assert (order.status, order.volunteer_id) == (OrderStatus.ACCEPTED, first)
        statuses = {n.member_id: n.status for n in await s.scalars(select(Nudge))}
        assert statuses == {first: NudgeStatus.ACCEPTED, second: NudgeStatus.TAKEN}


async def test_the_requests_a_volunteer_is_helping_with(sessions) -> None:
    ctx, first, second, _mine, _theirs = await _two_nudged_one_accepted(sessions)
    async with sessions() as s:
        assert [o.id for o in await helping.helping_with(s, first)] == [ctx["order"]]
        assert await helping.helping_with(s, second) == []
        assert (await helping.card_order(s, ctx["order"], first)).id == ctx["order"]
        with pytest.raises(helping.NotHelping):
            await helping.card_order(s, ctx["order"], second)
    async with transaction(sessions, write=True) as s:
        await helping.mark_done(s, order_id=ctx["order"], member_id=first, minutes=60, now=NOW)
    async with sessions() as s:
        assert await helping.helping_with(s, first) == []
        with pytest.raises(helping.NotHelping):
            await helping.card_order(s, ctx["order"], first)
