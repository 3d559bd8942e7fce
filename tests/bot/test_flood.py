"""Flood protection through the local Bot API server: a member sending 50 messages at once
or hammering a button is slowed down and told so once; a neighbour writing meanwhile is
answered as usual. Webhook requests with a wrong secret token get 401, logged at a capped
rate."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app, create_bot
from bot.runner import WEBHOOK_PATH, webhook_app
from core.config import load_settings
from tests.bot.conftest import TOKEN
from tests.bot.test_request_help import member

BURST = 5
SLOW_DOWN = "You are sending messages very quickly. Please wait a moment, then try again."
HELP = "I am the time bank helper."


@pytest.fixture(autouse=True)
def _small_bucket(monkeypatch) -> None:
    monkeypatch.setenv("TIMEBANK_FLOOD_BURST", str(BURST))
    monkeypatch.setenv("TIMEBANK_FLOOD_SECONDS", "30")
    monkeypatch.setenv("TIMEBANK_SWEEP_SECONDS", "0")


async def test_a_flood_is_slowed_on_its_own_chat_and_a_neighbour_is_answered(
    person, sessions, client
) -> None:
    flooder = await member(person, sessions, "Flo", "en")
    neighbour = await member(person, sessions, "Nell", "en")
    before = len(flooder.bot_messages())

    await asyncio.gather(*(client.send_command(flooder.id, "/help") for _ in range(50)))
    await neighbour.command("/help")
    assert (await neighbour.wait_reply(timeout=10))["text"].startswith(HELP)

    await flooder.wait_for(lambda e: SLOW_DOWN in str(e), timeout=10)
    await flooder.sync()
    said = [m["text"] for m in flooder.bot_messages()[before:]]
    helped = [text for text in said if text.startswith(HELP)]
    # The rest of the burst (/start took one drop), and what leaks meanwhile (1 in 6 s).
    assert BURST - 1 <= len(helped) <= BURST + 1, said
    assert said.count(SLOW_DOWN) == 1

    # Hammering a button: every tap is answered (no spinner left), few reach the handler.
    await neighbour.command("/deleteme")
    offer = await neighbour.wait_reply()
    data = next(
        b["callback_data"]
        for row in offer["reply_markup"]["inline_keyboard"]
        for b in row
        if b["text"] == "No, keep them"
    )
    pressed = await asyncio.gather(
        *(client.press(neighbour.id, offer["message_id"], data, forged=True) for _ in range(20))
    )
    answers = [await client.callback_answer(p["callback_query_id"], timeout=10) for p in pressed]
    assert all(a["answered"] for a in answers)
    texts = [a["answer"].get("text") for a in answers]
    assert texts.count(SLOW_DOWN) == 1
    # /start, /help and /deleteme took three drops: the rest of the burst, and a leak.
    assert 1 <= texts.count("Okay, nothing was erased.") <= BURST - 3 + 1, texts


async def test_a_webhook_request_without_the_secret_gets_401_logged_at_a_capped_rate(
    engine, database_url, caplog
) -> None:
    settings = load_settings(
        telegram_token=TOKEN, database_url=database_url, webhook_secret="the-right-secret",
        refused_webhook_logs_per_minute=3,
    )  # fmt: skip
    app, bot = create_app(settings, engine), create_bot(settings)
    update = {"update_id": 1, "message": {
        "message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}, "text": "hi",
        "from": {"id": 5, "is_bot": False, "first_name": "X"}}}  # fmt: skip
    try:
        async with TestClient(TestServer(webhook_app(app, bot, settings))) as web:
            with caplog.at_level(logging.INFO, logger="timebank.runner"):
                for secret in ("", "wrong", *["guess"] * 18):
                    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
                    response = await web.post(WEBHOOK_PATH, json=update, headers=headers)
                    assert response.status == 401
            logged = [r for r in caplog.records if r.getMessage() == "webhook request refused"]
            assert len(logged) == 3
            assert "the-right-secret" not in caplog.text and "guess" not in caplog.text
    finally:
        await bot.session.close()
        for router in app.dispatcher.sub_routers:
            router._parent_router = None
        app.dispatcher.sub_routers.clear()
