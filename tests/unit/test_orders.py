"""Asking for help: placing, limits, idempotency, proxies, cancelling, my orders, coverage."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import func, select

from core import catalog, family, ledger, orders
from core.db import transaction
from core.demo import seed_demo
from core.models import Identity, Member, Order, OrderEvent, OrderFunding, OrderStatus
from core.orders import HelpRequest, Place
from core.schedule import TimeInPast, TooFarAhead, When

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
TOMORROW = date(2026, 11, 26)


async def _member(session, name: str, *, external_id: str | None = None, **fields) -> Member:
    branch = await catalog.branch_by_code(session, fields.pop("branch", "luoshan"))
    fields.setdefault("is_resident", True)
    member = Member(name=name, language="zh_Hans", branch_id=branch.id, **fields)
    session.add(member)
    await session.flush()
    if external_id is not None:
        session.add(Identity(platform="telegram", external_id=external_id, member_id=member.id))
        await session.flush()
    return member


@pytest.fixture
async def world(sessions):
    """The demo branches and categories; a father, his daughter, a coordinator, a stranger."""
    async with transaction(sessions, write=True) as session:
        await seed_demo(session)
        father = await _member(session, "王建国", external_id="1001", address="罗山路 7 弄 3 号")
        daughter = await _member(session, "王丽", external_id="1002")
        coordinator = await _member(
            session, "Li", external_id="1003", is_coordinator=True, is_resident=False
        )
        stranger = await _member(session, "张三", external_id="1004")
        category = (await catalog.categories(session))[2]
    return {
        "father": father.id,
        "daughter": daughter.id,
        "coordinator": coordinator.id,
        "stranger": stranger.id,
        "category": category.id,
    }


def _request(world, **changes) -> HelpRequest:
    request = HelpRequest(
        category_id=world["category"],
        when=When.day_part(TOMORROW, "afternoon"),
        place=Place.typed("罗山路 7 弄 3 号"),
        estimated_minutes=60,
        description="厨房水龙头漏水",
    )
    return replace(request, **changes)


async def _place(sessions, world, *, by="father", to=None, key="k1", max_open=3, **changes):
    async with transaction(sessions, write=True) as session:
        return await orders.place_order(
            session,
            requester_id=world[by],
            beneficiary_id=world[to or by],
            request=_request(world, **changes),
            key=key,
            max_open=max_open,
            now=NOW,
        )


async def _link(sessions, world, member="father", relative="daughter") -> None:
    async with transaction(sessions, write=True) as session:
        invite = await family.create_invite(session, world[member])
        request = await family.use_invite(session, world[relative], invite.code)
        await family.answer_link(session, world[member], request.link.id, accept=True)


async def _count(sessions, model) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_placing_an_order_records_it_with_its_window_and_an_event(sessions, world) -> None:
    placed = await _place(sessions, world)
    order = placed.order
    assert not placed.replayed
    assert order.status == OrderStatus.OPEN
    assert (order.requester_id, order.beneficiary_id) == (world["father"], world["father"])
    assert order.window_start == datetime(2026, 11, 26, 4, tzinfo=UTC)  # 12:00 in Shanghai
    assert order.when_asked == When.day_part(TOMORROW, "afternoon").to_dict()
    assert order.place_kind == "address" and order.address == "罗山路 7 弄 3 号"
    async with sessions() as session:
        events = list(await session.scalars(select(OrderEvent)))
    assert [(e.from_status, e.to_status, e.actor_id) for e in events] == [
        (None, "open", world["father"])
    ]


async def test_the_same_key_gives_the_same_order(sessions, world) -> None:
    first = await _place(sessions, world)
    again = await _place(sessions, world, description="something else")
    assert again.replayed and again.order.id == first.order.id
    assert await _count(sessions, Order) == 1
    assert await _count(sessions, OrderEvent) == 1


async def test_double_tap_at_once_makes_one_order(sessions, world) -> None:
    results = await asyncio.gather(
        *(_place(sessions, world) for _ in range(4)), return_exceptions=True
    )
    placed = [r for r in results if isinstance(r, orders.Placed)]
    assert placed, results
    assert len({p.order.id for p in placed}) == 1
    assert await _count(sessions, Order) == 1


async def test_a_key_of_someone_else_is_refused(sessions, world) -> None:
    await _place(sessions, world)
    with pytest.raises(orders.KeyInUse):
        await _place(sessions, world, by="stranger")


async def test_open_order_limit(sessions, world) -> None:
    for n in range(2):
        await _place(sessions, world, key=f"k{n}", max_open=2)
    with pytest.raises(orders.TooManyOpenOrders) as refused:
        await _place(sessions, world, key="k2", max_open=2)
    assert refused.value.params == {"maximum": 2}
    # A replay of an order already placed is no new order, so the limit does not apply.
    assert (await _place(sessions, world, key="k0", max_open=2)).replayed


async def test_the_limit_counts_orders_for_the_beneficiary_not_the_proxy(sessions, world) -> None:
    await _link(sessions, world)
    await _place(sessions, world, key="own", max_open=1)
    with pytest.raises(orders.TooManyOpenOrders):
        await _place(sessions, world, by="daughter", to="father", key="proxy", max_open=1)
    await _place(sessions, world, by="daughter", key="hers", max_open=1)


async def test_a_cancelled_order_frees_a_place_under_the_limit(sessions, world) -> None:
    first = await _place(sessions, world, key="a", max_open=1)
    async with transaction(sessions, write=True) as session:
        await orders.cancel_order(
            session, order_id=first.order.id, actor_id=world["father"],
            reason="not_needed", key="c1", now=NOW,
        )  # fmt: skip
    await _place(sessions, world, key="b", max_open=1)


async def test_description_limit(sessions, world) -> None:
    await _place(sessions, world, description="字" * orders.MAX_DESCRIPTION)
    with pytest.raises(orders.DescriptionTooLong):
        await _place(sessions, world, key="long", description="字" * (orders.MAX_DESCRIPTION + 1))
    kept, cut = orders.shorten_description("a" * 1500)
    assert len(kept) == orders.MAX_DESCRIPTION and cut
    assert orders.shorten_description(" short ") == ("short", False)


async def test_a_voice_description_keeps_the_file_id(sessions, world) -> None:
    placed = await _place(sessions, world, description="", voice_file_id="AwACAgQAAxkBAAIB")
    assert placed.order.voice_file_id == "AwACAgQAAxkBAAIB"
    assert placed.order.description == ""


@pytest.mark.parametrize(
    ("when", "error"),
    [
        (When.day_part(date(2026, 11, 24), "morning"), TimeInPast),
        (When.exact(date(2026, 11, 25), time(9, 0)), TimeInPast),
        (When.day_part(date(2026, 12, 10), "morning"), TooFarAhead),
    ],
)
async def test_times_in_the_past_or_too_far_ahead_are_refused(sessions, world, when, error) -> None:
    with pytest.raises(error):
        await _place(sessions, world, when=when)
    assert await _count(sessions, Order) == 0


async def test_asap_and_exact_windows(sessions, world) -> None:
    asap = await _place(sessions, world, key="asap", when=When.asap())
    assert asap.order.window_start == NOW
    exact = await _place(
        sessions, world, key="exact", when=When.exact(TOMORROW, time(15)), estimated_minutes=120
    )
    assert exact.order.window_start == datetime(2026, 11, 26, 7, tzinfo=UTC)
    assert exact.order.window_end == datetime(2026, 11, 26, 9, tzinfo=UTC)


async def test_home_uses_the_address_on_file(sessions, world) -> None:
    placed = await _place(sessions, world, place=Place.home())
    assert placed.order.address == "罗山路 7 弄 3 号" and placed.order.place_kind == "home"
    with pytest.raises(orders.NoHomeAddress):
        await _place(sessions, world, by="stranger", key="k2", place=Place.home())


async def test_home_is_the_area_shared_at_sign_up_when_no_address_is_on_file(
    sessions, world
) -> None:
    async with transaction(sessions, write=True) as session:
        stranger = await session.get(Member, world["stranger"])
        stranger.home_latitude, stranger.home_longitude = 31.21, 121.56
    placed = await _place(sessions, world, by="stranger", place=Place.home())
    order = placed.order
    assert order.place_kind == "home" and order.address is None
    assert (order.latitude, order.longitude) == (31.21, 121.56)


async def test_a_shared_location_is_kept_exactly(sessions, world) -> None:
    placed = await _place(sessions, world, place=Place.location(31.214123, 121.553219))
    assert (placed.order.latitude, placed.order.longitude) == (31.214123, 121.553219)
    assert placed.order.address is None
    with pytest.raises(orders.PlaceInvalid):
        Place.location(95.0, 0.0)


@pytest.mark.parametrize("text", ["", " ", "x", "/start", "路" * 301])
def test_bad_typed_addresses_are_refused(text: str) -> None:
    with pytest.raises(orders.PlaceInvalid):
        Place.typed(text)


def test_places_survive_json() -> None:
    for place in (Place.home(), Place.location(37.55, 126.9), Place.typed("망원로 12")):
        assert Place.from_dict(place.to_dict()) == place
    with pytest.raises(orders.PlaceInvalid):
        Place.from_dict({"kind": "moon"})


async def test_bad_category_and_estimate_are_refused(sessions, world) -> None:
    with pytest.raises(orders.UnknownCategory):
        await _place(sessions, world, category_id=99999)
    with pytest.raises(orders.EstimateInvalid):
        await _place(sessions, world, estimated_minutes=45)
    with pytest.raises(orders.EstimateInvalid):
        await _place(sessions, world, estimated_minutes=True)
    assert await _count(sessions, Order) == 0


# Proxies


async def test_a_linked_daughter_asks_for_her_father_and_his_account_pays(sessions, world) -> None:
    await _link(sessions, world)
    placed = await _place(sessions, world, by="daughter", to="father", place=Place.home())
    order = placed.order
    assert (order.requester_id, order.beneficiary_id) == (world["daughter"], world["father"])
    assert order.address == "罗山路 7 弄 3 号"
    assert orders.parties(order) == [world["daughter"], world["father"]]


async def test_someone_unlinked_may_not_ask_for_another(sessions, world) -> None:
    with pytest.raises(family.NotAllowedForMember):
        await _place(sessions, world, by="stranger", to="father")
    await _place(sessions, world, by="stranger", key="own")  # for oneself, always
    assert await _count(sessions, Order) == 1


async def test_a_link_with_a_third_person_lends_an_outsider_nothing(sessions, world) -> None:
    await _link(sessions, world, member="father", relative="daughter")
    with pytest.raises(family.NotAllowedForMember):
        await _place(sessions, world, by="stranger", to="father")
    assert await _count(sessions, Order) == 0
    placed = await _place(sessions, world, by="daughter", to="father", key="hers")
    assert placed.order.requester_id == world["daughter"]


async def test_an_unconfirmed_or_ended_link_gives_no_right(sessions, world) -> None:
    async with transaction(sessions, write=True) as session:
        invite = await family.create_invite(session, world["father"])
        pending = await family.use_invite(session, world["daughter"], invite.code)
    with pytest.raises(family.NotAllowedForMember):
        await _place(sessions, world, by="daughter", to="father")
    async with transaction(sessions, write=True) as session:
        await family.answer_link(session, world["father"], pending.link.id, accept=True)
    await _place(sessions, world, by="daughter", to="father", key="ok")
    async with transaction(sessions, write=True) as session:
        await family.unlink(session, world["father"], pending.link.id)
    with pytest.raises(family.NotAllowedForMember):
        await _place(sessions, world, by="daughter", to="father", key="after")


async def test_a_coordinator_asks_for_a_resident_without_a_phone(sessions, world) -> None:
    async with transaction(sessions, write=True) as session:
        luoshan = await catalog.branch_by_code(session, "luoshan")
        grandma = await family.register_offline_resident(
            session,
            world["coordinator"],
            name="李奶奶",
            branch_id=luoshan.id,
            address="罗山一村 5 号",
        )
        listed = await family.beneficiaries(session, world["coordinator"])
    assert grandma.id in [m.id for m in listed]
    world = {**world, "grandma": grandma.id}
    placed = await _place(sessions, world, by="coordinator", to="grandma", place=Place.home())
    assert placed.order.beneficiary_id == grandma.id
    assert placed.order.address == "罗山一村 5 号"
    # A coordinator may not order for a member who is on the bot without a family link.
    with pytest.raises(family.NotAllowedForMember):
        await _place(sessions, world, by="coordinator", to="father", key="k2")


async def test_only_coordinators_register_residents(sessions, world) -> None:
    async with transaction(sessions, write=True) as session:
        luoshan = await catalog.branch_by_code(session, "luoshan")
        with pytest.raises(family.CoordinatorsOnly):
            await family.register_offline_resident(
                session, world["daughter"], name="X", branch_id=luoshan.id, address="Y 1"
            )


# My orders and cancelling


async def test_my_orders_lists_what_i_asked_for_and_what_is_for_me(sessions, world) -> None:
    await _link(sessions, world)
    own = await _place(sessions, world, key="own")
    proxy = await _place(sessions, world, by="daughter", to="father", key="proxy")
    async with sessions() as session:
        fathers = await orders.my_orders(session, world["father"], now=NOW)
        daughters = await orders.my_orders(session, world["daughter"], now=NOW)
        strangers = await orders.my_orders(session, world["stranger"], now=NOW)
    assert {v.order.id for v in fathers} == {own.order.id, proxy.order.id}
    assert [v.order.id for v in daughters] == [proxy.order.id]
    assert daughters[0].by_proxy and daughters[0].beneficiary.name == "王建国"
    assert strangers == []


async def test_an_order_is_hidden_from_people_with_no_part_in_it(sessions, world) -> None:
    placed = await _place(sessions, world)
    async with sessions() as session:
        with pytest.raises(orders.NotFound):
            await orders.order_view(session, placed.order.id, world["stranger"])
        seen = await orders.order_view(session, placed.order.id, world["coordinator"])
        assert seen.shows_address and seen.can_cancel
        mine = await orders.order_view(session, placed.order.id, world["father"])
        assert mine.shows_address and mine.can_cancel and not mine.by_proxy


async def test_the_address_is_shown_to_a_volunteer_only_once_accepted(sessions, world) -> None:
    placed = await _place(sessions, world)
    async with transaction(sessions, write=True) as session:
        order = await session.get(Order, placed.order.id)
        order.volunteer_id = world["stranger"]
    async with sessions() as session:
        assert not (await orders.order_view(session, order.id, world["stranger"])).shows_address
    async with transaction(sessions, write=True) as session:
        (await session.get(Order, order.id)).status = OrderStatus.ACCEPTED
    async with sessions() as session:
        view = await orders.order_view(session, order.id, world["stranger"])
        assert view.shows_address and not view.can_cancel


async def _cancel(sessions, world, order_id, *, by="father", key="c1", reason="not_needed"):
    async with transaction(sessions, write=True) as session:
        return await orders.cancel_order(
            session, order_id=order_id, actor_id=world[by], reason=reason, key=key, now=NOW
        )


async def test_cancel_records_the_reason_and_is_idempotent(sessions, world) -> None:
    placed = await _place(sessions, world)
    cancelled = await _cancel(sessions, world, placed.order.id, reason="  家里人来帮忙了 ")
    assert cancelled.order.status == OrderStatus.CANCELLED and not cancelled.replayed
    assert cancelled.previous_status == OrderStatus.OPEN
    again = await _cancel(sessions, world, placed.order.id)
    other_key = await _cancel(sessions, world, placed.order.id, key="c2")
    assert again.replayed and other_key.replayed
    async with sessions() as session:
        events = list(await session.scalars(select(OrderEvent).order_by(OrderEvent.id)))
    assert [(e.to_status, e.note) for e in events] == [
        ("open", ""),
        ("cancelled", "家里人来帮忙了"),
    ]


async def test_an_accepted_order_can_be_cancelled_and_names_its_volunteer(sessions, world) -> None:
    placed = await _place(sessions, world)
    async with transaction(sessions, write=True) as session:
        order = await session.get(Order, placed.order.id)
        order.status, order.volunteer_id = OrderStatus.ACCEPTED, world["stranger"]
    cancelled = await _cancel(sessions, world, placed.order.id, reason="found_help")
    assert cancelled.previous_status == OrderStatus.ACCEPTED
    assert world["stranger"] in orders.parties(cancelled.order)


async def test_who_may_cancel(sessions, world) -> None:
    await _link(sessions, world)
    placed = await _place(sessions, world, by="daughter", to="father")
    with pytest.raises(orders.NotFound):
        await _cancel(sessions, world, placed.order.id, by="stranger")
    # The proxy who asked, the beneficiary, and a coordinator all may.
    for who in ("daughter", "father", "coordinator"):
        fresh = await _place(sessions, world, by="daughter", to="father", key=f"o-{who}")
        assert not (await _cancel(sessions, world, fresh.order.id, by=who, key=who)).replayed
    assert not (await _cancel(sessions, world, placed.order.id, key="first")).replayed


async def test_a_finished_order_cannot_be_cancelled(sessions, world) -> None:
    placed = await _place(sessions, world)
    async with transaction(sessions, write=True) as session:
        (await session.get(Order, placed.order.id)).status = OrderStatus.DONE
    with pytest.raises(orders.CannotCancel):
        await _cancel(sessions, world, placed.order.id)


@pytest.mark.parametrize("reason", ["", "   ", "/start", "x" * 301])
async def test_bad_typed_reasons_are_refused(sessions, world, reason: str) -> None:
    placed = await _place(sessions, world)
    with pytest.raises(orders.ReasonInvalid):
        await _cancel(sessions, world, placed.order.id, reason=reason)


async def test_cancel_twice_at_once_records_one_event(sessions, world) -> None:
    placed = await _place(sessions, world)
    results = await asyncio.gather(
        *(_cancel(sessions, world, placed.order.id, key=f"c{n}") for n in range(4)),
        return_exceptions=True,
    )
    done = [r for r in results if isinstance(r, orders.Cancelled)]
    assert sum(not r.replayed for r in done) <= 1
    async with sessions() as session:
        cancels = await session.scalar(
            select(func.count()).where(OrderEvent.to_status == OrderStatus.CANCELLED)
        )
    assert cancels == 1


async def test_same_as_last_time_finds_the_latest_order_for_that_person(sessions, world) -> None:
    await _link(sessions, world)
    await _place(sessions, world, key="1", description="first")
    await _place(sessions, world, key="2", description="second", estimated_minutes=120)
    await _place(sessions, world, by="daughter", to="father", key="3", description="hers")
    async with sessions() as session:
        last = await orders.last_order(session, world["father"], world["father"])
        hers = await orders.last_order(session, world["daughter"], world["father"])
        none = await orders.last_order(session, world["stranger"], world["stranger"])
    assert last.description == "second" and last.estimated_minutes == 120
    assert hers.description == "hers"
    assert none is None


async def test_contacts_leave_out_members_who_are_not_on_the_platform(sessions, world) -> None:
    async with transaction(sessions, write=True) as session:
        offline = Member(name="离线", branch_id=None)
        session.add(offline)
        await session.flush()
        found = await orders.contacts(
            session, [world["father"], world["daughter"], offline.id], "telegram"
        )
    assert [(c.member_id, c.external_id) for c in found] == [
        (world["father"], "1001"),
        (world["daughter"], "1002"),
    ]


# Paying with credits


@pytest.mark.parametrize(
    ("available", "committed", "limit", "sponsored", "expected"),
    [
        (120, 0, 0, False, OrderFunding.OWN),
        (60, 0, 0, False, OrderFunding.OWN),
        (30, 0, 60, False, OrderFunding.OVERDRAFT),
        (30, 0, 29, False, OrderFunding.NEEDS_SPONSOR),
        (120, 90, 0, False, OrderFunding.NEEDS_SPONSOR),
        (120, 90, 30, False, OrderFunding.OVERDRAFT),
        (0, 0, 0, True, OrderFunding.POOL),
    ],
)
def test_who_pays(available, committed, limit, sponsored, expected) -> None:
    assert (
        orders.decide_funding(
            60,
            sponsored=sponsored,
            available=available,
            committed=committed,
            overdraft_limit=limit,
        )
        == expected
    )


async def test_a_sponsored_members_orders_are_paid_by_the_pool(sessions, world) -> None:
    async with transaction(sessions, write=True) as session:
        (await session.get(Member, world["father"])).sponsored = True
    placed = await _place(sessions, world)
    assert placed.order.funding == OrderFunding.POOL and placed.coverage.sponsored


async def test_an_order_nobody_can_cover_is_still_recorded_for_a_coordinator(
    sessions, world
) -> None:
    placed = await _place(sessions, world, estimated_minutes=240)
    assert placed.coverage.needs_sponsor
    assert placed.order.funding == OrderFunding.NEEDS_SPONSOR
    assert placed.order.status == OrderStatus.OPEN


async def test_start_refuses_early_when_the_limit_is_reached(sessions, world) -> None:
    async with sessions() as session:
        start = await orders.start_request(
            session, requester_id=world["father"], beneficiary_id=world["father"], max_open=1
        )
        assert not start.has_last and start.branch.code == "luoshan"
    await _place(sessions, world, max_open=1)
    async with sessions() as session:
        with pytest.raises(orders.TooManyOpenOrders):
            await orders.start_request(
                session, requester_id=world["father"], beneficiary_id=world["father"], max_open=1
            )
        with pytest.raises(family.NotAllowedForMember):
            await orders.start_request(
                session, requester_id=world["stranger"], beneficiary_id=world["father"], max_open=3
            )


async def test_preview_checks_everything_and_writes_nothing(sessions, world) -> None:
    async with sessions() as session:
        seen = await orders.preview(
            session,
            requester_id=world["father"],
            beneficiary_id=world["father"],
            request=_request(world, place=Place.home()),
            now=NOW,
        )
        assert seen.prepared.address == "罗山路 7 弄 3 号"
        assert seen.coverage.cost == 60
        with pytest.raises(TimeInPast):
            await orders.preview(
                session,
                requester_id=world["father"],
                beneficiary_id=world["father"],
                request=_request(world, when=When.exact(date(2026, 11, 25), time(8))),
                now=NOW,
            )
    assert await _count(sessions, Order) == 0


async def test_repeat_last_gives_the_answers_but_not_the_time(sessions, world) -> None:
    await _place(sessions, world, place=Place.location(31.2, 121.5), voice_file_id="VOICE")
    async with sessions() as session:
        again = await orders.repeat_last(session, world["father"], world["father"])
        assert again.place == Place.location(31.2, 121.5)
        assert (again.voice_file_id, again.estimated_minutes) == ("VOICE", 60)
        assert not hasattr(again, "when")
        with pytest.raises(orders.NotFound):
            await orders.repeat_last(session, world["stranger"], world["stranger"])


# With the ledger


async def _grant(sessions, world, who: str, minutes: int) -> None:
    async with transaction(sessions, write=True) as session:
        member = await session.get(Member, world[who])
        account = await ledger.open_member_account(session, member.id, member.branch_id)
        await ledger.grant(session, account.id, minutes, key=f"grant-{who}-{minutes}")


async def test_placing_opens_the_payers_account(sessions, world) -> None:
    await _place(sessions, world)
    async with transaction(sessions, write=True) as session:
        assert await ledger.find_member_account(session, world["father"]) is not None
        (await session.get(Member, world["stranger"])).sponsored = True
    await _place(sessions, world, by="stranger", key="sponsored")
    async with sessions() as session:
        # A sponsored member's orders are paid by the pool: no member account is needed.
        assert await ledger.find_member_account(session, world["stranger"]) is None


async def test_credit_covers_orders_until_it_is_promised_to_others(sessions, world) -> None:
    await _grant(sessions, world, "father", 120)
    first = await _place(sessions, world, key="1")
    assert first.coverage.funding == OrderFunding.OWN
    assert (first.coverage.available, first.coverage.committed) == (120, 0)
    second = await _place(sessions, world, key="2")
    assert second.coverage.funding == OrderFunding.OWN and second.coverage.committed == 60
    third = await _place(sessions, world, key="3")
    # The resident's overdraft (two hours in the demo's Luoshan) takes the next one…
    assert third.coverage.funding == OrderFunding.OVERDRAFT and third.coverage.committed == 120
    fourth = await _place(sessions, world, key="4", max_open=4, estimated_minutes=120)
    # …but not past it.
    assert fourth.coverage.funding == OrderFunding.NEEDS_SPONSOR


async def test_the_branch_overdraft_limit_lets_an_order_through(sessions, world) -> None:
    async with transaction(sessions, write=True) as session:
        luoshan = await catalog.branch_by_code(session, "luoshan")
        await ledger.set_branch_policy(
            session,
            luoshan.id,
            actor=ledger.Actor(is_coordinator=True),
            member_overdraft_limit=60,
            resident_overdraft_limit=0,
        )
    await _grant(sessions, world, "father", 30)
    placed = await _place(sessions, world)
    assert placed.coverage.funding == OrderFunding.OVERDRAFT
    assert placed.coverage.overdraft_limit == 60
    async with sessions() as session:
        quoted = await orders.quote(session, world["daughter"], 60)
    assert quoted.funding == OrderFunding.OVERDRAFT and quoted.available == 0


async def test_cancel_releases_the_credit_held_for_the_order(sessions, world) -> None:
    await _grant(sessions, world, "father", 120)
    placed = await _place(sessions, world)
    async with transaction(sessions, write=True) as session:
        payer = await ledger.find_member_account(session, world["father"])
        helper = await session.get(Member, world["stranger"])
        earner = await ledger.open_member_account(session, helper.id, helper.branch_id)
        order = await session.get(Order, placed.order.id)
        order.status, order.volunteer_id = OrderStatus.ACCEPTED, helper.id
        hold = await ledger.place_hold(
            session, payer.id, earner.id, 60, key="accept", order_id=order.id
        )
    async with sessions() as session:
        assert (await ledger.balance_of(session, payer.id)).held == 60
    cancelled = await _cancel(sessions, world, placed.order.id)
    assert cancelled.released_holds == [hold.id]
    again = await _cancel(sessions, world, placed.order.id, key="c2")
    assert again.replayed and again.released_holds == []
    async with sessions() as session:
        assert (await ledger.balance_of(session, payer.id)).held == 0
        assert (await ledger.get_hold(session, hold.id)).status == ledger.HoldStatus.VOIDED
    report = await ledger.verify_ledger(sessions)
    assert not any(report.offending_ids.values()), report
