"""Telling other members about something, each in their own language.

Until the outbox exists these go out directly, after the reply to the member who acted;
a member who blocked the bot, or is not on Telegram, is simply skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from bot.middlewares import PLATFORM
from core import orders
from core.logs import log_event
from core.orders import Contact

log = logging.getLogger("timebank.notify")

Render = Callable[[Contact], "str | tuple[str, InlineKeyboardMarkup | None] | None"]


async def tell(
    bot: Bot,
    i18n: I18n,
    session: AsyncSession,
    member_ids: Iterable[int],
    render: Render,
) -> int:
    """Send `render(contact)` (rendered in the contact's language) to each member; None skips.

    Returns how many messages went out.
    """
    sent = 0
    for contact in await orders.contacts(session, list(dict.fromkeys(member_ids)), PLATFORM):
        language = contact.language
        if language not in i18n.available_locales:
            language = i18n.default_locale
        with i18n.use_locale(language):
            rendered = render(contact)
        if rendered is None:
            continue
        text, markup = rendered if isinstance(rendered, tuple) else (rendered, None)
        try:
            await bot.send_message(int(contact.external_id), text, reply_markup=markup)
            sent += 1
        except (TelegramAPIError, ValueError) as error:
            log_event(log, "notice not delivered", member=contact.member_id, error=str(error))
    return sent
