"""Market days in the chat: the event view (from the announcement's deep link, the menu or
a button), booking a stand's time with a QR, the waiting list, cancelling, checking in by
the QR's deep link, shifts, and the coordinator's report.

Each button is one handler; the multi-step flows (booking for someone else, the check-in
desk, correcting a shift, changing the day, a new market day) are `bot.conversations.market`.
"""

from __future__ import annotations

from datetime import datetime

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.market import views
from bot.handlers.market.callbacks import Act, Market
from bot.kit import labels
from bot.kit.edit import show_in_place
from bot.kit.formatters import language
from bot.kit.guards import SignedUp
from core import family, market
from core.catalog import localized
from core.coordinators import coordinator_branches, coordinator_of
from core.db import utcnow
from core.market.bookings import CannotBookFor, NotActive
from core.market.checkin import UnknownCode
from core.market.events import EventMoved
from core.market.shifts import VolunteersOnly
from core.market.tables import BookingStatus, MarketUnit
from core.models import Branch, Member

router = Router(name="market")

EVENT_LINK = r"^ev-(\d{1,9})$"
CHECK_IN_LINK = r"^chk-"


# ---------------------------------------------------------------- shared by the handlers


async def roles_of(session: AsyncSession, member: Member, view: market.EventView) -> views.Roles:
    coordinator = view.branch_id in coordinator_branches(member)
    shifts = await market.my_shifts(session, member.id, view.event_id)
    return views.Roles(
        staff=coordinator or bool(shifts),
        volunteer=member.is_volunteer and member.branch_id == view.branch_id,
        coordinator=coordinator,
        books_for_others=coordinator or bool(await family.beneficiaries(session, member.id)),
    )


async def resident_for(session: AsyncSession, member: Member, who: int) -> Member | None:
    """The resident a button books for, if the member may book for them."""
    if who == 0:
        return None
    resident = await session.get(Member, who)
    if resident is None or not await family.may_ask_for(session, member, resident):
        raise CannotBookFor()
    return resident


async def event_screen(
    session: AsyncSession, member: Member, event_id: int, *, who: int = 0
) -> tuple[str, InlineKeyboardMarkup | None]:
    now = utcnow()
    view = await market.event_view(session, event_id, now=now)
    resident = await resident_for(session, member, who)
    text = views.event_text(view, now, for_name=resident.name if resident else None)
    return text, views.event_buttons(view, now, await roles_of(session, member, view), who=who)


async def bot_username(bot: Bot) -> str:
    return (await bot.me()).username or ""


async def send_booking(
    message: Message,
    session: AsyncSession,
    bot: Bot,
    booking: market.Booking,
    member: Member,
    *,
    now: datetime,
) -> None:
    """The booking, with its QR code when it holds a place."""
    view = await market.event_view(session, booking.event_id, now=now)
    resident = None
    if booking.member_id not in (None, member.id):
        resident = await session.get(Member, booking.member_id)
    text = views.booking_text(booking, view, now, resident_name=resident.name if resident else None)
    buttons = views.booking_buttons(booking)
    if booking.status == BookingStatus.BOOKED and booking.token:
        link = market.check_in_link(await bot_username(bot), booking.token)
        photo = BufferedInputFile(market.qr_png(link), f"booking-{booking.number}.png")
        await message.answer_photo(photo, caption=text, reply_markup=buttons)
    else:
        await message.answer(text, reply_markup=buttons)


# ---------------------------------------------------------------- opening a market day


@router.message(CommandStart(deep_link=True, magic=F.args.regexp(EVENT_LINK)), SignedUp())
async def on_event_link(
    message: Message, command: CommandObject, session: AsyncSession, member: Member
) -> None:
    event_id = int(command.magic_result.group(1))
    text, markup = await event_screen(session, member, event_id)
    await message.answer(text, reply_markup=markup)


@router.message(Command("market"), SignedUp())
@router.message(F.text == labels.MENU_MARKET, SignedUp())
async def on_market_days(message: Message, session: AsyncSession, member: Member) -> None:
    now = utcnow()
    events = await market.upcoming_events(session, member.id, now=now)
    coordinator = bool(coordinator_branches(member))
    if len(events) == 1 and not coordinator:
        text, markup = await event_screen(session, member, events[0].id)
        await message.answer(text, reply_markup=markup)
        return
    time_zone = await market_time_zone(session, member)
    shown = [
        (e.id, e.names, views.when_text(e.starts_at, e.ends_at, time_zone, now)) for e in events
    ]
    text, markup = views.events_list(shown, coordinator=coordinator)
    await message.answer(text, reply_markup=markup)


