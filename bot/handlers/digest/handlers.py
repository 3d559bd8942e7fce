"""/digest: the weekly news, on at a chosen local hour with one tap, or off."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.digest import views as ui
from bot.handlers.digest.callbacks import DigestAct, DigestAction
from bot.kit.edit import show_in_place
from bot.kit.guards import SignedUp
from core import digests
from core.models import Member

router = Router(name="digest")


@router.message(Command("digest"), SignedUp())
async def on_digest(message: Message, session: AsyncSession, member: Member) -> None:
    subscription = await digests.subscription_of(session, member.id)
    await message.answer(ui.choice_text(subscription), reply_markup=ui.choice_buttons(subscription))


@router.callback_query(DigestAction.filter(F.action == DigestAct.ON), SignedUp())
async def on_subscribe(
    query: CallbackQuery, callback_data: DigestAction, session: AsyncSession, member: Member
) -> None:
    await digests.subscribe(session, member.id, callback_data.hour)
    subscription = await digests.subscription_of(session, member.id)
    await query.answer(_("📰 Done. Your weekly news comes on Mondays."))
    await show_in_place(query, ui.choice_text(subscription), ui.choice_buttons(subscription))


@router.callback_query(DigestAction.filter(F.action == DigestAct.OFF), SignedUp())
async def on_unsubscribe(query: CallbackQuery, session: AsyncSession, member: Member) -> None:
    await digests.unsubscribe(session, member.id)
    await query.answer(_("🔕 Stopped. /digest turns it on again."))
    await show_in_place(query, ui.choice_text(None), ui.choice_buttons(None))
