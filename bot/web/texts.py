"""The web pages' strings in each language, from the JSON the pages load themselves."""

from __future__ import annotations

import json
from pathlib import Path

from core.languages import LANGUAGES

STATIC = Path(__file__).parent / "static"

TEXTS: dict[str, dict[str, str]] = json.loads((STATIC / "i18n.json").read_text("utf-8"))
assert set(TEXTS) == set(LANGUAGES), "bot/web/static/i18n.json must cover every language"
