"""Standing offers: "ask for this" (a request addressed to that volunteer first, the usual
waves after), and a volunteer's own offers. Browsing them is Near me's."""

from __future__ import annotations

from datetime import timedelta

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversations import offer_help
from bot.handlers.classes.views import time_zone_of
from bot.handlers.offers import views as ui
from bot.handlers.offers.callbacks import OfferAction, OfferCb
from bot.kit.edit import show_in_place
from bot.kit.guards import SignedUp
from core import catalog, members, schedule, volunteers
from core.config import Settings
from core.db import utcnow
from core.errors import InvalidInput
from core.models import Member
from core.orders import HelpRequest, Place
from core.rewards import offers
from core.rewards.redemption import first_name
from core.rewards.tables import StandingOffer

router = Router(name="offers")
router.callback_query.filter(SignedUp())
PARTS = ("morning", "afternoon", "evening")


async def _open_offer(session: AsyncSession, offer_id: int) -> StandingOffer:
    offer = await session.get(StandingOffer, offer_id)
    if offer is None or offer.withdrawn_at is not None:
        raise offers.OfferGone()
    return offer


@router.callback_query(OfferCb.filter(F.action == OfferAction.ASK))
async def on_ask(
    query: CallbackQuery, callback_data: OfferCb, session: AsyncSession, member: Member
) -> None:
    offer = await _open_offer(session, callback_data.item)
    if offer.branch_id != member.branch_id:
        raise offers.OfferGone()
    if offer.volunteer_id == member.id:
        raise offers.OwnOffer()
    volunteer = await members.get_member(session, offer.volunteer_id)
    await query.answer()
    await show_in_place(
        query, ui.when_text(first_name(volunteer.name)), ui.when_buttons(offer.id or 0)
    )


def _when(choice: int, time_zone: str) -> schedule.When:
    if choice == 0:
        return schedule.When.asap()
    if not 1 <= choice <= len(PARTS):
        raise InvalidInput()
    tomorrow = schedule.local_today(time_zone, utcnow()) + timedelta(days=1)
    return schedule.When.day_part(tomorrow, PARTS[choice - 1])


@router.callback_query(OfferCb.filter(F.action == OfferAction.WHEN))
async def on_when(
    query: CallbackQuery,
    callback_data: OfferCb,
    session: AsyncSession,
    member: Member,
    settings: Settings,
) -> None:
    offer = await _open_offer(session, callback_data.item)
    when = _when(callback_data.value, await time_zone_of(session, member))
    message_id = query.message.message_id if query.message else 0
    asked = await offers.ask_for_offer(
        session,
        member.id,
        offer.id or 0,
        request=HelpRequest(
            category_id=offer.category_id, when=when, place=Place.home(), estimated_minutes=60
        ),
        key=f"offer:{member.id}:{offer.id}:{message_id}",
        max_open=settings.max_open_orders,
    )
    volunteer = await members.get_member(session, offer.volunteer_id)
    name = first_name(volunteer.name)
    if asked.placed.coverage.needs_sponsor:
        text = ui.sent_for_sponsor_text()
    else:
        text = ui.sent_text(name)
    await query.answer(_("Sent!"))
    await show_in_place(query, text, None)


@router.callback_query(OfferCb.filter(F.action == OfferAction.MINE))
async def on_mine(query: CallbackQuery, session: AsyncSession, member: Member) -> None:
    if not member.is_volunteer:
        raise volunteers.NotAVolunteer()
    mine = await offers.offers_of(session, member.id)
    await query.answer()
    await show_in_place(query, ui.mine_text(mine), ui.mine_buttons(mine))


@router.callback_query(OfferCb.filter(F.action == OfferAction.NEW))
async def on_new(query: CallbackQuery, session: AsyncSession, member: Member) -> None:
    if not member.is_volunteer:
        raise offers.VolunteersOnly()
    await query.answer()
    kinds = await catalog.categories(session)
    await show_in_place(query, ui.kinds_text(), ui.kinds_buttons(kinds))


@router.callback_query(OfferCb.filter(F.action == OfferAction.CATEGORY))
async def on_category(
    query: CallbackQuery,
    callback_data: OfferCb,
    session: AsyncSession,
    member: Member,
    state: FSMContext,
) -> None:
    if not member.is_volunteer:
        raise offers.VolunteersOnly()
    if callback_data.item not in {kind.id for kind in await catalog.categories(session)}:
        await query.answer(_("This button is no longer active."))
        return
    await query.answer()
    if isinstance(query.message, Message):
        await offer_help.start(query.message, state, session, member, callback_data.item)


@router.callback_query(OfferCb.filter(F.action == OfferAction.WITHDRAW))
async def on_withdraw(
    query: CallbackQuery, callback_data: OfferCb, session: AsyncSession, member: Member
) -> None:
    await offers.withdraw_offer(session, member.id, callback_data.item)
    mine = await offers.offers_of(session, member.id)
    await query.answer(_("Done."))
    await show_in_place(query, ui.mine_text(mine), ui.mine_buttons(mine))