async def market_time_zone(session: AsyncSession, member: Member) -> str:
    branch = await session.get(Branch, member.branch_id) if member.branch_id else None
    return branch.time_zone if branch else "UTC"


@router.callback_query(Market.filter(F.action == Act.EVENT), SignedUp())
async def on_event(
    query: CallbackQuery, callback_data: Market, session: AsyncSession, member: Member
) -> None:
    text, markup = await event_screen(session, member, callback_data.event, who=callback_data.who)
    await query.answer()
    await show_in_place(query, text, markup)


@router.callback_query(Market.filter(F.action == Act.UNIT), SignedUp())
async def on_unit(
    query: CallbackQuery, callback_data: Market, session: AsyncSession, member: Member
) -> None:
    now = utcnow()
    await resident_for(session, member, callback_data.who)
    view = await market.event_view(session, callback_data.event, now=now)
    unit = next((u for u in view.units if u.unit_id == callback_data.item), None)
    if unit is None or unit.walk_in:
        await query.answer(_("This button is no longer active."))
        return
    await query.answer()
    await show_in_place(
        query,
        views.slots_text(view, unit, now),
        views.slot_buttons(view, unit, who=callback_data.who),
    )


@router.callback_query(Market.filter(F.action == Act.MAP), SignedUp())
async def on_map(query: CallbackQuery, callback_data: Market, session: AsyncSession) -> None:
    view = await market.event_view(session, callback_data.event)
    await query.answer()
    if isinstance(query.message, Message) and view.latitude is not None:
        await query.message.answer_venue(
            latitude=view.latitude,
            longitude=view.longitude or 0.0,
            title=localized(view.names, language()),
            address=view.venue_address,
        )


# ---------------------------------------------------------------- booking


@router.callback_query(Market.filter(F.action == Act.BOOK), SignedUp())
async def on_book(
    query: CallbackQuery,
    callback_data: Market,
    session: AsyncSession,
    member: Member,
    bot: Bot,
) -> None:
    now = utcnow()
    booking = await market.book(
        session,
        booker_id=member.id,
        slot_id=callback_data.item,
        resident_id=callback_data.who or None,
        key=f"tg-market-book:{query.id}",
        now=now,
    )
    if booking.status == BookingStatus.WAITING:
        await query.answer(_("You are on the waiting list."))
    else:
        await query.answer(_("Booked!"))
    if isinstance(query.message, Message):
        await send_booking(query.message, session, bot, booking, member, now=now)


@router.callback_query(Market.filter(F.action == Act.BOOKING), SignedUp())
async def on_booking(
    query: CallbackQuery,
    callback_data: Market,
    session: AsyncSession,
    member: Member,
    bot: Bot,
) -> None:
    booking = await market.get_booking(session, callback_data.item, member.id)
    await query.answer()
    if isinstance(query.message, Message):
        await send_booking(query.message, session, bot, booking, member, now=utcnow())


@router.callback_query(Market.filter(F.action == Act.CANCEL), SignedUp())
async def on_cancel(
    query: CallbackQuery, callback_data: Market, session: AsyncSession, member: Member
) -> None:
    booking = await market.get_booking(session, callback_data.item, member.id)
    if booking.status not in (BookingStatus.BOOKED, BookingStatus.WAITING):
        await query.answer(_(NotActive.key))
        return
    await query.answer()
    await show_in_place(query, *views.cancel_question(booking))


@router.callback_query(Market.filter(F.action == Act.CANCEL_YES), SignedUp())
async def on_cancel_yes(
    query: CallbackQuery, callback_data: Market, session: AsyncSession, member: Member
) -> None:
    now = utcnow()
    booking = await market.cancel_booking(session, callback_data.item, member.id, now=now)
    view = await market.event_view(session, booking.event_id, now=now)
    await query.answer(_("Cancelled."))
    await show_in_place(
        query, views.booking_text(booking, view, now), views.booking_buttons(booking)
    )


@router.callback_query(Market.filter(F.action == Act.MINE), SignedUp())
async def on_my_bookings(
    query: CallbackQuery, callback_data: Market, session: AsyncSession, member: Member
) -> None:
    now = utcnow()
    view = await market.event_view(session, callback_data.event, now=now)
    bookings = await market.my_bookings(session, member.id, now=now)
    names = {}
    for booking in bookings:
        if booking.member_id not in (None, member.id):
            resident = await session.get(Member, booking.member_id)
            names[booking.member_id] = resident.name if resident else ""
    await query.answer()
    await show_in_place(
        query,
        views.bookings_text(view, bookings, names),
        views.bookings_buttons(view, bookings),
    )


# ---------------------------------------------------------------- checking in


