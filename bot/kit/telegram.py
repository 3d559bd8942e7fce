"""The Telegram edge of `bot.kit.screens`: plain screens and keyboards as aiogram markup."""

from __future__ import annotations

from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.kit.screens import Asks, Button, Keyboard, Markup


def _reply_button(button: Button) -> KeyboardButton:
    return KeyboardButton(
        text=button.text,
        request_contact=button.asks == Asks.CONTACT or None,
        request_location=button.asks == Asks.LOCATION or None,
    )


def markup(keyboard: Markup) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | None:
    """A keyboard as Telegram takes it; aiogram markup (from older views) passes as it is."""
    if not isinstance(keyboard, Keyboard):
        return keyboard
    if keyboard.inline:
        return InlineKeyboardMarkup(
            inline_keyboard=[
                [InlineKeyboardButton(text=b.text, callback_data=b.data) for b in row]
                for row in keyboard.rows
            ]
        )
    return ReplyKeyboardMarkup(
        keyboard=[[_reply_button(b) for b in row] for row in keyboard.rows],
        resize_keyboard=True,
        is_persistent=True,
        input_field_placeholder=keyboard.placeholder,
    )


def inline_markup(keyboard: Markup) -> InlineKeyboardMarkup | None:
    shown = markup(keyboard)
    assert shown is None or isinstance(shown, InlineKeyboardMarkup)
    return shown


def plain_buttons(builder: InlineKeyboardBuilder) -> list[tuple[str, str]]:
    """Buttons a feature still adds to an aiogram builder, as plain (text, packed payload)."""
    return [(button.text, button.callback_data or "") for button in builder.buttons]
