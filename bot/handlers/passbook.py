"""My passbook: balance and entries page by page, PDF and CSV exports, hours given to family."""

from __future__ import annotations

from html import escape
from typing import Any

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import get_i18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot import labels
from bot.callbacks import GiftStep, PassbookExport, PassbookNav
from bot.handlers.common import menu_for
from core import gifts, statements
from core.db import utcnow
from core.errors import DomainError
from core.ledger import InsufficientCredit
from core.models import Member

router = Router(name="passbook")

GIFT_AMOUNTS = ((30, labels.HALF_HOUR), (60, labels.ONE_HOUR), (120, labels.TWO_HOURS))


class GiftAmount(StatesGroup):
    typing = State()


def _language() -> str:
    return get_i18n().current_locale


def _gettext(message: str) -> str:
    return _(message)


def hours(minutes: int) -> str:
    return statements.duration(minutes, _gettext)


# ---------------------------------------------------------------- the passbook in chat


def passbook_text(view: statements.PassbookView) -> str:
    summary = view.summary
    lines = [_("📒 <b>Your passbook</b>"), ""]
    if not summary.has_account and not view.lines:
        lines += [
            _("You have 0 hours for now."),
            "",
            _(
                "You earn hours by helping a neighbour: every hour you help goes into your "
                "passbook, to use when you need a hand yourself. Tap “🙋 Ask for help” when "
                "you need it, or tell us you would like to help."
            ),
        ]
        return "\n".join(lines)
    lines.append(_("Balance: <b>{hours}</b>").format(hours=hours(summary.balance)))
    if summary.held:
        lines.append(
            _("Set aside for accepted requests: {hours}").format(hours=hours(summary.held))
        )
    lines.append(
        _("This year: earned {earned}, spent {spent}").format(
            earned=hours(summary.earned_this_year), spent=hours(summary.spent_this_year)
        )
    )
    if not view.lines:
        lines += ["", _("No entries yet.")]
        return "\n".join(lines)
    lines.append("")
    language = _language()
    for line in view.lines:
        date = statements.entry_date(line, summary.time_zone, language)
        what = statements.what_for(line, language, _gettext)
        whom = statements.with_whom(line, _gettext)
        lines.append(f"<b>{escape(date)}</b> · {escape(what)}")
        lines.append(
            "    "
            + _("{amount} with {whom} → {balance}").format(
                amount=statements.signed_duration(line.amount, _gettext),
                whom=escape(whom),
                balance=hours(line.balance_after),
            )
        )
    if view.page or view.has_more:
        lines += ["", _("Page {number}").format(number=view.page + 1)]
    return "\n".join(lines)


def passbook_buttons(view: statements.PassbookView) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    nav = []
    if view.page > 0:
        nav.append((labels.PASSBOOK_NEWER, PassbookNav(page=view.page - 1, anchor=view.anchor)))
    if view.has_more:
        nav.append((labels.PASSBOOK_OLDER, PassbookNav(page=view.page + 1, anchor=view.anchor)))
    for label, data in nav:
        buttons.button(text=str(label), callback_data=data)
    buttons.button(text=str(labels.EXPORT_PDF), callback_data=PassbookExport(fmt="pdf"))
    buttons.button(text=str(labels.EXPORT_CSV), callback_data=PassbookExport(fmt="csv"))
    buttons.button(text=str(labels.GIVE_HOURS), callback_data=GiftStep(action="start"))
    buttons.adjust(*([len(nav)] if nav else []), 2, 1)
    return buttons.as_markup()


async def _edit(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None) -> None:
    if isinstance(query.message, Message):
        try:
            await query.message.edit_text(text, reply_markup=markup)
        except TelegramBadRequest:
            await query.message.answer(text, reply_markup=markup)


def _signed_up(member: Member | None) -> bool:
    return member is not None and member.onboarded_at is not None


