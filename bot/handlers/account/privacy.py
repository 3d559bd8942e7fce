"""/mydata shows everything kept about a member, and sends it as a file to keep ("👤 My
details" shows it without the file); /deleteme erases it after a confirmation."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, StateFilter, and_f, or_f
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, Message, ReplyKeyboardRemove
from aiogram.utils.i18n import get_i18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.account.callbacks import EraseChoice
from bot.handlers.broadcasts import views as announcements
from bot.handlers.rewards import recognition
from bot.kit import labels
from bot.kit.guards import Known
from bot.kit.keyboards import continue_signup, menu_for
from bot.kit.screens import one_per_row
from bot.kit.telegram import markup
from core import catalog, members, mydata
from core.db import utcnow
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


def home_text(member: Member, data: members.PersonalData, not_given: str) -> str:
    """Where the member said they live, as roughly as we keep it."""
    language = member.language or "en"
    if member.home_latitude is None:
        return not_given
    if data.neighbourhood is not None:
        return catalog.localized(data.neighbourhood.names, language)
    if data.home_near is not None:
        return _("near {area}").format(area=catalog.localized(data.home_near.names, language))
    if data.branch is not None:
        return _("a place you shared, away from the neighbourhoods of {branch}").format(
            branch=catalog.localized(data.branch.names, language)
        )
    return _("a place you shared")


def my_data_text(member: Member, data: members.PersonalData) -> str:
    language = member.language or "en"
    branch: Branch | None = data.branch
    not_given = _("not given")
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
        _("Neighbourhood: {value}").format(value=escape(home_text(member, data, not_given))),
        _("Joined: {value}").format(
            value=format_date(member.created_at, branch.time_zone if branch else "UTC", language)
        ),
        "",
        _("To erase all of this, send /deleteme."),
    ]
    return "\n".join(lines)


MY_DATA = or_f(Command("mydata"), and_f(StateFilter(None), F.text == labels.MENU_MY_DETAILS))


@router.message(MY_DATA, ~Known())
async def on_my_data_stranger(message: Message) -> None:
    await message.answer(_("We keep nothing about you yet."), reply_markup=continue_signup())


@router.message(MY_DATA, Known())
async def on_my_data(
    message: Message, session: AsyncSession, member: Member, command: CommandObject | None = None
) -> None:
    """The settings first, each a message its buttons change in place; then what we keep,
    last, under the menu, where the eye lands; asked by /mydata, the same as a file."""
    data = await members.personal_data(session, member.id)
    if member.onboarded_at is not None:
        text, buttons = await recognition.leaderboard_setting(session, member)
        await message.answer(text, reply_markup=buttons)
        await message.answer(
            announcements.announcements_text(member.announcements),
            reply_markup=announcements.announcements_buttons(member.announcements),
        )
    await message.answer(my_data_text(member, data), reply_markup=menu_for(member))
    if command is None:
        return
    now = utcnow()
    record = await mydata.member_record(session, member.id, now)
    await message.answer_document(
        BufferedInputFile(
            mydata.render_text(record, get_i18n().current_locale, _gettext),
            mydata.export_name(now, record.time_zone),
        ),
        caption=_("📄 Everything we keep about you, as a file to keep."),
    )


def _gettext(message: str) -> str:
    return _(message)


@router.message(Command("deleteme"))
async def on_delete_me(message: Message, member: Member | None) -> None:
    if member is None:
        await message.answer(_("We keep nothing about you yet."))
        return
    buttons = one_per_row(
        [
            (_("Yes, erase my details"), EraseChoice(confirm=True).pack()),
            (_("No, keep them"), EraseChoice(confirm=False).pack()),
        ]
    )
    await message.answer(
        _(
            "This erases your name, phone number and neighbourhood, and I will forget you. "
            "Your time credit history stays, without your name, so the books still add up.\n\n"
            "Are you sure?"
        ),
        reply_markup=markup(buttons),
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
