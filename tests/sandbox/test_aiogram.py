"""aiogram 3 against the sandbox: the Bot client, a polling Dispatcher driven by personas,
flood-control retries, blocked users and webhook delivery into aiogram's request handler."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
)
from aiogram.utils.backoff import BackoffConfig
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

from sandbox import RateLimits, SandboxClient, SandboxServer
from sandbox.client import aiogram_session

from .conftest import FAST, TOKEN, polling
from .echo_bot import make_dispatcher

FAST_BACKOFF = BackoffConfig(min_delay=0.05, max_delay=0.2, factor=1.5, jitter=0.0)


async def test_aiogram_bot_calls(aiobot: Bot, client: SandboxClient, user: dict[str, Any]) -> None:
    me = await aiobot.get_me()
    assert me.id == 123456789 and me.username == "timebank_test_bot"
    sent = await aiobot.send_message(user["id"], "<b>时间</b> bank", parse_mode="HTML")
    assert sent.text == "时间 bank" and sent.entities and sent.entities[0].type == "bold"
    assert sent.chat.id == user["id"] and sent.from_user and sent.from_user.is_bot
    edited = await aiobot.edit_message_text(
        "changed", chat_id=user["id"], message_id=sent.message_id
    )
    assert not isinstance(edited, bool) and edited.edit_date is not None
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await aiobot.edit_message_text("changed", chat_id=user["id"], message_id=sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await aiobot.send_message(user["id"], "")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await aiobot.send_message(user["id"], "x" * 4097)
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await aiobot.send_message(user["id"], "<b>x", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await aiobot.send_message(
            user["id"],
            "x",
            reply_markup=InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text="x", callback_data="y" * 65)]]
            ),
        )
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await aiobot.send_message(1, "x")
    document = await aiobot.send_document(
        user["id"],
        BufferedInputFile(b"minutes,balance\n60,60\n", filename="passbook.csv"),
        caption="Your passbook",
    )
    assert document.document and document.document.file_name == "passbook.csv"
    downloaded = await aiobot.download(document.document)
    assert downloaded is not None and downloaded.read() == b"minutes,balance\n60,60\n"
    assert await aiobot.set_my_commands(
        [BotCommand(command="start", description="开始")],
        language_code="zh",
        scope=BotCommandScopeAllPrivateChats(),
    )
    commands = await aiobot.get_my_commands(
        language_code="zh", scope=BotCommandScopeAllPrivateChats()
    )
    assert [c.command for c in commands] == ["start"]
    chat = await aiobot.get_chat(user["id"])
    assert chat.first_name == "Mei"
    location = await aiobot.send_location(user["id"], 31.2, 121.4)
    assert location.location and location.location.latitude == 31.2
    assert await aiobot.send_chat_action(user["id"], "typing")
    info = await aiobot.get_webhook_info()
    assert info.url == "" and info.pending_update_count == 0


async def test_aiogram_error_classes(
    aiobot: Bot, client: SandboxClient, sandbox: SandboxServer, user: dict[str, Any]
) -> None:
    await client.block(user["id"])
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await aiobot.send_message(user["id"], "hello?")
    await client.add_fault("getMe", status=500)
    with pytest.raises(TelegramServerError):
        await aiobot.get_me()
    await client.add_fault("getMe", kind="drop")
    with pytest.raises(TelegramNetworkError):
        await aiobot.get_me()
    stranger = Bot("42:WRONG", session=aiogram_session(sandbox.base_url))
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await stranger.get_me()
    finally:
        await stranger.session.close()
    await aiobot.set_webhook("http://127.0.0.1:9/hook")
    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await aiobot.get_updates()
    await aiobot.delete_webhook()


async def test_echo_bot_with_personas(aiobot: Bot, client: SandboxClient) -> None:
    dp = make_dispatcher()
    async with polling(dp, aiobot):
        mei = await client.user("Mei", language_code="zh-hans")
        await mei.command("/start b_xyz")
        reply = await mei.wait_reply()
        assert reply["text"] == "你好, Mei! (start: b_xyz)"
        assert reply["parse_mode"] == "HTML"
        assert mei.keyboard_labels() == [
            "Echo",
            "Buttons",
            "Share phone",
            "Share location",
            "Hide keyboard",
        ]

        await mei.send("plain text")
        assert (await mei.wait_reply())["text"] == "plain text"

        await mei.tap("Echo")
        assert (await mei.wait_reply())["text"] == "Echo"

        await mei.tap("Share phone")  # a request_contact button shares the contact
        assert (await mei.wait_reply())["text"] == f"Thanks, your phone is {mei.phone}"

        await mei.tap("share location")  # labels match case-insensitively as a fallback
        assert (await mei.wait_reply())["text"] == "You are at 31.2304, 121.4737"

        await mei.tap("Buttons")
        menu = await mei.wait_reply()
        assert mei.inline_labels(menu) == ["Alert", "Toast", "Edit", "Website"]

        answer = await mei.tap_inline("Alert")
        assert answer["text"] == "You pressed Alert" and answer["show_alert"] is True
        assert (await mei.tap_inline("Toast"))["show_alert"] is False
        assert (await mei.tap_inline("Website"))["url"] == "https://example.org"

        await mei.tap_inline("Edit")
        edited = await mei.wait_reply()
        assert edited["message_id"] == menu["message_id"]
        assert edited["text"] == "Edited in place" and edited["edits"][0]["text"] == "Pick one:"
        assert edited["reply_markup"] is None  # the edit dropped the inline keyboard

        # the alert is in the transcript, attached to its message
        transcript = await client.transcript(mei.id)
        menu_entry = next(
            m for m in transcript["messages"] if m["message_id"] == menu["message_id"]
        )
        alerts = [c["answer"] for c in menu_entry["callbacks"] if c["answer"]["show_alert"]]
        assert alerts == [
            {"text": "You pressed Alert", "show_alert": True, "url": None, "cache_time": 0}
        ]
        assert [a["text"] for a in mei.alerts()] == ["You pressed Alert", "Toast!", None]

        await mei.send_voice(5)
        assert (await mei.wait_reply())["text"].startswith("Voice note of 5 s (")
        await mei.send_sticker("🙏")
        assert (await mei.wait_reply())["text"] == "Nice sticker 🙏"

        await mei.tap("Hide keyboard")
        await mei.wait_reply()
        assert mei.keyboard_labels() == []
        with pytest.raises(LookupError, match="no reply keyboard"):
            await mei.tap("Echo")

        await mei.set_language("ko")  # the chat exists: with no language command, /start
        assert (await mei.wait_reply())["text"].startswith("안녕하세요, ")

        with pytest.raises(LookupError, match="no inline button"):
            await mei.tap_inline("Nope")
        await mei.expect_no_reply(0.1)


async def test_several_personas_side_by_side(aiobot: Bot, client: SandboxClient) -> None:
    dp = make_dispatcher()
    async with polling(dp, aiobot):
        people = [
            await client.user("Mei", language_code="zh-hans"),
            await client.user("Ji-woo", language_code="ko"),
            await client.user("Alex", language_code="en"),
        ]
        await asyncio.gather(*(p.command("/start") for p in people))
        replies = await asyncio.gather(*(p.wait_reply() for p in people))
        assert [r["text"] for r in replies] == ["你好, Mei!", "안녕하세요, Ji-woo!", "Hello, Alex!"]


async def test_unanswered_callback_times_out(
    aiobot: Bot, client: SandboxClient, user: dict[str, Any]
) -> None:
    persona = await client.user("Quiet")
    await client.send_text(persona.id, "hi")  # opens the chat
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Ignored", callback_data="x")]]
    )
    await aiobot.send_message(persona.id, "press me", reply_markup=markup)
    await persona.sync()
    with pytest.raises(TimeoutError, match="did not answer"):
        await persona.tap_inline("Ignored", timeout=0.1)
    with pytest.raises(TimeoutError, match="no reply"):
        await persona.wait_reply(0.1)


class RetryAfterMiddleware(BaseRequestMiddleware):
    """What a real bot's sender does with 429: wait ``retry_after`` seconds and try again."""

    def __init__(self) -> None:
        self.retries: list[int] = []

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        for _attempt in range(5):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                self.retries.append(exc.retry_after)
                await asyncio.sleep(exc.retry_after)
        return await make_request(bot, method)


