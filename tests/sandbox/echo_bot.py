"""A tiny aiogram 3 bot used to drive the sandbox end to end (tests and the browser test)."""

from __future__ import annotations

import io

from aiogram import Bot, Dispatcher, F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from aiogram.utils.text_decorations import html_decoration

MENU = ReplyKeyboardMarkup(
    keyboard=[
        [KeyboardButton(text="Echo"), KeyboardButton(text="Buttons")],
        [
            KeyboardButton(text="Share phone", request_contact=True),
            KeyboardButton(text="Share location", request_location=True),
        ],
        [KeyboardButton(text="Hide keyboard")],
    ],
    resize_keyboard=True,
)
CHOICES = InlineKeyboardMarkup(
    inline_keyboard=[
        [
            InlineKeyboardButton(text="Alert", callback_data="alert"),
            InlineKeyboardButton(text="Toast", callback_data="toast"),
        ],
        [
            InlineKeyboardButton(text="Edit", callback_data="edit"),
            InlineKeyboardButton(text="Website", url="https://example.org"),
        ],
    ]
)
GREETINGS = {"zh": "你好", "ko": "안녕하세요", "en": "Hello"}


def make_router() -> Router:
    router = Router(name="echo")

    @router.message(CommandStart())
    async def start(message: Message, command: CommandObject) -> None:
        user = message.from_user
        language = ((user.language_code if user else None) or "en").split("-")[0]
        greeting = GREETINGS.get(language, GREETINGS["en"])
        name = html_decoration.quote(user.first_name if user else "there")
        text = f"{greeting}, <b>{name}</b>!"
        if command.args:
            text += f" (start: <code>{html_decoration.quote(command.args)}</code>)"
        await message.answer(text, parse_mode="HTML", reply_markup=MENU)

    @router.message(Command("language"))
    async def language(message: Message) -> None:
        code = (message.from_user.language_code if message.from_user else None) or "en"
        await message.answer(f"Language: {code}", reply_markup=MENU)

    @router.message(F.text == "Buttons")
    async def buttons(message: Message) -> None:
        await message.answer("Pick one:", reply_markup=CHOICES)

    @router.message(F.text == "Hide keyboard")
    async def hide(message: Message) -> None:
        await message.answer("Keyboard hidden", reply_markup=ReplyKeyboardRemove())

    @router.message(F.contact)
    async def contact(message: Message) -> None:
        assert message.contact is not None
        await message.answer(f"Thanks, your phone is {message.contact.phone_number}")

    @router.message(F.location)
    async def location(message: Message) -> None:
        assert message.location is not None
        place = f"{message.location.latitude:.4f}, {message.location.longitude:.4f}"
        await message.answer(f"You are at {place}")

    @router.message(F.voice)
    async def voice(message: Message, bot: Bot) -> None:
        assert message.voice is not None
        buffer = io.BytesIO()
        await bot.download(message.voice, destination=buffer)
        size = len(buffer.getvalue())
        await message.answer(f"Voice note of {message.voice.duration} s ({size} bytes)")

    @router.message(F.sticker)
    async def sticker(message: Message) -> None:
        assert message.sticker is not None
        await message.answer(f"Nice sticker {message.sticker.emoji}")

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(message.text or "")

    @router.callback_query(F.data == "alert")
    async def alert(query: CallbackQuery) -> None:
        await query.answer("You pressed Alert", show_alert=True)

    @router.callback_query(F.data == "toast")
    async def toast(query: CallbackQuery) -> None:
        await query.answer("Toast!")

    @router.callback_query(F.data == "edit")
    async def edit(query: CallbackQuery) -> None:
        assert isinstance(query.message, Message)
        await query.message.edit_text("Edited <i>in place</i>", parse_mode="HTML")
        await query.answer()

    return router


def make_dispatcher() -> Dispatcher:
    dp = Dispatcher()
    dp.include_router(make_router())
    return dp
