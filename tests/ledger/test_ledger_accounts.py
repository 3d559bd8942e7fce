"""Opening and finding accounts; the per-branch member overdraft limit."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, update

from core.errors import DomainError
from core.ledger import (
    AccountKind,
    Actor,
    CoordinatorRequired,
    InsufficientCredit,
    InvalidLimit,
    OverdraftInUse,
    PostingKind,
    UnknownAccount,
    UnknownBranch,
    UnknownMember,
    balance_of,
    find_member_account,
    get_account,
    issuance_account,
    member_balance,
    member_overdraft_limit,
    merchant_account,
    open_member_account,
    open_member_accounts,
    payer_account,
    pool_account,
    set_member_overdraft_limit,
    transfer,
)
from core.ledger.values import DEFAULT_RESIDENT_OVERDRAFT
from core.models import Member

COORDINATOR = Actor(member_id=None, is_coordinator=True)

UNKNOWN = 10**9  # an id no row has


async def test_a_member_has_one_account_however_often_it_is_opened(world):
    branch = await world.branch()
    member = await world.member(branch)
    first = await world.run(lambda s: open_member_account(s, member, branch))
    again = await world.run(lambda s: open_member_account(s, member, branch))
    assert first == again
    assert first.kind is AccountKind.MEMBER
    assert (first.branch_id, first.owner_id, first.overdraft_limit) == (branch, member, 0)
    assert await world.read(lambda s: find_member_account(s, member)) == first
    assert await world.read(lambda s: get_account(s, first.id)) == first
    assert await world.read(lambda s: member_balance(s, member)) == await world.read(
        lambda s: balance_of(s, first.id)
    )


async def test_opening_the_same_account_concurrently_opens_it_once(world):
    branch = await world.branch()
    member = await world.member(branch)
    opened = await asyncio.gather(
        *(world.run(lambda s: open_member_account(s, member, branch)) for _ in range(10))
    )
    assert len({account.id for account in opened}) == 1
    assert (await world.counts())["ledger_accounts"] == 1


async def test_branch_accounts_are_one_each_and_distinct(world):
    branch = await world.branch()
    pool = await world.run(lambda s: pool_account(s, branch))
    issuance = await world.run(lambda s: issuance_account(s, branch))
    merchant = await world.run(lambda s: merchant_account(s, 7, branch))
    assert await world.run(lambda s: pool_account(s, branch)) == pool
    assert await world.run(lambda s: issuance_account(s, branch)) == issuance
    assert await world.run(lambda s: merchant_account(s, 7, branch)) == merchant
    assert len({pool.id, issuance.id, merchant.id}) == 3
    assert (pool.kind, pool.overdraft_limit) == (AccountKind.POOL, 0)
    assert (issuance.kind, issuance.overdraft_limit) == (AccountKind.ISSUANCE, None)
    assert (merchant.kind, merchant.owner_id) == (AccountKind.MERCHANT, 7)
    other = await world.branch()
    assert (await world.run(lambda s: pool_account(s, other))).id != pool.id


async def test_a_sponsored_member_pays_from_the_pool(world):
    branch = await world.branch()
    member = await world.member(branch)
    pool = await world.run(lambda s: pool_account(s, branch))
    own = await world.run(lambda s: open_member_account(s, member, branch))
    sponsored = await world.run(lambda s: payer_account(s, member, branch, sponsored=True))
    paying = await world.run(lambda s: payer_account(s, member, branch, sponsored=False))
    assert (sponsored, paying) == (pool, own)


async def test_unknown_members_branches_and_accounts_are_domain_errors(world):
    branch = await world.branch()
    member = await world.member(branch)
    with pytest.raises(UnknownMember):
        await world.run(lambda s: open_member_account(s, UNKNOWN, branch))
    with pytest.raises(UnknownBranch):
        await world.run(lambda s: open_member_account(s, member, UNKNOWN))
    with pytest.raises(UnknownBranch):
        await world.run(lambda s: pool_account(s, UNKNOWN))
    with pytest.raises(UnknownAccount):
        await world.read(lambda s: get_account(s, UNKNOWN))
    with pytest.raises(UnknownAccount):
        await world.read(lambda s: balance_of(s, UNKNOWN))
    assert await world.read(lambda s: find_member_account(s, member)) is None
    assert await world.read(lambda s: member_balance(s, member)) is None
    assert (await world.counts())["ledger_accounts"] == 0


async def test_the_branch_limit_applies_to_existing_and_new_members(world):
    branch = await world.branch()
    before = await world.account(branch)
    await world.run(lambda s: set_member_overdraft_limit(s, branch, 60, actor=COORDINATOR))
    after = await world.account(branch)
    assert await world.read(lambda s: member_overdraft_limit(s, branch)) == 60
    for account in (before, after):
        assert (await world.read(lambda s, a=account: balance_of(s, a))).overdraft_limit == 60
    # Members may now go 60 minutes below zero, and no further.
    other = await world.account(branch)
    await world.run(lambda s: transfer(s, before, other, 60, kind=PostingKind.GIFT, key="k1"))
    with pytest.raises(InsufficientCredit) as refused:
        await world.run(lambda s: transfer(s, before, other, 1, kind=PostingKind.GIFT, key="k2"))
    assert refused.value.params["available"] == 0
    # The pool is not a member account: its limit stays 0.
    pool = await world.run(lambda s: pool_account(s, branch))
    assert (await world.read(lambda s: balance_of(s, pool.id))).overdraft_limit == 0


async def test_the_limit_cannot_drop_below_what_members_already_owe(world):
    branch = await world.branch()
    await world.run(lambda s: set_member_overdraft_limit(s, branch, 60, actor=COORDINATOR))
    debtor = await world.account(branch)
    other = await world.account(branch)
    await world.run(lambda s: transfer(s, debtor, other, 30, kind=PostingKind.GIFT, key="k"))
    with pytest.raises(OverdraftInUse) as refused:
        await world.run(lambda s: set_member_overdraft_limit(s, branch, 10, actor=COORDINATOR))
    assert refused.value.params == {"count": 1, "limit": 10}
    await world.run(lambda s: set_member_overdraft_limit(s, branch, 30, actor=COORDINATOR))
    assert (await world.read(lambda s: balance_of(s, debtor))).overdraft_limit == 30


@pytest.mark.parametrize("limit", [-1, 1.5, True, "10", 10_000_001])
async def test_a_limit_must_be_whole_minutes_in_range(world, limit):
    branch = await world.branch()
    with pytest.raises(InvalidLimit):
        await world.run(lambda s: set_member_overdraft_limit(s, branch, limit, actor=COORDINATOR))


async def test_only_a_coordinator_sets_the_limit(world):
    branch = await world.branch()
    with pytest.raises(CoordinatorRequired) as refused:
        await world.run(lambda s: set_member_overdraft_limit(s, branch, 60, actor=Actor(5)))
    assert isinstance(refused.value, DomainError) and refused.value.key
    assert await world.read(lambda s: member_overdraft_limit(s, branch)) == 0


async def test_an_orders_two_member_accounts_are_read_at_once_and_opened_if_missing(world, engine):
    """`open_member_accounts`: the accounts that exist in one read; a missing one opened
    with the limit of the member's role, as `open_member_account` opens it, once."""
    branch = await world.branch()
    payer, volunteer = await world.member(branch), await world.member(branch)
    async with world.sessions() as session, session.begin():
        await session.execute(update(Member).where(Member.id == payer).values(is_resident=True))
    paying = await world.run(lambda s: open_member_account(s, payer, branch))
    both = await world.run(lambda s: open_member_accounts(s, {payer: branch, volunteer: branch}))
    assert both[payer] == paying and paying.overdraft_limit == DEFAULT_RESIDENT_OVERDRAFT
    assert both[volunteer] == await world.read(lambda s: find_member_account(s, volunteer))
    assert (both[volunteer].kind, both[volunteer].owner_id) == (AccountKind.MEMBER, volunteer)
    assert (both[volunteer].branch_id, both[volunteer].overdraft_limit) == (branch, 0)
    sent: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        sent.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", note)
    try:
        again = await world.run(
            lambda s: open_member_accounts(s, {payer: branch, volunteer: branch})
        )
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", note)
    assert again == both
    assert len([s for s in sent if "ledger_accounts" in s]) == 1, sent
    assert (await world.counts())["ledger_accounts"] == 2
    with pytest.raises(UnknownMember):
        await world.run(lambda s: open_member_accounts(s, {payer: branch, UNKNOWN: branch}))
    stranger = await world.member(branch)
    with pytest.raises(UnknownBranch):
        await world.run(lambda s: open_member_accounts(s, {payer: branch, stranger: UNKNOWN}))
    assert (await world.counts())["ledger_accounts"] == 2
