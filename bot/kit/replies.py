"""Ending a question the member answers by typing (a reason, a family code, an amount),
asked outside the step machine of `bot.kit.steps`."""

from __future__ import annotations

from aiogram.fsm.context import FSMContext
from aiogram.types import Message

from bot.kit.keyboards import menu_for
from core.models import Member


async def finish_typing(message: Message, state: FSMContext, member: Member, text: str) -> None:
    """The typed question is over, answered, left with Back or Cancel, or refused: nothing
    more is asked; `text` says how it ended, above the member's menu."""
    await state.clear()
    await message.answer(text, reply_markup=menu_for(member))
