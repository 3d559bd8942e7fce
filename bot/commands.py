"""The command menu Telegram shows next to the text box, in each of our languages."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BotCommand, BotCommandScopeChat
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.kit.cache import per_language
from core.languages import LANGUAGES
from core.logs import log_event

log = logging.getLogger("timebank.commands")

# Telegram wants ISO 639-1 codes for per-language command lists.
TELEGRAM_CODES = {"zh_Hans": "zh", "ko": "ko", "en": "en"}


def command_list() -> list[BotCommand]:
    """Everyone's commands: the menu Telegram shows and what /help lists."""
    return list(_command_list())


@per_language
def _command_list() -> tuple[BotCommand, ...]:
    return (
        BotCommand(command="start", description=_("Sign up or open the menu")),
        BotCommand(command="ask", description=_("Ask for help")),
        BotCommand(command="myorders", description=_("My requests for help")),
        BotCommand(command="passbook", description=_("My passbook of time credits")),
        BotCommand(command="spend", description=_("Spend my hours at partner shops")),
        BotCommand(command="certificate", description=_("A certificate of my hours")),
        BotCommand(command="askfor", description=_("Ask for help for someone else")),
        BotCommand(command="market", description=_("Market days: book a stand")),
        BotCommand(command="family", description=_("Link with your family")),
        BotCommand(command="need", description=_("Tell us what the neighbourhood needs")),
        BotCommand(command="team", description=_("My volunteer teams")),
        BotCommand(command="digest", description=_("Weekly news, at a time you choose")),
        BotCommand(command="branch", description=_("My branches")),
        BotCommand(command="joinbranch", description=_("Join another branch")),
        BotCommand(
            command="shop", description=_("For those who serve at a partner shop: the counter")
        ),
        BotCommand(command="help", description=_("What I can do")),
        BotCommand(command="language", description=_("Change language")),
        BotCommand(command="mydata", description=_("Everything we keep about you")),
        BotCommand(command="deleteme", description=_("Erase your details")),
        BotCommand(command="cancel", description=_("Stop what we are doing")),
    )


def coordinator_commands() -> list[BotCommand]:
    """What a coordinator has besides everyone's."""
    return list(_coordinator_commands())


@per_language
def _coordinator_commands() -> tuple[BotCommand, ...]:
    return (
        BotCommand(command="waiting", description=_("Requests waiting for a volunteer")),
        BotCommand(command="newmarket", description=_("Create a market day")),
        BotCommand(command="broadcast", description=_("Send an announcement")),
        BotCommand(command="broadcasts", description=_("Announcements sent")),
        BotCommand(command="stats", description=_("This week's figures of the branch")),
        BotCommand(command="report", description=_("The branch's monthly report (PDF)")),
        BotCommand(command="needs", description=_("The needs residents told us of")),
        BotCommand(command="shops", description=_("Partner shops of the branch")),
        BotCommand(command="leaderboard", description=_("Hours given, and certificates")),
        BotCommand(command="newteam", description=_("Form a volunteer team")),
    )


def coordinator_command_list() -> list[BotCommand]:
    return [*command_list(), *coordinator_commands()]


async def set_commands(bot: Bot, i18n: I18n, coordinators: Sequence[int] = ()) -> None:
    """Everyone's menu, and the configured coordinators' own, which adds /waiting."""
    for language in LANGUAGES:
        with i18n.context(), i18n.use_locale(language):
            commands = command_list()
            await bot.set_my_commands(commands, language_code=TELEGRAM_CODES[language])
            if language == i18n.default_locale:
                await bot.set_my_commands(commands)
    for chat_id in coordinators:
        await set_coordinator_commands(bot, i18n, chat_id)


async def set_coordinator_commands(bot: Bot, i18n: I18n, chat_id: int) -> None:
    """A coordinator's menu, with /waiting, in their chat. Telegram refuses it for a chat
    that does not exist yet, so it is set again when a coordinator first writes."""
    for language in LANGUAGES:
        with i18n.context(), i18n.use_locale(language):
            commands, scope = coordinator_command_list(), BotCommandScopeChat(chat_id=chat_id)
            try:
                await bot.set_my_commands(
                    commands, scope=scope, language_code=TELEGRAM_CODES[language]
                )
                if language == i18n.default_locale:  # for a Telegram in another language
                    await bot.set_my_commands(commands, scope=scope)
            except TelegramAPIError as error:  # not started the bot yet: no chat to set
                log_event(log, "coordinator commands not set", reason=str(error)[:100])
                return
