"""🎁 Spend my hours: the shelf of the member's branch, nearest shop first; an item's
details; a code held against their credit, with a QR picture the shop scans; their codes;
giving a code back before it is used."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.rewards import views as ui
from bot.handlers.rewards.callbacks import Spend, SpendAct
from bot.kit import labels
from bot.kit.edit import show_in_place
from bot.kit.guards import SignedUp
from core.db import utcnow
from core.models import Branch, Member
from core.rewards import redemption

router = Router(name="rewards")
router.message.filter(SignedUp())
router.callback_query.filter(SignedUp())


async def time_zone_of(session: AsyncSession, member: Member) -> str:
    branch = await session.get(Branch, member.branch_id) if member.branch_id else None
    return branch.time_zone if branch is not None else "UTC"


async def _shelf(session: AsyncSession, member: Member, category: str, offset: int):
    shelf = await redemption.spend_my_hours(
        session, member.id, category=category or None, offset=offset
    )
    codes = await redemption.my_codes(session, member.id)
    return ui.shelf_text(shelf, category), ui.shelf_buttons(shelf, category, has_codes=bool(codes))


@router.message(Command("spend"))
@router.message(StateFilter(None), F.text == labels.MENU_SPEND)
async def on_spend(message: Message, session: AsyncSession, member: Member) -> None:
    text, buttons = await _shelf(session, member, "", 0)
    await message.answer(text, reply_markup=buttons)


@router.callback_query(Spend.filter(F.action == SpendAct.SHELF))
async def on_shelf(
    query: CallbackQuery, callback_data: Spend, session: AsyncSession, member: Member
) -> None:
    text, buttons = await _shelf(session, member, callback_data.category, callback_data.offset)
    await query.answer()
    await show_in_place(query, text, buttons)


async def _shelf_item(session: AsyncSession, member: Member, item_id: int):
    """The item as the shelf shows it to this member now; None when it is off the shelf."""
    shelf = await redemption.spend_my_hours(session, member.id, limit=10_000)
    return next((item for item in shelf.items if item.item_id == item_id), None)


@router.callback_query(Spend.filter(F.action == SpendAct.ITEM))
async def on_item(
    query: CallbackQuery, callback_data: Spend, session: AsyncSession, member: Member
) -> None:
    item = await _shelf_item(session, member, callback_data.item_id)
    if item is None:
        await query.answer(_(redemption.ItemNotAvailable.key), show_alert=True)
        return
    await query.answer()
    text = ui.item_text(item)
    buttons = ui.item_buttons(item, callback_data.category, callback_data.offset)
    if item.photo_file_id and isinstance(query.message, Message):
        await query.message.answer_photo(item.photo_file_id, caption=text, reply_markup=buttons)
        return
    await show_in_place(query, text, buttons)


async def _send_code(message: Message, bot: Bot, issued: redemption.Issued, time_zone: str) -> None:
    me = await bot.me()
    picture = redemption.qr_png(redemption.deep_link(me.username or "", issued.token))
    await message.answer_photo(
        BufferedInputFile(picture, "code.png"),
        caption=ui.code_caption(issued, time_zone, utcnow()),
        reply_markup=ui.code_buttons(issued),
    )


@router.callback_query(Spend.filter(F.action == SpendAct.REDEEM))
async def on_redeem(
    query: CallbackQuery, callback_data: Spend, session: AsyncSession, member: Member, bot: Bot
) -> None:
    if not isinstance(query.message, Message):
        await query.answer(_("This button is no longer active."))
        return
    # The item's message names the code: a second tap on it gets the same code again.
    key = f"tg-redeem:{query.message.chat.id}:{query.message.message_id}"
    issued = await redemption.redeem(session, member.id, callback_data.item_id, key=key)
    await query.answer(_("Here is your code.") if not issued.replayed else None)
    if issued.replayed and issued.status != "pending":
        return
    await _send_code(query.message, bot, issued, await time_zone_of(session, member))


@router.callback_query(Spend.filter(F.action == SpendAct.MINE))
async def on_my_codes(query: CallbackQuery, session: AsyncSession, member: Member) -> None:
    codes = await redemption.my_codes(session, member.id)
    await query.answer()
    await show_in_place(query, *ui.my_codes(codes, await time_zone_of(session, member), utcnow()))


@router.callback_query(Spend.filter(F.action == SpendAct.SHOW))
async def on_show_code(
    query: CallbackQuery, callback_data: Spend, session: AsyncSession, member: Member, bot: Bot
) -> None:
    issued = await redemption.code_of(session, member.id, callback_data.redemption_id)
    if issued.status != "pending" or issued.expires_at <= utcnow():
        await query.answer(_("This code can no longer be used."), show_alert=True)
        return
    await query.answer()
    if isinstance(query.message, Message):
        await _send_code(query.message, bot, issued, await time_zone_of(session, member))


@router.callback_query(Spend.filter(F.action == SpendAct.CANCEL))
async def on_cancel_code(
    query: CallbackQuery, callback_data: Spend, session: AsyncSession, member: Member
) -> None:
    issued = await redemption.code_of(session, member.id, callback_data.redemption_id)
    await query.answer()
    if isinstance(query.message, Message):
        text, buttons = ui.cancel_question(issued)
        await query.message.answer(text, reply_markup=buttons)


@router.callback_query(Spend.filter(F.action == SpendAct.CANCEL_YES))
async def on_cancel_code_yes(
    query: CallbackQuery, callback_data: Spend, session: AsyncSession, member: Member
) -> None:
    issued = await redemption.cancel_redemption(session, member.id, callback_data.redemption_id)
    await query.answer()
    await show_in_place(query, ui.cancelled_text(issued), None)
