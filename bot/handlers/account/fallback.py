"""The last word: anything no other handler took gets a short, kind pointer to /help."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.kit.guards import SignedUp
from bot.kit.keyboards import continue_signup, main_menu, menu_for
from core.models import Member

router = Router(name="fallback")


@router.message(F.text.startswith("/"))
async def on_unknown_command(message: Message, member: Member | None) -> None:
    await message.answer(
        _("I do not know that command. Send /help to see what I can do."),
        reply_markup=menu_for(member),
    )


@router.message(SignedUp())
async def on_anything_else(message: Message) -> None:
    await message.answer(
        _("Please tap one of the buttons below, or send /help."), reply_markup=main_menu()
    )


@router.message()
async def on_stranger(message: Message) -> None:
    await message.answer(
        _("Hello! Tap the button below to sign up, or send /help."),
        reply_markup=continue_signup(),
    )


@router.callback_query()
async def on_stale_button(query: CallbackQuery) -> None:
    await query.answer(_("This button is no longer active."))
