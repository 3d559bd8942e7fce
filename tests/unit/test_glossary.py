"""Every catalog keeps to the one word per idea that locales/GLOSSARY.md sets out."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from babel.messages.pofile import read_po

from bot.i18n import DOMAIN, LOCALES_DIR

GLOSSARY = LOCALES_DIR / "GLOSSARY.md"
COLUMNS = {"English": "en", "简体中文": "zh_Hans", "한국어": "ko"}
KOREAN_PARTICLE_PLACEHOLDERS = ("을(를)", "를(을)", "이(가)", "가(이)", "은(는)", "는(은)",
                                "와(과)", "과(와)", "(으)로", "(이)나", "(이)라")  # fmt: skip


@dataclass(frozen=True)
class Term:
    language: str
    preferred: tuple[str, ...]
    avoided: tuple[str, ...]


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def glossary_terms(markdown: str) -> list[Term]:
    """The table's rows, one Term per language cell: **bold** to use, ~~struck~~ to avoid."""
    rows = [_cells(line) for line in markdown.splitlines() if line.lstrip().startswith("|")]
    header, body = rows[0], [row for row in rows[1:] if not set("".join(row)) <= set("-: ")]
    columns = {index: COLUMNS[name] for index, name in enumerate(header) if name in COLUMNS}
    return [
        Term(
            language,
            preferred=tuple(re.findall(r"\*\*(.+?)\*\*", row[index])),
            avoided=tuple(re.findall(r"~~(.+?)~~", row[index])),
        )
        for row in body
        for index, language in columns.items()
    ]


def _readable(text: str) -> str:
    """What a member reads: no placeholders, HTML tags or /commands."""
    return re.sub(r"\{[^}]*\}|<[^>]+>|/[a-z_]+", " ", text)


def _pattern(word: str, language: str) -> re.Pattern[str]:
    if language == "en":
        return re.compile(rf"\b{re.escape(word)}\b", re.IGNORECASE)
    return re.compile(re.escape(word))


def avoided_in(text: str, terms: list[Term], language: str) -> list[str]:
    """The avoided variants `text` uses; a variant inside a preferred word does not count."""
    found = []
    for term in (t for t in terms if t.language == language):
        for variant in term.avoided:
            seen = _readable(text)
            for word in term.preferred:
                if variant.lower() in word.lower():
                    seen = _pattern(word, language).sub(" ", seen)
            if _pattern(variant, language).search(seen):
                found.append(variant)
    return found


@pytest.fixture(scope="module")
def terms() -> list[Term]:
    return glossary_terms(GLOSSARY.read_text(encoding="utf-8"))


def _catalog(language: str):
    with (LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as po:
        return read_po(po, locale=language)


def _texts(message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple) else [message.string]


def test_the_glossary_names_one_word_per_language_for_each_idea(terms: list[Term]) -> None:
    assert len(terms) >= 3 * 11
    assert {t.language for t in terms} == set(COLUMNS.values())
    for term in terms:
        assert term.preferred, f"{term.language}: a row has no word to use"
        assert not avoided_in(" ".join(term.preferred), terms, term.language), term


@pytest.mark.parametrize(
    ("language", "text", "variant"),
    [("zh_Hans", "已经有其他志愿者接单了", "接单"),
     ("zh_Hans", "由互助池支付", "互助池"),
     ("ko", "다른 자원봉사자가 이미 맡았어요", "자원봉사자"),
     ("ko", "타임뱅크 통장", "타임뱅크"),
     ("en", "📋 My Orders", "orders"),
     ("en", "The pool pays", "pool")],
)  # fmt: skip
def test_an_avoided_variant_is_caught(terms: list[Term], language: str, text: str,
                                      variant: str) -> None:  # fmt: skip
    assert variant in avoided_in(text, terms, language)


@pytest.mark.parametrize(
    ("language", "text"),
    [("zh_Hans", "💝 由社区互助池支付"), ("ko", "다른 봉사자가 이미 맡았어요"),
     ("en", "💝 The community pool pays"), ("en", "/myorders – your requests")],
)  # fmt: skip
def test_the_word_to_use_is_not_caught(terms: list[Term], language: str, text: str) -> None:
    assert avoided_in(text, terms, language) == []


@pytest.mark.parametrize("language", sorted(COLUMNS.values()))
def test_translations_use_the_glossary_words(terms: list[Term], language: str) -> None:
    wrong = {
        message.id: found
        for message in _catalog(language)
        if message.id
        for text in _texts(message)
        if (found := avoided_in(text, terms, language))
    }
    assert wrong == {}, f"{language}: words the glossary avoids"


def test_english_source_uses_the_glossary_words(terms: list[Term]) -> None:
    wrong = {
        message.id: found
        for message in _catalog("en")
        if message.id
        if (found := avoided_in(str(message.id), terms, "en"))
    }
    assert wrong == {}


def test_korean_has_no_particle_placeholders() -> None:
    wrong = [
        text
        for message in _catalog("ko")
        for text in _texts(message)
        if any(placeholder in text for placeholder in KOREAN_PARTICLE_PLACEHOLDERS)
    ]
    assert wrong == [], "rephrase so that no particle follows a placeholder"
