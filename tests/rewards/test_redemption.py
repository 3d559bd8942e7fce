"""Spending hours at a partner shop: shelf, codes, confirmation, cancel and expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core import ledger
from core.coordinators import CoordinatorOnly
from core.db import transaction, utcnow
from core.models import OutboxMessage
from core.rewards import merchants, redemption
from core.rewards.tables import Redemption, RewardItem
from tests.rewards.conftest import add_member, available, shop_balance


async def _redeem(sessions, member: int, item: int, key: str, **kw) -> redemption.Issued:
    async with transaction(sessions, write=True) as session:
        return await redemption.redeem(session, member, item, key=key, **kw)


async def _confirm(sessions, staff: int, reference: str, **kw) -> redemption.AtCounter:
    async with transaction(sessions, write=True) as session:
        return await redemption.confirm_redemption(session, staff, reference, **kw)


async def _item(sessions, item_id: int) -> RewardItem:
    async with sessions() as session:
        return await session.get(RewardItem, item_id)


async def _verify(sessions) -> None:
    report = await ledger.verify_ledger(sessions)
    assert report.ok, report.summary


async def test_only_a_coordinator_of_the_branch_registers_a_shop(sessions, town) -> None:
    async with transaction(sessions, write=True) as session:
        with pytest.raises(CoordinatorOnly):
            await merchants.register_merchant(
                session, town.other_coordinator, town.branch, name="X"
            )
        with pytest.raises(CoordinatorOnly):
            await merchants.register_merchant(session, town.residents[0], town.branch, name="X")
        with pytest.raises(merchants.ShopTextInvalid):
            await merchants.register_merchant(
                session, town.coordinator, town.branch, name="x" * 101
            )
    assert await shop_balance(sessions, town.shop, town.branch) == 0


async def test_staff_join_once_with_a_one_day_code(sessions, town) -> None:
    async with transaction(sessions, write=True) as session:
        invite = await merchants.invite_staff(session, town.coordinator, town.shop)
        second = await add_member(session, town.branch, "Helper")
        stranger = await add_member(session, town.branch, "Stranger")
        late = await add_member(session, town.branch, "Late")
    async with transaction(sessions, write=True) as session:
        joined = await merchants.join_staff(
            session, second, f" {invite.code[:4]} {invite.code[4:]}"
        )
        assert joined.merchant.id == town.shop and not joined.replayed
        again = await merchants.join_staff(session, second, invite.code)
        assert again.replayed
        with pytest.raises(merchants.MerchantInviteNotValid):
            await merchants.join_staff(session, stranger, invite.code)
        with pytest.raises(merchants.AlreadyStaff):
            fresh = await merchants.invite_staff(session, town.coordinator, town.shop)
            await merchants.join_staff(session, town.other_staff, fresh.code)
        expiring = await merchants.invite_staff(session, town.coordinator, town.shop)
        with pytest.raises(merchants.MerchantInviteNotValid):
            await merchants.join_staff(
                session, late, expiring.code, now=utcnow() + timedelta(hours=25)
            )
        with pytest.raises(CoordinatorOnly):
            await merchants.invite_staff(session, town.other_coordinator, town.shop)
        assert await merchants.staff_of(session, town.shop) == sorted([town.staff, second])
        assert await merchants.merchant_of_staff(session, stranger) is None


async def test_the_catalogue_checks_what_staff_type(sessions, town) -> None:
    async with transaction(sessions, write=True) as session:
        with pytest.raises(merchants.StaffOnly):
            await merchants.add_item(
                session, town.residents[0], category="meals", names={"en": "x"}, price_minutes=5
            )
        for bad in (0, -5, 6001, 1.5, True):
            with pytest.raises(merchants.PriceInvalid):
                await merchants.add_item(
                    session, town.staff, category="meals", names={"en": "x"}, price_minutes=bad
                )
        with pytest.raises(merchants.ItemNamesInvalid):
            await merchants.add_item(
                session, town.staff, category="meals", names={"en": " "}, price_minutes=5
            )
        with pytest.raises(merchants.CategoryInvalid):
            await merchants.add_item(
                session, town.staff, category="cars", names={"en": "x"}, price_minutes=5
            )
        with pytest.raises(merchants.StockInvalid):
            await merchants.add_item(
                session, town.staff, category="meals", names={"en": "x"}, price_minutes=5, stock=-1
            )
        now = utcnow()
        with pytest.raises(merchants.ValidityInvalid):
            await merchants.add_item(
                session, town.staff, category="meals", names={"en": "x"}, price_minutes=5,
                valid_from=now, valid_until=now,
            )  # fmt: skip
        with pytest.raises(merchants.StaffOnly):
            await merchants.set_stock(session, town.residents[0], town.oil, 5)
        from core.errors import NotFound

        with pytest.raises(NotFound):
            await merchants.set_stock(session, town.other_staff, town.oil, 5)
        assert len(await merchants.catalogue(session, town.staff)) == 2


async def test_the_shelf_nearest_first_with_what_one_can_afford(sessions, town) -> None:
    async with transaction(sessions, write=True) as session:
        far = await merchants.register_merchant(
            session, town.coordinator, town.branch, name="Far", latitude=31.30, longitude=121.60
        )
        far_staff = await add_member(session, town.branch, "Far staff")
        invite = await merchants.invite_staff(session, town.coordinator, far.id)
        await merchants.join_staff(session, far_staff, invite.code)
        cheap = await merchants.add_item(
            session, far_staff, category="groceries", names={"en": "Soap"}, price_minutes=10
        )
        dear = await merchants.add_item(
            session, town.staff, category="leisure", names={"en": "Cinema"}, price_minutes=180
        )
    async with sessions() as session:
        shelf = await redemption.spend_my_hours(session, town.residents[0], limit=10)
    assert (shelf.available, shelf.spendable) == (120, 120)
    ids = [item.item_id for item in shelf.items]
    # The near shop's items first (cheapest first among them), the far shop's after.
    assert ids == [town.coupon, town.oil, dear.id, cheap.id]
    by_id = {item.item_id: item for item in shelf.items}
    assert by_id[town.oil].left == 3 and by_id[town.coupon].left is None
    assert not by_id[dear.id].affordable and by_id[town.oil].affordable
    assert by_id[cheap.id].distance_m > by_id[town.oil].distance_m
    async with sessions() as session:
        groceries = await redemption.spend_my_hours(
            session, town.residents[0], category="groceries", limit=1
        )
        assert [i.item_id for i in groceries.items] == [town.oil] and groceries.has_more
        other = await redemption.spend_my_hours(session, town.other_staff)
        assert other.items == ()
    async with transaction(sessions, write=True) as session:
        with pytest.raises(CoordinatorOnly):
            await merchants.hide_item(session, town.other_coordinator, town.oil)
        await merchants.hide_item(session, town.coordinator, town.oil)
    async with sessions() as session:
        shelf = await redemption.spend_my_hours(session, town.residents[0], limit=10)
    assert town.oil not in [item.item_id for item in shelf.items]
    with pytest.raises(redemption.ItemNotAvailable):
        await _redeem(sessions, town.residents[0], town.oil, "hidden")


async def test_redeem_then_confirm_moves_exactly_the_price(sessions, town) -> None:
    member = town.residents[0]
    issued = await _redeem(sessions, member, town.oil, "tap-1")
    assert issued.minutes == 60 and len(issued.code) == 9 and issued.code[4] == "-"
    assert await available(sessions, member) == 60
    assert (await _item(sessions, town.oil)).reserved == 1
    again = await _redeem(sessions, member, town.oil, "tap-1")
    assert again.replayed and again.redemption_id == issued.redemption_id
    assert await available(sessions, member) == 60

    link = redemption.deep_link("timebank_bot", issued.token)
    assert link == f"https://t.me/timebank_bot?start=rdm-{issued.token}"
    assert len(f"rdm-{issued.token}") <= 64
    assert redemption.qr_png(link).startswith(b"\x89PNG\r\n\x1a\n")

    async with sessions() as session:
        seen = await redemption.look_up_code(session, town.staff, issued.code.lower())
    assert seen.member_first_name == "秀英" and seen.minutes == 60
    assert "phone" not in seen.__slots__ and "address" not in seen.__slots__

    done = await _confirm(sessions, town.staff, f"rdm-{issued.token}")
    assert done.status == "confirmed" and not done.replayed and done.posting_id
    assert done.member_first_name == "秀英"  # the shop sees no more of the member
    twice = await _confirm(sessions, town.staff, issued.code)
    assert twice.replayed and twice.posting_id == done.posting_id
    async with sessions() as session:
        account = await ledger.find_member_account(session, member)
        balance = await ledger.balance_of(session, account.id)
    assert (balance.balance, balance.held) == (60, 0)
    assert await shop_balance(sessions, town.shop, town.branch) == 60
    oil = await _item(sessions, town.oil)
    assert (oil.stock, oil.reserved) == (2, 0)
    async with sessions() as session:
        kinds = {(m.member_id, m.kind) for m in await session.scalars(select(OutboxMessage))}
    assert kinds == {(member, "redemption_receipt"), (town.staff, "redemption_shop_receipt")}
    with pytest.raises(redemption.CodeUsed):
        async with sessions() as session:
            await redemption.look_up_code(session, town.staff, issued.code)
    await _verify(sessions)


async def test_other_shops_and_forged_codes_are_refused(sessions, town) -> None:
    issued = await _redeem(sessions, town.residents[1], town.coupon, "k")
    with pytest.raises(redemption.NotYourShop):
        await _confirm(sessions, town.other_staff, issued.code)
    with pytest.raises(merchants.StaffOnly):
        await _confirm(sessions, town.residents[2], issued.code)
    for forged in ("", "ABCD", "rdm-" + "x" * 22, "IIII-OOOO", "x" * 5000):
        with pytest.raises(redemption.CodeNotValid):
            await _confirm(sessions, town.staff, forged)
    with pytest.raises(ledger.IdempotencyConflict):
        await _redeem(sessions, town.residents[1], town.oil, "k")
    from core.errors import NotFound

    with pytest.raises(NotFound):
        await _redeem(sessions, town.other_staff, town.coupon, "other-branch")
    assert await available(sessions, town.residents[1]) == 90
    await _verify(sessions)


async def test_cancel_before_use_releases_everything(sessions, town) -> None:
    member = town.residents[0]
    issued = await _redeem(sessions, member, town.oil, "c")
    async with transaction(sessions, write=True) as session:
        with pytest.raises(Exception):  # noqa: B017  (not the member's own code)
            await redemption.cancel_redemption(session, town.residents[1], issued.redemption_id)
    async with transaction(sessions, write=True) as session:
        cancelled = await redemption.cancel_redemption(session, member, issued.redemption_id)
        assert cancelled.status == "cancelled"
        again = await redemption.cancel_redemption(session, member, issued.redemption_id)
        assert again.status == "cancelled"
    assert await available(sessions, member) == 120
    assert (await _item(sessions, town.oil)).reserved == 0
    with pytest.raises(redemption.CodeCancelled):
        await _confirm(sessions, town.staff, issued.code)
    await _verify(sessions)


async def test_an_unused_code_expires_and_its_hold_is_released(sessions, town) -> None:
    member = town.residents[2]
    issued = await _redeem(sessions, member, town.oil, "e")
    later = issued.expires_at + timedelta(seconds=1)
    with pytest.raises(redemption.CodeExpired):
        await _confirm(sessions, town.staff, issued.code, now=later)
    async with transaction(sessions, write=True) as session:
        assert await redemption.expire_due_redemptions(session, now=later) == [issued.redemption_id]
    async with transaction(sessions, write=True) as session:
        assert await redemption.expire_due_redemptions(session, now=later) == []
        with pytest.raises(redemption.CodeExpired):
            await redemption.cancel_redemption(session, member, issued.redemption_id)
    assert await available(sessions, member) == 120
    assert (await _item(sessions, town.oil)).reserved == 0
    async with sessions() as session:
        notice = await session.scalar(select(OutboxMessage))
        assert (notice.member_id, notice.kind) == (member, "redemption_expired")
        assert await redemption.my_codes(session, member) == []
    await _verify(sessions)


async def test_rewards_use_the_overdraft_only_where_the_branch_allows(sessions, town) -> None:
    member = town.residents[0]
    async with transaction(sessions, write=True) as session:
        await ledger.set_member_overdraft_limit(
            session, town.branch, 60, actor=ledger.Actor(town.coordinator, is_coordinator=True)
        )
        dear = await merchants.add_item(
            session, town.staff, category="leisure", names={"en": "Cinema"}, price_minutes=150
        )
    with pytest.raises(ledger.InsufficientCredit) as refused:
        await _redeem(sessions, member, dear.id, "over")
    assert refused.value.params == {"available": 120, "needed": 150}
    assert await available(sessions, member) == 120
    assert (await _item(sessions, dear.id)).reserved == 0
    async with transaction(sessions, write=True) as session:
        with pytest.raises(CoordinatorOnly):
            await merchants.set_reward_settings(
                session, town.staff, town.branch, rewards_may_overdraw=True
            )
        await merchants.set_reward_settings(
            session, town.coordinator, town.branch, rewards_may_overdraw=True
        )
    async with sessions() as session:
        shelf = await redemption.spend_my_hours(session, member, category="leisure")
        assert shelf.spendable == 180 and shelf.items[0].affordable
    issued = await _redeem(sessions, member, dear.id, "over-allowed")
    assert await available(sessions, member) == -30
    await _confirm(sessions, town.staff, issued.code)
    await _verify(sessions)


async def test_first_names_only(sessions, town) -> None:
    assert redemption.first_name("Mary Smith") == "Mary"
    assert redemption.first_name("王秀英") == "秀英"
    assert redemption.first_name("김영희") == "영희"
    assert redemption.first_name("") == ""


async def _set_stock(sessions, town, item: int, stock: int | None) -> None:
    async with transaction(sessions, write=True) as session:
        await merchants.set_stock(session, town.staff, item, stock)


async def _shelf(sessions, item: int) -> tuple[int | None, int]:
    found = await _item(sessions, item)
    return found.stock, found.reserved


async def test_an_unlimited_item_promises_no_stock_and_a_counted_shelf_stays_right(
    sessions, town
) -> None:
    """Codes for an unlimited item leave its row alone; one issued before the shop counted
    its stock takes nothing off that count, and one issued before it stopped counting gives
    back its share."""
    first, second, third = town.residents[:3]
    early = await _redeem(sessions, first, town.coupon, "u-early")
    async with transaction(sessions, write=True) as session:
        newcomer = await add_member(session, town.branch, "New Neighbour")
    # No account yet: the whole path through the ORM, which must do the same.
    with pytest.raises(ledger.InsufficientCredit):
        await _redeem(sessions, newcomer, town.coupon, "u-newcomer")
    assert await _shelf(sessions, town.coupon) == (None, 0)
    async with sessions() as session:
        kept = await session.scalar(
            select(Redemption.reserved).where(Redemption.id == early.redemption_id)
        )
    assert kept is False

    await _set_stock(sessions, town, town.coupon, 2)
    counted = await _redeem(sessions, second, town.coupon, "u-counted")
    assert await _shelf(sessions, town.coupon) == (2, 1)
    await _confirm(sessions, town.staff, early.code)  # issued while unlimited
    assert await _shelf(sessions, town.coupon) == (2, 1)
    async with transaction(sessions, write=True) as session:
        await redemption.cancel_redemption(session, second, counted.redemption_id)
    assert await _shelf(sessions, town.coupon) == (2, 0)
    await _redeem(sessions, second, town.coupon, "u-1")
    await _redeem(sessions, third, town.coupon, "u-2")
    with pytest.raises(redemption.SoldOut):
        await _redeem(sessions, third, town.coupon, "u-3")
    assert await _shelf(sessions, town.coupon) == (2, 2)

    # The other way: a code that took a share of the oil, then the oil made unlimited.
    bottle = await _redeem(sessions, first, town.oil, "u-oil")
    assert await _shelf(sessions, town.oil) == (3, 1)
    await _set_stock(sessions, town, town.oil, None)
    await _confirm(sessions, town.staff, bottle.code)
    assert await _shelf(sessions, town.oil) == (None, 0)
    await _verify(sessions)
