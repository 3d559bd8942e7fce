"""Coordinators and their branch's partner shops (/shops): register one, give a one-day
code to a new member of its staff, hide an item (or show it again), settle its hours."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversations import shop_registration, shop_settlement
from bot.handlers.rewards import views as ui
from bot.handlers.rewards.callbacks import ShopAdmin, ShopAdminAct
from bot.kit.edit import show_in_place
from core import coordinators, ledger
from core.coordinators import CoordinatorOnly
from core.db import utcnow
from core.models import Branch, Member
from core.rewards import merchants
from core.rewards.tables import RewardItem

router = Router(name="shop_admin")


async def _branch_of(session: AsyncSession, member: Member | None) -> int:
    """The branch the coordinator works in; anyone else is refused kindly."""
    if member is None:
        raise CoordinatorOnly()
    return (await coordinators.working_branch(session, member.id))[1]


async def _shop_view(session: AsyncSession, member: Member, shop_id: int):
    shop = await merchants.get_merchant(session, shop_id)
    await coordinators.coordinator_of(session, member.id, shop.branch_id)
    items = list(
        await session.scalars(
            select(RewardItem).where(RewardItem.merchant_id == shop_id).order_by(RewardItem.id)
        )
    )
    account = await ledger.merchant_account(session, shop_id, shop.branch_id)
    balance = (await ledger.balance_of(session, account.id)).balance
    staff = len(await merchants.staff_of(session, shop_id))
    return ui.shop_admin(shop, items, staff, balance)


@router.message(Command("shops"))
async def on_shops(message: Message, session: AsyncSession, member: Member | None) -> None:
    branch_id = await _branch_of(session, member)
    text, buttons = ui.shops_text(await merchants.merchants_of_branch(session, branch_id))
    await message.answer(text, reply_markup=buttons)


@router.callback_query(ShopAdmin.filter(F.action == ShopAdminAct.LIST))
async def on_list(query: CallbackQuery, session: AsyncSession, member: Member | None) -> None:
    branch_id = await _branch_of(session, member)
    await query.answer()
    await show_in_place(
        query, *ui.shops_text(await merchants.merchants_of_branch(session, branch_id))
    )


@router.callback_query(ShopAdmin.filter(F.action == ShopAdminAct.VIEW))
async def on_view(
    query: CallbackQuery, callback_data: ShopAdmin, session: AsyncSession, member: Member | None
) -> None:
    await _branch_of(session, member)
    assert member is not None
    view = await _shop_view(session, member, callback_data.merchant_id)
    await query.answer()
    await show_in_place(query, *view)


@router.callback_query(ShopAdmin.filter(F.action == ShopAdminAct.REGISTER))
async def on_register(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, member: Member | None
) -> None:
    await _branch_of(session, member)
    assert member is not None
    await query.answer()
    if isinstance(query.message, Message):
        await shop_registration.start(query.message, state, session, member)


@router.callback_query(ShopAdmin.filter(F.action == ShopAdminAct.INVITE))
async def on_invite(
    query: CallbackQuery,
    callback_data: ShopAdmin,
    session: AsyncSession,
    member: Member | None,
    bot: Bot,
) -> None:
    branch_id = await _branch_of(session, member)
    assert member is not None
    invite = await merchants.invite_staff(session, member.id, callback_data.merchant_id)
    shop = await merchants.get_merchant(session, callback_data.merchant_id)
    branch = await session.get(Branch, branch_id)
    me = await bot.me()
    link = f"https://t.me/{me.username}?start=mst-{invite.code}"
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(
            ui.invite_text(shop, invite, link, branch.time_zone if branch else "UTC", utcnow())
        )


async def _set_hidden(
    query: CallbackQuery,
    data: ShopAdmin,
    session: AsyncSession,
    member: Member | None,
    hidden: bool,
) -> None:
    await _branch_of(session, member)
    assert member is not None
    item = await session.get(RewardItem, data.item_id)
    if item is None or item.merchant_id != data.merchant_id:
        await query.answer(_("This button is no longer active."), show_alert=True)
        return
    await merchants.hide_item(session, member.id, data.item_id, hidden=hidden)
    view = await _shop_view(session, member, data.merchant_id)
    await query.answer()
    await show_in_place(query, *view)


@router.callback_query(ShopAdmin.filter(F.action == ShopAdminAct.HIDE))
async def on_hide(
    query: CallbackQuery, callback_data: ShopAdmin, session: AsyncSession, member: Member | None
) -> None:
    await _set_hidden(query, callback_data, session, member, True)


@router.callback_query(ShopAdmin.filter(F.action == ShopAdminAct.SHOW))
async def on_show(
    query: CallbackQuery, callback_data: ShopAdmin, session: AsyncSession, member: Member | None
) -> None:
    await _set_hidden(query, callback_data, session, member, False)


@router.callback_query(ShopAdmin.filter(F.action == ShopAdminAct.SETTLE))
async def on_settle(
    query: CallbackQuery,
    callback_data: ShopAdmin,
    state: FSMContext,
    session: AsyncSession,
    member: Member | None,
) -> None:
    await _branch_of(session, member)
    assert member is not None
    await query.answer()
    if isinstance(query.message, Message):
        await shop_settlement.start(
            query.message, state, session, member, callback_data.merchant_id
        )
