"""The dashboard in headless Chromium, opened from the demo page as Telegram opens a Mini App:
the coordinator's menu button, initData signed by the local Bot API server; the figures say
what was seeded, a period is chosen, a CSV is downloaded; in Chinese and in English."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import socket
from pathlib import Path

import pytest

from bot.demo import demo
from core.config import load_settings
from core.db import transaction
from core.models import Member
from tests.figures import EXPECTED, seed_november

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed"),
]

WORDS = {
    "zh_Hans": {
        "title": "数据看板",
        "asked": "求助",
        "hours": "2 小时 30 分钟",
        "id": "编号",
        "no_address": "没有填写地址。",
        "confirm": "确认 1 小时",
    },
    "en": {
        "title": "Dashboard",
        "asked": "Requests asked",
        "hours": "2 h 30 min",
        "id": "No.",
        "no_address": "No address given.",
        "confirm": "Confirm 1 h",
    },
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("language", ["zh_Hans", "en"])
async def test_the_coordinator_opens_the_dashboard_from_the_demo(
    database_url, engine, sessions, tmp_path: Path, language
) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    seeded = await seed_november(sessions)
    async with transaction(sessions, write=True) as s:
        (await s.get(Member, seeded["coordinator"])).language = language
    web_port = _free_port()
    settings = load_settings(
        database_url=database_url,
        log_level="WARNING",
        web_host="127.0.0.1",
        web_port=web_port,
        web_public_url=f"http://127.0.0.1:{web_port}",
    )
    words = WORDS[language]
    async with (
        demo(settings, _free_port()) as sandbox,
        playwright_api.async_playwright() as playwright,
    ):
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(
                viewport={"width": 1400, "height": 900}, accept_downloads=True
            )
            context.set_default_timeout(20_000)
            page = await context.new_page()
            errors: list[str] = []
            await page.goto(sandbox.base_url + "/")
            await page.wait_for_selector("body[data-ready=true]")
            pane = page.locator('.pane[data-persona="coordinator"]')
            async with context.expect_page() as opened:
                await pane.locator(".menu-button").click()
            dashboard = await opened.value
            dashboard.on("pageerror", lambda error: errors.append(str(error)))
            await dashboard.set_viewport_size({"width": 360, "height": 800})
            await dashboard.wait_for_selector("body[data-ready=true]")
            assert "#tgWebAppData=" in dashboard.url
            assert await dashboard.locator("h1").text_content() == words["title"]

            await dashboard.locator('button[data-period="custom"]').click()
            await dashboard.locator('input[name="from"]').fill("2026-11-01")
            await dashboard.locator('input[name="to"]').fill("2026-11-30")
            await dashboard.locator('#custom button[type="submit"]').click()
            await dashboard.locator("#shown", has_text="2026-11-01").wait_for()

            async def tile(key: str) -> str:
                return await dashboard.locator(f'[data-total="{key}"] .value').text_content()

            assert await tile("asked") == str(EXPECTED["asked"])
            assert await tile("done") == str(EXPECTED["done"])
            assert await tile("lapsed") == str(EXPECTED["lapsed"])
            assert await tile("minutes") == words["hours"]
            assert await tile("active_volunteers") == str(EXPECTED["active_volunteers"])
            label = dashboard.locator('[data-total="asked"] .label')
            assert await label.text_content() == words["asked"]
            assert await dashboard.locator("#categories tbody tr").count() == 2
            await dashboard.screenshot(path=str(tmp_path / f"dashboard-{language}.png"))

            async with dashboard.expect_download() as downloading:
                await dashboard.locator('button[data-export="orders.csv"]').click()
            download = await downloading.value
            assert download.suggested_filename == "orders-2026-11-01-2026-11-30.csv"
            body = await asyncio.to_thread(Path(await download.path()).read_bytes)
            assert body.startswith(b"\xef\xbb\xbf")
            rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
            assert rows[0][0] == words["id"]
            assert len(rows) - 1 == EXPECTED["asked"]

            # Acting on the board and on a member: the buttons are there; an address is
            # shown only once asked for; the month's report downloads.
            await dashboard.locator('button[data-list="unconfirmed"]').click()
            await dashboard.locator("#board button", has_text=words["confirm"]).wait_for()
            await dashboard.locator('#search input[name="q"]').fill("0001")
            await dashboard.locator('#search button[type="submit"]').click()
            member_row = dashboard.locator("#members li").first
            await member_row.locator(".actions button").first.click()
            await member_row.locator(".hint", has_text=words["no_address"]).wait_for()
            async with dashboard.expect_download() as downloading:
                await dashboard.locator("#exports .export").last.locator("button").click()
            report = await downloading.value
            assert report.suggested_filename.startswith("report-luoshan-")
            pdf = await asyncio.to_thread(Path(await report.path()).read_bytes)
            assert pdf.startswith(b"%PDF")

            # The page fits a 360 px phone: nothing wider than the window.
            width = await dashboard.evaluate("document.documentElement.scrollWidth")
            assert width <= 360
            assert errors == []
        finally:
            await browser.close()
