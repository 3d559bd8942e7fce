"""Near me: what is around a member, nearest first. A volunteer sees the open requests
they could take, and can take one from here; everyone sees offers, classes and parking."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.classes import views as class_views
from bot.handlers.helping import views as helping_views
from bot.handlers.helping.handlers import hand_over_place
from bot.handlers.nearby import views as ui
from bot.handlers.nearby.callbacks import Near, NearAction
from bot.handlers.offers import views as offer_views
from bot.handlers.parking import views as parking_views
from bot.kit import labels
from bot.kit.edit import show_in_place
from bot.kit.guards import SignedUp
from core import catalog, market, nearby, volunteers
from core.models import Member
from core.nearby import PAGE
from core.rewards import classes, offers, parking

router = Router(name="nearby")
router.message.filter(SignedUp())
router.callback_query.filter(SignedUp())


@router.message(F.text == labels.MENU_NEAR_ME)
async def on_menu(message: Message, session: AsyncSession, member: Member) -> None:
    if member.is_volunteer:
        found = await nearby.requests_near(session, member.id)
        await message.answer(ui.requests_text(found), reply_markup=ui.requests_buttons(found))
        return
    events = await _events(session, member)
    await message.answer(ui.sections_text(False), reply_markup=ui.sections_buttons(False, events))


async def _events(session: AsyncSession, member: Member) -> list[tuple[int, dict[str, str]]]:
    return [
        (event.id or 0, dict(event.names))
        for event in await market.upcoming_events(session, member.id)
    ]


@router.callback_query(Near.filter(F.action == NearAction.SECTIONS))
async def on_sections(query: CallbackQuery, session: AsyncSession, member: Member) -> None:
    events = await _events(session, member)
    await query.answer()
    await show_in_place(
        query,
        ui.sections_text(member.is_volunteer),
        ui.sections_buttons(member.is_volunteer, events),
    )


@router.callback_query(Near.filter(F.action == NearAction.REQUESTS))
async def on_requests(
    query: CallbackQuery, callback_data: Near, session: AsyncSession, member: Member
) -> None:
    if not member.is_volunteer:
        raise volunteers.NotAVolunteer()
    found = await nearby.requests_near(session, member.id, page=callback_data.page)
    await query.answer()
    await show_in_place(query, ui.requests_text(found), ui.requests_buttons(found))


@router.callback_query(Near.filter(F.action == NearAction.TAKE))
async def on_take(
    query: CallbackQuery, callback_data: Near, session: AsyncSession, member: Member
) -> None:
    accepted = await nearby.take(session, member.id, callback_data.item)
    if accepted.replayed:
        await query.answer(_("It is already yours. Thank you!"))
        return
    await query.answer(_("Thank you!"))
    f = await helping_views.facts(session, accepted.order.id)
    await show_in_place(query, helping_views.accepted_text(f), helping_views.volunteer_buttons(f))
    await hand_over_place(query, f)


@router.callback_query(Near.filter(F.action == NearAction.CLASSES))
async def on_classes(
    query: CallbackQuery, callback_data: Near, session: AsyncSession, member: Member
) -> None:
    page = max(0, callback_data.page)
    cards = await classes.classes_near(session, member.id, offset=page * PAGE, limit=PAGE + 1)
    zone = await class_views.time_zone_of(session, member)
    navigation = ui.navigation(NearAction.CLASSES, page, len(cards) > PAGE)
    await query.answer()
    await show_in_place(
        query,
        class_views.list_text(cards[:PAGE], page, page * PAGE + 1, zone),
        class_views.list_buttons(
            cards[:PAGE], page * PAGE + 1, navigation, volunteer=member.is_volunteer
        ),
    )


@router.callback_query(Near.filter(F.action == NearAction.SPACES))
async def on_spaces(
    query: CallbackQuery, callback_data: Near, session: AsyncSession, member: Member
) -> None:
    page = max(0, callback_data.page)
    cards = await parking.spaces_near(session, member.id, limit=(page + 1) * PAGE + 1)
    shown = cards[page * PAGE : (page + 1) * PAGE]
    navigation = ui.navigation(NearAction.SPACES, page, len(cards) > (page + 1) * PAGE)
    await query.answer()
    await show_in_place(
        query,
        parking_views.list_text(shown, page, page * PAGE + 1),
        parking_views.list_buttons(shown, page * PAGE + 1, navigation),
    )


@router.callback_query(Near.filter(F.action == NearAction.OFFERS))
async def on_offers(
    query: CallbackQuery, callback_data: Near, session: AsyncSession, member: Member
) -> None:
    page, chosen = max(0, callback_data.page), callback_data.item
    cards = await offers.offers_near(
        session, member.id, category_id=chosen or None, offset=page * PAGE, limit=PAGE + 1
    )
    every = await offers.offers_near(session, member.id, limit=200)
    present = {card.category_id for card in every}
    kinds = [kind for kind in await catalog.categories(session) if kind.id in present]
    navigation = ui.navigation(NearAction.OFFERS, page, len(cards) > PAGE)
    navigation = [
        (label, Near(action=data.action, page=data.page, item=chosen)) for label, data in navigation
    ]
    await query.answer()
    await show_in_place(
        query,
        offer_views.list_text(cards[:PAGE], page, page * PAGE + 1),
        offer_views.list_buttons(
            cards[:PAGE], page * PAGE + 1, navigation, kinds, chosen, volunteer=member.is_volunteer
        ),
    )
