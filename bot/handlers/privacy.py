"""/mydata shows everything kept about a member; /deleteme erases it after a confirmation."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message, ReplyKeyboardRemove
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot import labels
from bot.callbacks import EraseChoice
from bot.handlers.common import menu_for
from core import catalog, members
from core.formatting import format_date
from core.languages import NATIVE_NAMES
from core.models import Branch, Member

router = Router(name="privacy")


def _roles(member: Member) -> str:
    names = [
        name
        for name, on in (
            (_("resident"), member.is_resident),
            (_("volunteer"), member.is_volunteer),
            (_("coordinator"), member.is_coordinator),
        )
        if on
    ]
    return ", ".join(names) or "–"


@router.message(Command("mydata"))
@router.message(StateFilter(None), F.text == labels.MENU_MY_DETAILS)
async def on_my_data(message: Message, session: AsyncSession, member: Member | None) -> None:
    if member is None:
        await message.answer(_("We keep nothing about you yet."), reply_markup=menu_for(member))
        return
    data = await members.personal_data(session, member.id)
    language = member.language or "en"
    branch: Branch | None = data.branch
    not_given = _("not given")
    if member.home_latitude is None:
        home = not_given
    elif data.neighbourhood is not None:
        home = catalog.localized(data.neighbourhood.names, language)
    else:
        home = _("near {latitude:.2f}, {longitude:.2f}").format(
            latitude=member.home_latitude, longitude=member.home_longitude
        )
    lines = [
        _("Here is everything we keep about you:"),
        "",
        _("Name: {value}").format(value=escape(member.name) or not_given),
        _("Language: {value}").format(value=NATIVE_NAMES.get(language, language)),
        _("Branch: {value}").format(
            value=escape(catalog.localized(branch.names, language)) if branch else not_given
        ),
        _("Taking part as: {value}").format(value=_roles(member)),
        _("Phone: {value}").format(value=escape(member.phone or not_given)),
        _("Home area: {value}").format(value=escape(home)),
        _("Joined: {value}").format(
            value=format_date(member.created_at, branch.time_zone if branch else "UTC", language)
        ),
        "",
        _("To erase all of this, send /deleteme."),
    ]
    await message.answer("\n".join(lines), reply_markup=menu_for(member))


@router.message(Command("deleteme"))
async def on_delete_me(message: Message, member: Member | None) -> None:
    if member is None:
        await message.answer(_("We keep nothing about you yet."))
        return
    buttons = InlineKeyboardBuilder()
    buttons.button(text=_("Yes, erase my details"), callback_data=EraseChoice(confirm=True))
    buttons.button(text=_("No, keep them"), callback_data=EraseChoice(confirm=False))
    buttons.adjust(1)
    await message.answer(
        _(
            "This erases your name, phone number and home area, and I will forget you. "
            "Your time credit history stays, without your name, so the books still add up.\n\n"
            "Are you sure?"
        ),
        reply_markup=buttons.as_markup(),
    )


@router.callback_query(EraseChoice.filter())
async def on_erase_choice(
    query: CallbackQuery,
    callback_data: EraseChoice,
    state: FSMContext,
    session: AsyncSession,
    member: Member | None,
) -> None:
    if member is None:
        await query.answer(_("This button is no longer active."))
        return
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
    if not callback_data.confirm:
        await query.answer(_("Okay, nothing was erased."))
        return
    await members.erase_member(session, member.id)
    await state.clear()
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(
            _("Your details are erased. You are welcome back any time: just send /start."),
            reply_markup=ReplyKeyboardRemove(),
        )
