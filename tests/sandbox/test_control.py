"""The control API: bots, users, user actions, transcripts, events, reset and persistence."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sandbox import SandboxClient, SandboxServer
from sandbox.client import SandboxError

from .conftest import FAST, TOKEN, Api


async def test_bots_can_be_created_and_used(
    client: SandboxClient, http: aiohttp.ClientSession, sandbox: SandboxServer
) -> None:
    created = await client.create_bot(username="second_bot")
    assert created["username"] == "second_bot"
    token = created["token"]
    assert token.split(":")[0] == str(created["id"])
    api = Api(http, sandbox, token)
    assert (await api.ok("getMe"))["username"] == "second_bot"
    assert {b["username"] for b in await client.bots()} == {"timebank_test_bot", "second_bot"}
    # a user's chat is per bot
    user = await client.create_user("Ji-woo", bot=token, started=True)
    await client.send_text(user["id"], "to the second bot", bot="second_bot")
    assert (await api.ok("getUpdates"))[0]["message"]["text"] == "to the second bot"
    assert (await client.transcript(user["id"]))["messages"] == []  # default bot's chat
    with pytest.raises(SandboxError) as caught:
        await client.create_bot("not-a-token")
    assert caught.value.status == 400


async def test_user_actions_produce_updates(api: Api, client: SandboxClient) -> None:
    user = await client.create_user("Mei", username="@mei", language_code="zh-hans")
    assert user["username"] == "mei"
    uid = user["id"]
    await client.send_command(uid, "start b_xyz")
    await client.send_contact(uid, "+8613800000001")
    await client.send_location(uid, 31.23, 121.47)
    await client.send_voice(uid, 2)
    await client.send_sticker(uid, "🙏")
    await client.send_photo(uid, width=200, height=100, caption="my door")
    await client.send_document(uid, "notes.txt", b"hello", mime_type="text/plain")
    messages = [u["message"] for u in await api.ok("getUpdates")]
    assert messages[0]["text"] == "/start b_xyz"
    assert messages[0]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert messages[1]["contact"] == {
        "phone_number": "+8613800000001",
        "first_name": "Mei",
        "user_id": uid,
    }
    assert messages[2]["location"] == {"latitude": 31.23, "longitude": 121.47}
    assert messages[3]["voice"]["duration"] == 2
    assert messages[4]["sticker"]["emoji"] == "🙏"
    assert messages[5]["photo"][-1]["width"] == 200 and messages[5]["caption"] == "my door"
    assert messages[6]["document"]["file_name"] == "notes.txt"
    assert [m["message_id"] for m in messages] == list(range(1, 8))
    photo = await client.download(messages[5]["photo"][-1]["file_id"])
    assert photo.startswith(b"\x89PNG")


async def test_control_api_errors_are_clear(client: SandboxClient, sandbox: SandboxServer) -> None:
    with pytest.raises(SandboxError) as caught:
        await client.send_text(424242, "who am I")
    assert caught.value.status == 404 and "user 424242 not found" in caught.value.message
    user = await client.create_user("Mei")
    for call in (
        client.send_text(user["id"], ""),
        client.send_location(user["id"], 100, 0),
        client.press(user["id"], 1, "x"),
        client.send_voice(user["id"], -1),
    ):
        with pytest.raises(SandboxError) as caught:
            await call
        assert caught.value.status in (400, 404)
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{sandbox.base_url}/sandbox/users",
            data=b"{nope",
            headers={"Content-Type": "application/json"},
        ) as response:
            assert response.status == 400
            assert (await response.json())["ok"] is False


async def test_transcript_has_everything(
    api: Api, client: SandboxClient, user: dict[str, Any]
) -> None:
    uid = user["id"]
    await client.send_text(uid, "hello")
    keyboard = {"keyboard": [["Ask for help"], [{"text": "Share", "request_location": True}]]}
    await api.ok(
        "sendMessage", chat_id=uid, text="<b>Menu</b>", parse_mode="HTML", reply_markup=keyboard
    )
    inline = {"inline_keyboard": [[{"text": "Accept", "callback_data": "acc"}]]}
    offer = await api.ok("sendMessage", chat_id=uid, text="Order", reply_markup=inline)
    pressed = await client.press(uid, offer["message_id"], "acc")
    await api.ok(
        "answerCallbackQuery",
        callback_query_id=pressed["callback_query_id"],
        text="Taken!",
        show_alert=True,
    )
    await api.ok("editMessageText", chat_id=uid, message_id=offer["message_id"], text="Accepted")
    gone = await api.ok("sendMessage", chat_id=uid, text="temporary")
    await api.ok("deleteMessage", chat_id=uid, message_id=gone["message_id"])

    transcript = await client.transcript(uid)
    messages = transcript["messages"]
    assert [(m["from"], m["text"]) for m in messages] == [
        ("user", "hello"),
        ("bot", "Menu"),
        ("bot", "Accepted"),
        ("bot", "temporary"),
    ]
    menu = messages[1]
    assert menu["parse_mode"] == "HTML" and menu["raw_text"] == "<b>Menu</b>"
    assert menu["reply_markup"]["keyboard"][1][0] == {"text": "Share", "request_location": True}
    assert transcript["keyboard"] == menu["reply_markup"]
    order = messages[2]
    assert order["edited"] is True
    assert order["edits"][0]["text"] == "Order"
    assert order["edits"][0]["reply_markup"] == inline
    assert order["reply_markup"] is None
    assert order["callbacks"][0]["answer"]["text"] == "Taken!"
    assert order["callbacks"][0]["answer"]["show_alert"] is True
    assert messages[3]["deleted"] is True
    assert messages[0]["sender"]["first_name"] == "Mei"
    assert messages[1]["sender"]["is_bot"] is True


async def test_events_long_poll(api: Api, client: SandboxClient, user: dict[str, Any]) -> None:
    uid = user["id"]
    start = (await client.events(uid))["last_seq"]
    waiting = asyncio.create_task(client.events(uid, after=start, timeout=10))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await api.ok("sendMessage", chat_id=uid, text="ping")
    result = await asyncio.wait_for(waiting, 5)
    [event] = result["events"]
    assert event["type"] == "message" and event["by"] == "bot"
    assert event["message"]["text"] == "ping"
    # nothing new: returns empty after the timeout
    empty = await client.events(uid, after=result["last_seq"], timeout=0.1)
    assert empty["events"] == []
    # the all-chats stream sees other users too
    other = await client.create_user("Other", started=True)
    await api.ok("sendChatAction", chat_id=other["id"], action="typing")
    everything = await client.events(after=result["last_seq"])
    assert [e["type"] for e in everything["events"]][-1] == "chat_action"


async def test_callback_answer_long_poll(
    api: Api, client: SandboxClient, user: dict[str, Any]
) -> None:
    inline = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    sent = await api.ok("sendMessage", chat_id=user["id"], text="?", reply_markup=inline)
    pressed = await client.press(user["id"], sent["message_id"], "go")
    waiting = asyncio.create_task(client.callback_answer(pressed["callback_query_id"], timeout=5))
    await asyncio.sleep(0.05)
    await api.ok("answerCallbackQuery", callback_query_id=pressed["callback_query_id"])
    callback = await asyncio.wait_for(waiting, 5)
    assert callback["answered"] is True and callback["answer"]["text"] is None
    with pytest.raises(SandboxError):
        await client.press(user["id"], sent["message_id"], "not-a-button")


async def test_language_switch_sends_a_command(
    api: Api, client: SandboxClient, sandbox: SandboxServer
) -> None:
    user = await client.create_user("Mei", language_code="zh-hans")
    result = await client.set_language(user["id"], "ko")
    assert result["user"]["language_code"] == "ko"
    assert result["message"]["text"] == "/start"  # a new chat starts with /start
    sandbox.language_command = "/language"
    await client.set_language(user["id"], "en")
    updates = await api.ok("getUpdates")
    assert [u["message"]["text"] for u in updates] == ["/start", "/language"]
    assert updates[1]["message"]["from"]["language_code"] == "en"
    await client.set_language(user["id"], "zh-hans", command=None)
    assert len(await api.ok("getUpdates", offset=updates[-1]["update_id"] + 1)) == 0


async def test_commands_menu_is_resolved_for_the_users_language(
    api: Api, client: SandboxClient, user: dict[str, Any]
) -> None:
    await api.ok("setMyCommands", commands=[{"command": "start", "description": "Start"}])
    await api.ok(
        "setMyCommands", commands=[{"command": "start", "description": "开始"}], language_code="zh"
    )
    transcript = await client.transcript(user["id"])  # user speaks zh-hans
    assert transcript["commands"] == [{"command": "start", "description": "开始"}]


async def test_reset_forgets_users_and_keeps_bots(
    api: Api, client: SandboxClient, user: dict[str, Any]
) -> None:
    await client.send_text(user["id"], "x")
    await client.add_fault("getMe", status=500, times=5)
    await client.reset()
    assert await api.ok("getUpdates") == []
    assert (await api.ok("getMe"))["is_bot"]
    with pytest.raises(SandboxError):
        await client.transcript(user["id"])
    await client.reset(bots=True)
    assert await api.error("getMe") == (401, "Unauthorized")


async def test_reused_users_and_personas_endpoint(
    client: SandboxClient, sandbox: SandboxServer
) -> None:
    first = await client.create_user("Mei", username="mei_demo", reuse=True)
    again = await client.create_user("Mei", username="mei_demo", reuse=True)
    assert first["id"] == again["id"]
    by_id = await client.create_user("Min-ji", user_id=900002, reuse=True)
    assert by_id["id"] == 900002
    persona = await client.persona(900002)
    assert persona.first_name == "Min-ji" and persona.transcript() == []
    assert (await client.create_user("Min-ji", user_id=900002, reuse=True))["id"] == 900002
    with pytest.raises(SandboxError) as caught:
        await client.create_user("Dup", user_id=900002)
    assert caught.value.status == 409
    data = await client.request("GET", "/sandbox/demo/personas")
    assert [p["role"] for p in data["personas"]] == ["resident", "volunteer", "coordinator"]
    assert {lang["code"] for lang in data["languages"]} >= {"zh-hans", "ko", "en"}


async def test_state_file_survives_a_restart(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    state_file = tmp_path / "sandbox.json"
    first = SandboxServer(bots=[TOKEN], settings=FAST, state_file=state_file)
    await first.start()
    async with first.client() as control:
        user = await control.create_user("Mei", language_code="zh-hans", started=True)
        await control.send_text(user["id"], "before restart")
        api = Api(http, first, TOKEN)
        await api.ok(
            "sendMessage", chat_id=user["id"], text="reply", reply_markup={"keyboard": [["Help"]]}
        )
        await api.ok("setMyCommands", commands=[{"command": "help", "description": "Help"}])
    await first.stop()
    saved = json.loads(state_file.read_text("utf-8"))
    assert saved["users"][0]["first_name"] == "Mei"

    second = SandboxServer(bots=[TOKEN], settings=FAST, state_file=state_file)
    await second.start()
    try:
        async with second.client() as control:
            transcript = await control.transcript(user["id"])
            assert [m["text"] for m in transcript["messages"]] == ["before restart", "reply"]
            assert transcript["keyboard"] == {"keyboard": [[{"text": "Help"}]]}
            api = Api(http, second, TOKEN)
            [update] = await api.ok("getUpdates")  # the unconfirmed update is still pending
            assert update["message"]["text"] == "before restart"
            assert await api.ok("getMyCommands") == [{"command": "help", "description": "Help"}]
            sent = await api.ok("sendMessage", chat_id=user["id"], text="after restart")
            assert sent["message_id"] == 3
            await control.send_text(user["id"], "new")
            newer = await api.ok("getUpdates", offset=update["update_id"] + 1)
            assert newer[0]["update_id"] > update["update_id"]
    finally:
        await second.stop()


async def test_corrupt_state_file_starts_empty(tmp_path: Path) -> None:
    state_file = tmp_path / "broken.json"
    state_file.write_text("{not json", "utf-8")
    server = SandboxServer(bots=[TOKEN], state_file=state_file)
    await server.start()
    try:
        assert server.state.users == {}
        assert TOKEN in server.state.bots_by_token
    finally:
        await server.stop()
    assert json.loads(state_file.read_text("utf-8"))["bots"][0]["token"] == TOKEN


async def test_a_forged_press_carries_data_no_button_has(
    api: Api, client: SandboxClient, user: dict[str, Any]
) -> None:
    uid = user["id"]
    await client.send_text(uid, "hello")
    inline = {"inline_keyboard": [[{"text": "Accept", "callback_data": "acc"}]]}
    offer = await api.ok("sendMessage", chat_id=uid, text="Order", reply_markup=inline)
    plain = await api.ok("sendMessage", chat_id=uid, text="No buttons here")
    with pytest.raises(SandboxError) as caught:
        await client.press(uid, offer["message_id"], "acc:tampered")
    assert caught.value.status == 400 and "no inline button" in caught.value.message
    for message in (offer, plain):
        pressed = await client.press(uid, message["message_id"], "acc:tampered", forged=True)
        [update] = [u for u in await api.ok("getUpdates") if u["update_id"] == pressed["update_id"]]
        assert update["callback_query"]["data"] == "acc:tampered"
        assert update["callback_query"]["message"]["message_id"] == message["message_id"]
