"""Corrections: reversals post the mirror once; adjustments need a coordinator and a reason."""

from __future__ import annotations

import asyncio

import pytest

from core.ledger import (
    SYSTEM,
    Actor,
    AlreadyReversed,
    CannotReverseReversal,
    CoordinatorRequired,
    Entry,
    IdempotencyConflict,
    InsufficientCredit,
    InvalidAmount,
    PostingKind,
    ReasonRequired,
    SameAccount,
    UnknownAccount,
    UnknownTransaction,
    adjust,
    balance_of,
    issuance_account,
    reverse,
    transfer,
    verify_ledger,
)

COORDINATOR = Actor(member_id=None, is_coordinator=True)

UNKNOWN = 10**9  # an id no row has


async def balance(world, account: int) -> int:
    return (await world.read(lambda s: balance_of(s, account))).balance


async def paid(world, minutes: int = 30) -> tuple[int, int, int]:
    """Alice (granted 100) paid Bob `minutes`: their accounts and the posting id."""
    branch = await world.branch()
    alice = await world.account(branch, granted=100)
    bob = await world.account(branch)
    posting = await world.run(
        lambda s: transfer(s, alice, bob, minutes, kind=PostingKind.SERVICE, key="pay")
    )
    return alice, bob, posting.id


async def test_a_reversal_mirrors_the_original_and_links_it(world):
    alice, bob, original = await paid(world)
    reversal = await world.run(
        lambda s: reverse(s, original, reason="Paid twice", actor=COORDINATOR, key="undo")
    )
    assert reversal.kind is PostingKind.REVERSAL and reversal.reverses_id == original
    assert reversal.memo == "Paid twice"
    assert set(reversal.entries) == {Entry(alice, 30, 100), Entry(bob, -30, 0)}
    assert (await balance(world, alice), await balance(world, bob)) == (100, 0)
    assert (await verify_ledger(world.sessions)).ok


async def test_a_transaction_is_reversed_once(world):
    _, _, original = await paid(world)
    first = await world.run(lambda s: reverse(s, original, reason="r", actor=SYSTEM, key="u1"))
    again = await world.run(lambda s: reverse(s, original, reason="r", actor=SYSTEM, key="u1"))
    assert again == first and again.replayed
    before = await world.counts()
    with pytest.raises(AlreadyReversed) as refused:
        await world.run(lambda s: reverse(s, original, reason="r", actor=SYSTEM, key="u2"))
    assert refused.value.params == {"transaction_id": original, "reversal_id": first.id}
    assert await world.counts() == before


async def test_concurrent_reversals_post_one_mirror(world):
    alice, _, original = await paid(world)

    async def attempt(n: int) -> object:
        try:
            return await world.run(
                lambda s: reverse(s, original, reason="r", actor=SYSTEM, key=f"u{n}")
            )
        except AlreadyReversed as refused:
            return refused

    outcomes = await asyncio.gather(*(attempt(n) for n in range(8)))
    assert sum(not isinstance(outcome, AlreadyReversed) for outcome in outcomes) == 1
    assert await balance(world, alice) == 100


async def test_a_reversal_cannot_be_reversed(world):
    _, _, original = await paid(world)
    reversal = await world.run(lambda s: reverse(s, original, reason="r", actor=SYSTEM, key="u"))
    with pytest.raises(CannotReverseReversal):
        await world.run(lambda s: reverse(s, reversal.id, reason="r", actor=SYSTEM, key="uu"))


async def test_a_reversal_of_credit_already_spent_respects_the_limit(world):
    _, bob, original = await paid(world)
    carol = await world.account(await world.branch())
    await world.run(lambda s: transfer(s, bob, carol, 20, kind=PostingKind.GIFT, key="spent"))
    before = await world.counts()
    with pytest.raises(InsufficientCredit) as refused:
        await world.run(lambda s: reverse(s, original, reason="r", actor=SYSTEM, key="u"))
    assert refused.value.params == {"account_id": bob, "available": 10, "needed": 30}
    assert await world.counts() == before


@pytest.mark.parametrize("reason", ["", "   ", None])
async def test_a_reversal_needs_a_reason(world, reason):
    _, _, original = await paid(world)
    with pytest.raises(ReasonRequired):
        await world.run(lambda s: reverse(s, original, reason=reason, actor=SYSTEM, key="u"))


async def test_reversing_an_unknown_transaction_is_a_domain_error(world):
    with pytest.raises(UnknownTransaction):
        await world.run(lambda s: reverse(s, UNKNOWN, reason="r", actor=SYSTEM, key="u"))


async def test_a_coordinator_adjusts_either_way_against_issuance(world):
    branch = await world.branch()
    alice = await world.account(branch, granted=100)
    credit = await world.run(
        lambda s: adjust(s, alice, 15, reason="Market day help", actor=COORDINATOR, key="a1")
    )
    debit = await world.run(
        lambda s: adjust(s, alice, -40, reason="Entered twice", actor=COORDINATOR, key="a2")
    )
    issuance = await world.run(lambda s: issuance_account(s, branch))
    assert credit.kind is debit.kind is PostingKind.ADJUSTMENT
    assert credit.memo == "Market day help"
    assert await balance(world, alice) == 75
    assert await balance(world, issuance.id) == -75
    replay = await world.run(
        lambda s: adjust(s, alice, 15, reason="Market day help", actor=COORDINATOR, key="a1")
    )
    assert replay == credit and replay.replayed
    with pytest.raises(IdempotencyConflict):
        await world.run(lambda s: adjust(s, alice, 16, reason="r", actor=COORDINATOR, key="a1"))


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"actor": Actor(member_id=3)}, CoordinatorRequired),
        ({"actor": SYSTEM}, CoordinatorRequired),
        ({"reason": ""}, ReasonRequired),
        ({"minutes": 0}, InvalidAmount),
        ({"minutes": 2.5}, InvalidAmount),
        ({"minutes": -10_000_001}, InvalidAmount),
        ({"minutes": -101}, InsufficientCredit),
        ({"account": UNKNOWN}, UnknownAccount),
        ({"account": "issuance"}, SameAccount),
    ],
)
async def test_bad_adjustments_are_refused_and_nothing_is_written(world, arguments, error):
    branch = await world.branch()
    alice = await world.account(branch, granted=100)
    issuance = (await world.run(lambda s: issuance_account(s, branch))).id
    account = arguments.get("account", alice)
    account = issuance if account == "issuance" else account
    before = await world.counts()
    with pytest.raises(error):
        await world.run(
            lambda s: adjust(
                s, account, arguments.get("minutes", 10), reason=arguments.get("reason", "r"),
                actor=arguments.get("actor", COORDINATOR), key="a",
            )
        )  # fmt: skip
    assert await world.counts() == before
