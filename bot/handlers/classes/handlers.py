"""Classes neighbours teach: a class's card, a seat for oneself or a child, giving a place
up; the teacher's sessions and the one attendance screen (tap names, then Save)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversations import enrol_child, new_class
from bot.handlers.classes import views as ui
from bot.handlers.classes.callbacks import ClassAction, ClassCb
from bot.kit.edit import show_in_place
from bot.kit.guards import SignedUp
from core import volunteers
from core.db import utcnow
from core.models import Member
from core.rewards import classes

router = Router(name="classes")
router.callback_query.filter(SignedUp())


async def show_card(
    query: CallbackQuery, session: AsyncSession, member: Member, class_id: int
) -> None:
    card = await classes.class_card(session, member.id, class_id)
    places = await classes.places_of(session, member.id, class_id)
    zone = await ui.time_zone_of(session, member)
    await show_in_place(query, ui.card_text(card, places, zone), ui.card_buttons(card, places))


@router.callback_query(ClassCb.filter(F.action == ClassAction.VIEW))
async def on_view(
    query: CallbackQuery, callback_data: ClassCb, session: AsyncSession, member: Member
) -> None:
    await query.answer()
    await show_card(query, session, member, callback_data.item)


@router.callback_query(ClassCb.filter(F.action == ClassAction.ENROL))
async def on_enrol(
    query: CallbackQuery, callback_data: ClassCb, session: AsyncSession, member: Member
) -> None:
    enrolled = await classes.enrol(session, member.id, callback_data.item)
    await query.answer(ui.enrolled_answer(enrolled.status, enrolled.position))
    await show_card(query, session, member, callback_data.item)


@router.callback_query(ClassCb.filter(F.action == ClassAction.CHILD))
async def on_child(
    query: CallbackQuery,
    callback_data: ClassCb,
    session: AsyncSession,
    member: Member,
    state: FSMContext,
) -> None:
    await classes.class_card(session, member.id, callback_data.item)  # of their branch
    await query.answer()
    if isinstance(query.message, Message):
        turn = enrol_child.steps.turn(query.message, state, session, member)
        await enrol_child.start(turn, callback_data.item)


@router.callback_query(ClassCb.filter(F.action == ClassAction.LEAVE))
async def on_leave(
    query: CallbackQuery, callback_data: ClassCb, session: AsyncSession, member: Member
) -> None:
    await classes.cancel_enrolment(session, member.id, callback_data.value)
    await query.answer(_("Your place is given up. Thank you for letting me know."))
    await show_card(query, session, member, callback_data.item)


@router.callback_query(ClassCb.filter(F.action == ClassAction.TEACHING))
async def on_teaching(query: CallbackQuery, session: AsyncSession, member: Member) -> None:
    if not member.is_volunteer:
        raise volunteers.NotAVolunteer()
    taught = await classes.teaching(session, member.id)
    zone = await ui.time_zone_of(session, member)
    await query.answer()
    await show_in_place(
        query, ui.teaching_text(taught, zone), ui.teaching_buttons(taught, zone, utcnow())
    )


def _roll_key(session_id: int) -> str:
    return f"roll:{session_id}"


async def _show_roll(
    query: CallbackQuery,
    session: AsyncSession,
    member: Member,
    session_id: int,
    present: set[int],
) -> None:
    taught = await classes.session_of(session, member.id, session_id)
    lines = await classes.roll(session, member.id, session_id)
    zone = await ui.time_zone_of(session, member)
    await show_in_place(
        query, ui.roll_text(taught, lines, zone), ui.roll_buttons(taught, lines, present)
    )


@router.callback_query(ClassCb.filter(F.action == ClassAction.ROLL))
async def on_roll(
    query: CallbackQuery,
    callback_data: ClassCb,
    session: AsyncSession,
    member: Member,
    state: FSMContext,
) -> None:
    lines = await classes.roll(session, member.id, callback_data.item)
    present = {line.enrolment_id for line in lines if line.present}
    await state.update_data({_roll_key(callback_data.item): sorted(present)})
    await query.answer()
    await _show_roll(query, session, member, callback_data.item, present)


@router.callback_query(ClassCb.filter(F.action == ClassAction.TOGGLE))
async def on_toggle(
    query: CallbackQuery,
    callback_data: ClassCb,
    session: AsyncSession,
    member: Member,
    state: FSMContext,
) -> None:
    seated = {
        line.enrolment_id for line in await classes.roll(session, member.id, callback_data.item)
    }
    if callback_data.value not in seated:
        await query.answer(_("This button is no longer active."))
        return
    key = _roll_key(callback_data.item)
    present = set((await state.get_data()).get(key, []))
    present ^= {callback_data.value}
    await state.update_data({key: sorted(present & seated)})
    await query.answer()
    await _show_roll(query, session, member, callback_data.item, present & seated)


@router.callback_query(ClassCb.filter(F.action == ClassAction.SAVE))
async def on_save(
    query: CallbackQuery,
    callback_data: ClassCb,
    session: AsyncSession,
    member: Member,
    state: FSMContext,
) -> None:
    seated = {
        line.enrolment_id for line in await classes.roll(session, member.id, callback_data.item)
    }
    present = set((await state.get_data()).get(_roll_key(callback_data.item), [])) & seated
    marked = await classes.mark_attendance(session, member.id, callback_data.item, present)
    taught = await classes.session_of(session, member.id, callback_data.item)
    zone = await ui.time_zone_of(session, member)
    await query.answer(_("Saved."))
    await show_in_place(
        query,
        ui.saved_text(
            taught, marked.present, marked.teacher_paid, zone, pool_short=marked.pool_short
        ),
        ui.roll_buttons(
            taught, await classes.roll(session, member.id, callback_data.item), present
        ),
    )


@router.callback_query(ClassCb.filter(F.action == ClassAction.NEW))
async def on_new(
    query: CallbackQuery, session: AsyncSession, member: Member, state: FSMContext
) -> None:
    if not member.is_volunteer:
        raise classes.TeachersOnly()
    await query.answer()
    if isinstance(query.message, Message):
        await new_class.start(new_class.steps.turn(query.message, state, session, member))
