"""A volunteer who asks for help, for themselves or for a relative, is never nudged for
their own request; nor is a volunteer the help is for."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core import matching, nudges
from core.db import transaction
from core.models import Nudge, Order
from tests.unit.test_matching import NOW, _setup

# (requester, beneficiary): "resident" or the index of a volunteer.
CASES = {
    "a volunteer asks for themselves": (0, 0),
    "a volunteer asks for a resident": (0, "resident"),
    "a resident asks for a volunteer": ("resident", 0),
}


@pytest.mark.parametrize(("requester", "beneficiary"), CASES.values(), ids=CASES.keys())
async def test_no_one_is_nudged_for_a_request_of_their_own(
    sessions, requester, beneficiary
) -> None:
    # The asking volunteer is the nearest: a matching that forgot them would nudge them first.
    ctx = await _setup(sessions, [(0.0005, 0), (0.002, 0), (0.004, 0)])
    v = ctx["volunteers"]

    def who(role):
        return ctx["resident"] if role == "resident" else v[role]

    async with transaction(sessions, write=True) as s:
        order = await s.get(Order, ctx["order"])
        order.requester_id, order.beneficiary_id = who(requester), who(beneficiary)
    async with transaction(sessions, write=True) as s:
        need = await matching.need_for(s, await s.get(Order, ctx["order"]), NOW)
        ranked = [c.member_id for c in await matching.eligible(s, need, now=NOW, limit=10)]
        brute = [c.member_id for c in await matching.eligible_brute_force(s, need, now=NOW)]
    assert ranked == brute == [v[1], v[2]]

    async with transaction(sessions, write=True) as s:
        await nudges.sweep(s, now=NOW, rules=nudges.Rules(wave_size=5))
    async with sessions() as s:
        nudged = list(await s.scalars(select(Nudge.member_id).order_by(Nudge.id)))
    assert nudged == [v[1], v[2]]
