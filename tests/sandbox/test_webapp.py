"""Mini Apps: the sandbox signs initData as Telegram does, and aiogram's check accepts it."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiogram.utils.web_app import safe_parse_webapp_init_data

from sandbox import SandboxClient, SandboxServer
from sandbox.webapp import launch_url, sign_init_data

from .conftest import TOKEN


def test_signed_init_data_passes_aiograms_check_and_only_with_that_token() -> None:
    user = {"id": 42, "first_name": "王芳", "language_code": "zh-hans"}
    data = sign_init_data(TOKEN, user, auth_date=1_800_000_000)
    parsed = safe_parse_webapp_init_data(TOKEN, data)
    assert parsed.user.id == 42 and parsed.user.first_name == "王芳"
    assert int(parsed.auth_date.timestamp()) == 1_800_000_000
    with pytest.raises(ValueError):
        safe_parse_webapp_init_data("1:another", data)
    with pytest.raises(ValueError):
        safe_parse_webapp_init_data(TOKEN, data.replace("42", "43"))


def test_the_launch_url_carries_init_data_and_theme_in_its_fragment() -> None:
    data = sign_init_data(TOKEN, {"id": 1, "first_name": "Li"})
    url = launch_url("https://example.org/app?x=1#old", data)
    parts = urlsplit(url)
    assert parts.query == "x=1"
    fragment = parse_qs(parts.fragment)
    assert fragment["tgWebAppData"] == [data]
    assert json.loads(fragment["tgWebAppThemeParams"][0])["bg_color"].startswith("#")
    with pytest.raises(ValueError):
        launch_url("javascript:alert(1)", data)


async def test_the_control_api_opens_a_web_app_for_a_user(
    client: SandboxClient, sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    user = await client.create_user("Mei", language_code="ko", started=True)
    before = int(time.time())
    async with http.post(
        f"{sandbox.base_url}/sandbox/chats/{user['id']}/web_app",
        json={"url": "http://127.0.0.1:1/dashboard"},
    ) as response:
        assert response.status == 200
        opened = (await response.json())["url"]
    data = parse_qs(urlsplit(opened).fragment)["tgWebAppData"][0]
    parsed = safe_parse_webapp_init_data(TOKEN, data)
    assert parsed.user.id == user["id"] and parsed.user.language_code == "ko"
    assert int(parsed.auth_date.timestamp()) >= before
    async with http.post(
        f"{sandbox.base_url}/sandbox/chats/{user['id']}/web_app", json={"url": "file:///etc"}
    ) as response:
        assert response.status == 400
