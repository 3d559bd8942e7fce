"""Catalogs and the locale of each update: member's choice → Telegram's language → branch."""

from __future__ import annotations

import os
from typing import Any

from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18n, I18nMiddleware
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from core.config import PROJECT_ROOT
from core.languages import match_language
from core.models import Branch, Member

LOCALES_DIR = PROJECT_ROOT / "locales"
DOMAIN = "messages"


def compile_catalogs() -> None:
    """Build each .mo from its .po when it is missing or older, so a fresh clone just runs."""
    for po_path in LOCALES_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=po_path.parent.parent.name)
        tmp = mo_path.with_suffix(f".mo.{os.getpid()}.tmp")  # another process may compile too
        with tmp.open("wb") as mo_file:
            write_mo(mo_file, catalog)
        tmp.replace(mo_path)


def create_i18n(default_language: str) -> I18n:
    compile_catalogs()
    return I18n(path=LOCALES_DIR, default_locale=default_language, domain=DOMAIN)


class MemberI18nMiddleware(I18nMiddleware):
    """Runs after the member lookup, which puts `member` and `branch` into the data."""

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        member: Member | None = data.get("member")
        if member is not None and member.language in self.i18n.available_locales:
            return member.language
        user: User | None = data.get("event_from_user")
        from_telegram = match_language(user.language_code if user else None)
        if from_telegram in self.i18n.available_locales:
            return from_telegram
        branch: Branch | None = data.get("branch")
        if branch is not None and branch.default_language in self.i18n.available_locales:
            return branch.default_language
        return self.i18n.default_locale


def update_catalogs() -> None:
    """Extract every marked string, merge it into each language's catalog, compile them all."""
    from babel.messages.frontend import CommandLineInterface

    from core.languages import LANGUAGES

    pot = LOCALES_DIR / f"{DOMAIN}.pot"
    babel = CommandLineInterface()
    babel.run([
        "pybabel", "-q", "extract", "-F", str(PROJECT_ROOT / "babel.cfg"),
        "-k", "__", "-k", "N_", "--no-location", "--sort-output", "--no-wrap",
        "--project", "timebank", "-o", str(pot), str(PROJECT_ROOT),
    ])  # fmt: skip
    # No fuzzy matching: a guessed translation of a new string is worse than none.
    update = ["update", "--ignore-obsolete", "--no-fuzzy-matching"]
    for language in LANGUAGES:
        po = LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
        babel.run([
            "pybabel", "-q", *(update if po.exists() else ["init"]), "-i", str(pot),
            "-d", str(LOCALES_DIR), "-D", DOMAIN, "-l", language, "--no-wrap",
        ])  # fmt: skip
    compile_catalogs()
