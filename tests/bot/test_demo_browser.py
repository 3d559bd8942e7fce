"""`timebank demo` in headless Chromium: the demo's resident asks, its volunteer helps and both
passbooks show it, from the first tap, in Chinese and Korean; a newcomer signs up by clicking;
the page stays usable at the largest text."""

from __future__ import annotations

import os
import re
import shutil
import socket
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.demo import PERSONAS, demo
from core import helping, ledger, statements
from core.config import PROJECT_ROOT, load_settings
from core.demo import DEMO_POLICIES
from core.models import Identity, Member, Order, OrderStatus
from tests.bot.lang import _i18n, t

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

# Someone the time bank does not know yet, in a pane of their own.
NEWCOMER = {
    "key": "newcomer", "role": "resident", "user_id": 910001,
    "first_name": "Mei", "last_name": "Chen", "language_code": "zh-hans",
    "phone_number": "+8613800000011",
    "location": {"latitude": 31.2141, "longitude": 121.5532},
}  # fmt: skip

WELCOME = DEMO_POLICIES["luoshan"].welcome_minutes  # what the resident starts with


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
        demo(settings, _free_port(), personas=[NEWCOMER]) as sandbox,
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
            pane = page.locator('.pane[data-persona="newcomer"]')

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
            review = t(language, "Almost done! Please check your request, then tap ✅ Send.")
            await bubble(review).wait_for()
            await pane.locator(".inline-button", has_text=t(language, "✅ Send")).last.click()
            sent = t(language, "✅ Sent! I will let you know as soon as a volunteer says yes.")
            await bubble(sent).wait_for()
            await _save(page, tmp_path / f"demo-ask-for-help-{language}.png")
            assert errors == []
        finally:
            await browser.close()

    async with sessions() as session:
        member = await session.scalar(
            select(Member).join(Identity).where(Identity.external_id == str(NEWCOMER["user_id"]))
        )
        orders = (await session.scalars(select(Order).where(Order.requester_id == member.id))).all()
    assert member is not None and member.onboarded_at is not None
    assert (member.name, member.language) == (name, language)
    assert [(o.status, o.estimated_minutes) for o in orders] == [("open", 60)]


# (the page's language, the resident's, the volunteer's): as seeded, then the other way round
JOURNEYS = [("zh-CN", "zh_Hans", "ko"), ("ko-KR", "ko", "zh_Hans")]
PAGE_WORDS = {"zh-CN": ("试一试", "位置"), "ko-KR": ("이렇게 해 보세요", "위치")}
LANGUAGE_BUTTON = {"zh_Hans": "中文", "ko": "한국어"}
PANE_LANGUAGE = {"zh_Hans": "zh-hans", "ko": "ko"}
NAMES = {persona["key"]: persona["first_name"] for persona in PERSONAS}


def _plain(text: str) -> str:
    return re.sub(r"<[^>]+>", "", text)


def _hours(language: str, minutes: int) -> str:
    i18n = _i18n()
    with i18n.context(), i18n.use_locale(language):
        return statements.duration(minutes, i18n.gettext)