@router.message(Command("passbook"))
@router.message(F.text == labels.MENU_PASSBOOK)
async def on_passbook(
    message: Message, state: FSMContext, session: AsyncSession, member: Member | None
) -> None:
    if not _signed_up(member):
        await message.answer(
            _("Please finish signing up first, then your passbook is here."),
            reply_markup=menu_for(member),
        )
        return
    assert member is not None
    if await state.get_state() == GiftAmount.typing.state:
        await state.clear()
    view = await statements.passbook_view(session, member.id)
    await message.answer(passbook_text(view), reply_markup=passbook_buttons(view))


@router.callback_query(PassbookNav.filter())
async def on_page(
    query: CallbackQuery, callback_data: PassbookNav, session: AsyncSession, member: Member | None
) -> None:
    if not _signed_up(member):
        await query.answer(_("This button is no longer active."))
        return
    assert member is not None
    try:
        view = await statements.passbook_view(
            session, member.id, page=callback_data.page, anchor=callback_data.anchor
        )
    except DomainError as error:
        await query.answer(_(error.key))
        return
    await query.answer()
    await _edit(query, passbook_text(view), passbook_buttons(view))


@router.callback_query(PassbookExport.filter())
async def on_export(
    query: CallbackQuery,
    callback_data: PassbookExport,
    session: AsyncSession,
    member: Member | None,
) -> None:
    if not _signed_up(member) or callback_data.fmt not in ("pdf", "csv"):
        await query.answer(_("This button is no longer active."))
        return
    assert member is not None
    now = utcnow()
    statement = await statements.statement(session, member.id, now=now)
    language = _language()
    if callback_data.fmt == "pdf":
        data = statements.render_pdf(statement, language, _gettext, generated_at=now)
    else:
        data = statements.render_csv(statement, language, _gettext)
    await query.answer(_("Here is your passbook."))
    if isinstance(query.message, Message):
        await query.message.answer_document(
            BufferedInputFile(data, statements.export_name(now, callback_data.fmt)),
            caption=_("📒 Your passbook, as of today."),
        )


# ---------------------------------------------------------------- hours to family


def _cancel_button(buttons: InlineKeyboardBuilder) -> None:
    buttons.button(text=str(labels.CANCEL), callback_data=GiftStep(action="no"))


def amount_buttons(relative_id: int) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    for minutes, label in GIFT_AMOUNTS:
        data = GiftStep(action="amount", to=relative_id, minutes=minutes)
        buttons.button(text=str(label), callback_data=data)
    buttons.button(
        text=str(labels.GIFT_OTHER_AMOUNT), callback_data=GiftStep(action="typed", to=relative_id)
    )
    _cancel_button(buttons)
    buttons.adjust(3, 1, 1)
    return buttons.as_markup()


def confirmation(relative: Member, minutes: int) -> tuple[str, InlineKeyboardMarkup]:
    buttons = InlineKeyboardBuilder()
    buttons.button(
        text=str(labels.GIFT_CONFIRM),
        callback_data=GiftStep(action="ok", to=relative.id, minutes=minutes),
    )
    _cancel_button(buttons)
    buttons.adjust(2)
    text = _("Give <b>{hours}</b> to {name}?").format(
        hours=hours(minutes), name=escape(relative.name)
    )
    return text, buttons.as_markup()


async def _relative(session: AsyncSession, member: Member, relative_id: int) -> Member | None:
    return next((m for m in await gifts.relatives(session, member.id) if m.id == relative_id), None)


def _not_enough(error: InsufficientCredit) -> str:
    available = int(error.params.get("available", 0))
    needed = int(error.params.get("needed", 0))
    return _(
        "Sorry, you have {available} to give, and this gift needs {needed}. "
        "Helping a neighbour earns you more hours."
    ).format(available=hours(available), needed=hours(needed))


@router.callback_query(GiftStep.filter(F.action == "start"))
async def on_gift_start(query: CallbackQuery, session: AsyncSession, member: Member | None) -> None:
    if not _signed_up(member):
        await query.answer(_("This button is no longer active."))
        return
    assert member is not None
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
    buttons = InlineKeyboardBuilder()
    for relative in relatives:
        buttons.button(
            text="👤 " + relative.name, callback_data=GiftStep(action="to", to=relative.id)
        )
    _cancel_button(buttons)
    buttons.adjust(1)
    await query.message.answer(
        _("Who would you like to give hours to?"), reply_markup=buttons.as_markup()
    )


