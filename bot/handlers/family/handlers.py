"""Family: give a relative a code, enter a relative's code, confirm, and unlink.

A member linked as a relative may ask for help on the member's behalf ("🤲 Ask for someone
else"). The code goes one way: the member who will be helped gives it; the relative enters
it; the member confirms with a button. Either side can unlink at any time.
"""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, or_f
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.family import views
from bot.handlers.family.callbacks import Act, FamilyAction, FamilyAnswer
from bot.kit import keyboards, labels
from bot.kit.edit import show_in_place, show_screen
from bot.kit.guards import Known, SignedUp
from bot.kit.keyboards import menu_for
from bot.kit.replies import finish_typing
from bot.kit.screens import Screen
from bot.kit.telegram import markup
from core import family
from core.errors import DomainError
from core.models import FamilyLinkStatus, Member

router = Router(name="family")


class FamilyCode(StatesGroup):
    typing = State()


async def overview(session: AsyncSession, member: Member) -> Screen:
    return views.overview(await family.links_of(session, member.id))


FAMILY = or_f(Command("family"), F.text == labels.MENU_FAMILY)


@router.message(FAMILY, ~SignedUp())
async def on_family_not_signed_up(message: Message, member: Member | None) -> None:
    await message.answer(
        _("Please finish signing up first: send /start."), reply_markup=menu_for(member)
    )


@router.message(FAMILY, SignedUp())
async def on_family(
    message: Message, state: FSMContext, session: AsyncSession, member: Member
) -> None:
    if await state.get_state() == FamilyCode.typing.state:
        await state.clear()
    screen = await overview(session, member)
    await message.answer(screen.text, reply_markup=markup(screen.keyboard))


@router.callback_query(FamilyAction.filter(F.action == Act.MENU), Known())
async def on_family_menu(query: CallbackQuery, session: AsyncSession, member: Member) -> None:
    await query.answer()
    await show_screen(query, await overview(session, member))


@router.callback_query(FamilyAction.filter(F.action == Act.CODE), Known(), F.message.as_("message"))
async def on_give_code(
    query: CallbackQuery, message: Message, session: AsyncSession, member: Member
) -> None:
    invite = await family.create_invite(session, member.id)
    await query.answer()
    code = f"{invite.code[:3]} {invite.code[3:]}"
    await message.answer(
        _(
            "Your code is <b>{code}</b>.\n\nGive it to your son, daughter or another "
            "relative. They open “👨‍👩‍👧 Family” in this bot, tap “I have a code” and "
            "type it. Then I will ask you to confirm. The code works for one day."
        ).format(code=code),
        reply_markup=keyboards.main_menu(),
    )


@router.callback_query(
    FamilyAction.filter(F.action == Act.ENTER), Known(), F.message.as_("message")
)
async def on_enter_code(query: CallbackQuery, message: Message, state: FSMContext) -> None:
    await query.answer()
    await state.set_state(FamilyCode.typing)
    await message.answer(
        _("Please type the code your relative gave you."),
        reply_markup=keyboards.reply_keyboard([], back=True, cancel=True, placeholder="123 456"),
    )


async def _link(
    query: CallbackQuery, session: AsyncSession, member: Member, link_id: int
) -> family.Link | None:
    """The member's link the button names; None (and the overview again) if it is gone."""
    link = next((x for x in await family.links_of(session, member.id) if x.id == link_id), None)
    if link is None:
        await query.answer(_("This button is no longer active."))
        await show_screen(query, await overview(session, member))
    return link


@router.callback_query(FamilyAction.filter(F.action == Act.UNLINK), Known())
async def on_unlink(
    query: CallbackQuery, callback_data: FamilyAction, session: AsyncSession, member: Member
) -> None:
    link = await _link(query, session, member, callback_data.link_id)
    if link is None:
        return
    await query.answer()
    await show_screen(query, views.unlink_question(link))


@router.callback_query(FamilyAction.filter(F.action == Act.UNLINK_YES), Known())
async def on_unlink_yes(
    query: CallbackQuery, callback_data: FamilyAction, session: AsyncSession, member: Member
) -> None:
    link = await _link(query, session, member, callback_data.link_id)
    if link is None:
        return
    await family.unlink(session, member.id, link.id)
    await query.answer(_("Done."))
    await show_screen(query, await overview(session, member))


@router.callback_query(Known(), F.data.startswith(FamilyAction.__prefix__ + ":"))
async def on_unknown_family_action(query: CallbackQuery) -> None:
    await query.answer(_("Sorry, I did not understand that."))


@router.message(FamilyCode.typing, F.text.in_([labels.BACK, labels.CANCEL]))
async def on_code_back(message: Message, state: FSMContext, member: Member) -> None:
    await finish_typing(message, state, member, _("Okay, nothing changed."))


@router.message(FamilyCode.typing, F.text, ~F.text.startswith("/"))
async def on_code(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    member: Member,
) -> None:
    try:
        request = await family.use_invite(session, member.id, message.text or "")
    except (family.InviteNotValid, family.OwnInvite) as error:
        await message.answer(_(error.key))
        return
    except DomainError as error:
        await finish_typing(message, state, member, _(error.key))
        return
    asked = _("Thank you! I have asked {name} to confirm, and I will tell you when they do.")
    await finish_typing(message, state, member, asked.format(name=escape(request.member.name)))


@router.message(FamilyCode.typing)
async def on_code_not_text(message: Message) -> None:
    await message.answer(_("Please type the code your relative gave you."))


@router.callback_query(FamilyAnswer.filter())
async def on_answer(
    query: CallbackQuery,
    callback_data: FamilyAnswer,
    session: AsyncSession,
    member: Member | None,
) -> None:
    if member is None:
        await query.answer(_("This button is no longer active."))
        return
    result = await family.answer_link(
        session, member.id, callback_data.link_id, accept=callback_data.accept
    )
    if result.replayed:
        await query.answer(_("You already answered this."))
        if isinstance(query.message, Message):
            try:
                await query.message.edit_reply_markup(reply_markup=None)
            except TelegramBadRequest:
                pass
        return
    await query.answer()
    relative = escape(result.relative.name)
    if result.link.status == FamilyLinkStatus.ACTIVE:
        text = _(
            "Done! {name} can now ask for help for you. You can undo it under “👨‍👩‍👧 Family”."
        ).format(name=relative)
    else:
        text = _("Okay, no link was made.")
    await show_in_place(query, text, None)
