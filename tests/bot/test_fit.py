"""A text too long for Telegram is trimmed by the bot, and Telegram (the sandbox) takes it."""

from __future__ import annotations

from bot.app import create_bot
from bot.fit import CAPTION_LIMIT, LIMIT, fit, utf16_length
from core.config import load_settings
from sandbox.client import SandboxClient
from tests.bot.conftest import TOKEN


def test_fit_counts_like_telegram_and_drops_markup() -> None:
    assert fit("<b>short</b> &amp; sweet") == "short & sweet"
    trimmed = fit("👵" * 3000)
    assert utf16_length(trimmed) <= LIMIT and trimmed.endswith("…")


async def test_a_long_html_message_still_reaches_the_member(sandbox) -> None:
    settings = load_settings(telegram_token=TOKEN, telegram_api_url=sandbox.base_url)
    bot = create_bot(settings)
    try:
        async with SandboxClient(sandbox.base_url) as control:
            ann = await control.user("Ann", language_code="en")
            await ann.command("/start")
            await bot.send_message(ann.id, "<b>" + "时间银行 " * 1000 + "</b>")
            await ann.sync()
            text = ann.bot_messages()[-1]["text"]
    finally:
        await bot.session.close()
    assert text.startswith("时间银行") and text.endswith("…")
    assert utf16_length(text) <= LIMIT


async def test_a_long_caption_on_a_voice_note_is_trimmed_to_telegrams_limit(sandbox) -> None:
    settings = load_settings(telegram_token=TOKEN, telegram_api_url=sandbox.base_url)
    bot = create_bot(settings)
    try:
        async with SandboxClient(sandbox.base_url) as control:
            ann = await control.user("Ann", language_code="en")
            await ann.command("/start")
            await ann.send_voice(duration=2)
            await ann.sync()
            voice = ann.transcript()[-1]["voice"]["file_id"]
            await bot.send_voice(ann.id, voice, caption="<b>" + "时间银行 " * 300 + "</b>")
            await ann.sync()
            sent = ann.bot_messages()[-1]
    finally:
        await bot.session.close()
    assert sent["kind"] == "voice" and sent["text"].endswith("…")
    assert utf16_length(sent["text"]) <= CAPTION_LIMIT
