"""Welcome hours on joining (once per person), and a resident's first request paid without a
coordinator while a request past the branch's policy still goes to one."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import func, select

from core import catalog, ledger, members, orders
from core.db import transaction
from core.demo import DEMO_POLICIES, seed_demo
from core.ledger import PostingKind
from core.ledger.tables import LedgerTransaction
from core.models import Member, OrderFunding, OutboxMessage
from core.orders import HelpRequest, Place
from core.schedule import When

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
LUOSHAN = DEMO_POLICIES["luoshan"]


async def _sign_up(sessions, external_id: str, role: str = members.Roles.RESIDENT) -> int:
    """The onboarding's steps for a newcomer in Luoshan; returns the member id."""
    async with transaction(sessions, write=True) as session:
        branch = await catalog.branch_by_code(session, "luoshan")
        member = await members.join(session, "telegram", external_id, language="zh_Hans")
        await members.set_name(session, member.id, "新居民")
        await members.set_branch(session, member.id, branch.id)
        await members.set_roles(session, member.id, role)
        await members.set_home_location(session, member.id, 31.21, 121.55)
        return member.id


async def _finish(sessions, member_id: int) -> members.Joined:
    async with transaction(sessions, write=True) as session:
        return await members.finish_onboarding(session, member_id)


async def _balance(sessions, member_id: int) -> int | None:
    async with sessions() as session:
        account = await ledger.find_member_account(session, member_id)
        return None if account is None else (await ledger.balance_of(session, account.id)).balance


async def _welcome_postings(sessions) -> int:
    async with sessions() as session:
        return await session.scalar(
            select(func.count())
            .select_from(LedgerTransaction)
            .where(
                LedgerTransaction.kind == PostingKind.GRANT,
                LedgerTransaction.idempotency_key.like("welcome:%"),
            )
        )


async def _seeded(sessions) -> None:
    async with transaction(sessions, write=True) as session:
        await seed_demo(session)


async def test_a_newcomer_gets_the_welcome_hours_once(sessions) -> None:
    await _seeded(sessions)
    member_id = await _sign_up(sessions, "5001")
    joined = await _finish(sessions, member_id)
    assert joined.welcome_minutes == LUOSHAN.welcome_minutes
    assert joined.member.onboarded_at is not None
    again = await _finish(sessions, member_id)
    assert again.welcome_minutes == 0
    assert await _balance(sessions, member_id) == LUOSHAN.welcome_minutes
    assert await _welcome_postings(sessions) == 1
    async with sessions() as session:
        account = await ledger.find_member_account(session, member_id)
        # From the branch's issuance account, with the resident's overdraft on the account.
        assert account.overdraft_limit == LUOSHAN.resident_overdraft_limit
    assert (await ledger.verify_ledger(sessions)).ok


async def test_signing_up_again_after_erasure_gives_no_second_welcome(sessions) -> None:
    await _seeded(sessions)
    first = await _sign_up(sessions, "5002")
    await _finish(sessions, first)
    async with transaction(sessions, write=True) as session:
        await members.erase_member(session, first)
    second = await _sign_up(sessions, "5002")
    assert second != first
    joined = await _finish(sessions, second)
    assert joined.welcome_minutes == 0
    assert await _balance(sessions, second) in (None, 0)
    assert await _welcome_postings(sessions) == 1
    # Someone else still gets theirs; the ledger keeps no Telegram id in clear.
    assert (await _finish(sessions, await _sign_up(sessions, "5003"))).welcome_minutes > 0
    async with sessions() as session:
        keys = list(await session.scalars(select(LedgerTransaction.idempotency_key)))
    assert not any("5002" in key or "5003" in key for key in keys)
    assert (await ledger.verify_ledger(sessions)).ok


async def test_no_welcome_where_the_branch_gives_none(sessions) -> None:
    await _seeded(sessions)
    async with transaction(sessions, write=True) as session:
        luoshan = await catalog.branch_by_code(session, "luoshan")
        await ledger.set_branch_policy(
            session, luoshan.id, actor=ledger.Actor(is_coordinator=True), welcome_minutes=0
        )
    member_id = await _sign_up(sessions, "5004")
    assert (await _finish(sessions, member_id)).welcome_minutes == 0
    assert await _welcome_postings(sessions) == 0


def _request(category_id: int, minutes: int) -> HelpRequest:
    return HelpRequest(
        category_id=category_id,
        when=When.day_part(date(2026, 11, 26), "afternoon"),
        place=Place.typed("罗山路 7 弄 3 号"),
        estimated_minutes=minutes,
    )


async def _ask(sessions, member_id: int, minutes: int, key: str) -> orders.Placed:
    async with transaction(sessions, write=True) as session:
        category = (await catalog.categories(session))[0]
        return await orders.place_order(
            session,
            requester_id=member_id,
            beneficiary_id=member_id,
            request=_request(category.id, minutes),
            key=key,
            max_open=3,
            now=NOW,
        )


async def _coordinator_alerts(sessions) -> int:
    async with sessions() as session:
        return await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.kind == "needs_sponsor")
        )


async def test_a_new_residents_first_request_needs_no_coordinator(sessions) -> None:
    await _seeded(sessions)
    member_id = await _sign_up(sessions, "5005")
    await _finish(sessions, member_id)
    # An hour is what the welcome gives; two more are the resident's overdraft.
    first = await _ask(sessions, member_id, 60, "first")
    assert first.order.funding == OrderFunding.OWN
    second = await _ask(sessions, member_id, 120, "second")
    assert second.order.funding == OrderFunding.OVERDRAFT
    assert await _coordinator_alerts(sessions) == 0
    # Past what the policy allows: to the coordinator, as before.
    third = await _ask(sessions, member_id, 30, "third")
    assert third.order.funding == OrderFunding.NEEDS_SPONSOR
    assert await _coordinator_alerts(sessions) == 1


async def test_a_request_past_the_policy_goes_to_the_coordinator(sessions) -> None:
    await _seeded(sessions)
    member_id = await _sign_up(sessions, "5006")
    await _finish(sessions, member_id)
    placed = await _ask(sessions, member_id, 240, "half-a-day")
    assert placed.order.funding == OrderFunding.NEEDS_SPONSOR
    assert await _coordinator_alerts(sessions) == 1


async def test_a_volunteer_has_the_welcome_but_no_residents_overdraft(sessions) -> None:
    await _seeded(sessions)
    member_id = await _sign_up(sessions, "5007", members.Roles.VOLUNTEER)
    await _finish(sessions, member_id)
    async with sessions() as session:
        quoted = await orders.quote(session, member_id, 120)
    assert (quoted.available, quoted.overdraft_limit) == (LUOSHAN.welcome_minutes, 0)
    assert quoted.funding == OrderFunding.NEEDS_SPONSOR


async def test_a_resident_who_joined_before_may_use_the_overdraft_but_got_no_welcome(
    sessions,
) -> None:
    """The demo's resident was seeded as already signed up: no welcome hours, but her first
    request opens her account with the residents' overdraft, so it needs no coordinator."""
    await _seeded(sessions)
    async with sessions() as session:
        resident = await session.scalar(
            select(Member).where(Member.is_resident).order_by(Member.id).limit(1)
        )
        assert resident.onboarded_at is not None
    placed = await _ask(sessions, resident.id, 60, "seeded")
    assert placed.order.funding == OrderFunding.OVERDRAFT
    assert await _coordinator_alerts(sessions) == 0
    assert await _welcome_postings(sessions) == 0
