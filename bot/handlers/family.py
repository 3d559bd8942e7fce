"""Family: give a relative a code, enter a relative's code, confirm, and unlink.

A member linked as a relative may ask for help on the member's behalf ("🤲 Ask for someone
else"). The code goes one way: the member who will be helped gives it; the relative enters
it; the member confirms with a button. Either side can unlink at any time.
"""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keyboards, labels
from bot.callbacks import FamilyAction, FamilyAnswer
from bot.handlers.common import menu_for
from bot.replies import show_in_place
from core import family
from core.errors import DomainError
from core.models import FamilyLinkStatus, Member

router = Router(name="family")


class FamilyCode(StatesGroup):
    typing = State()


async def overview(session: AsyncSession, member: Member) -> tuple[str, InlineKeyboardMarkup]:
    links = await family.links_of(session, member.id)
    lines = [
        _("<b>👨‍👩‍👧 Family</b>"),
        _(
            "A relative you link with can ask for help for you, and hears how your "
            "requests go. Either of you can unlink at any time."
        ),
        "",
    ]
    buttons = InlineKeyboardBuilder()
    for link in links:
        name = escape(link.other.name)
        if link.status == FamilyLinkStatus.PENDING:
            lines.append(_("• {name}: waiting for a yes").format(name=name))
        elif link.i_am_relative:
            lines.append(_("• You can ask for help for {name}").format(name=name))
        else:
            lines.append(_("• {name} can ask for help for you").format(name=name))
        buttons.button(
            text=str(labels.FAMILY_UNLINK).format(name=link.other.name),
            callback_data=FamilyAction(action="unlink", link_id=link.id),
        )
    if not links:
        lines.append(_("You are not linked with anyone yet."))
    buttons.button(text=str(labels.FAMILY_GIVE_CODE), callback_data=FamilyAction(action="code"))
    buttons.button(text=str(labels.FAMILY_HAVE_CODE), callback_data=FamilyAction(action="enter"))
    buttons.adjust(1)
    return "\n".join(lines), buttons.as_markup()


@router.message(Command("family"))
@router.message(F.text == labels.MENU_FAMILY)
async def on_family(
    message: Message, state: FSMContext, session: AsyncSession, member: Member | None
) -> None:
    if member is None or member.onboarded_at is None:
        await message.answer(
            _("Please finish signing up first: send /start."), reply_markup=menu_for(member)
        )
        return
    if await state.get_state() == FamilyCode.typing.state:
        await state.clear()
    text, markup = await overview(session, member)
    await message.answer(text, reply_markup=markup)


@router.callback_query(FamilyAction.filter())
async def on_family_action(
    query: CallbackQuery,
    callback_data: FamilyAction,
    state: FSMContext,
    session: AsyncSession,
    member: Member | None,
) -> None:
    if member is None or not isinstance(query.message, Message):
        await query.answer(_("This button is no longer active."))
        return
    action = callback_data.action
    if action == "menu":
        await query.answer()
        await show_in_place(query, *await overview(session, member))
    elif action == "code":
        invite = await family.create_invite(session, member.id)
        await query.answer()
        code = f"{invite.code[:3]} {invite.code[3:]}"
        await query.message.answer(
            _(
                "Your code is <b>{code}</b>.\n\nGive it to your son, daughter or another "
                "relative. They open “👨‍👩‍👧 Family” in this bot, tap “I have a code” and "
                "type it. Then I will ask you to confirm. The code works for one day."
            ).format(code=code),
            reply_markup=keyboards.main_menu(),
        )
    elif action == "enter":
        await query.answer()
        await state.set_state(FamilyCode.typing)
        await query.message.answer(
            _("Please type the code your relative gave you."),
            reply_markup=keyboards.reply_keyboard(
                [], back=True, cancel=True, placeholder="123 456"
            ),
        )
    elif action in ("unlink", "unlink_yes"):
        link = next(
            (x for x in await family.links_of(session, member.id) if x.id == callback_data.link_id),
            None,
        )
        if link is None:
            await query.answer(_("This button is no longer active."))
            await show_in_place(query, *await overview(session, member))
            return
        if action == "unlink":
            await query.answer()
            buttons = InlineKeyboardBuilder()
            buttons.button(
                text=str(labels.FAMILY_UNLINK_YES),
                callback_data=FamilyAction(action="unlink_yes", link_id=link.id),
            )
            buttons.button(text=str(labels.BACK), callback_data=FamilyAction(action="menu"))
            buttons.adjust(1)
            await show_in_place(
                query,
                _("Unlink {name}? You can link again later with a new code.").format(
                    name=escape(link.other.name)
                ),
                buttons.as_markup(),
            )
            return
        await family.unlink(session, member.id, link.id)
        await query.answer(_("Done."))
        await show_in_place(query, *await overview(session, member))
    else:
        await query.answer(_("Sorry, I did not understand that."))


@router.message(FamilyCode.typing, F.text.in_([labels.BACK, labels.CANCEL]))
async def on_code_back(message: Message, state: FSMContext, member: Member) -> None:
    await state.clear()
    await message.answer(_("Okay, nothing changed."), reply_markup=menu_for(member))


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
        await state.clear()
        await message.answer(_(error.key), reply_markup=menu_for(member))
        return
    await state.clear()
    await message.answer(
        _("Thank you! I have asked {name} to confirm, and I will tell you when they do.").format(
            name=escape(request.member.name)
        ),
        reply_markup=menu_for(member),
    )


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
    try:
        result = await family.answer_link(
            session, member.id, callback_data.link_id, accept=callback_data.accept
        )
    except DomainError as error:
        await query.answer(_(error.key))
        return
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