@router.message(CommandStart(deep_link=True, magic=F.args.regexp(CHECK_IN_LINK)), SignedUp())
async def on_check_in_link(
    message: Message, command: CommandObject, session: AsyncSession, member: Member
) -> None:
    token = market.token_of(command.args or "")
    if token is None:
        raise UnknownCode()
    result = await market.check_in(session, member.id, token=token)
    unit = await session.get(MarketUnit, result.unit_id)
    assert unit is not None
    await message.answer(
        views.checked_in_text(result, unit.names), reply_markup=views.desk_button(unit.event_id)
    )


# ---------------------------------------------------------------- volunteers' shifts


async def _shift_screen(
    session: AsyncSession, member: Member, event_id: int
) -> tuple[str, InlineKeyboardMarkup]:
    view = await market.event_view(session, event_id)
    shifts = await market.my_shifts(session, member.id, event_id)
    units = {u.unit_id: views.name_of(u.names) for u in view.units}
    mine = {s.unit_id: units.get(s.unit_id, "") for s in shifts}
    return views.shift_units_text(view, mine), views.shift_units_buttons(view, mine)


@router.callback_query(Market.filter(F.action == Act.HELP), SignedUp())
async def on_help_at_a_stand(
    query: CallbackQuery, callback_data: Market, session: AsyncSession, member: Member
) -> None:
    if not member.is_volunteer:
        await query.answer(_(VolunteersOnly.key), show_alert=True)
        return
    text, markup = await _shift_screen(session, member, callback_data.event)
    await query.answer()
    await show_in_place(query, text, markup)


@router.callback_query(Market.filter(F.action == Act.SHIFT), SignedUp())
async def on_shift(
    query: CallbackQuery, callback_data: Market, session: AsyncSession, member: Member
) -> None:
    shifts = await market.my_shifts(session, member.id, callback_data.event)
    mine = next((s for s in shifts if s.unit_id == callback_data.item), None)
    if mine is not None:
        await market.withdraw(session, mine.id, member.id)
        await query.answer(_("Your name is off the list."))
    else:
        await market.sign_up(session, member.id, callback_data.item)
        await query.answer(_("Thank you! You are on the list."))
    text, markup = await _shift_screen(session, member, callback_data.event)
    await show_in_place(query, text, markup)


# ---------------------------------------------------------------- the coordinator's report


@router.callback_query(Market.filter(F.action == Act.REPORT), SignedUp())
async def on_report(
    query: CallbackQuery, callback_data: Market, session: AsyncSession, member: Member
) -> None:
    now = utcnow()
    reports = await market.unit_reports(session, callback_data.event, member.id, now=now)
    view = await market.event_view(session, callback_data.event, now=now)
    await query.answer()
    await show_in_place(query, views.report_text(view, reports, now), views.report_buttons(view))


@router.callback_query(Market.filter(F.action == Act.CSV), SignedUp())
async def on_report_csv(
    query: CallbackQuery, callback_data: Market, session: AsyncSession, member: Member
) -> None:
    reports = await market.unit_reports(session, callback_data.event, member.id)
    data = market.units_csv(reports, language()).encode("utf-8-sig")
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer_document(
            BufferedInputFile(data, f"market-{callback_data.event}.csv"),
            caption=_("📊 The market day's report, per stand."),
        )


@router.callback_query(Market.filter(F.action == Act.TOTALS), SignedUp())
async def on_totals(
    query: CallbackQuery, callback_data: Market, session: AsyncSession, member: Member
) -> None:
    view = await market.event_view(session, callback_data.event)
    figures = await market.branch_markets(session, view.branch_id, member.id)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(views.totals_text(figures))


# ---------------------------------------------------------------- calling the day off


@router.callback_query(Market.filter(F.action == Act.CALL_OFF), SignedUp())
async def on_call_off(
    query: CallbackQuery, callback_data: Market, session: AsyncSession, member: Member
) -> None:
    view = await market.event_view(session, callback_data.event)
    await coordinator_of(session, member.id, view.branch_id)
    await query.answer()
    await show_in_place(query, *views.call_off_question(view))


@router.callback_query(Market.filter(F.action == Act.CALL_OFF_YES), SignedUp())
async def on_call_off_yes(
    query: CallbackQuery, callback_data: Market, session: AsyncSession, member: Member
) -> None:
    view = await market.event_view(session, callback_data.event)
    if view.version != callback_data.n:
        raise EventMoved()
    count = await market.cancel_event(session, callback_data.event, member.id)
    await query.answer(_("Called off."))
    await show_in_place(
        query,
        _("✖️ The market day is called off. {count} people who booked are being told.").format(
            count=count
        ),
        None,
    )
