"""The notices of asking for help: a request made for you, a cancelled one, a volunteer
coming or handing it back, a request that found nobody, the pool paying for it."""

from __future__ import annotations

from html import escape

from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.helping import views as ui
from bot.kit.formatters import category_text
from bot.kit.screens import Notice, Renderer, Send
from bot.kit.times import order_when_text
from core import notices
from core.models import Branch, Category, Member, Order
from core.notices import Kind


async def _name(session: AsyncSession, member_id: int) -> str:
    member = await session.get(Member, member_id)
    return escape(member.name if member else "")


async def _order(session: AsyncSession, order_id: int) -> tuple[Order, str, str] | None:
    """The order, its category's name and when it is, in the reader's words."""
    order = await session.get(Order, order_id)
    if order is None:
        return None
    category = await session.get(Category, order.category_id)
    branch = await session.get(Branch, order.branch_id)
    assert category is not None and branch is not None
    return order, escape(category_text(category)), order_when_text(order, branch.time_zone)


async def asked_for_you(session: AsyncSession, payload: dict, member: Member) -> Notice:
    found = await _order(session, notices.AskedForYou.read(payload).order_id)
    if found is None:
        return None
    order, what, when = found
    return Send(
        _(
            "{proxy} asked for help for you: {category}, {when}. "
            "I will tell you when a volunteer says yes."
        ).format(proxy=await _name(session, order.requester_id), category=what, when=when)
    )


async def cancelled(session: AsyncSession, payload: dict, member: Member) -> Notice:
    notice = notices.Cancelled.read(payload)
    found = await _order(session, notice.order_id)
    if found is None:
        return None
    order, what, when = found
    if member.id == order.volunteer_id:
        text = _(
            "Sorry, the request “{category}” for {when} was cancelled, so there is no "
            "need to go. Thank you for being ready to help!"
        ).format(category=what, when=when)
    else:
        text = _("The request “{category}” for {when} was cancelled by {name}.").format(
            category=what, when=when, name=await _name(session, notice.by)
        )
    return Send(text)


async def coming(session: AsyncSession, payload: dict, member: Member) -> Notice:
    t = await ui.told(session, notices.Coming.read(payload))
    text = _("🤝 Good news: {name} is coming to help with {category}, {when}.").format(
        name=t.volunteer, category=t.what, when=t.when
    )
    volunteer = t.f.volunteer
    return Send(text, ui.relay_button(t.f.order.id, volunteer.name) if volunteer else None)


async def expired(session: AsyncSession, payload: dict, member: Member) -> Notice:
    t = await ui.told(session, notices.Expired.read(payload))
    return Send(
        _(
            "😔 I am sorry: nobody was free in time for {category}. "
            "You are very welcome to ask again."
        ).format(category=t.what)
    )


async def expired_uncovered(session: AsyncSession, payload: dict, member: Member) -> Notice:
    t = await ui.told(session, notices.ExpiredUncovered.read(payload))
    return Send(
        _(
            "😔 I am sorry: the time for {category} has passed before its cost could be "
            "covered, so I could not ask the volunteers. A coordinator can help with "
            "credit; you are very welcome to ask again."
        ).format(category=t.what)
    )


async def handed_back(session: AsyncSession, payload: dict, member: Member) -> Notice:
    t = await ui.told(session, notices.HandedBack.read(payload))
    return Send(
        _(
            "{category}, {when}: the volunteer can no longer come. I am looking for someone else."
        ).format(category=t.what, when=t.when)
    )


async def sponsored(session: AsyncSession, payload: dict, member: Member) -> Notice:
    t = await ui.told(session, notices.Sponsored.read(payload))
    return Send(
        _(
            "💝 Good news: the community pool will pay for {category}, {when}. "
            "I am looking for a volunteer now."
        ).format(category=t.what, when=t.when)
    )


RENDERERS: dict[Kind, Renderer] = {
    Kind.ASKED_FOR_YOU: asked_for_you,
    Kind.CANCELLED: cancelled,
    Kind.COMING: coming,
    Kind.EXPIRED: expired,
    Kind.EXPIRED_UNCOVERED: expired_uncovered,
    Kind.HANDED_BACK: handed_back,
    Kind.SPONSORED: sponsored,
}
