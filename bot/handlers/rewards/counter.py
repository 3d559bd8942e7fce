"""The shop's side: staff join with a coordinator's code (deep link `/start mst-<code>`),
take a member's code (the QR's deep link `/start rdm-<token>` opens the bot on their phone,
or they type it), confirm the hand-over; /shop shows their counter: items, today's and this
month's codes, the monthly statement as PDF or CSV."""

from __future__ import annotations

import asyncio
import re
from datetime import date
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart, Filter, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, Message, TelegramObject
from aiogram.utils.i18n import get_i18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversations import shop_item
from bot.handlers.rewards import views as ui
from bot.handlers.rewards.callbacks import Counter, CounterAct
from bot.kit import labels
from bot.kit.keyboards import menu_for
from core.db import utcnow
from core.models import Branch, Member
from core.rewards import merchants, redemption, shop_reports
from core.rewards.tables import Merchant

router = Router(name="shop_counter")

INVITE_PREFIX = "mst-"
TYPED_CODE = re.compile(r"^\s*[A-Za-z0-9]{4}[\s-]?[A-Za-z0-9]{4}\s*$")


class ServesAtShop(Filter):
    """Passes a signed-up member who serves at a partner shop, handing on `shop`."""

    async def __call__(
        self, event: TelegramObject, session: AsyncSession, member: Member | None = None
    ) -> bool | dict[str, Any]:
        if member is None or member.onboarded_at is None:
            return False
        shop = await merchants.merchant_of_staff(session, member.id)
        return False if shop is None else {"shop": shop}


class CounterCode(StatesGroup):
    typing = State()


async def _time_zone(session: AsyncSession, shop: Merchant) -> str:
    branch = await session.get(Branch, shop.branch_id)
    return branch.time_zone if branch is not None else "UTC"


def _gettext(message: str) -> str:
    return _(message)


# ---------------------------------------------------------------- joining the staff


@router.message(CommandStart(deep_link=True, magic=F.args.startswith(INVITE_PREFIX)))
async def on_join(
    message: Message, command: CommandObject, session: AsyncSession, member: Member | None
) -> None:
    if member is None or member.onboarded_at is None:
        await message.answer(
            _("Please sign up first: send /start. Then open the shop's link again."),
            reply_markup=menu_for(member),
        )
        return
    joined = await merchants.join_staff(
        session, member.id, (command.args or "")[len(INVITE_PREFIX) :]
    )
    await message.answer(
        _("🏪 Welcome! You now serve at {shop}.").format(shop=escape(joined.merchant.name)),
        reply_markup=menu_for(member),
    )
    text, buttons = ui.shop_panel(joined.merchant)
    await message.answer(text, reply_markup=buttons)


# ---------------------------------------------------------------- a member's code


async def _look_up(message: Message, session: AsyncSession, member: Member, reference: str):
    shop = await merchants.staff_merchant(session, member.id)
    now = utcnow()
    seen = await redemption.look_up_code(session, member.id, reference, now=now)
    await message.answer(
        ui.counter_text(seen, await _time_zone(session, shop), now),
        reply_markup=ui.counter_buttons(seen),
    )


@router.message(CommandStart(deep_link=True, magic=F.args.startswith(redemption.START_PREFIX)))
async def on_scanned(
    message: Message, command: CommandObject, session: AsyncSession, member: Member | None
) -> None:
    """A member's QR, scanned by a phone's camera: opens the bot with the code's token."""
    if member is None or member.onboarded_at is None:
        await message.answer(
            _(merchants.StaffOnly.key) + "\n" + _("Please show the picture at the shop."),
            reply_markup=menu_for(member),
        )
        return
    await _look_up(message, session, member, command.args or "")