async def test_429_and_aiogram_retry(
    client: SandboxClient, aiobot: Bot, sandbox: SandboxServer
) -> None:
    await client.set_rate_limits(
        enabled=True, chat_per_second=1.0, chat_burst=1, global_per_second=1000, global_burst=1000
    )
    user = await client.create_user("Mei", started=True)
    await aiobot.send_message(user["id"], "first")
    with pytest.raises(TelegramRetryAfter) as caught:
        await aiobot.send_message(user["id"], "second")
    assert caught.value.retry_after == 1
    assert "retry after 1" in str(caught.value)

    retry = RetryAfterMiddleware()
    aiobot.session.middleware(retry)
    started = time.monotonic()
    sent = await aiobot.send_message(user["id"], "second, after waiting")
    assert sent.text == "second, after waiting"
    assert retry.retries == [1] or retry.retries == []  # the bucket may have refilled already
    assert time.monotonic() - started <= 2.5
    transcript = await client.transcript(user["id"])
    assert [m["text"] for m in transcript["messages"]] == ["first", "second, after waiting"]


async def test_polling_survives_server_errors(aiobot: Bot, client: SandboxClient) -> None:
    dp = make_dispatcher()
    await client.add_fault("getUpdates", status=502, times=2)
    async with polling(dp, aiobot, backoff_config=FAST_BACKOFF):
        mei = await client.user("Mei")
        await mei.command("/start")
        assert (await mei.wait_reply())["text"] == "Hello, Mei!"
        assert await client.faults() == []


