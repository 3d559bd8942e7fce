"""Notices to a member about what someone else did: a request made for them, a cancelled
request, a family link asked for, answered or ended, hours given to them.

The services put them in the outbox in the same transaction as what they tell of; the
sender renders them here, in the reader's language, when it sends them.
"""

from __future__ import annotations

from html import escape
from typing import Any

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot import labels
from bot.callbacks import FamilyAnswer
from bot.conversations.request_help import category_text, order_when_text
from core import helping, statements
from core.models import Branch, Category, FamilyLink, FamilyLinkStatus, Member, Order

KINDS = frozenset(
    {
        "asked_for_you",
        "cancelled",
        "family_ask",
        "family_answer",
        "family_unlinked",
        "gift_received",
    }
)
Notice = tuple[str, InlineKeyboardMarkup | None]


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


def _hours(minutes: int) -> str:
    return statements.duration(minutes, _)


async def say(
    session: AsyncSession, kind: str, payload: dict[str, Any], reader: Member
) -> Notice | None:
    """The notice's words and buttons; None if there is nothing to say any more."""
    if kind in ("asked_for_you", "cancelled"):
        found = await _order(session, payload["order_id"])
        if found is None:
            return None
        order, what, when = found
        if kind == "asked_for_you":
            text = _(
                "{proxy} asked for help for you: {category}, {when}. "
                "I will tell you when a volunteer says yes."
            ).format(proxy=await _name(session, order.requester_id), category=what, when=when)
        elif reader.id == order.volunteer_id:
            text = _(
                "Sorry, the request “{category}” for {when} was cancelled, so there is no "
                "need to go. Thank you for being ready to help!"
            ).format(category=what, when=when)
        else:
            text = _("The request “{category}” for {when} was cancelled by {name}.").format(
                category=what, when=when, name=await _name(session, payload["by"])
            )
        return text, None
    if kind == "family_unlinked":
        text = _(
            "{name} ended your family link. You can link again with a new code "
            "any time, under “👨‍👩‍👧 Family”."
        ).format(name=await _name(session, payload["by"]))
        return text, None
    if kind == "gift_received":
        balance = await helping.balance(session, reader.id) or 0
        text = _("🎁 {name} gave you {hours}.\nYour balance is now {balance}.").format(
            name=await _name(session, payload["from"]),
            hours=_hours(payload["minutes"]),
            balance=_hours(balance),
        )
        return text, None
    link = await session.get(FamilyLink, payload["link_id"])
    if link is None:
        return None
    if kind == "family_ask":
        if link.status != FamilyLinkStatus.PENDING:
            return None  # answered, or withdrawn, before it went out
        buttons = InlineKeyboardBuilder()
        buttons.button(
            text=str(labels.FAMILY_YES), callback_data=FamilyAnswer(link_id=link.id, accept=True)
        )
        buttons.button(
            text=str(labels.FAMILY_NO), callback_data=FamilyAnswer(link_id=link.id, accept=False)
        )
        text = _(
            "{name} entered your family code. May {name} ask for help for you and hear "
            "how your requests go?"
        ).format(name=await _name(session, link.relative_id))
        return text, buttons.as_markup()
    if kind == "family_answer":
        name = await _name(session, link.member_id)
        if payload["accepted"]:
            text = _(
                "{name} said yes. You can now ask for help for them with “🤲 Ask for someone else”."
            ).format(name=name)
        else:
            text = _("{name} did not confirm the family link.").format(name=name)
        return text, None
    return None
