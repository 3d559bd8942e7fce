"""My passbook: balance and entries page by page, PDF and CSV exports, hours given to family."""

from __future__ import annotations

import asyncio
from html import escape
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, or_f
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.passbook import views
from bot.handlers.passbook.callbacks import Gift, GiftStep, PassbookExport, PassbookNav
from bot.handlers.passbook.views import hours
from bot.kit import labels
from bot.kit.edit import show_in_place, show_screen
from bot.kit.formatters import error_text
from bot.kit.formatters import language as current_language
from bot.kit.guards import SignedUp
from bot.kit.keyboards import menu_for
from bot.kit.replies import finish_typing
from bot.kit.telegram import markup
from core import gifts, statements
from core.db import utcnow
from core.ledger import InsufficientCredit
from core.models import Member

router = Router(name="passbook")


class GiftAmount(StatesGroup):
    typing = State()


PASSBOOK = or_f(Command("passbook"), F.text == labels.MENU_PASSBOOK)


@router.message(PASSBOOK, ~SignedUp())
async def on_passbook_not_signed_up(message: Message, member: Member | None) -> None:
    await message.answer(
        _("Please finish signing up first, then your passbook is here."),
        reply_markup=menu_for(member),
    )


@router.message(PASSBOOK, SignedUp())
async def on_passbook(
    message: Message, state: FSMContext, session: AsyncSession, member: Member
) -> None:
    if await state.get_state() == GiftAmount.typing.state:
        await state.clear()
    view = await statements.passbook_view(session, member.id)
    await message.answer(
        views.passbook_text(view), reply_markup=markup(views.passbook_buttons(view))
    )


@router.callback_query(PassbookNav.filter(), SignedUp())
async def on_page(
    query: CallbackQuery, callback_data: PassbookNav, session: AsyncSession, member: Member
) -> None:
    view = await statements.passbook_view(
        session, member.id, page=callback_data.page, anchor=callback_data.anchor
    )
    await query.answer()
    await show_in_place(query, views.passbook_text(view), views.passbook_buttons(view))


@router.callback_query(PassbookExport.filter(F.fmt.in_({"pdf", "csv"})), SignedUp())
async def on_export(
    query: CallbackQuery, callback_data: PassbookExport, session: AsyncSession, member: Member
) -> None:
    now = utcnow()
    statement = await statements.statement(session, member.id, now=now)
    language = current_language()
    await query.answer(_("Here is your passbook."))
    # A PDF takes a second or two (its fonts are cut to the text): off the event loop.
    if callback_data.fmt == "pdf":
        data = await asyncio.to_thread(
            statements.render_pdf, statement, language, views.gettext, generated_at=now
        )
    else:
        data = statements.render_csv(statement, language, views.gettext)
    if isinstance(query.message, Message):
        await query.message.answer_document(
            BufferedInputFile(
                data, statements.export_name(now, statement.summary.time_zone, callback_data.fmt)
            ),
            caption=_("📒 Your passbook, as of today."),
        )


# ---------------------------------------------------------------- hours to family


async def _relative(session: AsyncSession, member: Member, relative_id: int) -> Member | None:
    return next((m for m in await gifts.relatives(session, member.id) if m.id == relative_id), None)


@router.callback_query(GiftStep.filter(F.action == Gift.START), SignedUp())
async def on_gift_start(query: CallbackQuery, session: AsyncSession, member: Member) -> None:
    relatives = await gifts.relatives(session, member.id)
    await query.answer()
    if not isinstance(query.message, Message):
        return
    if not relatives:
        await query.message.answer(
            _(
                "You can give hours to family once you are linked. "
                "Tap “👨‍👩‍👧 Family” to link with them first."
            )
        )
        return
    screen = views.relatives_screen(relatives)
    await query.message.answer(screen.text, reply_markup=markup(screen.keyboard))


async def relative_chosen(
    query: CallbackQuery, callback_data: GiftStep, session: AsyncSession, member: Member
) -> Member | None:
    """The relative the gift button names, if still linked; else the member is told."""
    relative = await _relative(session, member, callback_data.to)
    if relative is None:
        await query.answer(error_text(gifts.NotFamily()))
        return None
    await query.answer()
    return relative


