"""A coordinator sends certificates to the members they chose on the leaderboard: the title
to sign with (one step; Back and Cancel leave with nothing sent) → sent, once per member
and period, each in the member's own language."""

from __future__ import annotations

from datetime import date

from aiogram import F
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from sqlalchemy.ext.asyncio import AsyncSession

from bot.kit import keyboards
from bot.kit.keyboards import menu_for
from bot.kit.screens import Screen
from bot.kit.steps import Steps, Turn
from core.errors import InvalidInput
from core.models import Member
from core.rewards import merchants, recognition

COORDINATOR_TITLE = __("Coordinator")


class HonourWizard(StatesGroup):
    title = State()


async def prompt(step: State, turn: Turn) -> Screen:
    return Screen(
        _("How should the certificates be signed? Your name goes with the title you type."),
        keyboards.reply([[str(COORDINATOR_TITLE)]]),
    )


async def stop(turn: Turn) -> None:
    await turn.leave(_("Okay, no certificates were sent."))


steps = Steps(
    HonourWizard,
    name="honour",
    prompt=prompt,
    cancel=stop,
    way_on=menu_for,
    path=[HonourWizard.title],
    hints={HonourWizard.title: __("Please type the title, or tap the button.")},
    reask_on=(InvalidInput,),
)
router = steps.router


async def start(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    member: Member,
    chosen: list[int],
    period: tuple[int, int],
) -> None:
    """Ask for the title; whom and which period (ordinal days) wait in the FSM data."""
    await state.update_data(honour_chosen=chosen, honour_period=list(period))
    await steps.turn(message, state, session, member).ask(HonourWizard.title)


@router.message(HonourWizard.title, F.text, ~F.text.startswith("/"))
async def on_title(message: Message, turn: Turn, member: Member) -> None:
    data = await turn.data()
    start, end = (date.fromordinal(day) for day in data["honour_period"])
    title = merchants.clean_text(message.text or "", 100)
    sent = await recognition.honour(
        turn.session, member.id, data["honour_chosen"], start, end, title=title
    )
    await turn.leave(
        _("✅ Certificates are on their way to {count} people.").format(count=len(sent))
        if sent
        else _("They have had their certificates for this period already.")
    )
