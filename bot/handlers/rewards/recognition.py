"""Year-end recognition: a coordinator's leaderboard of hours given (/leaderboard), choosing
whom to honour; a member's own certificate for a period (/certificate); and the one-tap
choice to stay off the leaderboard (shown under “👤 My details”)."""

from __future__ import annotations

import asyncio
from datetime import date
from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import get_i18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversations import honour
from bot.handlers.rewards import views as ui
from bot.handlers.rewards.callbacks import Honour, HonourAct, Mine, MineAct
from bot.handlers.rewards.handlers import time_zone_of
from bot.kit.edit import show_in_place
from bot.kit.guards import SignedUp
from core import coordinators, pdf_preview
from core.db import utcnow
from core.models import Member
from core.rewards import recognition
from core.rewards.tables import RecognitionOptOut

router = Router(name="recognition")
router.message.filter(SignedUp())
router.callback_query.filter(SignedUp())


async def _today(session: AsyncSession, member: Member) -> date:
    return utcnow().astimezone(ZoneInfo(await time_zone_of(session, member))).date()


async def _coordinator_branch(session: AsyncSession, member: Member) -> int:
    """The branch the coordinator works in; anyone else is refused kindly."""
    return (await coordinators.working_branch(session, member.id))[1]


@router.message(Command("leaderboard"))
async def on_leaderboard(message: Message, session: AsyncSession, member: Member) -> None:
    await _coordinator_branch(session, member)
    await message.answer(
        _("🏅 Hours given: which period?"),
        reply_markup=ui.period_buttons(await _today(session, member), Honour),
    )


async def _board(
    session: AsyncSession, state: FSMContext, member: Member, data: Honour
) -> tuple[str, InlineKeyboardMarkup]:
    start, end = date.fromordinal(data.start), date.fromordinal(data.end)
    leaders = await recognition.leaderboard(
        session, member.id, await _coordinator_branch(session, member), start, end
    )
    saved = await state.get_data()
    same_period = saved.get("honour_period") == [data.start, data.end]
    chosen = set(saved.get("honour_chosen", [])) if same_period else set()
    listed = {leader.member_id for leader in leaders}
    if data.action == HonourAct.TOGGLE and data.member_id in listed:
        chosen ^= {data.member_id}
    await state.update_data(honour_period=[data.start, data.end], honour_chosen=sorted(chosen))
    return ui.leaderboard(leaders, chosen, start, end)


@router.callback_query(Honour.filter(F.action == HonourAct.PERIOD))
async def on_period(
    query: CallbackQuery,
    callback_data: Honour,
    state: FSMContext,
    session: AsyncSession,
    member: Member,
) -> None:
    view = await _board(session, state, member, callback_data)
    await query.answer()
    await show_in_place(query, *view)


@router.callback_query(Honour.filter(F.action == HonourAct.TOGGLE))
async def on_toggle(
    query: CallbackQuery,
    callback_data: Honour,
    state: FSMContext,
    session: AsyncSession,
    member: Member,
) -> None:
    view = await _board(session, state, member, callback_data)
    await query.answer()
    await show_in_place(query, *view)


@router.callback_query(Honour.filter(F.action == HonourAct.SEND))
async def on_send(
    query: CallbackQuery,
    callback_data: Honour,
    state: FSMContext,
    session: AsyncSession,
    member: Member,
) -> None:
    await _coordinator_branch(session, member)
    saved = await state.get_data()
    chosen = saved.get("honour_chosen", [])
    if saved.get("honour_period") != [callback_data.start, callback_data.end] or not chosen:
        await query.answer(_("This button is no longer active."), show_alert=True)
        return
    await query.answer()
    if isinstance(query.message, Message):
        period = (callback_data.start, callback_data.end)
        await honour.start(query.message, state, session, member, chosen, period)


# ---------------------------------------------------------------- a member's own


@router.message(Command("certificate"))
async def on_certificate(message: Message, session: AsyncSession, member: Member) -> None:
    await message.answer(
        _("🏅 A certificate of the hours you gave: for which period?"),
        reply_markup=ui.period_buttons(await _today(session, member), Mine),
    )


def _gettext(message: str) -> str:
    return _(message)


@router.callback_query(Mine.filter(F.action == MineAct.CERTIFICATE))
async def on_my_certificate(
    query: CallbackQuery, callback_data: Mine, session: AsyncSession, member: Member
) -> None:
    start, end = date.fromordinal(callback_data.start), date.fromordinal(callback_data.end)
    made = await recognition.certificate_for(session, member.id, start, end)
    made = recognition.Certificate(**{**_fields(made), "language": get_i18n().current_locale})
    await query.answer(_("Here is your certificate."))
    # A PDF takes a second or two (its fonts are cut to the text): off the event loop.
    pdf = await asyncio.to_thread(recognition.render_certificate_pdf, made, _gettext)
    if not isinstance(query.message, Message):
        return
    await query.message.answer_document(
        BufferedInputFile(pdf, f"certificate-{start.isoformat()}.pdf"),
        caption=_("🏅 {hours} given, {period}.").format(
            hours=ui.hours(made.minutes), period=ui.period_text(start, end)
        ),
    )
    if pdf_preview.available():
        picture = await asyncio.to_thread(pdf_preview.first_page_png, pdf)
        await query.message.answer_photo(BufferedInputFile(picture, "certificate.png"))


def _fields(certificate: recognition.Certificate) -> dict:
    return {name: getattr(certificate, name) for name in certificate.__dataclass_fields__}


async def leaderboard_setting(
    session: AsyncSession, member: Member
) -> tuple[str, InlineKeyboardMarkup]:
    """The member's choice about the leaderboard, with the button that changes it."""
    return ui.leaderboard_choice(await session.get(RecognitionOptOut, member.id) is not None)


@router.callback_query(Mine.filter(F.action == MineAct.LEADERBOARD_OFF))
async def on_leaderboard_off(query: CallbackQuery, session: AsyncSession, member: Member) -> None:
    await recognition.stay_off_leaderboard(session, member.id, True)
    await query.answer()
    await show_in_place(query, *ui.leaderboard_choice(True))


@router.callback_query(Mine.filter(F.action == MineAct.LEADERBOARD_ON))
async def on_leaderboard_on(query: CallbackQuery, session: AsyncSession, member: Member) -> None:
    await recognition.stay_off_leaderboard(session, member.id, False)
    await query.answer()
    await show_in_place(query, *ui.leaderboard_choice(False))
