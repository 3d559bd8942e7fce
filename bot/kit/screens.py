"""What a screen says, as plain data: text, buttons with their payloads, media.

Views build these; the Telegram edge (`bot.kit.telegram`) turns them into aiogram objects
when a handler answers or the sender sends. This is the seam for a second messaging
platform (the WeChat and KakaoTalk of the Chinese and Korean seeds): it would render the
same `Screen`s and notices with an edge of its own, and features and `core/` stay as they
are. The wizards (`bot.kit.steps`), asking for help and "My requests" build their screens
this way; older views still hand aiogram markup straight to `Send` and `show_in_place`,
which accept both.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aiogram.types import InlineKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Member


class Asks(StrEnum):
    """What a reply-keyboard button sends instead of its text."""

    CONTACT = "contact"
    LOCATION = "location"


@dataclass(frozen=True)
class Button:
    """A button. Under a message (`Keyboard.inline`) a tap sends back `data`, a packed
    callback payload; on the member's keyboard it sends its text, or what it `asks` for."""

    text: str
    data: str | None = None
    asks: Asks | None = None


@dataclass(frozen=True)
class Keyboard:
    """Rows of buttons: under the message (`inline`), or in place of the member's keyboard
    (with a `placeholder` in the empty text field)."""

    rows: tuple[tuple[Button, ...], ...]
    inline: bool = False
    placeholder: str | None = None


def inline(rows: Iterable[Iterable[tuple[str, str]]]) -> Keyboard:
    """Buttons under a message, from rows of (text, packed payload)."""
    return Keyboard(
        tuple(tuple(Button(text, data=data) for text, data in row) for row in rows), inline=True
    )


def one_per_row(buttons: Sequence[tuple[str, str]]) -> Keyboard:
    return inline([button] for button in buttons)


def grid(buttons: Sequence[tuple[str, str]], width: int) -> list[Sequence[tuple[str, str]]]:
    """Rows of (text, packed payload), `width` to a row."""
    return [buttons[i : i + width] for i in range(0, len(buttons), width)]


@dataclass(frozen=True)
class Screen:
    """One message: its text, its buttons, and a voice note it goes as (`text` the caption)."""

    text: str
    keyboard: Keyboard | None = None
    voice: str | None = None


Markup = Keyboard | InlineKeyboardMarkup | None


@dataclass(frozen=True)
class Attachment:
    """A file that follows a notice's words, made when it goes out (off the event loop: a
    PDF takes a second or two); `photo` sends it as a picture shown in the chat."""

    file_name: str
    make: Callable[[], bytes]
    photo: bool = False


@dataclass(frozen=True)
class Send:
    """A new message; with `voice` (a file id) the voice note goes, `text` as its caption,
    with `photo` the photo does. `more` are parts of a text too long for one message, sent
    after it; the buttons go under the last part. Its `attachments` (files) follow it, in
    order."""

    text: str
    markup: Markup = None
    voice: str | None = None
    photo: str | None = None
    more: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class Edit:
    """A sent message's new words: its caption if it went as a voice note, else its text."""

    chat_id: str
    message_id: int
    text: str
    caption: bool = False


Notice = Send | Edit | None
# A notice's renderer: (session, payload, reader) → what to show; None: nothing to say any more.
Renderer = Callable[[AsyncSession, dict[str, Any], Member], Awaitable[Notice]]
