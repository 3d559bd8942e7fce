"""Fixed screens made once per language: a menu, /help's text, the command lists.

What such a screen shows depends only on the language it is shown in (and on arguments the
caller gives, such as whether the reader is a coordinator), and the catalogs do not change
while the bot runs; building it again for each update (gettext for every line, a pydantic
object for every button) was a visible share of the CPU of a read-only update such as /help.
A cached value is shared between updates, so it must never be changed: a caller that wants
to change it copies it first.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from typing import TypeVar

from aiogram.utils.i18n import get_i18n

T = TypeVar("T")


def per_language(build: Callable[..., T]) -> Callable[..., T]:
    """`build(*args)` once per language in effect and `args` (hashable, positional only).

    Outside a language context (no i18n set) it is simply built."""
    made: dict[tuple[Hashable, ...], T] = {}

    @functools.wraps(build)
    def cached(*args: Hashable) -> T:
        try:
            locale = get_i18n().current_locale
        except LookupError:
            return build(*args)
        key = (locale, *args)
        found = made.get(key)
        if found is None:
            found = made[key] = build(*args)
        return found

    return cached
