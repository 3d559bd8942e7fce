"""The command menu Telegram shows next to the text box, in each of our languages."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BotCommand, BotCommandScopeChat
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from core.languages import LANGUAGES
from core.logs import log_event

log = logging.getLogger("timebank.commands")

# Telegram wants ISO 639-1 codes for per-language command lists.
TELEGRAM_CODES = {"zh_Hans": "zh", "ko": "ko", "en": "en"}


def command_list() -> list[BotCommand]:
    return [
        BotCommand(command="start", description=_("Sign up or open the menu")),
        BotCommand(command="ask", description=_("Ask for help")),
        BotCommand(command="myorders", description=_("My requests for help")),
        BotCommand(command="passbook", description=_("My passbook of time credits")),
        BotCommand(command="askfor", description=_("Ask for help for someone else")),
        BotCommand(command="family", description=_("Link with your family")),
        BotCommand(command="help", description=_("What I can do")),
        BotCommand(command="language", description=_("Change language")),
        BotCommand(command="mydata", description=_("Everything we keep about you")),
        BotCommand(command="deleteme", description=_("Erase your details")),
        BotCommand(command="cancel", description=_("Stop what we are doing")),
    ]


def coordinator_command_list() -> list[BotCommand]:
    waiting = BotCommand(command="waiting", description=_("Requests waiting for a volunteer"))
    return [*command_list(), waiting]


async def set_commands(bot: Bot, i18n: I18n, coordinators: Sequence[int] = ()) -> None:
    """Everyone's menu, and the configured coordinators' own, which adds /waiting."""
    for language in LANGUAGES:
        with i18n.context(), i18n.use_locale(language):
            commands = command_list()
            await bot.set_my_commands(commands, language_code=TELEGRAM_CODES[language])
            if language == i18n.default_locale:
                await bot.set_my_commands(commands)
            for chat_id in coordinators:
                scope = BotCommandScopeChat(chat_id=chat_id)
                try:
                    await bot.set_my_commands(
                        coordinator_command_list(),
                        scope=scope,
                        language_code=TELEGRAM_CODES[language],
                    )
                except TelegramAPIError as error:  # not started the bot yet: no chat to set
                    log_event(log, "coordinator commands not set", reason=str(error)[:100])
