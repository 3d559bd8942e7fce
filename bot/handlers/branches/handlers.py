"""Several branches: /branch shows a member's branches and lets a coordinator of more than
one choose the one they work in; /joinbranch (or "➕ Join another branch") asks another
branch's coordinators to add the member there; their "✅ Add" says yes."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.branches import views as ui
from bot.handlers.branches.callbacks import Act, BranchStep, JoinAnswer, NbrAct, Neighbours
from bot.kit.edit import show_in_place
from bot.kit.guards import SignedUp
from core import coordinators, members, memberships
from core.errors import NotFound
from core.models import Branch, Member

router = Router(name="branches")
router.message.filter(SignedUp())
router.callback_query.filter(SignedUp())


async def _overview(
    session: AsyncSession, member: Member, note: str | None = None
) -> tuple[str, InlineKeyboardMarkup]:
    coordinated = await coordinators.coordinated_branches(session, member)
    working = (await coordinators.working_branch(session, member.id))[1] if coordinated else None
    return ui.overview(
        await memberships.branches_of(session, member), member.branch_id, coordinated, working, note
    )


async def _branch(session: AsyncSession, branch_id: int) -> Branch:
    branch = await session.get(Branch, branch_id)
    if branch is None:
        raise NotFound()
    return branch


@router.message(Command("branch"))
async def on_branch(message: Message, session: AsyncSession, member: Member) -> None:
    text, markup = await _overview(session, member)
    await message.answer(text, reply_markup=markup)


@router.message(Command("joinbranch"))
async def on_join_branch(message: Message, session: AsyncSession, member: Member) -> None:
    text, markup = ui.joinable(await memberships.joinable(session, member))
    await message.answer(text, reply_markup=markup)


@router.callback_query(BranchStep.filter(F.action == Act.MENU))
async def on_menu(query: CallbackQuery, session: AsyncSession, member: Member) -> None:
    await show_in_place(query, *await _overview(session, member))
    await query.answer()


@router.callback_query(BranchStep.filter(F.action == Act.SWITCH))
async def on_switch(
    query: CallbackQuery, callback_data: BranchStep, session: AsyncSession, member: Member
) -> None:
    await coordinators.switch_branch(session, member.id, callback_data.branch_id)
    note = ui.switched(await _branch(session, callback_data.branch_id))
    await show_in_place(query, *await _overview(session, member, note))
    await query.answer()


@router.callback_query(BranchStep.filter(F.action == Act.JOIN_MENU))
async def on_join_menu(query: CallbackQuery, session: AsyncSession, member: Member) -> None:
    await show_in_place(query, *ui.joinable(await memberships.joinable(session, member)))
    await query.answer()


@router.callback_query(BranchStep.filter(F.action == Act.JOIN))
async def on_join(
    query: CallbackQuery, callback_data: BranchStep, session: AsyncSession, member: Member
) -> None:
    asked = await memberships.ask_to_join(session, member.id, callback_data.branch_id)
    branch = await _branch(session, callback_data.branch_id)
    await show_in_place(query, ui.asked(branch, asked), None)
    await query.answer()


@router.callback_query(BranchStep.filter(F.action == Act.CLOSE))
async def on_close(query: CallbackQuery) -> None:
    await show_in_place(query, ui.closed(), None)
    await query.answer()


@router.callback_query(JoinAnswer.filter())
async def on_approve(
    query: CallbackQuery, callback_data: JoinAnswer, session: AsyncSession, member: Member
) -> None:
    await memberships.approve(session, member.id, callback_data.member_id, callback_data.branch_id)
    joined = await members.get_member(session, callback_data.member_id)
    branch = await _branch(session, callback_data.branch_id)
    await show_in_place(query, ui.approved(joined.name, branch), None)
    await query.answer()


@router.callback_query(Neighbours.filter(F.action == NbrAct.VIEW))
async def on_neighbours(
    query: CallbackQuery, callback_data: Neighbours, session: AsyncSession, member: Member
) -> None:
    view = await memberships.neighbours(session, member.id, callback_data.branch_id)
    await show_in_place(query, *ui.neighbours(view))
    await query.answer()


@router.callback_query(Neighbours.filter(F.action == NbrAct.SET))
async def on_set_neighbour(
    query: CallbackQuery, callback_data: Neighbours, session: AsyncSession, member: Member
) -> None:
    branch_id = callback_data.branch_id
    await memberships.set_neighbour(
        session, member.id, branch_id, callback_data.other_id, next_to=callback_data.on
    )
    view = await memberships.neighbours(session, member.id, branch_id)
    await show_in_place(query, *ui.neighbours(view, ui.saved()))
    await query.answer()


@router.callback_query(Neighbours.filter(F.action == NbrAct.MATCH))
async def on_match_neighbours(
    query: CallbackQuery, callback_data: Neighbours, session: AsyncSession, member: Member
) -> None:
    branch_id = callback_data.branch_id
    await memberships.set_match_neighbours(session, member.id, branch_id, callback_data.on)
    view = await memberships.neighbours(session, member.id, branch_id)
    await show_in_place(query, *ui.neighbours(view, ui.saved()))
    await query.answer()