async def test_handler_sees_403_when_user_blocked(aiobot: Bot, client: SandboxClient) -> None:
    mei = await client.user("Mei")
    await mei.command("/start")
    await client.block(mei.id)
    errors: list[str] = []
    try:
        await aiobot.send_message(mei.id, "a nudge")
    except TelegramForbiddenError as exc:
        errors.append(exc.message)
    assert errors == ["Forbidden: bot was blocked by the user"]
    with pytest.raises(Exception, match="blocked the bot"):
        await mei.send("hello?")
    await mei.unblock()
    await aiobot.send_message(mei.id, "welcome back")


@pytest.fixture
async def webhook_app(aiobot: Bot) -> AsyncIterator[tuple[str, str, Dispatcher]]:
    """aiogram's own webhook handler on a tiny aiohttp server."""
    dp = make_dispatcher()
    secret = "hook-Secret_123"
    app = web.Application()
    SimpleRequestHandler(dispatcher=dp, bot=aiobot, secret_token=secret).register(app, "/hook")
    setup_application(app, dp, bot=aiobot)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/hook", secret, dp
    finally:
        await runner.cleanup()


async def test_webhook_into_aiogram(
    aiobot: Bot, client: SandboxClient, webhook_app: tuple[str, str, Dispatcher]
) -> None:
    url, secret, _dp = webhook_app
    # a wrong secret is refused by aiogram (401), so the update stays pending
    await aiobot.set_webhook(url, secret_token="wrong-secret")
    mei = await client.user("Mei")
    await mei.command("/start")
    with pytest.raises(TimeoutError):
        await mei.wait_reply(0.3)
    info = await aiobot.get_webhook_info()
    assert info.pending_update_count == 1
    assert info.last_error_message == "Wrong response from the webhook: 401 Unauthorized"
    # with the right secret the pending update is delivered and answered
    await aiobot.set_webhook(url, secret_token=secret)
    assert (await mei.wait_reply(3))["text"] == "Hello, Mei!"
    await mei.tap("Buttons")
    await mei.wait_reply()
    assert (await mei.tap_inline("Alert"))["show_alert"] is True
    assert (await aiobot.get_webhook_info()).pending_update_count == 0


async def test_webhook_reply_in_http_response(client: SandboxClient) -> None:
    """aiogram answers with the method in the webhook response when not in background."""
    sandbox = SandboxServer(bots=[TOKEN], settings=FAST, rate_limits=RateLimits.relaxed())
    await sandbox.start()
    bot = Bot(TOKEN, session=aiogram_session(sandbox.base_url))
    dp = Dispatcher()

    @dp.message()
    async def reply(message: Any) -> Any:
        return message.answer(f"inline reply to {message.text}")

    app = web.Application()
    SimpleRequestHandler(dispatcher=dp, bot=bot, handle_in_background=False).register(app, "/h")
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with sandbox.client() as control:
            await bot.set_webhook(f"http://127.0.0.1:{port}/h")
            persona = await control.user("Mei")
            await persona.send("ping")
            assert (await persona.wait_reply())["text"] == "inline reply to ping"
    finally:
        await runner.cleanup()
        await bot.session.close()
        await sandbox.stop()


async def test_voice_by_a_users_file_id_with_an_editable_caption(
    aiobot: Bot, client: SandboxClient, user: dict[str, Any]
) -> None:
    await client.send_voice(user["id"], duration=4)
    [said] = (await client.transcript(user["id"]))["messages"]
    file_id = said["voice"]["file_id"]
    buttons = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Accept", callback_data="a")]]
    )
    sent = await aiobot.send_voice(
        user["id"], file_id, caption="<b>Help</b>", parse_mode="HTML", reply_markup=buttons
    )
    assert sent.voice and sent.voice.file_id == file_id and sent.voice.duration == 4
    assert sent.caption == "Help" and sent.reply_markup
    assert sent.reply_markup.inline_keyboard[0][0].callback_data == "a"
    with pytest.raises(TelegramBadRequest, match="there is no text in the message to edit"):
        await aiobot.edit_message_text("taken", chat_id=user["id"], message_id=sent.message_id)
    edited = await aiobot.edit_message_caption(
        chat_id=user["id"], message_id=sent.message_id, caption="taken"
    )
    assert not isinstance(edited, bool)
    assert edited.caption == "taken" and edited.voice and edited.reply_markup is None
    with pytest.raises(TelegramBadRequest, match="caption is too long"):
        await aiobot.send_voice(user["id"], file_id, caption="x" * 1025)
    with pytest.raises(TelegramBadRequest, match="type of file mismatch"):
        await aiobot.send_photo(user["id"], file_id)
    await client.update_user(user["id"], voice_messages_forbidden=True)
    with pytest.raises(TelegramBadRequest, match="VOICE_MESSAGES_FORBIDDEN"):
        await aiobot.send_voice(user["id"], file_id)
