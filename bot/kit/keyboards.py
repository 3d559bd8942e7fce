"""Big reply keyboards: one answer per button, Back and Cancel on every step."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aiogram.types import KeyboardButton, ReplyKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.kit import labels
from bot.kit.cache import per_language
from bot.kit.screens import Asks, Button, Keyboard
from bot.kit.telegram import markup
from core.languages import LANGUAGES, NATIVE_NAMES
from core.models import Member

Row = Sequence[str | Button | KeyboardButton]


def _button(item: str | Button | KeyboardButton) -> Button:
    """A plain button; aiogram's (from older views) keeps what it asks for."""
    if isinstance(item, Button):
        return item
    if isinstance(item, KeyboardButton):
        asks = Asks.CONTACT if item.request_contact else None
        asks = Asks.LOCATION if item.request_location else asks
        return Button(item.text, asks=asks)
    return Button(str(item))


def reply(
    rows: Iterable[Row], *, back: bool = True, cancel: bool = True, placeholder: str | None = None
) -> Keyboard:
    """The member's keyboard, as plain data: one answer per button, then Back and Cancel."""
    keyboard = [tuple(_button(item) for item in row) for row in rows]
    navigation = [str(label) for label, on in ((labels.BACK, back), (labels.CANCEL, cancel)) if on]
    if navigation:
        keyboard.append(tuple(Button(label) for label in navigation))
    return Keyboard(tuple(keyboard), placeholder=placeholder)


def reply_keyboard(
    rows: Iterable[Row], *, back: bool = True, cancel: bool = True, placeholder: str | None = None
) -> ReplyKeyboardMarkup:
    shown = markup(reply(rows, back=back, cancel=cancel, placeholder=placeholder))
    assert isinstance(shown, ReplyKeyboardMarkup)
    return shown


def in_pairs(items: Sequence[str]) -> list[list[str]]:
    return [list(items[i : i + 2]) for i in range(0, len(items), 2)]


def languages(*, back: bool) -> ReplyKeyboardMarkup:
    return reply_keyboard([[NATIVE_NAMES[code]] for code in LANGUAGES], back=back)


@per_language
def main_menu() -> ReplyKeyboardMarkup:
    return reply_keyboard(
        [
            [str(labels.MENU_ASK), str(labels.MENU_ASK_BY_VOICE)],
            [str(labels.MENU_VOLUNTEER), str(labels.MENU_NEAR_ME)],
            [str(labels.MENU_MY_ORDERS), str(labels.MENU_ASK_FOR_OTHER)],
            [str(labels.MENU_PASSBOOK), str(labels.MENU_SPEND)],
            [str(labels.MENU_MARKET), str(labels.MENU_NEED)],
            [str(labels.MENU_FAMILY), str(labels.MENU_MY_DETAILS)],
            [str(labels.MENU_LANGUAGE), str(labels.MENU_HELP)],
        ],
        back=False,
        cancel=False,
        placeholder=_("Tap a button below"),
    )


@per_language
def continue_signup() -> ReplyKeyboardMarkup:
    return reply_keyboard([[str(labels.CONTINUE_SIGNUP)]], back=False, cancel=False)


def menu_for(member: Member | None) -> ReplyKeyboardMarkup:
    """The main menu for a signed-up member; else the way back into signing up."""
    if member is not None and member.onboarded_at is not None:
        return main_menu()
    return continue_signup()
