"""Big reply keyboards: one answer per button, Back and Cancel on every step."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aiogram.types import KeyboardButton, ReplyKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot import labels, volunteer_ui
from core.languages import LANGUAGES, NATIVE_NAMES

Row = Sequence[str | KeyboardButton]


def _button(item: str | KeyboardButton) -> KeyboardButton:
    return item if isinstance(item, KeyboardButton) else KeyboardButton(text=str(item))


def reply_keyboard(
    rows: Iterable[Row], *, back: bool = True, cancel: bool = True, placeholder: str | None = None
) -> ReplyKeyboardMarkup:
    keyboard = [[_button(item) for item in row] for row in rows]
    navigation = [str(label) for label, on in ((labels.BACK, back), (labels.CANCEL, cancel)) if on]
    if navigation:
        keyboard.append([KeyboardButton(text=label) for label in navigation])
    return ReplyKeyboardMarkup(
        keyboard=keyboard,
        resize_keyboard=True,
        is_persistent=True,
        input_field_placeholder=placeholder,
    )


def in_pairs(items: Sequence[str]) -> list[list[str]]:
    return [list(items[i : i + 2]) for i in range(0, len(items), 2)]


def languages(*, back: bool) -> ReplyKeyboardMarkup:
    return reply_keyboard([[NATIVE_NAMES[code]] for code in LANGUAGES], back=back)


def main_menu() -> ReplyKeyboardMarkup:
    return reply_keyboard(
        [
            [str(labels.MENU_ASK)],
            [str(volunteer_ui.MENU_VOLUNTEER)],
            [str(labels.MENU_MY_ORDERS), str(labels.MENU_ASK_FOR_OTHER)],
            [str(labels.MENU_PASSBOOK)],
            [str(labels.MENU_FAMILY), str(labels.MENU_MY_DETAILS)],
            [str(labels.MENU_LANGUAGE), str(labels.MENU_HELP)],
        ],
        back=False,
        cancel=False,
        placeholder=_("Tap a button below"),
    )


def continue_signup() -> ReplyKeyboardMarkup:
    return reply_keyboard([[str(labels.CONTINUE_SIGNUP)]], back=False, cancel=False)
