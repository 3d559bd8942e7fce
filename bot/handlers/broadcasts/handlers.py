"""Broadcasts in the chat, besides composing one (`bot.conversations.broadcast`): the
coordinator's Pause, Resume and Stop under the progress message, /broadcasts (the branch's
history), a member's "I'll come", and the one-tap announcements setting."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.broadcasts import views
from bot.handlers.broadcasts.callbacks import (
    Announcements,
    ComeToEvent,
    CoordinatorTool,
    Steer,
    SteerBroadcast,
    Tool,
)
from bot.kit.edit import show_in_place
from bot.kit.formatters import error_text, language
from bot.kit.guards import SignedUp
from core import broadcasts
from core.broadcasts.tables import Broadcast
from core.coordinators import coordinator_branches
from core.models import Branch, Member
from core.volunteers import CoordinatorOnly

router = Router(name="broadcasts")


async def _show_progress(
    query: CallbackQuery, session: AsyncSession, member: Member, broadcast_id: int
) -> None:
    figures = await broadcasts.progress(session, broadcast_id, member.id)
    found = await session.get(Broadcast, broadcast_id)
    assert found is not None
    text = views.progress_text(figures, views.opening(found.texts, language()))
    await show_in_place(query, text, views.progress_buttons(figures))


@router.callback_query(SteerBroadcast.filter(F.action == Steer.PAUSE), SignedUp())
async def on_pause(
    query: CallbackQuery, callback_data: SteerBroadcast, session: AsyncSession, member: Member
) -> None:
    await broadcasts.pause(session, callback_data.broadcast_id, member.id)
    await query.answer(_("Paused. Nothing more goes out until you tap Resume."))
    await _show_progress(query, session, member, callback_data.broadcast_id)


@router.callback_query(SteerBroadcast.filter(F.action == Steer.RESUME), SignedUp())
async def on_resume(
    query: CallbackQuery, callback_data: SteerBroadcast, session: AsyncSession, member: Member
) -> None:
    await broadcasts.resume(session, callback_data.broadcast_id, member.id)
    await query.answer(_("Sending again."))
    await _show_progress(query, session, member, callback_data.broadcast_id)


@router.callback_query(SteerBroadcast.filter(F.action == Steer.CANCEL), SignedUp())
async def on_stop(
    query: CallbackQuery, callback_data: SteerBroadcast, session: AsyncSession, member: Member
) -> None:
    await broadcasts.cancel(session, callback_data.broadcast_id, member.id)
    await query.answer(_("Stopped. Nothing more goes out; what was sent stays sent."))
    await _show_progress(query, session, member, callback_data.broadcast_id)


@router.callback_query(ComeToEvent.filter(), SignedUp())
async def on_coming(
    query: CallbackQuery, callback_data: ComeToEvent, session: AsyncSession, member: Member
) -> None:
    first = await broadcasts.say_coming(session, callback_data.broadcast_id, member.id)
    if first:
        await query.answer(_("Thank you! We look forward to seeing you."), show_alert=True)
    else:
        await query.answer(_("You have told us already. See you there!"))


async def _history(session: AsyncSession, member: Member | None) -> str:
    branches = coordinator_branches(member) if member is not None else ()
    if member is None or not branches:
        return error_text(CoordinatorOnly())
    branch = await session.get(Branch, branches[0])
    assert branch is not None
    lines = await broadcasts.history(session, branch.id, member.id)
    return views.history_text(lines, branch.time_zone)


@router.message(Command("broadcasts"))
async def on_history(message: Message, session: AsyncSession, member: Member | None) -> None:
    await message.answer(await _history(session, member))


@router.callback_query(CoordinatorTool.filter(F.action == Tool.HISTORY))
async def on_history_button(
    query: CallbackQuery, session: AsyncSession, member: Member | None
) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(await _history(session, member))


@router.callback_query(Announcements.filter(), SignedUp())
async def on_announcements(
    query: CallbackQuery, callback_data: Announcements, session: AsyncSession, member: Member
) -> None:
    await broadcasts.set_announcements(session, member.id, callback_data.wanted)
    await query.answer(
        _("Done. I will send you announcements again.")
        if callback_data.wanted
        else _("Done. I will not send you announcements any more.")
    )
    await show_in_place(
        query,
        views.announcements_text(callback_data.wanted),
        views.announcements_buttons(callback_data.wanted),
    )


@router.callback_query(SteerBroadcast.filter())
@router.callback_query(ComeToEvent.filter())
@router.callback_query(Announcements.filter())
async def on_stranger(query: CallbackQuery) -> None:
    """A button of a broadcast pressed by someone who has not signed up (or no more)."""
    await query.answer(_("Sorry, this button is not for you."), show_alert=True)
