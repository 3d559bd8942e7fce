"""Giving hours to family: once per key, only from credit one has, only to linked family."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core import gifts, ledger
from core.db import transaction
from core.ledger import InsufficientCredit
from core.models import Branch, FamilyLink, FamilyLinkStatus, Member


@pytest.fixture
async def family(sessions) -> dict[str, int]:
    async with transaction(sessions, write=True) as session:
        branch = Branch(code="b", names={"en": "B"}, time_zone="UTC", default_language="en")
        session.add(branch)
        await session.flush()
        rows = {
            name: Member(name=name, language="en", branch_id=branch.id)
            for name in ("mother", "son", "stranger")
        }
        session.add_all(rows.values())
        await session.flush()
        session.add(
            FamilyLink(
                member_id=rows["mother"].id,
                relative_id=rows["son"].id,
                status=FamilyLinkStatus.ACTIVE,
            )
        )
        account = await ledger.open_member_account(session, rows["son"].id, branch.id)
        await ledger.grant(session, account.id, 90, key="start")
        return {name: member.id for name, member in rows.items()} | {"branch": branch.id}


async def _give(sessions, giver: int, recipient: int, minutes: int, key: str) -> gifts.Gift:
    async with transaction(sessions, write=True) as session:
        return await gifts.give_hours(session, giver, recipient, minutes, key=key)


async def _balance(sessions, member_id: int) -> int:
    async with sessions() as session:
        account = await ledger.find_member_account(session, member_id)
        return 0 if account is None else (await ledger.balance_of(session, account.id)).balance


async def test_a_gift_moves_the_hours_once_per_key(sessions, family) -> None:
    gift = await _give(sessions, family["son"], family["mother"], 60, "confirm-1")
    assert not gift.replayed
    assert (gift.giver_balance, gift.recipient_balance) == (30, 60)
    again = await _give(sessions, family["son"], family["mother"], 60, "confirm-1")
    assert again.replayed and again.giver_balance == 30
    assert await _balance(sessions, family["son"]) == 30
    assert await _balance(sessions, family["mother"]) == 60


async def test_either_side_of_the_link_may_give(sessions, family) -> None:
    await _give(sessions, family["son"], family["mother"], 30, "k1")
    back = await _give(sessions, family["mother"], family["son"], 15, "k2")
    assert back.giver_balance == 15 and back.recipient_balance == 75


async def test_not_more_than_one_has_and_nothing_stays(sessions, family) -> None:
    async with transaction(sessions, write=True) as session:
        await ledger.set_member_overdraft_limit(
            session, family["branch"], 120, actor=ledger.Actor(1, is_coordinator=True)
        )
    with pytest.raises(InsufficientCredit) as refused:
        await _give(sessions, family["son"], family["mother"], 120, "too-much")
    assert refused.value.params == {"available": 90, "needed": 120}
    assert await _balance(sessions, family["son"]) == 90
    # The refused key was not used up: the same confirmation with less works later.
    with pytest.raises(InsufficientCredit):
        await _give(sessions, family["mother"], family["son"], 10, "nothing-yet")
    assert await _balance(sessions, family["mother"]) == 0


async def test_only_to_linked_family(sessions, family) -> None:
    for recipient in (family["stranger"], family["son"]):
        with pytest.raises(gifts.NotFamily):
            await _give(sessions, family["son"], recipient, 30, f"x{recipient}")
    async with transaction(sessions, write=True) as session:
        link = await session.scalar(select(FamilyLink))
        link.status = FamilyLinkStatus.ENDED
    with pytest.raises(gifts.NotFamily):
        await _give(sessions, family["son"], family["mother"], 30, "after-unlink")


async def test_relatives_either_way_round(sessions, family) -> None:
    async with sessions() as session:
        assert [m.name for m in await gifts.relatives(session, family["son"])] == ["mother"]
        assert [m.name for m in await gifts.relatives(session, family["mother"])] == ["son"]
        assert await gifts.relatives(session, family["stranger"]) == []


@pytest.mark.parametrize(
    ("typed", "minutes"),
    [("45", 45), ("1:30", 90), ("1.5h", 90), ("2 h", 120), ("2小时", 120), ("30분", 30)],
)
def test_typed_amounts(typed, minutes) -> None:
    assert gifts.parse_minutes(typed) == minutes


@pytest.mark.parametrize("typed", ["", "abc", "0", "-5", "1:75", "99999"])
def test_typed_amounts_refused(typed) -> None:
    with pytest.raises(gifts.AmountInvalid):
        gifts.parse_minutes(typed)
