"""Every message the bot can say exists in Chinese, Korean and English."""

from __future__ import annotations

import re
import string

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import DOMAIN, LOCALES_DIR, compile_catalogs, create_i18n
from core.config import PROJECT_ROOT
from core.languages import LANGUAGES, match_language

KEYWORDS = {"_": None, "__": None, "gettext": None, "N_": None, "ngettext": (1, 2)}


def _catalog(language: str):
    with (LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as po:
        return read_po(po, locale=language)


def _source_messages() -> set[str]:
    found: set[str] = set()
    for folder in ("bot", "core"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            PROJECT_ROOT / folder, keywords=KEYWORDS, comment_tags=()
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


def _forms(text: str | tuple[str, ...]) -> tuple[str, ...]:
    """A message's text, or its plural forms (ngettext)."""
    return (text,) if isinstance(text, str) else tuple(text)


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated(language: str) -> None:
    catalog = _catalog(language)
    source = _source_messages()
    ids = {_forms(m.id)[0] for m in catalog if m.id}
    assert source - ids == set(), "run `timebank i18n` and translate the new messages"
    for message in catalog:
        if not message.id:
            continue
        assert all(_forms(message.string)), f"{language}: no translation for {message.id!r}"
        assert not message.fuzzy, f"{language}: fuzzy translation for {message.id!r}"
        for form in _forms(message.string):  # each plural form says every placeholder
            assert _fields(form) == _fields(_forms(message.id)[-1]), (
                f"{language}: placeholders differ in {message.id!r}"
            )


@pytest.mark.parametrize("language", ["zh_Hans", "ko"])
def test_translations_are_in_their_own_script(language: str) -> None:
    script = {"zh_Hans": r"[\u4e00-\u9fff]", "ko": r"[\uac00-\ud7af]"}[language]
    for message in _catalog(language):
        first = _forms(message.id)[0] if message.id else ""
        if first and re.search(r"[A-Za-z]{3}", re.sub(r"/\w+|\{[^}]*\}", "", first)):
            for form in _forms(message.string):
                assert re.search(script, form), f"{language}: {message.string!r}"


def test_catalogs_compile_and_load() -> None:
    compile_catalogs()
    i18n = create_i18n("en")
    assert set(LANGUAGES) <= set(i18n.available_locales)
    with i18n.context(), i18n.use_locale("ko"):
        assert i18n.gettext("⬅️ Back") == "⬅️ 뒤로"


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("zh-hans", "zh_Hans"),
        ("zh-CN", "zh_Hans"),
        ("ko", "ko"),
        ("ko-KR", "ko"),
        ("en-US", "en"),
        ("fr", None),
        (None, None),
        ("", None),
    ],
)
def test_telegram_language_codes(tag: str | None, expected: str | None) -> None:
    assert match_language(tag) == expected
