"""Answering a button press by changing the message that carries the button."""

from __future__ import annotations

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, Message

from bot.kit.screens import Markup, Screen
from bot.kit.telegram import inline_markup


async def show_in_place(query: CallbackQuery, text: str, buttons: Markup) -> None:
    """Edit the pressed message (a voice note's caption); a message too old to edit gets a
    fresh one instead. A message that already says this (a repeated tap) is left as it is."""
    markup = inline_markup(buttons)
    message = query.message
    if not isinstance(message, Message):
        return
    try:
        if message.voice is not None:
            await message.edit_caption(caption=text, reply_markup=markup)
        else:
            await message.edit_text(text, reply_markup=markup)
    except TelegramBadRequest as error:
        if "message is not modified" not in str(error):
            await message.answer(text, reply_markup=markup)


async def show_screen(query: CallbackQuery, screen: Screen) -> None:
    """`show_in_place` for a whole screen."""
    await show_in_place(query, screen.text, screen.keyboard)


async def close_with(query: CallbackQuery, text: str) -> None:
    """The tap settled what the message was about: `text` takes its place, with no buttons
    left to tap."""
    await query.answer()
    await show_in_place(query, text, None)
