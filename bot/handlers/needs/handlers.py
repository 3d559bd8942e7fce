"""/needs: a coordinator goes through the needs survey: the branch's categories counted,
a category's needs, one need; marks it planned or done with a note (those who told of it
hear), plays its voice message, or puts it with the same need told before."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.needs import views as ui
from bot.handlers.needs.callbacks import NeedAct, NeedAction
from bot.kit import keyboards, labels
from bot.kit.edit import show_in_place
from bot.kit.formatters import language
from bot.kit.guards import SignedUp
from core import needs
from core.catalog import localized
from core.coordinators import working_branch
from core.models import Member, NeedCategory
from core.needs import NeedRow, UnknownNeed, UnknownNeedCategory

router = Router(name="needs")


class NeedNote(StatesGroup):
    typing = State()


async def _branch_id(session: AsyncSession, member: Member) -> int:
    """The branch the coordinator works in; anyone else is refused kindly."""
    return (await working_branch(session, member.id))[1]


async def _category(session: AsyncSession, branch_id: int, category_id: int) -> NeedCategory:
    category = await session.get(NeedCategory, category_id)
    if category is None or category.branch_id != branch_id:
        raise UnknownNeedCategory()
    return category


async def _need_row(session: AsyncSession, member: Member, need_id: int) -> tuple[str, NeedRow]:
    """The need as the list shows it, with its category's name; a coordinator's only."""
    need = await needs.need_of(session, coordinator_id=member.id, need_id=need_id)
    category = await _category(session, need.branch_id, need.category_id)
    rows = await needs.list_needs(session, need.branch_id, need.category_id)
    row = next((row for row in rows if row.need_id == need.id), None)
    if row is None:  # folded into another
        raise UnknownNeed()
    return localized(category.names, language()), row


@router.message(Command("needs"), SignedUp())
async def on_needs(message: Message, session: AsyncSession, member: Member) -> None:
    branch_id = await _branch_id(session, member)
    counts = await needs.needs_by_category(session, branch_id)
    await message.answer(ui.overview_text(counts), reply_markup=ui.overview_buttons(counts))


@router.callback_query(NeedAction.filter(F.action == NeedAct.OVERVIEW), SignedUp())
async def on_overview(query: CallbackQuery, session: AsyncSession, member: Member) -> None:
    branch_id = await _branch_id(session, member)
    counts = await needs.needs_by_category(session, branch_id)
    await query.answer()
    await show_in_place(query, ui.overview_text(counts), ui.overview_buttons(counts))


@router.callback_query(NeedAction.filter(F.action == NeedAct.CATEGORY), SignedUp())
async def on_category(
    query: CallbackQuery, callback_data: NeedAction, session: AsyncSession, member: Member
) -> None:
    branch_id = await _branch_id(session, member)
    category = await _category(session, branch_id, callback_data.value)
    rows = await needs.list_needs(session, branch_id, category.id)
    await query.answer()
    name = localized(category.names, language())
    await show_in_place(query, ui.category_text(name, rows), ui.category_buttons(rows))


@router.callback_query(NeedAction.filter(F.action == NeedAct.VIEW), SignedUp())
async def on_view(
    query: CallbackQuery, callback_data: NeedAction, session: AsyncSession, member: Member
) -> None:
    category, row = await _need_row(session, member, callback_data.value)
    await query.answer()
    await show_in_place(query, ui.need_text(category, row), ui.need_buttons(row))


@router.callback_query(NeedAction.filter(F.action == NeedAct.VOICE), SignedUp())
async def on_voice(
    query: CallbackQuery, callback_data: NeedAction, session: AsyncSession, member: Member
) -> None:
    need = await needs.need_of(session, coordinator_id=member.id, need_id=callback_data.value)
    await query.answer()
    if need.voice_file_id and isinstance(query.message, Message):
        await query.message.answer_voice(need.voice_file_id)


@router.callback_query(NeedAction.filter(F.action == NeedAct.PLANNED), SignedUp())
@router.callback_query(NeedAction.filter(F.action == NeedAct.DONE), SignedUp())
async def on_mark(
    query: CallbackQuery,
    callback_data: NeedAction,
    state: FSMContext,
    session: AsyncSession,
    member: Member,
) -> None:
    await _need_row(session, member, callback_data.value)
    await state.set_state(NeedNote.typing)
    await state.set_data({"need": callback_data.value, "status": callback_data.action.value})
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(
            ui.note_question(callback_data.action.value),
            reply_markup=keyboards.reply_keyboard([[str(labels.SKIP)]], back=False),
        )


@router.message(NeedNote.typing, F.text == labels.CANCEL)
async def on_note_cancelled(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(_("Okay, nothing was changed."), reply_markup=keyboards.main_menu())


@router.message(NeedNote.typing, F.text, ~F.text.startswith("/"))
async def on_note(
    message: Message, state: FSMContext, session: AsyncSession, member: Member
) -> None:
    data = await state.get_data()
    note = "" if message.text == labels.SKIP else message.text or ""
    if len(note) > needs.MAX_NOTE:
        await message.answer(
            _("That is a little long. Please keep it under {count} characters.").format(
                count=needs.MAX_NOTE
            )
        )
        return
    told = await needs.mark_need(
        session,
        coordinator_id=member.id,
        need_id=data["need"],
        status=data["status"],
        note=note,
        key=f"tg:{message.chat.id}:{message.message_id}",
    )
    await state.clear()
    await message.answer(
        _("Saved. I am telling {count} people who asked.").format(count=told),
        reply_markup=keyboards.main_menu(),
    )
    category, row = await _need_row(session, member, data["need"])
    await message.answer(ui.need_text(category, row), reply_markup=ui.need_buttons(row))


@router.message(NeedNote.typing)
async def on_not_a_note(message: Message, state: FSMContext) -> None:
    await message.answer(_("Please type a short note, or tap Skip."))


@router.callback_query(NeedAction.filter(F.action == NeedAct.SAME_AS), SignedUp())
async def on_same_as(
    query: CallbackQuery, callback_data: NeedAction, session: AsyncSession, member: Member
) -> None:
    category, row = await _need_row(session, member, callback_data.value)
    need = await needs.need_of(session, coordinator_id=member.id, need_id=row.need_id)
    rows = await needs.list_needs(session, need.branch_id, row.category_id)
    others = [other for other in rows if other.need_id != row.need_id]
    await query.answer()
    await show_in_place(
        query, ui.same_as_text(category, row, others), ui.same_as_buttons(row, others)
    )


@router.callback_query(NeedAction.filter(F.action == NeedAct.MERGE), SignedUp())
async def on_merge(
    query: CallbackQuery, callback_data: NeedAction, session: AsyncSession, member: Member
) -> None:
    kept = await needs.merge_needs(
        session,
        coordinator_id=member.id,
        keep_id=callback_data.into,
        duplicate_ids=[callback_data.value],
    )
    category, row = await _need_row(session, member, kept.id or 0)
    await query.answer(_("🔗 Put together."))
    await show_in_place(query, ui.need_text(category, row), ui.need_buttons(row))
