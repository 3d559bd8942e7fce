"""The demo web chat in headless Chromium: personas side by side, driven by clicks.

Uses Debian's /usr/bin/chromium through Playwright (no browser download); skipped when that
binary is absent.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiogram import Bot

from sandbox import SandboxServer

from .conftest import polling
from .echo_bot import make_dispatcher

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed"),
]


@pytest.fixture
async def page(sandbox: SandboxServer) -> AsyncIterator[Any]:
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 1500, "height": 950})
            context.set_default_timeout(10_000)
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.errors = errors
            yield page
            assert errors == [], errors
        finally:
            await browser.close()


async def test_static_page_is_served_without_external_resources(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(sandbox.base_url + "/") as response:
        assert response.status == 200
        html = await response.text()
    assert '<script src="/static/app.js">' in html
    for asset in ("/static/i18n.js", "/static/app.js", "/static/style.css"):
        async with http.get(sandbox.base_url + asset) as response:
            assert response.status == 200
            text = await response.text()
            assert "http://" not in text.replace("http://${raw}", "")
            assert "https://" not in text and "//cdn" not in text


async def test_personas_chat_with_the_echo_bot(
    sandbox: SandboxServer, aiobot: Bot, page: Any, tmp_path: Path
) -> None:
    dp = make_dispatcher()
    async with polling(dp, aiobot):
        await page.goto(sandbox.base_url + "/")
        await page.wait_for_selector("body[data-ready=true]")
        panes = page.locator(".pane")
        assert await panes.count() == 3
        resident = page.locator('.pane[data-persona="resident"]')
        volunteer = page.locator('.pane[data-persona="volunteer"]')
        assert await resident.get_attribute("lang") == "zh-Hans"
        assert await volunteer.get_attribute("lang") == "ko"

        # START, the greeting in HTML (bold rendered as <b>) and the reply keyboard
        await resident.locator(".start-button").click()
        greeting = resident.locator(".from-bot .bubble").last
        await greeting.locator("b", has_text="Mei").wait_for()
        assert (await greeting.inner_text()).startswith("你好, Mei!")
        await resident.locator(".kb-button", has_text="Buttons").wait_for()

        # a reply keyboard button, then the inline keyboard it brings
        await resident.locator(".kb-button", has_text="Buttons").click()
        await resident.locator(".inline-button", has_text="Alert").wait_for()
        await resident.locator(".inline-button", has_text="Alert").click()
        modal = resident.locator(".modal")
        await modal.locator(".modal-text", has_text="You pressed Alert").wait_for()
        await page.screenshot(path=str(tmp_path / "alert.png"))
        await modal.locator(".modal-ok").click()
        await resident.locator(".inline-button", has_text="Toast").click()
        await resident.locator(".toast", has_text="Toast!").wait_for()
        await resident.locator(".inline-button", has_text="Edit").click()
        edited = resident.locator(".from-bot .bubble", has_text="Edited in place")
        await edited.wait_for()
        assert "edited" in await edited.locator(".meta").inner_text()
        assert await edited.locator("i").inner_text() == "in place"

        # typed text is shown as text, never as HTML
        attack = '<img src=x onerror="document.body.dataset.pwned=1">'
        await resident.locator(".text-input").fill(attack)
        await resident.locator(".send-button").click()
        await resident.locator(".from-bot .bubble", has_text=attack).wait_for()
        assert await page.locator("img[src=x]").count() == 0
        assert await page.evaluate("document.body.dataset.pwned") is None

        # request_contact / request_location buttons share them
        await resident.locator(".kb-button", has_text="Share phone").click()
        await resident.locator(".from-bot .bubble", has_text="+8613800000001").wait_for()
        await resident.locator(".kb-button", has_text="Share location").click()
        await resident.locator(".from-bot .bubble", has_text="You are at 31.2304").wait_for()

        # another persona switches language: /start is sent and answered in Korean
        await volunteer.locator(".lang-select").select_option("en")
        await volunteer.locator(".from-bot .bubble", has_text="Hello, Ji-woo!").wait_for()
        await volunteer.locator(".lang-select").select_option("ko")
        await volunteer.locator(".from-bot .bubble", has_text="안녕하세요").wait_for()

        # the font-size control scales the text
        before = await resident.locator(".bubble").first.evaluate(
            "node => parseFloat(getComputedStyle(node).fontSize)"
        )
        await page.locator("#font-scale").fill("150")
        after = await resident.locator(".bubble").first.evaluate(
            "node => parseFloat(getComputedStyle(node).fontSize)"
        )
        assert after > before * 1.3
        await page.screenshot(path=str(tmp_path / "personas.png"))
    assert (tmp_path / "personas.png").stat().st_size > 10_000


async def test_bot_html_goes_through_the_whitelist(
    sandbox: SandboxServer, aiobot: Bot, page: Any
) -> None:
    user = sandbox.add_user("Mei", user_id=910001, language_code="zh-hans")
    chat = sandbox.state.chat(sandbox.default_bot, user.id, create=True)
    assert chat is not None
    chat.started = True
    sandbox.demo_personas = [
        {"key": "resident", "role": "resident", "user_id": 910001, "first_name": "Mei"}
    ]
    await aiobot.send_message(
        user.id,
        '<b>bold</b> <a href="https://example.org/x">ok link</a> '
        '<a href="tg://user?id=1">tg link</a> <code>x&lt;y</code> '
        '<tg-spoiler>secret</tg-spoiler> <pre><code class="language-py">p = 1</code></pre>',
        parse_mode="HTML",
    )
    await page.goto(sandbox.base_url + "/")
    await page.wait_for_selector("body[data-ready=true]")
    bubble = page.locator(".from-bot .bubble").last
    assert await bubble.locator("b").inner_text() == "bold"
    assert await bubble.locator("a", has_text="ok link").get_attribute("href") == (
        "https://example.org/x"
    )
    assert await bubble.locator("a", has_text="tg link").get_attribute("rel") == (
        "noopener noreferrer"
    )
    assert await bubble.locator("code").first.inner_text() == "x<y"
    assert await bubble.locator(".spoiler").inner_text() == "secret"
    # the sanitiser itself: anything outside the whitelist loses its tag, keeps its text
    html = await page.evaluate(
        """() => {
            const box = document.createElement('div');
            box.appendChild(window.sandboxChat.renderHtml(
                '<a href="javascript:alert(1)">js</a><img src=x onerror=alert(1)>'
                + '<script>alert(2)</script><b onclick="x()">b</b><iframe src="https://x"></iframe>'
                + '<span class="tg-spoiler">s</span><span style="color:red">plain</span>'));
            return box.innerHTML;
        }"""
    )
    assert html == 'js<b>b</b><span class="spoiler" title="Spoiler: click to reveal">s</span>plain'
