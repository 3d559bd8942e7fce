"""The booking's QR code: a deep link that opens the bot on the volunteer's phone."""

from __future__ import annotations

import io

import segno

CHECK_IN_PREFIX = "chk-"


def check_in_link(bot_username: str, token: str) -> str:
    """`https://t.me/<bot>?start=chk-<token>`: a phone camera opens it in Telegram."""
    return f"https://t.me/{bot_username.lstrip('@')}?start={CHECK_IN_PREFIX}{token}"


def token_of(start_parameter: str) -> str | None:
    """The booking token in a /start parameter, or None if it is not a check-in link."""
    if not start_parameter.startswith(CHECK_IN_PREFIX):
        return None
    token = start_parameter.removeprefix(CHECK_IN_PREFIX)
    return token if 8 <= len(token) <= 32 else None


def qr_png(link: str, *, scale: int = 10) -> bytes:
    """A PNG of the link's QR code, big enough to scan from a printed page or a screen."""
    image = io.BytesIO()
    segno.make(link, error="m").save(image, kind="png", scale=scale, border=4)
    return image.getvalue()
