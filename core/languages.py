"""The languages the time bank speaks, and how outside language tags map onto them."""

from __future__ import annotations

LANGUAGES: tuple[str, ...] = ("zh_Hans", "ko", "en")

# Each language named in its own script, as a language picker must show it.
NATIVE_NAMES: dict[str, str] = {"zh_Hans": "中文", "ko": "한국어", "en": "English"}


def match_language(tag: str | None) -> str | None:
    """Map an IETF tag such as Telegram's `language_code` ('zh-hans', 'ko-KR') to ours."""
    if not tag:
        return None
    tag = tag.replace("_", "-").lower()
    primary = tag.split("-", 1)[0]
    if primary == "zh":
        # Traditional-script tags still get Simplified: it is the only Chinese we have.
        return "zh_Hans"
    for code in LANGUAGES:
        if code.lower() == primary:
            return code
    return None
