"""What the bot says, in a given language, for tests that read and tap like a member."""

from __future__ import annotations

from functools import cache

from aiogram.utils.i18n import I18n

from bot.i18n import create_i18n


@cache
def _i18n() -> I18n:
    return create_i18n("en")


def t(language: str, message: str) -> str:
    i18n = _i18n()
    with i18n.context(), i18n.use_locale(language):
        return i18n.gettext(message)
