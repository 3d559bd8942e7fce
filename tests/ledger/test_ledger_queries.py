"""Queries: balance and available, the passbook (paged by cursor), and branch totals."""

from __future__ import annotations

import itertools

import pytest

from core.ledger import (
    SYSTEM,
    Actor,
    InvalidCursor,
    PostingKind,
    UnknownAccount,
    UnknownBranch,
    adjust,
    balance_of,
    branch_totals,
    grant,
    passbook,
    place_hold,
    pool_account,
    reverse,
    transfer,
)
from core.ledger.passbook import encode_cursor

UNKNOWN = 10**9  # an id no row has
GIFT = PostingKind.GIFT


async def test_balance_available_and_spendable(world):
    branch = await world.branch()
    alice, bob = await world.account(branch, granted=100), await world.account(branch)
    await world.run(lambda s: place_hold(s, alice, bob, 30, key="h"))
    current = await world.read(lambda s: balance_of(s, alice))
    assert (current.balance, current.held, current.available, current.spendable) == (
        100,
        30,
        70,
        70,
    )


async def test_the_passbook_lists_entries_newest_first_with_running_balance(world):
    branch = await world.branch()
    alice, bob = await world.account(branch, granted=100), await world.account(branch)
    await world.run(lambda s: transfer(s, alice, bob, 30, kind=GIFT, key="1", memo="Soup"))
    await world.run(lambda s: transfer(s, bob, alice, 5, kind=GIFT, key="2", memo="Thanks"))
    page = await world.read(lambda s: passbook(s, alice))
    assert [(line.amount, line.balance_after, line.memo) for line in page.lines] == [
        (5, 75, "Thanks"),
        (-30, 70, "Soup"),
        (100, 100, ""),
    ]
    assert page.lines[0].counterparties == (bob,)
    assert page.lines[0].kind is GIFT and page.lines[2].kind is PostingKind.GRANT
    assert page.next_cursor is None


async def test_pages_are_stable_while_new_entries_arrive(world):
    branch = await world.branch()
    alice, bob = await world.account(branch, granted=1000), await world.account(branch)
    for n in range(7):
        await world.run(lambda s, n=n: transfer(s, alice, bob, n + 1, kind=GIFT, key=f"a{n}"))
    first = await world.read(lambda s: passbook(s, alice, page_size=3))
    # New postings between pages do not shift the pages already handed out.
    for n in range(3):
        await world.run(lambda s, n=n: transfer(s, bob, alice, 1, kind=GIFT, key=f"b{n}"))
    seen = list(first.lines)
    cursor = first.next_cursor
    while cursor is not None:
        page = await world.read(lambda s, c=cursor: passbook(s, alice, cursor=c, page_size=3))
        seen.extend(page.lines)
        cursor = page.next_cursor
    assert [line.amount for line in seen] == [-7, -6, -5, -4, -3, -2, -1, 1000]
    ids = [line.entry_id for line in seen]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    # The running balance runs backwards from the newest line to the first grant.
    for newer, older in itertools.pairwise(seen):
        assert newer.balance_after - newer.amount == older.balance_after
    assert len(first.next_cursor or "") <= 16  # short enough for Telegram callback data


@pytest.mark.parametrize("cursor", ["", "not a cursor!", "AAAA"])
async def test_a_bad_cursor_is_a_domain_error(world, cursor):
    branch = await world.branch()
    alice = await world.account(branch, granted=10)
    with pytest.raises(InvalidCursor):
        await world.read(lambda s: passbook(s, alice, cursor=cursor))
    page = await world.read(lambda s: passbook(s, alice, cursor=encode_cursor(1)))
    assert page.lines == ()


async def test_the_passbook_of_an_unknown_account_is_a_domain_error(world):
    with pytest.raises(UnknownAccount):
        await world.read(lambda s: passbook(s, UNKNOWN))


async def test_branch_totals(world):
    branch = await world.branch()
    alice = await world.account(branch, granted=300)
    bob = await world.account(branch, granted=200)
    pool = (await world.run(lambda s: pool_account(s, branch))).id
    await world.run(lambda s: grant(s, pool, 100, key="pool"))
    await world.run(lambda s: transfer(s, alice, bob, 60, kind=PostingKind.SERVICE, key="s1"))
    await world.run(lambda s: transfer(s, pool, alice, 45, kind=PostingKind.SERVICE, key="s2"))
    gift = await world.run(lambda s: transfer(s, bob, alice, 10, kind=GIFT, key="g"))
    await world.run(lambda s: reverse(s, gift.id, reason="mistake", actor=SYSTEM, key="r"))
    coordinator = Actor(is_coordinator=True)
    await world.run(lambda s: adjust(s, bob, -20, reason="typo", actor=coordinator, key="a"))
    await world.run(lambda s: place_hold(s, alice, bob, 15, key="h"))
    totals = await world.read(lambda s: branch_totals(s, branch))
    assert totals.issued == 300 + 200 + 100 - 20
    assert totals.outstanding == totals.issued  # no credit left the branch
    assert totals.exchanged == 60 + 45  # the reversed gift does not count
    assert totals.held == 15
    with pytest.raises(UnknownBranch):
        await world.read(lambda s: branch_totals(s, UNKNOWN))
