"""The notices of broadcasts: the announcement to each member (in the language of the text
they read), the author's progress message when sending starts, and the final report."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.broadcasts import views
from bot.kit.formatters import language
from bot.kit.screens import Notice, Renderer, Send
from core.broadcasts import compose, delivery
from core.broadcasts.tables import Broadcast
from core.errors import DomainError, NotFound
from core.models import Member
from core.notices import Kind


async def broadcast(session: AsyncSession, payload: dict, member: Member) -> Notice:
    try:
        message = await compose.message_for(
            session, payload["broadcast_id"], payload["language"], member.id
        )
    except NotFound:  # gone, or the member turned announcements off since
        return None
    return views.broadcast_screen(message, payload["broadcast_id"], language())


async def _figures(session: AsyncSession, payload: dict) -> tuple[delivery.Progress, str] | None:
    found = await session.get(Broadcast, payload["broadcast_id"])
    if found is None:
        return None
    try:
        figures = await delivery.progress(session, found.id, found.author_id)
    except DomainError:  # the author no longer coordinates the branch
        return None
    return figures, views.opening(found.texts, language())


async def broadcast_progress(session: AsyncSession, payload: dict, member: Member) -> Notice:
    shown = await _figures(session, payload)
    if shown is None:
        return None
    figures, opening = shown
    return Send(views.progress_text(figures, opening), views.progress_buttons(figures))


async def broadcast_report(session: AsyncSession, payload: dict, member: Member) -> Notice:
    shown = await _figures(session, payload)
    if shown is None:
        return None
    return Send(views.report_text(*shown))


RENDERERS: dict[Kind, Renderer] = {
    Kind.BROADCAST: broadcast,
    Kind.BROADCAST_PROGRESS: broadcast_progress,
    Kind.BROADCAST_REPORT: broadcast_report,
}
