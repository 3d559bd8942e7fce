"""A seat in a class for a child: one question, the child's name (a named dependent of the
member, not an account). Back and Cancel leave it."""

from __future__ import annotations

from html import escape

from aiogram import F
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __

from bot.kit import keyboards
from bot.kit.screens import Screen
from bot.kit.steps import Steps, Turn
from core.models import Member
from core.rewards import classes
from core.rewards.tables import EnrolmentStatus


class EnrolChild(StatesGroup):
    name = State()


async def prompt(step: State, turn: Turn) -> Screen:
    return Screen(_("👧 What is the child's name? Please type it."), keyboards.reply([]))


async def stop(turn: Turn) -> None:
    await turn.leave(_("All right, nothing was changed."))


steps = Steps(
    EnrolChild,
    name="enrol_child",
    prompt=prompt,
    cancel=stop,
    way_on=lambda member: keyboards.main_menu(),
    path=[EnrolChild.name],
    hints={EnrolChild.name: __("Please type the child's name as a short text, up to 64 letters.")},
    reask_on=(classes.ChildNameInvalid,),
)
router = steps.router


async def start(turn: Turn, class_id: int) -> None:
    await turn.state.set_data({"class_id": class_id})
    await turn.ask(EnrolChild.name)


@router.message(EnrolChild.name, F.text)
async def on_name(message: Message, turn: Turn, member: Member) -> None:
    class_id = (await turn.data()).get("class_id", 0)
    name = message.text or ""
    enrolled = await classes.enrol(turn.session, member.id, class_id, child_name=name)
    shown = escape(" ".join(name.split()))
    if enrolled.status == EnrolmentStatus.ENROLLED:
        text = _("✅ {name} has a seat.").format(name=shown)
    else:
        text = _("⏳ {name} is number {position} on the waiting list.").format(
            name=shown, position=enrolled.position
        )
    await turn.leave(text)
