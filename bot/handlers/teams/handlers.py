"""/team: the teams a member is in (every team of the branch for a coordinator); a team's
members and its hours this month; its leader sees when each member is free and writes to
them all through the outbox."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.teams import views as ui
from bot.handlers.teams.callbacks import TeamAct, TeamAction
from bot.kit import keyboards, labels
from bot.kit.edit import show_in_place
from bot.kit.guards import SignedUp
from core import teams
from core.coordinators import coordinator_branches
from core.db import utcnow
from core.models import Branch, Member, Team

router = Router(name="teams")


class TeamWriting(StatesGroup):
    typing = State()


async def _month_start(session: AsyncSession, team: Team) -> datetime:
    branch = await session.get(Branch, team.branch_id)
    zone = ZoneInfo(branch.time_zone if branch else "UTC")
    local = utcnow().astimezone(zone)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


async def _team_screen(session: AsyncSession, member: Member, team_id: int):
    team = await teams.team_of(session, team_id=team_id, member_id=member.id)
    people = await teams.members_of(session, team.id or 0)
    leads = await teams.may_lead(session, team, member.id)
    free = await teams.availability_of(session, [p.id for p in people if p.id]) if leads else {}
    minutes = await teams.team_minutes(session, team.id or 0, await _month_start(session, team))
    return ui.team_text(team, people, free, minutes, leads=leads), ui.team_buttons(
        team, leads=leads
    )


@router.message(Command("team"), SignedUp())
async def on_teams(message: Message, session: AsyncSession, member: Member) -> None:
    found, forms = await teams.teams_to_show(session, member), bool(coordinator_branches(member))
    await message.answer(
        ui.list_text(found, coordinator=forms),
        reply_markup=ui.list_buttons(found, coordinator=forms),
    )


@router.callback_query(TeamAction.filter(F.action == TeamAct.LIST), SignedUp())
async def on_list(query: CallbackQuery, session: AsyncSession, member: Member) -> None:
    found, forms = await teams.teams_to_show(session, member), bool(coordinator_branches(member))
    await query.answer()
    await show_in_place(
        query, ui.list_text(found, coordinator=forms), ui.list_buttons(found, coordinator=forms)
    )


@router.callback_query(TeamAction.filter(F.action == TeamAct.VIEW), SignedUp())
async def on_view(
    query: CallbackQuery, callback_data: TeamAction, session: AsyncSession, member: Member
) -> None:
    text, markup = await _team_screen(session, member, callback_data.team_id)
    await query.answer()
    await show_in_place(query, text, markup)


@router.callback_query(TeamAction.filter(F.action == TeamAct.WRITE), SignedUp())
async def on_write(
    query: CallbackQuery,
    callback_data: TeamAction,
    state: FSMContext,
    session: AsyncSession,
    member: Member,
) -> None:
    team = await teams.team_of(session, team_id=callback_data.team_id, member_id=member.id)
    if not await teams.may_lead(session, team, member.id):
        raise teams.LeaderOnly()
    await state.set_state(TeamWriting.typing)
    await state.set_data({"team": team.id})
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(
            _("✉️ What would you like to tell {team}? Please type your message.").format(
                team=ui.team_name(team)
            ),
            reply_markup=keyboards.reply_keyboard([], back=False),
        )


@router.message(TeamWriting.typing, F.text == labels.CANCEL)
async def on_write_cancelled(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(_("Okay, nothing was sent."), reply_markup=keyboards.main_menu())


@router.message(TeamWriting.typing, F.text, ~F.text.startswith("/"))
async def on_message_typed(
    message: Message, state: FSMContext, session: AsyncSession, member: Member
) -> None:
    text = (message.text or "").strip()
    if len(text) > teams.MAX_MESSAGE:
        await message.answer(
            _("That is a little long. Please keep it under {count} characters.").format(
                count=teams.MAX_MESSAGE
            )
        )
        return
    team_id = (await state.get_data())["team"]
    queued = await teams.message_team(
        session,
        team_id=team_id,
        sender_id=member.id,
        text=text,
        key=f"tg:{message.chat.id}:{message.message_id}",
    )
    await state.clear()
    await message.answer(
        _("📨 Sent to {count} members of the team.").format(count=queued),
        reply_markup=keyboards.main_menu(),
    )


@router.message(TeamWriting.typing)
async def on_not_text(message: Message) -> None:
    await message.answer(_("Please type your message, or tap Cancel."))
