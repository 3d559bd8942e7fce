"""Opening a Mini App as Telegram does: the `initData` it signs and the URL it loads.

Telegram signs a Mini App's launch parameters with the bot token (HMAC-SHA-256 keyed by
HMAC("WebAppData", token), over the sorted `key=value` lines) and passes them, with the
theme, in the URL's fragment (`#tgWebAppData=...&tgWebAppThemeParams=...`); the Mini App
reads them there and sends the initData to its server, which checks the hash.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

# Telegram's default light theme, as a Mini App receives it.
THEME = {
    "bg_color": "#ffffff", "text_color": "#000000", "hint_color": "#999999",
    "link_color": "#2481cc", "button_color": "#2481cc", "button_text_color": "#ffffff",
    "secondary_bg_color": "#efeff3",
}  # fmt: skip
WEB_APP_VERSION = "8.0"


def sign_init_data(
    token: str,
    user: dict[str, Any],
    *,
    auth_date: int | None = None,
    query_id: str | None = None,
) -> str:
    """The initData query string Telegram would give a Mini App opened by `user`."""
    fields = {
        "query_id": query_id or "AA" + secrets.token_urlsafe(12),
        "user": json.dumps(user, ensure_ascii=False, separators=(",", ":")),
        "auth_date": str(int(time.time()) if auth_date is None else auth_date),
    }
    check = "\n".join(f"{key}={value}" for key, value in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields, quote_via=quote)


def launch_url(url: str, init_data: str, theme: dict[str, str] | None = None) -> str:
    """`url` with the launch parameters in its fragment, as Telegram opens a Mini App."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError("a Mini App's URL must be http(s)")
    fragment = urlencode(
        {
            "tgWebAppData": init_data,
            "tgWebAppVersion": WEB_APP_VERSION,
            "tgWebAppPlatform": "web",
            "tgWebAppThemeParams": json.dumps(theme or THEME, separators=(",", ":")),
        },
        quote_via=quote,
    )
    return f"{url.split('#', 1)[0]}#{fragment}"
