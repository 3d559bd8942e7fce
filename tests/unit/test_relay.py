"""A message through the bot goes to the other side of an accepted order, and "💬 Message …"
on the card of an ended order is refused at once, before anything is typed."""

from __future__ import annotations

import pytest

from core import helping
from core.models import Order, OrderStatus


def _order(status: OrderStatus) -> Order:
    return Order(status=status, requester_id=1, beneficiary_id=2, volunteer_id=3)


@pytest.mark.parametrize("status", [OrderStatus.ACCEPTED, OrderStatus.DONE])
def test_each_side_reaches_the_other_while_the_order_runs(status) -> None:
    assert helping.relay_target(_order(status), 3) == 1
    assert helping.relay_target(_order(status), 1) == 3
    assert helping.relay_target(_order(status), 2) == 3
    with pytest.raises(helping.NotYours):
        helping.relay_target(_order(status), 4)


@pytest.mark.parametrize(
    "status",
    [OrderStatus.CONFIRMED, OrderStatus.NOT_CREDITED, OrderStatus.CANCELLED, OrderStatus.EXPIRED],
)
def test_an_ended_order_refuses_at_once(status) -> None:
    with pytest.raises(helping.WrongStep):
        helping.relay_target(_order(status), 3)
