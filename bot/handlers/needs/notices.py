"""The needs survey's notice: what became of a need a member raised."""

from __future__ import annotations

from html import escape

from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.kit.formatters import language
from bot.kit.screens import Notice, Renderer, Send
from core.catalog import localized
from core.models import Member, NeedStatus
from core.notices import Kind


async def need_update(session: AsyncSession, payload: dict, member: Member) -> Notice:
    category = escape(localized(payload.get("category") or {}, language()))
    text = escape(payload.get("text") or "")
    if payload.get("status") == NeedStatus.DONE:
        head = _("✅ Good news about the need you told us of ({category}): it is done.")
    else:
        head = _("📅 News about the need you told us of ({category}): it is planned.")
    lines = [head.format(category=category)]
    if text:
        lines.append(f"“{text}”")
    if payload.get("note"):
        lines.append(_("A coordinator says: {note}").format(note=escape(payload["note"])))
    lines.append(_("Thank you for telling us."))
    return Send("\n".join(lines))


RENDERERS: dict[Kind, Renderer] = {Kind.NEED_UPDATE: need_update}