@router.callback_query(GiftStep.filter(F.action.in_({"to", "amount", "typed"})))
async def on_gift_choice(
    query: CallbackQuery,
    callback_data: GiftStep,
    state: FSMContext,
    session: AsyncSession,
    member: Member | None,
) -> None:
    if not _signed_up(member):
        await query.answer(_("This button is no longer active."))
        return
    assert member is not None
    relative = await _relative(session, member, callback_data.to)
    if relative is None:
        await query.answer(_(gifts.NotFamily.key))
        return
    await query.answer()
    if callback_data.action == "to":
        text = _("How much time would you like to give to {name}?").format(
            name=escape(relative.name)
        )
        await _edit(query, text, amount_buttons(relative.id))
    elif callback_data.action == "typed":
        await state.set_state(GiftAmount.typing)
        await state.update_data(gift_to=relative.id)
        await _edit(
            query,
            _("Please type the time in minutes (like 45) or hours and minutes (like 1:30)."),
            None,
        )
    elif not 1 <= callback_data.minutes <= gifts.MAX_GIFT_MINUTES:
        await _edit(query, _(gifts.AmountInvalid.key), amount_buttons(relative.id))
    else:
        await _edit(query, *confirmation(relative, callback_data.minutes))


@router.message(GiftAmount.typing, F.text.in_([labels.BACK, labels.CANCEL]))
async def on_gift_typing_cancel(message: Message, state: FSMContext, member: Member) -> None:
    await state.clear()
    await message.answer(_("Okay, nothing was given."), reply_markup=menu_for(member))


@router.message(GiftAmount.typing, F.text, ~F.text.startswith("/"))
async def on_gift_typed(
    message: Message, state: FSMContext, session: AsyncSession, member: Member
) -> None:
    data: dict[str, Any] = await state.get_data()
    try:
        minutes = gifts.parse_minutes(message.text or "")
    except DomainError as error:
        await message.answer(_(error.key))
        return
    relative = await _relative(session, member, int(data.get("gift_to", 0)))
    await state.clear()
    if relative is None:
        await message.answer(_(gifts.NotFamily.key), reply_markup=menu_for(member))
        return
    text, markup = confirmation(relative, minutes)
    await message.answer(text, reply_markup=markup)


@router.callback_query(GiftStep.filter(F.action == "no"))
async def on_gift_cancel(query: CallbackQuery, state: FSMContext) -> None:
    if await state.get_state() == GiftAmount.typing.state:
        await state.clear()
    await query.answer()
    await _edit(query, _("Okay, nothing was given."), None)


@router.callback_query(GiftStep.filter(F.action == "ok"))
async def on_gift_confirm(
    query: CallbackQuery,
    callback_data: GiftStep,
    session: AsyncSession,
    member: Member | None,
) -> None:
    if not _signed_up(member) or not isinstance(query.message, Message):
        await query.answer(_("This button is no longer active."))
        return
    assert member is not None
    # The confirmation message names the gift: a second tap on it replays the first.
    key = f"tg-gift:{query.message.chat.id}:{query.message.message_id}"
    try:
        gift = await gifts.give_hours(
            session, member.id, callback_data.to, callback_data.minutes, key=key
        )
    except InsufficientCredit as error:
        await query.answer()
        await _edit(query, _not_enough(error), None)
        return
    except DomainError as error:
        await query.answer(_(error.key), show_alert=True)
        return
    if gift.replayed:
        await query.answer(_("Already given."))
        return
    await query.answer(_("Given!"))
    await _edit(
        query,
        _("✅ You gave {hours} to {name}.\nYour balance is now {balance}.").format(
            hours=hours(gift.minutes),
            name=escape(gift.recipient.name),
            balance=hours(gift.giver_balance),
        ),
        None,
    )

