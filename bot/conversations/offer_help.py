"""A volunteer offers a kind of help: one question after the kind, a few words of what
they can do (or Skip). It is offered at the times their volunteer profile says they are
free. Back and Cancel leave it."""

from __future__ import annotations

from html import escape

from aiogram import F
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from sqlalchemy.ext.asyncio import AsyncSession

from bot.kit import keyboards, labels
from bot.kit.formatters import category_text
from bot.kit.screens import Screen
from bot.kit.steps import Steps, Turn
from core import volunteers
from core.errors import InvalidInput
from core.models import Category, Member
from core.rewards import offers


class OfferHelp(StatesGroup):
    describe = State()


async def prompt(step: State, turn: Turn) -> Screen:
    return Screen(
        _("What can you do? A few words, like “I teach smartphone basics”. Or skip."),
        keyboards.reply([[str(labels.SKIP)]]),
    )


async def stop(turn: Turn) -> None:
    await turn.leave(_("All right, nothing was changed."))


steps = Steps(
    OfferHelp,
    name="offer_help",
    prompt=prompt,
    cancel=stop,
    way_on=lambda member: keyboards.main_menu(),
    path=[OfferHelp.describe],
    hints={OfferHelp.describe: __("Please type a few words, or tap “Skip ➡️”.")},
    reask_on=(InvalidInput,),
)
router = steps.router


async def start(
    message: Message, state: FSMContext, session: AsyncSession, member: Member, category_id: int
) -> None:
    turn = steps.turn(message, state, session, member)
    await state.set_data({"category_id": category_id})
    await turn.ask(OfferHelp.describe)


@router.message(OfferHelp.describe, F.text, ~F.text.startswith("/"))
async def on_describe(message: Message, turn: Turn, member: Member) -> None:
    category_id = (await turn.data()).get("category_id", 0)
    description = "" if message.text == labels.SKIP else message.text or ""
    profile = await volunteers.profile(turn.session, member.id)
    offer = await offers.offer_skill(
        turn.session,
        member.id,
        category_id,
        description=description,
        availability=profile.availability or offers.ALL_SLOTS,
    )
    category = await turn.session.get(Category, offer.category_id)
    assert category is not None
    await turn.leave(
        _("🎉 Thank you! Neighbours near you can now ask you for {kind}.").format(
            kind=escape(category_text(category))
        )
    )