@router.callback_query(GiftStep.filter(F.action == Gift.TO), SignedUp())
async def on_gift_to(
    query: CallbackQuery, callback_data: GiftStep, session: AsyncSession, member: Member
) -> None:
    relative = await relative_chosen(query, callback_data, session, member)
    if relative is None:
        return
    text = _("How much time would you like to give to {name}?").format(name=escape(relative.name))
    await show_in_place(query, text, views.amount_buttons(relative.id))


@router.callback_query(GiftStep.filter(F.action == Gift.TYPED), SignedUp())
async def on_gift_type_amount(
    query: CallbackQuery,
    callback_data: GiftStep,
    state: FSMContext,
    session: AsyncSession,
    member: Member,
) -> None:
    relative = await relative_chosen(query, callback_data, session, member)
    if relative is None:
        return
    await state.set_state(GiftAmount.typing)
    await state.update_data(gift_to=relative.id)
    await show_in_place(
        query,
        _("Please type the time in minutes (like 45) or hours and minutes (like 1:30)."),
        None,
    )


@router.callback_query(GiftStep.filter(F.action == Gift.AMOUNT), SignedUp())
async def on_gift_amount(
    query: CallbackQuery, callback_data: GiftStep, session: AsyncSession, member: Member
) -> None:
    relative = await relative_chosen(query, callback_data, session, member)
    if relative is None:
        return
    if not 1 <= callback_data.minutes <= gifts.MAX_GIFT_MINUTES:
        await show_in_place(
            query, error_text(gifts.AmountInvalid()), views.amount_buttons(relative.id)
        )
    else:
        await show_screen(query, views.confirmation(relative, callback_data.minutes))


@router.message(GiftAmount.typing, F.text.in_([labels.BACK, labels.CANCEL]))
async def on_gift_typing_cancel(message: Message, state: FSMContext, member: Member) -> None:
    await finish_typing(message, state, member, _("Okay, nothing was given."))


@router.message(GiftAmount.typing, F.text, ~F.text.startswith("/"))
async def on_gift_typed(
    message: Message, state: FSMContext, session: AsyncSession, member: Member
) -> None:
    data: dict[str, Any] = await state.get_data()
    minutes = gifts.parse_minutes(message.text or "")
    relative = await _relative(session, member, int(data.get("gift_to", 0)))
    await state.clear()
    if relative is None:
        await message.answer(_(gifts.NotFamily.key), reply_markup=menu_for(member))
        return
    screen = views.confirmation(relative, minutes)
    await message.answer(screen.text, reply_markup=markup(screen.keyboard))


@router.callback_query(GiftStep.filter(F.action == Gift.NO))
async def on_gift_cancel(query: CallbackQuery, state: FSMContext) -> None:
    if await state.get_state() == GiftAmount.typing.state:
        await state.clear()
    await query.answer()
    await show_in_place(query, _("Okay, nothing was given."), None)


@router.callback_query(GiftStep.filter(F.action == Gift.OK), SignedUp(), F.message.as_("message"))
async def on_gift_confirm(
    query: CallbackQuery,
    callback_data: GiftStep,
    message: Message,
    session: AsyncSession,
    member: Member,
) -> None:
    # The confirmation message names the gift: a second tap on it replays the first.
    key = f"tg-gift:{message.chat.id}:{message.message_id}"
    try:
        gift = await gifts.give_hours(
            session, member.id, callback_data.to, callback_data.minutes, key=key
        )
    except InsufficientCredit as error:
        await query.answer()
        await show_in_place(query, views.not_enough(error), None)
        return
    if gift.replayed:
        await query.answer(_("Already given."))
        return
    await query.answer(_("Given!"))
    await show_in_place(
        query,
        _("✅ You gave {hours} to {name}.\nYour balance is now {balance}.").format(
            hours=hours(gift.minutes),
            name=escape(gift.recipient.name),
            balance=hours(gift.giver_balance),
        ),
        None,
    )
