"""Commands that work everywhere: /help, /cancel, /language, and the main menu's own buttons."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BotCommand, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands import command_list, coordinator_commands
from bot.conversations import onboarding
from bot.conversations.onboarding import LANGUAGE_BY_NAME
from bot.kit import keyboards, labels
from bot.kit.cache import per_language
from bot.kit.keyboards import menu_for
from core import members
from core.models import Member

router = Router(name="common")


class Settings(StatesGroup):
    language = State()


def help_text(member: Member | None = None) -> str:
    """The commands of the menu Telegram shows, so the two always agree; a coordinator's
    own below everyone's."""
    return _help_text(member is not None and member.is_coordinator)


@per_language
def _help_text(coordinator: bool) -> str:
    text = _(
        "I am the time bank helper. Neighbours help each other here, "
        "and every hour of help earns an hour of credit."
    )
    text += "\n\n" + _lines(command_list())
    if coordinator:
        text += "\n\n" + _("For coordinators:") + "\n" + _lines(coordinator_commands())
    return text


def _lines(commands: list[BotCommand]) -> str:
    return "\n".join(f"/{command.command} – {command.description}" for command in commands)


@router.message(Command("help"))
@router.message(StateFilter(None), F.text == labels.MENU_HELP)
async def on_help(message: Message, member: Member | None) -> None:
    await message.answer(help_text(member), reply_markup=menu_for(member))


@router.message(Command("cancel"))
async def on_cancel(message: Message, state: FSMContext, member: Member | None) -> None:
    """Leave any conversation; whatever was already saved stays saved."""
    had_state = await state.get_state() is not None
    await state.clear()
    text = _("Okay, cancelled.") if had_state else _("There is nothing to cancel.")
    await message.answer(text, reply_markup=menu_for(member))


@router.message(Command("language"))
@router.message(StateFilter(None), F.text == labels.MENU_LANGUAGE)
async def on_language(
    message: Message, state: FSMContext, session: AsyncSession, member: Member | None
) -> None:
    if member is None:
        await onboarding.start_onboarding(onboarding.steps.turn(message, state, session, member))
        return
    await state.set_state(Settings.language)
    await message.answer(
        _("Which language would you like me to speak?"),
        reply_markup=keyboards.languages(back=True),
    )


@router.message(Settings.language, F.text.in_(LANGUAGE_BY_NAME))
async def on_language_chosen(
    message: Message, state: FSMContext, session: AsyncSession, member: Member, i18n: I18n
) -> None:
    language = LANGUAGE_BY_NAME[message.text]
    await members.set_language(session, member.id, language)
    i18n.current_locale = language
    await state.clear()
    await message.answer(
        _("Done! I will speak English from now on."), reply_markup=menu_for(member)
    )


@router.message(Settings.language, F.text.in_([labels.BACK, labels.CANCEL]))
async def on_language_back(message: Message, state: FSMContext, member: Member) -> None:
    await state.clear()
    await message.answer(_("Okay, nothing changed."), reply_markup=menu_for(member))


@router.message(Settings.language)
async def on_language_reprompt(message: Message) -> None:
    await message.answer(
        _("Please choose one of the buttons below."), reply_markup=keyboards.languages(back=True)
    )
