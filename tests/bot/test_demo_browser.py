"""`timebank demo` in headless Chromium: a resident signs up by clicking, in two languages."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.demo import PERSONAS, demo
from core.config import PROJECT_ROOT, load_settings
from core.models import Identity, Member, Order
from tests.bot.lang import t

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
SCREENSHOTS = PROJECT_ROOT / "test-output" / "screenshots"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed"),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    ("language", "switch_to", "name", "branch"),
    [("zh_Hans", None, "王芳", "上海罗山"), ("en", "en", "Margaret", "Luoshan, Shanghai")],
)
async def test_a_resident_signs_up_in_the_demo_page(
    database_url, engine, sessions, tmp_path: Path, language, switch_to, name, branch
) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    settings = load_settings(database_url=database_url, log_level="WARNING")
    async with (
        demo(settings, _free_port()) as sandbox,
        playwright_api.async_playwright() as playwright,
    ):
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1500, "height": 1000})
            page.set_default_timeout(10_000)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(sandbox.base_url + "/")
            await page.wait_for_selector("body[data-ready=true]")
            await page.locator("#font-scale").fill("130")
            pane = page.locator('.pane[data-persona="resident"]')

            def button(label: str):
                return pane.locator(".kb-button", has_text=label)

            def bubble(text: str):
                return pane.locator(".from-bot .bubble", has_text=text)

            if switch_to:
                await pane.locator(".lang-select").select_option(switch_to)
            else:
                await pane.locator(".start-button").click()
            await bubble(t(language, "Which language would you like me to speak?")).wait_for()
            await button({"zh_Hans": "中文", "en": "English"}[language]).click()
            await bubble(t(language, "What should we call you? Please type your name.")).wait_for()
            await pane.locator(".text-input").fill(name)
            await pane.locator(".send-button").click()
            await button(branch).click()
            await button(t(language, "🙋 I need help")).click()
            await button(t(language, "📞 Share my phone number")).click()
            await bubble(t(language, "Thank you, I have saved your number.")).wait_for()
            await button(t(language, "🏘 Choose my neighbourhood")).click()
            await bubble(t(language, "Which neighbourhood?")).wait_for()
            await pane.locator(".kb-button").first.click()
            await button(t(language, "👤 My details")).wait_for()
            await bubble(name).last.wait_for()
            await _save(page, tmp_path / f"demo-onboarding-{language}.png")

            # Asking for help works by tapping only.
            await button(t(language, "🙋 Ask for help")).click()
            await bubble(t(language, "What do you need help with?")).wait_for()
            await pane.locator(".kb-button").first.click()
            await button(t(language, "Skip ➡️")).click()
            await button(t(language, "⚡ As soon as possible")).click()
            await button(t(language, "📍 Share my location")).click()
            await button(t(language, "1 hour")).click()
            review = t(language, "Almost done! Please check your request, then tap ✅ Send.")
            await bubble(review).wait_for()
            await pane.locator(".inline-button", has_text=t(language, "✅ Send")).last.click()
            sent = t(language, "✅ Sent! I will let you know as soon as a volunteer says yes.")
            await bubble(sent).wait_for()
            await _save(page, tmp_path / f"demo-ask-for-help-{language}.png")
            assert errors == []
        finally:
            await browser.close()

    resident_id = next(p["user_id"] for p in PERSONAS if p["key"] == "resident")
    async with sessions() as session:
        member = await session.scalar(
            select(Member).join(Identity).where(Identity.external_id == str(resident_id))
        )
        orders = (await session.scalars(select(Order).where(Order.requester_id == member.id))).all()
    assert member is not None and member.onboarded_at is not None
    assert (member.name, member.language) == (name, language)
    assert [(o.status, o.estimated_minutes) for o in orders] == [("open", 60)]


async def _save(page, shot: Path) -> None:
    """A screenshot under the test's folder, copied to test-output/ for people to look at."""
    await page.screenshot(path=str(shot))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, SCREENSHOTS / shot.name)


async def test_the_three_panes_fit_the_window_at_the_largest_text(
    database_url, engine, sessions, tmp_path: Path
) -> None:
    """At the slider's largest size the panes shrink to stay side by side on a laptop screen;
    on a phone-sized window they stack, one per row."""
    playwright_api = pytest.importorskip("playwright.async_api")
    settings = load_settings(database_url=database_url, log_level="WARNING")
    async with (
        demo(settings, _free_port()) as sandbox,
        playwright_api.async_playwright() as playwright,
    ):
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            page.set_default_timeout(10_000)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(sandbox.base_url + "/")
            await page.wait_for_selector("body[data-ready=true]")
            slider = page.locator("#font-scale")
            await slider.fill(await slider.get_attribute("max"))
            # Real replies in Chinese, Korean and English, with their reply keyboards.
            for persona in ("resident", "volunteer", "coordinator"):
                pane = page.locator(f'.pane[data-persona="{persona}"]')
                await pane.locator(".start-button").click()
                await pane.locator(".kb-button").first.wait_for()
            assert await page.locator(".bubble").first.evaluate(
                "node => parseFloat(getComputedStyle(node).fontSize)"
            ) == pytest.approx(40)  # 20 px at 100 %, the slider's 200 %
            await _save(page, tmp_path / "demo-largest-text-1280x800.png")
            boxes = await _pane_boxes(page)
            assert len(boxes) == 3
            for box in boxes:
                assert box["left"] >= 0 and box["right"] <= 1280, box
                assert box["top"] >= 0 and box["bottom"] <= 800, box
                # what a user needs in a pane is inside it: its header, keyboard and composer
                assert box["overflowing"] == [], box
            assert await page.evaluate("document.documentElement.scrollWidth") <= 1280

            await page.set_viewport_size({"width": 400, "height": 800})
            await _save(page, tmp_path / "demo-largest-text-400x800.png")
            boxes = await _pane_boxes(page)
            assert len({round(box["left"]) for box in boxes}) == 1  # one column
            assert boxes[0]["bottom"] <= boxes[1]["top"] and boxes[1]["bottom"] <= boxes[2]["top"]
            for box in boxes:
                assert box["left"] >= 0 and box["right"] <= 400, box
                assert box["overflowing"] == [], box
            assert await page.evaluate("document.documentElement.scrollWidth") <= 400
            coordinator = page.locator('.pane[data-persona="coordinator"]')
            await coordinator.scroll_into_view_if_needed()
            await coordinator.locator(".kb-button").first.click()  # reachable by scrolling
            await _save(page, tmp_path / "demo-largest-text-400x800-coordinator.png")
            assert errors == []
        finally:
            await browser.close()


async def _pane_boxes(page) -> list[dict]:
    """Each pane's box, and which of its parts stick out of it."""
    return await page.evaluate(
        """() => [...document.querySelectorAll('.pane')].map(pane => {
            const box = pane.getBoundingClientRect();
            const parts = pane.querySelectorAll(
                '.pane-head, .pane-head > *, .messages, .keyboard, .composer, .composer > *');
            const overflowing = [...parts].filter(part => {
                const r = part.getBoundingClientRect();
                return r.width > 0 && (r.left < box.left - 0.5 || r.right > box.right + 0.5
                    || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5);
            }).map(part => part.className);
            return {left: box.left, right: box.right, top: box.top, bottom: box.bottom,
                    overflowing};
        })"""
    )