@router.message(StateFilter(None), F.text.regexp(TYPED_CODE), ServesAtShop())
@router.message(CounterCode.typing, F.text, ~F.text.startswith("/"), ServesAtShop())
async def on_typed_code(
    message: Message, state: FSMContext, session: AsyncSession, member: Member
) -> None:
    if message.text in (str(labels.BACK), str(labels.CANCEL)):
        await state.clear()
        await message.answer(_("Okay."), reply_markup=menu_for(member))
        return
    await state.clear()
    await _look_up(message, session, member, message.text or "")


@router.callback_query(Counter.filter(F.action == CounterAct.TYPE_CODE), ServesAtShop())
async def on_type_code(query: CallbackQuery, state: FSMContext) -> None:
    await state.set_state(CounterCode.typing)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(_("Please type the member's code, like ABCD-EFGH."))


@router.callback_query(Counter.filter(F.action == CounterAct.CONFIRM))
async def on_confirm(
    query: CallbackQuery, callback_data: Counter, session: AsyncSession, member: Member | None
) -> None:
    if member is None:
        await query.answer(_(merchants.StaffOnly.key), show_alert=True)
        return
    seen = await redemption.confirm_redemption(session, member.id, callback_data.code)
    await query.answer(_("Done!") if not seen.replayed else None)
    if isinstance(query.message, Message):
        await query.message.edit_text(
            (query.message.html_text or "") + "\n\n" + ui.confirmed_text(seen), reply_markup=None
        )


# ---------------------------------------------------------------- the counter


@router.message(Command("shop"))
async def on_shop(message: Message, session: AsyncSession, member: Member | None) -> None:
    if member is None:
        await message.answer(_(merchants.StaffOnly.key))
        return
    shop = await merchants.staff_merchant(session, member.id)
    text, buttons = ui.shop_panel(shop)
    await message.answer(text, reply_markup=buttons)


@router.callback_query(Counter.filter(F.action == CounterAct.ITEMS), ServesAtShop())
async def on_items(query: CallbackQuery, session: AsyncSession, member: Member) -> None:
    items = await merchants.catalogue(session, member.id)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(ui.catalogue_text(items))


@router.callback_query(Counter.filter(F.action == CounterAct.ADD_ITEM), ServesAtShop())
async def on_add_item(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, member: Member
) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await shop_item.start(query.message, state, session, member)


@router.callback_query(Counter.filter(F.action == CounterAct.SALES), ServesAtShop())
async def on_sales(
    query: CallbackQuery, callback_data: Counter, session: AsyncSession, member: Member
) -> None:
    period = "month" if callback_data.period == "month" else "today"
    now = utcnow()
    sales = await shop_reports.sales(session, member.id, period, now=now)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(ui.sales_text(sales, period, now))


def _month(today: date, back: int) -> tuple[int, int]:
    index = today.year * 12 + today.month - 1 - back
    return index // 12, index % 12 + 1


@router.callback_query(Counter.filter(F.action == CounterAct.STATEMENT), ServesAtShop())
async def on_statement(
    query: CallbackQuery,
    callback_data: Counter,
    session: AsyncSession,
    member: Member,
    shop: Merchant,
) -> None:
    if callback_data.fmt not in ("pdf", "csv") or callback_data.months_back not in (0, 1):
        await query.answer(_("This button is no longer active."))
        return
    now = utcnow()
    today = now.astimezone(ZoneInfo(await _time_zone(session, shop))).date()
    year, month = _month(today, callback_data.months_back)
    statement = await shop_reports.shop_statement(session, member.id, year, month)
    language = get_i18n().current_locale
    await query.answer(_("Here are the hours your shop received."))
    if callback_data.fmt == "pdf":
        data = await asyncio.to_thread(
            shop_reports.render_shop_pdf, statement, language, _gettext, generated_at=now
        )
    else:
        data = shop_reports.render_shop_csv(statement, language, _gettext)
    if isinstance(query.message, Message):
        await query.message.answer_document(
            BufferedInputFile(data, f"statement-{year}-{month:02d}.{callback_data.fmt}"),
            caption=_("🧾 Hours received, {year}-{month:02d}").format(year=year, month=month),
        )