@pytest.mark.parametrize(("locale", "asker", "helper"), JOURNEYS)
async def test_the_demo_journey_runs_from_the_first_tap(
    database_url, engine, sessions, tmp_path: Path, locale, asker, helper
) -> None:
    """Nobody signs up, verifies or ticks skills: the resident asks, the volunteer accepts
    and reports Done, the resident confirms, and both passbooks show the hour."""
    playwright_api = pytest.importorskip("playwright.async_api")
    settings = load_settings(database_url=database_url, log_level="WARNING")
    async with (
        demo(settings, _free_port()) as sandbox,
        playwright_api.async_playwright() as playwright,
    ):
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(
                viewport={"width": 1500, "height": 1000}, locale=locale
            )
            context.set_default_timeout(15_000)
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(sandbox.base_url + "/")
            await page.wait_for_selector("body[data-ready=true]")
            # The page speaks the browser's language, and the guide shows the journey.
            title, location = PAGE_WORDS[locale]
            assert await page.locator(".guide summary").inner_text() == title
            assert await page.locator(".guide-step").count() >= 5
            resident = page.locator('.pane[data-persona="resident"]')
            helper_pane = page.locator('.pane[data-persona="volunteer"]')
            assert await resident.locator(".share-location").inner_text() == location

            async def speak(pane, language: str, now: str) -> None:
                """Greeted with the main menu; switched to `language` when `now` differs."""
                await pane.locator(".kb-button").first.wait_for()
                if language != now:
                    await pane.locator(".lang-select").select_option(PANE_LANGUAGE[language])
                    await pane.locator(".kb-button", has_text=LANGUAGE_BUTTON[language]).click()
                await pane.locator(".kb-button", has_text=t(language, "🙋 Ask for help")).wait_for()

            await speak(resident, asker, "zh_Hans")
            await speak(helper_pane, helper, "ko")

            def bubble(pane, text: str):
                return pane.locator(".from-bot .bubble", has_text=_plain(text))

            def inline(pane, text: str):
                return pane.locator(".inline-button", has_text=text).last

            def tap(pane, language: str, label: str):
                return pane.locator(".kb-button", has_text=t(language, label)).click()

            # The resident asks, by tapping only.
            await tap(resident, asker, "🙋 Ask for help")
            await bubble(resident, t(asker, "What do you need help with?")).wait_for()
            await resident.locator(".kb-button").first.click()
            await tap(resident, asker, "Skip ➡️")
            await tap(resident, asker, "⚡ As soon as possible")
            await tap(resident, asker, "📍 Share my location")
            await inline(resident, t(asker, "✅ Send")).click()
            sent = t(asker, "✅ Sent! I will let you know as soon as a volunteer says yes.")
            await bubble(resident, sent).wait_for()

            # The volunteer is nudged at the next sweep, accepts, helps and reports Done.
            nudge = t(helper, "🔔 Someone near you would like help")
            await bubble(helper_pane, nudge).wait_for(timeout=30_000)
            await inline(helper_pane, t(helper, "✅ Accept")).click()
            await bubble(helper_pane, t(helper, "🙏 Thank you! It is yours.")).wait_for()
            await bubble(resident, NAMES["volunteer"]).last.wait_for()
            await inline(helper_pane, t(helper, "✔️ Done")).click()
            as_estimated = t(helper, "As estimated ({duration})").format(
                duration=_hours(helper, 60)
            )
            await inline(helper_pane, as_estimated).click()

            # The resident confirms with the stars.
            await inline(resident, "⭐⭐⭐⭐⭐").click()
            await bubble(
                resident, t(asker, "Would you like to add a thank-you note? Just type it.")
            ).wait_for()
            thanked = t(helper, "🎉 Thank you! {duration} for {category} are now in your passbook.")
            await bubble(helper_pane, thanked[:3]).wait_for()
            await _save(page, tmp_path / f"demo-journey-{asker}.png")

            # Both passbooks show the hour, with the other person's name.
            for pane, language, balance, other in (
                (resident, asker, WELCOME - 60, NAMES["volunteer"]),
                (helper_pane, helper, 60, NAMES["resident"]),
            ):
                await tap(pane, language, "📒 My passbook")
                book = bubble(pane, t(language, "📒 <b>Your passbook</b>")).last
                await book.wait_for()
                shown = await book.inner_text()
                balance_line = t(language, "Balance: <b>{hours}</b>")
                assert _plain(balance_line).format(hours=_hours(language, balance)) in shown
                assert other in shown
            await _save(page, tmp_path / f"demo-journey-passbooks-{asker}.png")
            assert errors == []
        finally:
            await browser.close()

    async with sessions() as session:
        [order] = (await session.scalars(select(Order))).all()
        assert (order.status, order.actual_minutes) == (OrderStatus.CONFIRMED, 60)
        assert await helping.balance(session, order.volunteer_id) == 60
        assert await helping.balance(session, order.requester_id) == WELCOME - 60
    assert (await ledger.verify_ledger(sessions)).ok


async def _save(page, shot: Path) -> None:
    """A screenshot under the test's folder, copied to test-output/ for people to look at."""
    await page.screenshot(path=str(shot))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, SCREENSHOTS / shot.name)


async def test_the_three_panes_fit_the_window_at_the_largest_text(
    database_url, engine, sessions, tmp_path: Path
) -> None:
    """At the slider's largest size the panes shrink to stay side by side on a laptop screen;
    on a phone-sized window they stack, one per row, each giving its conversation at least
    half of its height; the reply keyboard folds away; buttons keep Korean words whole."""
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
                assert box["log"] >= box["height"] / 2, box
            assert await page.evaluate("document.documentElement.scrollWidth") <= 400
            volunteer = page.locator('.pane[data-persona="volunteer"]')
            # A reply arriving meanwhile redraws the keyboard: asked until its button is there.
            await playwright_api.expect(volunteer.locator(".kb-button").first).to_have_css(
                "word-break", "keep-all"
            )
            # The ⌨ button folds the keyboard away and brings it back.
            resident = page.locator('.pane[data-persona="resident"]')
            log_before = (await _pane_boxes(page))[0]["log"]
            await resident.locator(".keyboard-toggle").click()
            assert await resident.locator(".keyboard").is_hidden()
            assert (await _pane_boxes(page))[0]["log"] > log_before
            await _save(page, tmp_path / "demo-largest-text-400x800-folded.png")
            await resident.locator(".keyboard-toggle").click()
            await resident.locator(".kb-button").first.wait_for()
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
                    height: box.height, overflowing,
                    log: pane.querySelector('.messages').getBoundingClientRect().height};
        })"""
    )
