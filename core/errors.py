"""Domain errors. Each carries a message key: an English sentence that is also its gettext msgid."""

from __future__ import annotations

from typing import Any


def N_(message: str) -> str:
    """Mark a string for translation without translating it here (core has no locale)."""
    return message


class DomainError(Exception):
    """A rule of the time bank said no. `key` is shown to the member, translated, with `params`."""

    key: str = N_("Sorry, that did not work. Please try again.")

    def __init__(self, key: str | None = None, **params: Any) -> None:
        if key is not None:
            self.key = key
        self.params = params
        super().__init__(self.key.format(**params) if params else self.key)


class NotFound(DomainError):
    key = N_("Sorry, I could not find that.")


class InvalidInput(DomainError):
    key = N_("Sorry, I did not understand that.")
