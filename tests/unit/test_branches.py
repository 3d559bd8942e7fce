"""Several branches: memberships, a coordinator's switch, matching across neighbours, and
a gift from one branch to another that keeps the ledger whole."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from core import (
    coordination,
    coordinators,
    gifts,
    ledger,
    matching,
    memberships,
    nudges,
    volunteers,
)
from core.db import transaction
from core.ledger import verify_ledger
from core.models import (
    Branch,
    Category,
    FamilyLink,
    FamilyLinkStatus,
    Member,
    Membership,
    MembershipRole,
    Order,
    OutboxMessage,
)
from core.notices import Kind

NOW = datetime(2026, 3, 4, 9, 30, tzinfo=UTC)


@pytest.fixture
async def world(sessions) -> dict[str, int]:
    """Two branches side by side (Shanghai, Qingdao) and a far one, with a coordinator each."""
    async with transaction(sessions, write=True) as session:
        branches = {
            code: Branch(
                code=code,
                names={"en": code},
                time_zone="Asia/Shanghai",
                default_language="en",
                latitude=31.2,
                longitude=121.5,
            )
            for code in ("shanghai", "qingdao", "far")
        }
        session.add_all(branches.values())
        await session.flush()
        people = {
            "li": Member(name="Li", branch_id=branches["shanghai"].id, is_coordinator=True),
            "kim": Member(name="Kim", branch_id=branches["qingdao"].id, is_coordinator=True),
            "far": Member(name="Far", branch_id=branches["far"].id, is_coordinator=True),
            "daughter": Member(name="Daughter", branch_id=branches["shanghai"].id),
            "mother": Member(name="Mother", branch_id=branches["qingdao"].id, is_resident=True),
        }
        session.add_all(people.values())
        await session.flush()
        for member in people.values():
            member.onboarded_at = NOW
            member.language = "en"
        ids = {name: member.id for name, member in people.items()}
        return ids | {code: branch.id for code, branch in branches.items()}


async def test_a_coordinator_of_the_branch_adds_a_member_once(sessions, world) -> None:
    async with transaction(sessions, write=True) as session:
        first = await memberships.add_member(
            session, world["kim"], world["daughter"], world["qingdao"]
        )
        again = await memberships.add_member(
            session, world["kim"], world["daughter"], world["qingdao"]
        )
        assert first.id == again.id and first.role == MembershipRole.MEMBER
        daughter = await session.get(Member, world["daughter"])
        assert daughter is not None and daughter.branch_id == world["shanghai"]
        listed = [branch.code for branch in await memberships.branches_of(session, daughter)]
        assert listed == ["shanghai", "qingdao"]
    async with transaction(sessions, write=True) as session:
        # Another branch's coordinator cannot add anyone to Qingdao.
        with pytest.raises(volunteers.CoordinatorOnly):
            await memberships.add_member(session, world["far"], world["mother"], world["qingdao"])
        with pytest.raises(memberships.AlreadyInBranch):
            await memberships.add_member(session, world["kim"], world["mother"], world["qingdao"])
        with pytest.raises(memberships.NotForCoordinatorRole):
            await memberships.add_member(
                session,
                world["kim"],
                world["daughter"],
                world["qingdao"],
                role=MembershipRole.COORDINATOR,
            )


async def test_a_member_asks_and_a_coordinator_there_says_yes(sessions, world) -> None:
    async with transaction(sessions, write=True) as session:
        asked = await memberships.ask_to_join(session, world["daughter"], world["qingdao"])
        assert asked == 1
        # Asking twice tells nobody twice.
        await memberships.ask_to_join(session, world["daughter"], world["qingdao"])
    async with transaction(sessions, write=True) as session:
        with pytest.raises(volunteers.CoordinatorOnly):
            await memberships.approve(session, world["li"], world["daughter"], world["qingdao"])
    async with transaction(sessions, write=True) as session:
        await memberships.approve(session, world["kim"], world["daughter"], world["qingdao"])
        await memberships.approve(session, world["kim"], world["daughter"], world["qingdao"])
    async with sessions() as session:
        told = [
            (row.member_id, row.kind)
            for row in await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        ]
        assert told == [(world["kim"], Kind.JOIN_ASKED), (world["daughter"], Kind.JOINED)]
        with pytest.raises(memberships.AlreadyInBranch):
            await memberships.ask_to_join(session, world["daughter"], world["qingdao"])


async def _order(session, world: dict[str, int], branch: str) -> int:
    category = Category(code=f"c-{branch}", emoji="🛒", names={"en": "Shopping"})
    session.add(category)
    await session.flush()
    order = Order(
        branch_id=world[branch],
        requester_id=world["mother"],
        beneficiary_id=world["mother"],
        category_id=category.id,
        estimated_minutes=60,
        idempotency_key=f"order-{branch}",
    )
    session.add(order)
    await session.flush()
    return order.id


async def test_a_coordinator_of_two_branches_switches_and_sees_the_other_waiting(
    sessions, world
) -> None:
    async with transaction(sessions, write=True) as session:
        await memberships.add_member(
            session, world["kim"], world["li"], world["qingdao"], role=MembershipRole.COORDINATOR
        )
        qingdao_order = await _order(session, world, "qingdao")
        shanghai_order = await _order(session, world, "shanghai")
    async with transaction(sessions, write=True) as session:
        li = await session.get(Member, world["li"])
        assert await coordinators.coordinated_branches(session, li) == (
            world["shanghai"],
            world["qingdao"],
        )
        assert world["li"] in await nudges.coordinators(session, world["qingdao"])
        assert world["li"] not in await nudges.coordinators(session, world["far"])
        waiting = await coordination.waiting_orders(session, world["li"])
        assert [brief.order.id for brief in waiting] == [shanghai_order]
        await coordinators.switch_branch(session, world["li"], world["qingdao"])
    async with transaction(sessions, write=True) as session:
        waiting = await coordination.waiting_orders(session, world["li"])
        assert [brief.order.id for brief in waiting] == [qingdao_order]
        with pytest.raises(volunteers.CoordinatorOnly):
            await coordinators.switch_branch(session, world["li"], world["far"])
        # Kim coordinates Qingdao only: the switch is not theirs to make.
        with pytest.raises(volunteers.CoordinatorOnly):
            await coordinators.switch_branch(session, world["kim"], world["shanghai"])
        await coordinators.switch_branch(session, world["li"], world["shanghai"])
        li = await session.get(Member, world["li"])
        assert li is not None and li.working_branch_id is None


async def _volunteer_in(session, world: dict[str, int], branch: str) -> int:
    volunteer = Member(
        name=f"V-{branch}",
        language="en",
        branch_id=world[branch],
        is_volunteer=True,
        verified=True,
        home_latitude=31.201,
        home_longitude=121.5,
    )
    session.add(volunteer)
    await session.flush()
    await volunteers.profile(session, volunteer.id)
    return volunteer.id


@pytest.mark.parametrize("allowed", [False, True])
async def test_matching_reaches_neighbours_only_when_the_branch_allows_it(
    sessions, world, allowed: bool
) -> None:
    async with transaction(sessions, write=True) as session:
        order_id = await _order(session, world, "shanghai")
        order = await session.get(Order, order_id)
        assert order is not None
        skill = matching.skill_bit(order.category_id)
        found = {}
        for branch in ("shanghai", "qingdao", "far"):
            found[branch] = await _volunteer_in(session, world, branch)
        for volunteer_id in found.values():
            profile = await volunteers.profile(session, volunteer_id)
            profile.skills = skill
        await memberships.make_neighbours(session, world["shanghai"], world["qingdao"])
        await memberships.make_neighbours(session, world["shanghai"], world["qingdao"])
        await memberships.set_match_neighbours(session, world["li"], world["shanghai"], allowed)
        with pytest.raises(volunteers.CoordinatorOnly):
            await memberships.set_match_neighbours(session, world["kim"], world["shanghai"], True)
    async with sessions() as session:
        order = await session.get(Order, order_id)
        need = await matching.need_for(session, order, NOW)
        assert need.neighbours == ((world["qingdao"],) if allowed else ())
        expected = {found["shanghai"]} | ({found["qingdao"]} if allowed else set())
        indexed = await matching.eligible(session, need, now=NOW)
        brute = await matching.eligible_brute_force(session, need, now=NOW)
        assert {c.member_id for c in indexed} == expected
        assert indexed == brute


async def test_a_member_of_a_second_branch_is_matched_there(sessions, world) -> None:
    async with transaction(sessions, write=True) as session:
        order_id = await _order(session, world, "qingdao")
        order = await session.get(Order, order_id)
        volunteer_id = await _volunteer_in(session, world, "far")
        profile = await volunteers.profile(session, volunteer_id)
        profile.skills = matching.skill_bit(order.category_id)
        need = await matching.need_for(session, order, NOW)
        assert await matching.eligible(session, need, now=NOW) == []
        session.add(Membership(member_id=volunteer_id, branch_id=world["qingdao"]))
        await session.flush()
        [found] = await matching.eligible(session, need, now=NOW)
        assert found.member_id == volunteer_id


async def test_a_gift_across_branches_keeps_the_ledger_whole(sessions, world) -> None:
    async with transaction(sessions, write=True) as session:
        session.add(
            FamilyLink(
                member_id=world["mother"],
                relative_id=world["daughter"],
                status=FamilyLinkStatus.ACTIVE,
            )
        )
        account = await ledger.open_member_account(session, world["daughter"], world["shanghai"])
        await ledger.grant(session, account.id, 180, key="volunteered")
    async with transaction(sessions, write=True) as session:
        gift = await gifts.give_hours(
            session, world["daughter"], world["mother"], 120, key="to-mother"
        )
        assert (gift.giver_balance, gift.recipient_balance) == (60, 120)
        mother = await ledger.find_member_account(session, world["mother"])
        assert mother is not None and mother.branch_id == world["qingdao"]
    report = await verify_ledger(sessions)
    assert report.ok and report.transactions == 2
    async with sessions() as session:
        daughter = await ledger.find_member_account(session, world["daughter"])
        assert daughter is not None and daughter.branch_id == world["shanghai"]
