"""Postings: transfers, grants, multi-leg postings, idempotency, bad input, append-only rows."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from core.ledger import (
    MAX_MINUTES,
    SYSTEM,
    Actor,
    Entry,
    IdempotencyConflict,
    InsufficientCredit,
    InvalidAmount,
    InvalidKey,
    InvalidKind,
    InvalidPosting,
    PostingKind,
    SameAccount,
    TextTooLong,
    UnknownAccount,
    UnknownTransaction,
    balance_of,
    get_posting,
    grant,
    issuance_account,
    post,
    transfer,
)

GIFT = PostingKind.GIFT

UNKNOWN = 10**9  # an id no row has


async def balances(world, *accounts: int) -> list[int]:
    return [(await world.read(lambda s, a=a: balance_of(s, a))).balance for a in accounts]


async def test_a_transfer_moves_minutes_and_records_two_entries(world):
    branch = await world.branch()
    alice = await world.account(branch, granted=120)
    bob = await world.account(branch)
    posting = await world.run(
        lambda s: transfer(
            s, alice, bob, 45, kind=PostingKind.SERVICE, key="order-1:paid", memo="Shopping",
            actor=Actor(member_id=None), order_id=None,
        )
    )  # fmt: skip
    assert posting.kind is PostingKind.SERVICE and posting.memo == "Shopping"
    assert set(posting.entries) == {Entry(alice, -45, 75), Entry(bob, 45, 45)}
    assert not posting.replayed
    assert await balances(world, alice, bob) == [75, 45]
    assert await world.read(lambda s: get_posting(s, posting.id)) == posting


async def test_a_grant_comes_from_the_branch_issuance_account(world):
    branch = await world.branch()
    alice = await world.account(branch)
    posting = await world.run(lambda s: grant(s, alice, 600, key="welcome:alice"))
    issuance = await world.run(lambda s: issuance_account(s, branch))
    assert posting.kind is PostingKind.GRANT
    assert set(posting.entries) == {Entry(issuance.id, -600, -600), Entry(alice, 600, 600)}
    # Issuance may go as far below zero as the credit in circulation.
    for n in range(3):
        await world.run(lambda s, n=n: grant(s, alice, MAX_MINUTES, key=f"big:{n}"))
    assert await balances(world, issuance.id) == [-600 - 3 * MAX_MINUTES]


async def test_a_posting_may_have_more_than_two_legs(world):
    branch = await world.branch()
    payer = await world.account(branch, granted=100)
    one, two = await world.account(branch), await world.account(branch)
    posting = await world.run(
        lambda s: post(s, {payer: -90, one: 60, two: 30}, kind=GIFT, key="split")
    )
    assert len(posting.entries) == 3
    assert await balances(world, payer, one, two) == [10, 60, 30]


async def test_replaying_a_key_returns_the_first_posting_and_writes_nothing(world):
    branch = await world.branch()
    alice = await world.account(branch, granted=100)
    bob = await world.account(branch)
    first = await world.run(lambda s: transfer(s, alice, bob, 30, kind=GIFT, key="tap-1"))
    before = await world.counts()
    again = await world.run(lambda s: transfer(s, alice, bob, 30, kind=GIFT, key="tap-1"))
    assert again == first and again.replayed
    assert await world.counts() == before


@pytest.mark.parametrize(
    "change",
    [
        {"minutes": 31},
        {"kind": PostingKind.SERVICE},
        {"order_id": 1},
        {"swap": True},
    ],
)
async def test_reusing_a_key_for_something_else_is_refused(world, change):
    branch = await world.branch()
    alice = await world.account(branch, granted=100)
    bob = await world.account(branch, granted=100)
    await world.run(lambda s: transfer(s, alice, bob, 30, kind=GIFT, key="tap-1"))
    before = await world.counts()
    source, destination = (bob, alice) if change.get("swap") else (alice, bob)
    with pytest.raises(IdempotencyConflict):
        await world.run(
            lambda s: transfer(
                s, source, destination, change.get("minutes", 30), key="tap-1",
                kind=change.get("kind", GIFT), order_id=change.get("order_id"),
            )
        )  # fmt: skip
    assert await world.counts() == before


BAD_MINUTES = [0, -5, 1.5, 30.0, True, "30", None, MAX_MINUTES + 1]


@pytest.mark.parametrize("minutes", BAD_MINUTES)
async def test_bad_amounts_are_refused_and_nothing_is_written(world, minutes):
    branch = await world.branch()
    alice = await world.account(branch, granted=100)
    bob = await world.account(branch)
    before = await world.counts()
    with pytest.raises(InvalidAmount) as refused:
        await world.run(lambda s: transfer(s, alice, bob, minutes, kind=GIFT, key="k"))
    assert refused.value.params == {"maximum": MAX_MINUTES}
    assert "10000000" in str(refused.value)
    with pytest.raises(InvalidAmount):
        await world.run(lambda s: grant(s, alice, minutes, key="g"))
    assert await world.counts() == before


async def test_the_largest_amount_is_accepted(world):
    branch = await world.branch()
    alice = await world.account(branch, granted=MAX_MINUTES)
    bob = await world.account(branch)
    await world.run(lambda s: transfer(s, alice, bob, MAX_MINUTES, kind=GIFT, key="all"))
    assert await balances(world, alice, bob) == [0, MAX_MINUTES]


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"destination": "self"}, SameAccount),
        ({"source": UNKNOWN}, UnknownAccount),
        ({"destination": UNKNOWN}, UnknownAccount),
        ({"minutes": 101}, InsufficientCredit),
        ({"key": ""}, InvalidKey),
        ({"key": "   "}, InvalidKey),
        ({"key": "k" * 129}, InvalidKey),
        ({"key": None}, InvalidKey),
        ({"kind": PostingKind.ADJUSTMENT}, InvalidKind),
        ({"kind": PostingKind.REVERSAL}, InvalidKind),
        ({"kind": "loan"}, InvalidKind),
        ({"memo": "x" * 501}, TextTooLong),
    ],
)
async def test_bad_transfers_are_refused_and_nothing_is_written(world, arguments, error):
    branch = await world.branch()
    alice = await world.account(branch, granted=100)
    bob = await world.account(branch)
    before = await world.counts()
    destination = arguments.get("destination", bob)
    destination = alice if destination == "self" else destination
    with pytest.raises(error) as refused:
        await world.run(
            lambda s: transfer(
                s, arguments.get("source", alice), destination,
                arguments.get("minutes", 30), kind=arguments.get("kind", GIFT),
                key=arguments.get("key", "k"), memo=arguments.get("memo", ""),
            )
        )  # fmt: skip
    assert refused.value.key  # a message key a bot can translate
    assert await world.counts() == before


async def test_insufficient_credit_says_what_is_available_and_needed(world):
    branch = await world.branch()
    alice = await world.account(branch, granted=40)
    bob = await world.account(branch)
    with pytest.raises(InsufficientCredit) as refused:
        await world.run(lambda s: transfer(s, alice, bob, 50, kind=GIFT, key="k"))
    assert refused.value.params == {"account_id": alice, "available": 40, "needed": 50}
    assert str(refused.value) == "Not enough time credit: 40 minutes available, 50 needed."


@pytest.mark.parametrize(
    "legs",
    [
        {},
        {"a": -10},
        {"a": -10, "b": 9},
        {"a": -10, "b": 10.0},
        {"a": 0, "b": 0},
        {"a": -MAX_MINUTES - 1, "b": MAX_MINUTES + 1},
    ],
)
async def test_postings_must_balance_with_two_or_more_whole_legs(world, legs):
    branch = await world.branch()
    accounts = {"a": await world.account(branch, granted=100), "b": await world.account(branch)}
    amounts = {accounts[name]: minutes for name, minutes in legs.items()}
    before = await world.counts()
    with pytest.raises((InvalidPosting, InvalidAmount)):
        await world.run(lambda s: post(s, amounts, kind=GIFT, key="k"))
    assert await world.counts() == before


async def test_unknown_transactions_are_domain_errors(world):
    with pytest.raises(UnknownTransaction):
        await world.read(lambda s: get_posting(s, UNKNOWN))


async def test_entries_and_transactions_cannot_be_updated(world, engine):
    branch = await world.branch()
    alice = await world.account(branch, granted=100)
    for table in ("ledger_entries", "ledger_transactions"):
        with pytest.raises(DBAPIError, match="never updated"):
            async with engine.begin() as connection:
                await connection.execute(text(f"UPDATE {table} SET id = id"))
    assert await balances(world, alice) == [100]


async def test_the_system_actor_has_no_member(world):
    branch = await world.branch()
    alice = await world.account(branch, granted=10)
    bob = await world.account(branch)
    posting = await world.run(lambda s: transfer(s, alice, bob, 5, kind=GIFT, key="k"))
    assert SYSTEM.member_id is None and posting.actor_id is None
