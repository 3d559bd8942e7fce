"""The notices of asking for help: a request made for you, a cancelled one, a volunteer
coming or handing it back, a request that found nobody, the pool paying for it."""

from __future__ import annotations

from html import escape

from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.helping import views as ui
from bot.kit.formatters import category_text
from bot.kit.screens import Notice, Renderer, Send
from bot.kit.times import order_when_text, when_line
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
    asked = _("{proxy} asked for help for you: {category}.").format(
        proxy=await _name(session, order.requester_id), category=what
    )
    return Send(
        "\n".join((asked, when_line(when), _("I will tell you when a volunteer says yes.")))
    )


async def cancelled(session: AsyncSession, payload: dict, member: Member) -> Notice:
    notice = notices.Cancelled.read(payload)
    found = await _order(session, notice.order_id)
    if found is None:
        return None
    order, what, when = found
    if member.id == order.volunteer_id:
        sorry = _(
            "Sorry, the request “{category}” was cancelled, so there is no need to go."
        ).format(category=what)
        thanks = _("Thank you for being ready to help!")
        return Send("\n".join((sorry, when_line(when), thanks)))
    text = _("The request “{category}” was cancelled by {name}.").format(
        category=what, name=await _name(session, notice.by)
    )
    return Send("\n".join((text, when_line(when))))


async def coming(session: AsyncSession, payload: dict, member: Member) -> Notice:
    t = await ui.told(session, notices.Coming.read(payload))
    text = _("🤝 Good news: {name} is coming to help with {category}.").format(
        name=t.volunteer, category=t.what
    )
    text = "\n".join((text, when_line(t.when)))
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
    text = _(
        "The volunteer can no longer come for {category}. I am looking for someone else."
    ).format(category=t.what)
    return Send("\n".join((text, when_line(t.when))))


async def sponsored(session: AsyncSession, payload: dict, member: Member) -> Notice:
    t = await ui.told(session, notices.Sponsored.read(payload))
    paid = _("💝 Good news: the community pool will pay for {category}.").format(category=t.what)
    return Send("\n".join((paid, when_line(t.when), _("I am looking for a volunteer now."))))


RENDERERS: dict[Kind, Renderer] = {
    Kind.ASKED_FOR_YOU: asked_for_you,
    Kind.CANCELLED: cancelled,
    Kind.COMING: coming,
    Kind.EXPIRED: expired,
    Kind.EXPIRED_UNCOVERED: expired_uncovered,
    Kind.HANDED_BACK: handed_back,
    Kind.SPONSORED: sponsored,
}
