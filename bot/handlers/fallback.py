"""The last word: anything no other handler took gets a short, kind pointer to /help."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.handlers.common import menu_for
from core.models import Member

router = Router(name="fallback")


@router.message(F.text.startswith("/"))
async def on_unknown_command(message: Message, member: Member | None) -> None:
    await message.answer(
        _("I do not know that command. Send /help to see what I can do."),
        reply_markup=menu_for(member),
    )


@router.message()
async def on_anything_else(message: Message, member: Member | None) -> None:
    if member is None or member.onboarded_at is None:
        text = _("Hello! Tap the button below to sign up, or send /help.")
    else:
        text = _("Please tap one of the buttons below, or send /help.")
    await message.answer(text, reply_markup=menu_for(member))


@router.callback_query()
async def on_stale_button(query: CallbackQuery) -> None:
    await query.answer(_("This button is no longer active."))
