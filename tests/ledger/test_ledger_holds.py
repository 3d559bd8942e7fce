"""Holds: placed against available credit, then posted (never for more), voided or expired."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from core.db import utcnow
from core.ledger import (
    Entry,
    HoldExpired,
    HoldNotPending,
    HoldStatus,
    IdempotencyConflict,
    InsufficientCredit,
    InvalidAmount,
    InvalidExpiry,
    InvalidKind,
    PostExceedsHold,
    PostingKind,
    SameAccount,
    UnknownAccount,
    UnknownHold,
    balance_of,
    expire_due_holds,
    get_hold,
    grant,
    open_member_accounts,
    place_hold,
    post_hold,
    transfer,
    verify_ledger,
    void_hold,
)

UNKNOWN = 10**9  # an id no row has


async def state(world, account: int) -> tuple[int, int, int]:
    current = await world.read(lambda s: balance_of(s, account))
    return current.balance, current.held, current.available


async def pair(world, granted: int = 100) -> tuple[int, int]:
    branch = await world.branch()
    return await world.account(branch, granted=granted), await world.account(branch)


async def test_a_hold_sets_credit_aside_without_posting(world):
    alice, bob = await pair(world)
    hold = await world.run(
        lambda s: place_hold(s, alice, bob, 60, key="accept:1", kind=PostingKind.SERVICE)
    )
    assert (hold.status, hold.amount, hold.transaction_id) == (HoldStatus.PENDING, 60, None)
    assert await state(world, alice) == (100, 60, 40)
    assert await state(world, bob) == (0, 0, 0)
    with pytest.raises(InsufficientCredit) as refused:
        await world.run(lambda s: transfer(s, alice, bob, 41, kind=PostingKind.GIFT, key="g"))
    assert refused.value.params["available"] == 40
    with pytest.raises(InsufficientCredit):
        await world.run(lambda s: place_hold(s, alice, bob, 41, key="accept:2"))
    assert await world.read(lambda s: get_hold(s, hold.id)) == hold


async def test_posting_a_hold_pays_the_beneficiary_and_releases_the_rest(world):
    alice, bob = await pair(world)
    hold = await world.run(lambda s: place_hold(s, alice, bob, 60, key="accept"))
    posting = await world.run(lambda s: post_hold(s, hold.id, minutes=45, key="confirm"))
    assert set(posting.entries) == {Entry(alice, -45, 55), Entry(bob, 45, 45)}
    assert posting.kind is PostingKind.SERVICE
    assert await state(world, alice) == (55, 0, 55)
    settled = await world.read(lambda s: get_hold(s, hold.id))
    assert (settled.status, settled.transaction_id) == (HoldStatus.POSTED, posting.id)
    replay = await world.run(lambda s: post_hold(s, hold.id, minutes=45, key="confirm"))
    assert replay == posting and replay.replayed
    with pytest.raises(IdempotencyConflict):
        await world.run(lambda s: post_hold(s, hold.id, minutes=44, key="confirm"))
    with pytest.raises(HoldNotPending):
        await world.run(lambda s: post_hold(s, hold.id, key="confirm again"))
    with pytest.raises(HoldNotPending):
        await world.run(lambda s: void_hold(s, hold.id, key="void"))
    assert (await verify_ledger(world.sessions)).ok


async def test_a_hold_posts_in_full_by_default_and_never_for_more(world):
    alice, bob = await pair(world)
    hold = await world.run(lambda s: place_hold(s, alice, bob, 60, key="accept"))
    before = await world.counts()
    with pytest.raises(PostExceedsHold) as refused:
        await world.run(lambda s: post_hold(s, hold.id, minutes=61, key="confirm"))
    assert refused.value.params == {"held": 60, "amount": 61}
    with pytest.raises(InvalidAmount):
        await world.run(lambda s: post_hold(s, hold.id, minutes=0, key="confirm"))
    assert await world.counts() == before
    posting = await world.run(lambda s: post_hold(s, hold.id, key="confirm"))
    assert posting.amount_for(bob) == 60
    assert await state(world, alice) == (40, 0, 40)


async def test_a_voided_hold_releases_its_credit(world):
    alice, bob = await pair(world)
    hold = await world.run(lambda s: place_hold(s, alice, bob, 60, key="accept"))
    voided = await world.run(lambda s: void_hold(s, hold.id, key="cancel"))
    assert voided.status is HoldStatus.VOIDED and not voided.replayed
    assert await state(world, alice) == (100, 0, 100)
    again = await world.run(lambda s: void_hold(s, hold.id, key="cancel"))
    assert again.replayed and again.status is HoldStatus.VOIDED
    assert await state(world, alice) == (100, 0, 100)
    with pytest.raises(HoldNotPending):
        await world.run(lambda s: void_hold(s, hold.id, key="cancel twice"))
    with pytest.raises(HoldNotPending):
        await world.run(lambda s: post_hold(s, hold.id, key="confirm"))
    other = await world.run(lambda s: place_hold(s, alice, bob, 10, key="accept-2"))
    with pytest.raises(IdempotencyConflict):
        await world.run(lambda s: void_hold(s, other.id, key="cancel"))


async def test_placing_a_hold_again_with_its_key_replays_it(world):
    alice, bob = await pair(world)
    hold = await world.run(lambda s: place_hold(s, alice, bob, 60, key="accept"))
    again = await world.run(lambda s: place_hold(s, alice, bob, 60, key="accept"))
    assert again == hold and again.replayed
    assert await state(world, alice) == (100, 60, 40)
    with pytest.raises(IdempotencyConflict):
        await world.run(lambda s: place_hold(s, alice, bob, 50, key="accept"))


async def test_due_holds_expire_once_and_release_their_credit(world):
    alice, bob = await pair(world)
    now = utcnow()
    soon = await world.run(
        lambda s: place_hold(s, alice, bob, 30, key="h1", expires_at=now + timedelta(minutes=5))
    )
    later = await world.run(
        lambda s: place_hold(s, alice, bob, 20, key="h2", expires_at=now + timedelta(days=1))
    )
    forever = await world.run(lambda s: place_hold(s, alice, bob, 10, key="h3"))
    assert await world.run(lambda s: expire_due_holds(s, now=now)) == []
    in_an_hour = now + timedelta(hours=1)
    assert await world.run(lambda s: expire_due_holds(s, now=in_an_hour)) == [soon.id]
    assert await world.run(lambda s: expire_due_holds(s, now=in_an_hour)) == []
    assert await state(world, alice) == (100, 30, 70)
    statuses = [
        (await world.read(lambda s, h=h: get_hold(s, h.id))).status for h in (soon, later, forever)
    ]
    assert statuses == [HoldStatus.EXPIRED, HoldStatus.PENDING, HoldStatus.PENDING]
    with pytest.raises(HoldExpired):
        await world.run(lambda s: post_hold(s, soon.id, key="confirm"))
    assert (await verify_ledger(world.sessions)).ok


async def test_a_hold_past_its_time_cannot_post_before_the_sweep_but_can_be_voided(world):
    alice, bob = await pair(world)
    hold = await world.run(
        lambda s: place_hold(
            s, alice, bob, 30, key="h", expires_at=utcnow() + timedelta(milliseconds=200)
        )
    )
    await asyncio.sleep(0.3)
    with pytest.raises(HoldExpired):
        await world.run(lambda s: post_hold(s, hold.id, key="confirm"))
    await world.run(lambda s: void_hold(s, hold.id, key="cancel"))
    assert await state(world, alice) == (100, 0, 100)


async def test_a_hold_racing_post_void_and_expiry_settles_once(world):
    alice, bob = await pair(world)
    hold = await world.run(
        lambda s: place_hold(s, alice, bob, 60, key="h", expires_at=utcnow() + timedelta(hours=1))
    )

    async def attempt(action: str, n: int) -> str:
        try:
            if action == "post":
                await world.run(lambda s: post_hold(s, hold.id, key=f"post:{n}"))
            elif action == "void":
                await world.run(lambda s: void_hold(s, hold.id, key=f"void:{n}"))
            else:
                expire = utcnow() + timedelta(hours=2)
                if not await world.run(lambda s: expire_due_holds(s, now=expire)):
                    return "nothing"
        except (HoldNotPending, HoldExpired):
            return "refused"
        return action

    outcomes = await asyncio.gather(
        *(attempt(action, n) for n in range(4) for action in ("post", "void", "expire"))
    )
    won = [outcome for outcome in outcomes if outcome in ("post", "void", "expire")]
    assert len(won) == 1
    balance, held, _ = await state(world, alice)
    assert held == 0 and balance == (40 if won == ["post"] else 100)
    assert (await verify_ledger(world.sessions)).ok


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"minutes": 0}, InvalidAmount),
        ({"minutes": 1.0}, InvalidAmount),
        ({"minutes": 101}, InsufficientCredit),
        ({"beneficiary": "self"}, SameAccount),
        ({"beneficiary": UNKNOWN}, UnknownAccount),
        ({"account": UNKNOWN}, UnknownAccount),
        ({"kind": PostingKind.REVERSAL}, InvalidKind),
        ({"expires_at": "past"}, InvalidExpiry),
        ({"expires_at": "naive"}, InvalidExpiry),
    ],
)
async def test_bad_holds_are_refused_and_nothing_is_written(world, arguments, error):
    alice, bob = await pair(world)
    account = arguments.get("account", alice)
    beneficiary = arguments.get("beneficiary", bob)
    beneficiary = account if beneficiary == "self" else beneficiary
    expires_at = {
        "past": utcnow() - timedelta(seconds=1),
        "naive": utcnow().replace(tzinfo=None) + timedelta(days=1),
    }.get(arguments.get("expires_at"))
    before = await world.counts()
    with pytest.raises(error):
        await world.run(
            lambda s: place_hold(
                s, account, beneficiary, arguments.get("minutes", 30), key="h",
                kind=arguments.get("kind", PostingKind.SERVICE), expires_at=expires_at,
            )
        )  # fmt: skip
    assert await world.counts() == before


async def test_unknown_holds_are_domain_errors(world):
    for action in (
        lambda s: post_hold(s, UNKNOWN, key="k"),
        lambda s: void_hold(s, UNKNOWN, key="k"),
        lambda s: get_hold(s, UNKNOWN),
    ):
        with pytest.raises(UnknownHold):
            await world.run(action)


async def test_a_hold_between_accounts_read_already_is_placed_and_refused_as_by_ids(world):
    """`place_hold` given the Accounts (read in the transaction) skips re-reading them and
    inserts and reserves in one go: the same hold, the same refusal, nothing written then."""
    branch = await world.branch()
    payer_member, earner_member = await world.member(branch), await world.member(branch)

    async def accounts(s):
        return await open_member_accounts(s, {payer_member: branch, earner_member: branch})

    both = await world.run(accounts)
    payer, earner = both[payer_member], both[earner_member]
    await world.run(lambda s: grant(s, payer.id, 100, key="start:read"))
    hold = await world.run(lambda s: place_hold(s, payer, earner, 60, key="h:read"))
    assert (hold.account_id, hold.beneficiary_id, hold.amount) == (payer.id, earner.id, 60)
    assert await state(world, payer.id) == (100, 60, 40)
    again = await world.run(lambda s: place_hold(s, payer, earner, 60, key="h:read"))
    assert again.id == hold.id and again.replayed
    before = await world.counts()
    with pytest.raises(InsufficientCredit) as refused:
        await world.run(lambda s: place_hold(s, payer, earner, 41, key="h:read:2"))
    assert refused.value.params["available"] == 40
    assert await world.counts() == before
    posted = await world.run(lambda s: post_hold(s, hold, key="p:read"))
    assert {e.account_id: e.amount for e in posted.entries} == {payer.id: -60, earner.id: 60}
    assert await state(world, payer.id) == (40, 0, 40)
