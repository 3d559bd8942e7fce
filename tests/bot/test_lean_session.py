"""The bot's Bot API session (`bot.lean_session`): a JSON body, answers left unparsed only
where nobody reads them, and aiogram's errors exactly as aiogram raises them."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
)
from aiogram.methods import SendMessage
from aiogram.types import BufferedInputFile, Message
from aiohttp import web

from bot.i18n import create_i18n
from bot.kit.keyboards import main_menu
from bot.lean_session import LeanSession, sent_message_id, unread_results
from sandbox.client import SandboxClient
from tests.bot.conftest import TOKEN

ANSWERS = [
    (400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}),
    (403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked"}),
    (
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 7",
            "parameters": {"retry_after": 7},
        },
    ),
    (
        400,
        {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: group chat was upgraded to a supergroup chat",
            "parameters": {"migrate_to_chat_id": -100123},
        },
    ),
    (500, {"ok": False, "error_code": 500, "description": "Internal Server Error: restart"}),
    (200, {"ok": False, "error_code": 400, "description": "Bad Request: odd"}),
    (502, "<html>Bad Gateway</html>"),
    (200, "not json"),
]


def _raised(session: AiohttpSession, bot: Bot, status: int, content: str) -> BaseException:
    method = SendMessage(chat_id=1, text="hi")
    with pytest.raises((TelegramAPIError, ClientDecodeError)) as caught:
        session.check_response(bot, method, status, content)
    return caught.value


@pytest.mark.parametrize(("status", "answer"), ANSWERS)
def test_a_failed_answer_raises_what_aiogram_raises_whether_read_or_not(status, answer) -> None:
    content = answer if isinstance(answer, str) else json.dumps(answer)
    bot = Bot("1:abc")
    expected = _raised(AiohttpSession(), bot, status, content)
    for unread in (False, True):
        session = LeanSession()
        if unread:
            with unread_results():
                error = _raised(session, bot, status, content)
        else:
            error = _raised(session, bot, status, content)
        assert type(error) is type(expected)
        assert str(error) == str(expected)
        if isinstance(expected, TelegramRetryAfter):
            assert error.retry_after == expected.retry_after == 7
        if isinstance(expected, TelegramMigrateToChat):
            assert error.migrate_to_chat_id == expected.migrate_to_chat_id == -100123
        if isinstance(expected, TelegramBadRequest):
            assert error.message == expected.message


def test_a_successful_answer_is_parsed_only_where_it_is_read() -> None:
    bot = Bot("1:abc")
    result = {
        "message_id": 42,
        "date": 1_700_000_000,
        "chat": {"id": 5, "type": "private"},
        "text": "hi",
    }
    content = json.dumps({"ok": True, "result": result})
    method = SendMessage(chat_id=5, text="hi")
    session = LeanSession()
    parsed = session.check_response(bot, method, 200, content).result
    assert isinstance(parsed, Message) and parsed.message_id == 42
    with unread_results():
        raw = session.check_response(bot, method, 200, content).result
    assert raw == result
    assert sent_message_id(raw) == sent_message_id(parsed) == 42
    assert sent_message_id(True) is None


def _bot(sandbox) -> Bot:
    return Bot(
        TOKEN,
        session=LeanSession(api=TelegramAPIServer.from_base(sandbox.base_url)),
        default=DefaultBotProperties(parse_mode="HTML"),
    )


async def test_calls_go_as_json_with_the_bot_s_defaults_and_files_as_a_form(sandbox) -> None:
    bot = _bot(sandbox)
    i18n = create_i18n("en")
    with i18n.context(), i18n.use_locale("en"):
        menu = main_menu()
    async with SandboxClient(sandbox.base_url) as control:
        ann = await control.user("Ann", language_code="en")
        await ann.command("/start")  # opens the chat
        try:
            sent = await bot.send_message(ann.id, "<b>bold</b> &amp; plain", reply_markup=menu)
            assert isinstance(sent, Message)
            with unread_results():
                raw = await bot.send_message(ann.id, "unread")
            assert isinstance(raw, dict) and raw["text"] == "unread"
            document = await bot.send_document(
                ann.id, BufferedInputFile(b"a,b\n1,2\n", filename="table.csv")
            )
            assert document.document is not None
            with pytest.raises(TelegramBadRequest), unread_results():
                await bot.send_message(ann.id, "")
        finally:
            await bot.session.close()
        await ann.sync()
    first, second, third = ann.bot_messages()
    assert first["text"] == "bold & plain"  # HTML, the bot's default, was applied
    assert first["message_id"] == sent.message_id
    rows = first["reply_markup"]["keyboard"]
    assert [button["text"] for button in rows[-1]] == [button.text for button in menu.keyboard[-1]]
    assert second["message_id"] == raw["message_id"]
    assert third.get("document") is not None


async def _network_failure(session: AiohttpSession, base: str, wait: float) -> BaseException:
    bot = Bot(TOKEN, session=session)
    session.api = TelegramAPIServer.from_base(base)
    try:
        with pytest.raises(TelegramNetworkError) as caught:
            await bot.send_message(1, "hi", request_timeout=wait)
    finally:
        await session.close()
    return caught.value


async def test_a_server_that_is_gone_or_slow_raises_what_aiogram_raises() -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({"ok": True, "result": True})

    app = web.Application()
    app.router.add_post("/{tail:.*}", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    slow_base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        gone_base = f"http://127.0.0.1:{probe.getsockname()[1]}"
    try:
        for base, timeout in ((slow_base, 0.2), (gone_base, 2)):
            lean = await _network_failure(LeanSession(), base, timeout)
            plain = await _network_failure(AiohttpSession(), base, timeout)
            assert type(lean) is type(plain) and str(lean) == str(plain)
    finally:
        await runner.cleanup()
