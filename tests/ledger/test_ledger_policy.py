"""A branch's policy: its defaults, the residents' overdraft, and limits that follow roles."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from core.ledger import (
    Actor,
    BranchPolicy,
    CoordinatorRequired,
    InsufficientCredit,
    InvalidLimit,
    OverdraftInUse,
    PostingKind,
    balance_of,
    branch_policy,
    follow_role,
    open_member_account,
    set_branch_policy,
    transfer,
    verify_ledger,
)
from core.ledger.values import DEFAULT_RESIDENT_OVERDRAFT, DEFAULT_WELCOME_MINUTES
from core.models import Member

COORDINATOR = Actor(member_id=None, is_coordinator=True)


async def _resident(world, branch: int, *, resident: bool = True) -> int:
    member_id = await world.member(branch)

    async def mark(session):
        await session.execute(
            update(Member).where(Member.id == member_id).values(is_resident=resident)
        )

    await world.run(mark)
    return member_id


async def _open(world, member_id: int, branch: int) -> int:
    return (await world.run(lambda s: open_member_account(s, member_id, branch))).id


async def _limit(world, account_id: int) -> int | None:
    return (await world.read(lambda s: balance_of(s, account_id))).overdraft_limit


async def test_a_branch_without_a_policy_of_its_own_has_the_default(world):
    branch = await world.branch()
    policy = await world.read(lambda s: branch_policy(s, branch))
    assert policy == BranchPolicy()
    assert (policy.welcome_minutes, policy.resident_overdraft_limit) == (
        DEFAULT_WELCOME_MINUTES,
        DEFAULT_RESIDENT_OVERDRAFT,
    )
    assert policy.member_overdraft_limit == 0


async def test_residents_open_with_the_resident_overdraft_and_others_with_the_members(world):
    branch = await world.branch()
    resident = await _open(world, await _resident(world, branch), branch)
    volunteer = await _open(world, await _resident(world, branch, resident=False), branch)
    assert await _limit(world, resident) == DEFAULT_RESIDENT_OVERDRAFT
    assert await _limit(world, volunteer) == 0
    # The resident may go two hours below zero, and no further.
    await world.run(
        lambda s: transfer(s, resident, volunteer, 120, kind=PostingKind.GIFT, key="k1")
    )
    with pytest.raises(InsufficientCredit):
        await world.run(
            lambda s: transfer(s, resident, volunteer, 1, kind=PostingKind.GIFT, key="k2")
        )
    assert (await verify_ledger(world.sessions)).ok


async def test_changing_the_policy_moves_every_member_account_to_its_new_limit(world):
    branch = await world.branch()
    resident = await _open(world, await _resident(world, branch), branch)
    volunteer = await _open(world, await _resident(world, branch, resident=False), branch)
    policy = await world.run(
        lambda s: set_branch_policy(
            s,
            branch,
            actor=COORDINATOR,
            welcome_minutes=30,
            member_overdraft_limit=45,
            resident_overdraft_limit=90,
        )
    )
    assert policy == BranchPolicy(30, 45, 90)
    assert await world.read(lambda s: branch_policy(s, branch)) == policy
    assert (await _limit(world, resident), await _limit(world, volunteer)) == (90, 45)
    # A member limit above the residents' gives residents the larger one.
    await world.run(
        lambda s: set_branch_policy(s, branch, actor=COORDINATOR, member_overdraft_limit=100)
    )
    assert (await _limit(world, resident), await _limit(world, volunteer)) == (100, 100)
    assert await world.read(lambda s: branch_policy(s, branch)) == BranchPolicy(30, 100, 90)


async def test_a_resident_overdraft_in_use_cannot_be_taken_away(world):
    branch = await world.branch()
    resident = await _open(world, await _resident(world, branch), branch)
    other = await _open(world, await _resident(world, branch, resident=False), branch)
    await world.run(lambda s: transfer(s, resident, other, 60, kind=PostingKind.GIFT, key="k"))
    before = await world.counts()
    with pytest.raises(OverdraftInUse) as refused:
        await world.run(
            lambda s: set_branch_policy(s, branch, actor=COORDINATOR, resident_overdraft_limit=30)
        )
    assert refused.value.params["count"] == 1
    assert await world.counts() == before
    assert await world.read(lambda s: branch_policy(s, branch)) == BranchPolicy()
    await world.run(
        lambda s: set_branch_policy(s, branch, actor=COORDINATOR, resident_overdraft_limit=60)
    )
    assert await _limit(world, resident) == 60
    assert (await verify_ledger(world.sessions)).ok


@pytest.mark.parametrize("field", ["welcome_minutes", "resident_overdraft_limit"])
@pytest.mark.parametrize("value", [-1, 1.5, True, "10"])
async def test_policy_values_are_whole_minutes(world, field, value):
    branch = await world.branch()
    with pytest.raises(InvalidLimit):
        await world.run(lambda s: set_branch_policy(s, branch, actor=COORDINATOR, **{field: value}))


async def test_only_a_coordinator_sets_the_policy(world):
    branch = await world.branch()
    with pytest.raises(CoordinatorRequired):
        await world.run(lambda s: set_branch_policy(s, branch, actor=Actor(5), welcome_minutes=0))
    assert await world.read(lambda s: branch_policy(s, branch)) == BranchPolicy()


async def _set_resident(world, member_id: int, resident: bool) -> None:
    async def change(session):
        await session.execute(
            update(Member).where(Member.id == member_id).values(is_resident=resident)
        )
        await follow_role(session, member_id)

    await world.run(change)


async def test_the_limit_follows_the_role_but_never_below_what_is_used(world):
    branch = await world.branch()
    member_id = await _resident(world, branch, resident=False)
    account = await _open(world, member_id, branch)
    other = await _open(world, await _resident(world, branch, resident=False), branch)
    await _set_resident(world, member_id, True)
    assert await _limit(world, account) == DEFAULT_RESIDENT_OVERDRAFT
    await _set_resident(world, member_id, False)
    assert await _limit(world, account) == 0
    # In overdraft, a member who stops being a resident keeps the limit they are using.
    await _set_resident(world, member_id, True)
    await world.run(lambda s: transfer(s, account, other, 30, kind=PostingKind.GIFT, key="k"))
    await _set_resident(world, member_id, False)
    assert await _limit(world, account) == DEFAULT_RESIDENT_OVERDRAFT
    assert (await verify_ledger(world.sessions)).ok


async def test_following_the_role_without_an_account_opens_none(world):
    branch = await world.branch()
    member_id = await _resident(world, branch)
    await _set_resident(world, member_id, True)
    assert (await world.counts())["ledger_accounts"] == 0
