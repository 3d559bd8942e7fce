"""What a person typed, read the same whatever their keyboard.

A Chinese or Korean keyboard types full-width digits and colons by default
("２４５６１１", "１４：３０") and an ideographic space; Unicode NFKC folds them
to their plain forms. Every place that reads a number, a time or a code from
typed text goes through here, so one keyboard is never refused where another
is accepted.
"""

from __future__ import annotations

import unicodedata


def plain(text: str) -> str:
    """The typed text with full-width digits, letters, colons, dashes and spaces folded."""
    return unicodedata.normalize("NFKC", text)


def digits(text: str) -> str:
    """Only the digits 0-9 of the typed text (full-width ones included); spaces and dashes drop."""
    return "".join(ch for ch in plain(text) if "0" <= ch <= "9")
