"""The Bot API over raw HTTP: routing, encodings, errors and validation as Telegram does them."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox import SandboxClient, SandboxServer
from sandbox.media import make_png

from .conftest import TOKEN, Api, started_user


async def test_get_me_with_any_case_and_http_verb(api: Api, http: aiohttp.ClientSession) -> None:
    me = await api.ok("getMe")
    assert me["id"] == 123456789 and me["is_bot"] is True
    assert me["username"] == "timebank_test_bot"
    for name in ("getme", "GETME", "GetMe"):
        async with http.get(api.url(name)) as response:
            assert response.status == 200
            assert (await response.json())["result"] == me


async def test_unknown_token_is_401_and_unknown_method_404(
    api: Api, http: aiohttp.ClientSession
) -> None:
    async with http.post(api.url("getMe", token="42:nope")) as response:
        assert response.status == 401
        assert await response.json() == {
            "ok": False,
            "error_code": 401,
            "description": "Unauthorized",
        }
    async with http.post(api.url("sendTelepathy")) as response:
        assert response.status == 404
        assert await response.json() == {
            "ok": False,
            "error_code": 404,
            "description": "Not Found",
        }
    async with http.get(f"{api.server.base_url}/nothing/here") as response:
        assert response.status == 404
        assert (await response.json())["description"] == "Not Found"


async def test_json_form_multipart_and_query_string_are_all_accepted(
    api: Api, http: aiohttp.ClientSession, user: dict[str, Any]
) -> None:
    markup = {"inline_keyboard": [[{"text": "Yes", "callback_data": "yes"}]]}
    # JSON with a nested object
    result = await api.ok("sendMessage", chat_id=user["id"], text="json", reply_markup=markup)
    assert result["reply_markup"] == markup
    # form-encoded with a JSON-encoded nested value
    form = {"chat_id": str(user["id"]), "text": "form", "reply_markup": json.dumps(markup)}
    async with http.post(api.url("sendMessage"), data=form) as response:
        body = await response.json()
        assert body["ok"] and body["result"]["text"] == "form"
        assert body["result"]["reply_markup"] == markup
    # multipart
    data = aiohttp.FormData()
    data.add_field("chat_id", str(user["id"]))
    data.add_field("text", "multipart")
    data.add_field("reply_markup", json.dumps(markup))
    data.add_field("ignored_file", b"x", filename="x.bin")
    async with http.post(api.url("sendMessage"), data=data) as response:
        body = await response.json()
        assert body["ok"] and body["result"]["text"] == "multipart"
    # query string
    async with http.get(
        api.url("sendMessage"), params={"chat_id": user["id"], "text": "query"}
    ) as response:
        assert (await response.json())["result"]["text"] == "query"
    # JSON body where the nested value is a JSON string, and a number sent as text
    result = await api.ok(
        "sendMessage", chat_id=str(user["id"]), text=12345, reply_markup=json.dumps(markup)
    )
    assert result["text"] == "12345"


async def test_unknown_parameters_are_ignored(api: Api, user: dict[str, Any]) -> None:
    result = await api.ok(
        "sendMessage",
        chat_id=user["id"],
        text="hi",
        frobnicate=True,
        disable_notification=True,
        protect_content=True,
        link_preview_options={"is_disabled": True},
        reply_parameters={"message_id": 999, "allow_sending_without_reply": True},
        message_effect_id="123",
    )
    assert result["text"] == "hi"


@pytest.mark.parametrize(
    ("body", "description"),
    [
        (b"{bad json", "Bad Request: can't parse JSON object"),
        (b"[1, 2]", "Bad Request: JSON object expected"),
        (b'{"chat_id": 1', "Bad Request: can't parse JSON object"),
        (b"\xff\xfe\x00", "Bad Request: JSON object expected"),
    ],
)
async def test_malformed_json_bodies_are_400(
    api: Api, http: aiohttp.ClientSession, body: bytes, description: str
) -> None:
    async with http.post(
        api.url("sendMessage"), data=body, headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status == 400
        answer = await response.json()
        assert answer["ok"] is False and answer["error_code"] == 400
        assert answer["description"].startswith(description)


async def test_broken_multipart_body_is_400_not_a_crash(
    api: Api, http: aiohttp.ClientSession
) -> None:
    async with http.post(
        api.url("sendMessage"),
        data=b'--xx\r\nContent-Disposition: form-data; name="chat_id"\r\n\r\n1',
        headers={"Content-Type": "multipart/form-data; boundary=xx"},
    ) as response:
        assert response.status in (200, 400)
        assert (await response.json())["ok"] is False
    assert (await api.ok("getMe"))["is_bot"]


async def test_chat_validation(api: Api, client: SandboxClient) -> None:
    assert await api.error("sendMessage", text="x") == (400, "Bad Request: chat_id is empty")
    assert await api.error("sendMessage", chat_id=999, text="x") == (
        400,
        "Bad Request: chat not found",
    )
    assert await api.error("sendMessage", chat_id="@nobody", text="x") == (
        400,
        "Bad Request: chat not found",
    )
    stranger = await client.create_user("Stranger")  # never opened the chat
    assert await api.error("sendMessage", chat_id=stranger["id"], text="x") == (
        403,
        "Forbidden: bot can't initiate conversation with a user",
    )


async def test_text_validation(api: Api, user: dict[str, Any]) -> None:
    chat_id = user["id"]
    empty = (400, "Bad Request: message text is empty")
    assert await api.error("sendMessage", chat_id=chat_id) == empty
    assert await api.error("sendMessage", chat_id=chat_id, text="") == empty
    assert await api.error("sendMessage", chat_id=chat_id, text="   \n ") == empty
    assert await api.error("sendMessage", chat_id=chat_id, text="<b></b>", parse_mode="HTML") == (
        empty
    )
    too_long = (400, "Bad Request: message is too long")
    assert await api.error("sendMessage", chat_id=chat_id, text="x" * 4097) == too_long
    await api.ok("sendMessage", chat_id=chat_id, text="x" * 4096)
    # 2048 emoji are 4096 UTF-16 code units; one more is too long
    await api.ok("sendMessage", chat_id=chat_id, text="👍" * 2048)
    assert await api.error("sendMessage", chat_id=chat_id, text="👍" * 2048 + "x") == too_long
    # the limit applies after entity parsing: the tags do not count
    await api.ok(
        "sendMessage", chat_id=chat_id, text="<b>" + "x" * 4096 + "</b>", parse_mode="HTML"
    )
    assert await api.error("sendMessage", chat_id=chat_id, text="x", parse_mode="bogus") == (
        400,
        "Bad Request: unsupported parse_mode",
    )


async def test_html_validation_through_http(api: Api, user: dict[str, Any]) -> None:
    status, description = await api.error(
        "sendMessage", chat_id=user["id"], text="<blink>hi</blink>", parse_mode="HTML"
    )
    assert status == 400
    assert description == (
        'Bad Request: can\'t parse entities: Unsupported start tag "blink" at byte offset 0'
    )
    status, description = await api.error(
        "sendMessage", chat_id=user["id"], text="<b>open", parse_mode="html"
    )
    assert description.startswith("Bad Request: can't parse entities: Can't find end tag")
    result = await api.ok(
        "sendMessage", chat_id=user["id"], text="<b>时间</b> 银行", parse_mode="HTML"
    )
    assert result["text"] == "时间 银行"
    assert result["entities"] == [{"type": "bold", "offset": 0, "length": 2}]


async def test_reply_markup_validation_through_http(api: Api, user: dict[str, Any]) -> None:
    status, description = await api.error(
        "sendMessage",
        chat_id=user["id"],
        text="x",
        reply_markup={"inline_keyboard": [[{"text": "a", "callback_data": "x" * 65}]]},
    )
    assert (status, description) == (400, "Bad Request: BUTTON_DATA_INVALID")
    assert (await api.error("sendMessage", chat_id=user["id"], text="x", reply_markup="{")) == (
        400,
        "Bad Request: can't parse reply keyboard markup JSON object",
    )
    for markup in (
        {
            "keyboard": [
                [{"text": "Share phone", "request_contact": True}],
                [{"text": "Share place", "request_location": True}],
            ],
            "one_time_keyboard": True,
            "is_persistent": True,
        },
        {"remove_keyboard": True},
        {"force_reply": True, "input_field_placeholder": "Your name"},
        {"inline_keyboard": [[{"text": "Site", "url": "https://example.org"}]]},
    ):
        result = await api.ok("sendMessage", chat_id=user["id"], text="x", reply_markup=markup)
        # Telegram returns only inline keyboards inside the Message object
        assert ("reply_markup" in result) == ("inline_keyboard" in markup)


async def test_message_objects_are_complete(
    api: Api, client: SandboxClient, user: dict[str, Any]
) -> None:
    sent = await client.send_command(user["id"], "/start b_xyz")
    message = sent["message"]
    assert message["text"] == "/start b_xyz"
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    [update] = await api.ok("getUpdates")
    incoming = update["message"]
    assert set(incoming) >= {"message_id", "date", "chat", "from", "text", "entities"}
    assert incoming["chat"] == {
        "id": user["id"],
        "type": "private",
        "first_name": "Mei",
        "username": "mei",
    }
    assert incoming["from"]["language_code"] == "zh-hans"
    reply = await api.ok(
        "sendMessage",
        chat_id=user["id"],
        text="welcome",
        reply_parameters={"message_id": incoming["message_id"]},
    )
    assert reply["from"]["is_bot"] is True
    assert reply["chat"]["id"] == user["id"]
    assert reply["message_id"] == incoming["message_id"] + 1
    assert reply["reply_to_message"]["text"] == "/start b_xyz"
    assert await api.error(
        "sendMessage", chat_id=user["id"], text="x", reply_parameters={"message_id": 999}
    ) == (400, "Bad Request: message to be replied not found")


async def test_edit_message_text_and_markup(api: Api, user: dict[str, Any]) -> None:
    chat_id = user["id"]
    markup = {"inline_keyboard": [[{"text": "Accept", "callback_data": "accept:1"}]]}
    sent = await api.ok("sendMessage", chat_id=chat_id, text="Order #1", reply_markup=markup)
    mid = sent["message_id"]
    not_modified = (
        400,
        "Bad Request: message is not modified: specified new message content and reply markup "
        "are exactly the same as a current content and reply markup of the message",
    )
    assert (
        await api.error(
            "editMessageText", chat_id=chat_id, message_id=mid, text="Order #1", reply_markup=markup
        )
        == not_modified
    )
    edited = await api.ok(
        "editMessageText", chat_id=chat_id, message_id=mid, text="<b>Taken</b>", parse_mode="HTML"
    )
    assert edited["text"] == "Taken" and "edit_date" in edited
    assert "reply_markup" not in edited  # an edit without reply_markup drops the keyboard
    assert (
        await api.error("editMessageReplyMarkup", chat_id=chat_id, message_id=mid) == not_modified
    )
    again = await api.ok(
        "editMessageReplyMarkup", chat_id=chat_id, message_id=mid, reply_markup=markup
    )
    assert again["reply_markup"] == markup
    assert await api.error("editMessageText", chat_id=chat_id, message_id=4242, text="x") == (
        400,
        "Bad Request: message to edit not found",
    )
    assert await api.error("editMessageText", chat_id=chat_id, message_id=mid, text="") == (
        400,
        "Bad Request: message text is empty",
    )


async def test_user_messages_cannot_be_edited_but_can_be_deleted(
    api: Api, client: SandboxClient, user: dict[str, Any]
) -> None:
    sent = await client.send_text(user["id"], "hello")
    mid = sent["message"]["message_id"]
    assert await api.error("editMessageText", chat_id=user["id"], message_id=mid, text="x") == (
        400,
        "Bad Request: message can't be edited",
    )
    assert await api.ok("deleteMessage", chat_id=user["id"], message_id=mid) is True
    assert await api.error("deleteMessage", chat_id=user["id"], message_id=mid) == (
        400,
        "Bad Request: message to delete not found",
    )
    transcript = await client.transcript(user["id"])
    assert transcript["messages"][0]["deleted"] is True


async def test_answer_callback_query(
    api: Api, client: SandboxClient, user: dict[str, Any], sandbox: SandboxServer
) -> None:
    markup = {"inline_keyboard": [[{"text": "Done", "callback_data": "done"}]]}
    sent = await api.ok("sendMessage", chat_id=user["id"], text="?", reply_markup=markup)
    pressed = await client.press(user["id"], sent["message_id"], "done")
    [update] = await api.ok("getUpdates")
    query = update["callback_query"]
    assert query["id"] == pressed["callback_query_id"]
    assert query["data"] == "done" and query["message"]["message_id"] == sent["message_id"]
    assert query["from"]["id"] == user["id"] and query["chat_instance"]
    assert await api.ok(
        "answerCallbackQuery", callback_query_id=query["id"], text="Thanks!", show_alert=True
    )
    too_old = (
        400,
        "Bad Request: query is too old and response timeout expired or query ID is invalid",
    )
    # answering twice, or an unknown id
    assert await api.error("answerCallbackQuery", callback_query_id=query["id"]) == too_old
    assert await api.error("answerCallbackQuery", callback_query_id="123") == too_old
    answer = await client.callback_answer(query["id"])
    assert answer["answer"]["text"] == "Thanks!" and answer["answer"]["show_alert"] is True
    # too old: the age limit is configurable
    second = await client.press(user["id"], sent["message_id"], "done")
    sandbox.settings.callback_query_ttl = 0.0
    assert (
        await api.error("answerCallbackQuery", callback_query_id=second["callback_query_id"])
        == too_old
    )


async def test_blocked_user_is_403(api: Api, client: SandboxClient, user: dict[str, Any]) -> None:
    await client.block(user["id"])
    blocked = (403, "Forbidden: bot was blocked by the user")
    assert await api.error("sendMessage", chat_id=user["id"], text="hi") == blocked
    assert await api.error("sendChatAction", chat_id=user["id"], action="typing") == blocked
    [update] = await api.ok("getUpdates")
    member = update["my_chat_member"]
    assert member["old_chat_member"]["status"] == "member"
    assert member["new_chat_member"]["status"] == "kicked"
    await client.unblock(user["id"])
    await api.ok("sendMessage", chat_id=user["id"], text="welcome back")


async def test_documents_photos_voice_and_file_download(
    api: Api, http: aiohttp.ClientSession, user: dict[str, Any], client: SandboxClient
) -> None:
    data = aiohttp.FormData()
    data.add_field("chat_id", str(user["id"]))
    data.add_field("caption", "<i>passbook</i>")
    data.add_field("parse_mode", "HTML")
    data.add_field("document", b"a,b\n1,2\n", filename="passbook.csv", content_type="text/csv")
    async with http.post(api.url("sendDocument"), data=data) as response:
        body = await response.json()
    assert body["ok"], body
    document = body["result"]["document"]
    assert document["file_name"] == "passbook.csv" and document["file_size"] == 8
    assert body["result"]["caption"] == "passbook"
    # re-send by file_id
    again = await api.ok("sendDocument", chat_id=user["id"], document=document["file_id"])
    assert again["document"]["file_id"] == document["file_id"]
    assert await api.error("sendDocument", chat_id=user["id"], document="nonsense") == (
        400,
        "Bad Request: wrong file identifier/HTTP URL specified",
    )
    assert await api.error("sendDocument", chat_id=user["id"]) == (
        400,
        "Bad Request: there is no document in the request",
    )
    # download through getFile
    file = await api.ok("getFile", file_id=document["file_id"])
    url = f"{api.server.base_url}/file/bot{TOKEN}/{file['file_path']}"
    async with http.get(url) as response:
        assert response.status == 200 and await response.read() == b"a,b\n1,2\n"

    photo = aiohttp.FormData()
    photo.add_field("chat_id", str(user["id"]))
    photo.add_field("photo", make_png(30, 20), filename="qr.png", content_type="image/png")
    async with http.post(api.url("sendPhoto"), data=photo) as response:
        body = await response.json()
    assert body["ok"] and body["result"]["photo"][-1]["width"] == 30
    not_image = aiohttp.FormData()
    not_image.add_field("chat_id", str(user["id"]))
    not_image.add_field("photo", b"not an image", filename="x.png")
    async with http.post(api.url("sendPhoto"), data=not_image) as response:
        assert (await response.json())["description"] == "Bad Request: IMAGE_PROCESS_FAILED"

    # a voice note from the user is a fake OGG file the bot can fetch
    sent = await client.send_voice(user["id"], duration=4)
    voice = sent["message"]["voice"]
    assert voice["duration"] == 4 and voice["mime_type"] == "audio/ogg"
    file = await api.ok("getFile", file_id=voice["file_id"])
    async with http.get(f"{api.server.base_url}/file/bot{TOKEN}/{file['file_path']}") as response:
        assert (await response.read()).startswith(b"OggS")
    assert await api.error("getFile", file_id="missing") == (
        400,
        "Bad Request: wrong file_id or the file is temporarily unavailable",
    )


async def test_location_chat_action_chat_and_menu_button(api: Api, user: dict[str, Any]) -> None:
    location = await api.ok("sendLocation", chat_id=user["id"], latitude=31.23, longitude=121.47)
    assert location["location"] == {"latitude": 31.23, "longitude": 121.47}
    assert await api.error("sendLocation", chat_id=user["id"], longitude=1) == (
        400,
        "Bad Request: latitude is empty",
    )
    venue = await api.ok(
        "sendVenue", chat_id=user["id"], latitude=31.23, longitude=121.47,
        title="Tom <3", address="12 Luoshan Road & more",
    )  # fmt: skip
    assert venue["venue"] == {
        "location": {"latitude": 31.23, "longitude": 121.47},
        "title": "Tom <3",
        "address": "12 Luoshan Road & more",
    }
    assert venue["location"] == {"latitude": 31.23, "longitude": 121.47}
    for missing in ("title", "address"):
        fields = {"title": "Tom", "address": "12 Luoshan Road", missing: " "}
        error = f"venue {missing} is empty"
        assert await api.error(
            "sendVenue", chat_id=user["id"], latitude=31.23, longitude=121.47, **fields
        ) == (400, f"Bad Request: {error}")
    assert await api.error(
        "sendVenue", chat_id=user["id"], latitude=91, longitude=1, title="T", address="A"
    ) == (400, "Bad Request: wrong location specified")
    assert await api.ok("sendChatAction", chat_id=user["id"], action="typing") is True
    assert await api.error("sendChatAction", chat_id=user["id"], action="dancing") == (
        400,
        "Bad Request: wrong parameter action in request",
    )
    chat = await api.ok("getChat", chat_id=user["id"])
    assert chat["type"] == "private" and chat["first_name"] == "Mei"
    assert await api.ok("setChatMenuButton", menu_button={"type": "commands"}) is True
    assert await api.ok("getChatMenuButton") == {"type": "commands"}
    assert await api.ok("close") is True and await api.ok("logOut") is True


async def test_commands_per_scope_and_language(api: Api, user: dict[str, Any]) -> None:
    default = [{"command": "start", "description": "Start"}]
    korean = [{"command": "start", "description": "시작"}]
    assert await api.ok("setMyCommands", commands=default)
    assert await api.ok("setMyCommands", commands=korean, language_code="ko")
    private = {"type": "all_private_chats"}
    assert await api.ok("setMyCommands", commands=default * 1, scope=private)
    assert await api.ok("getMyCommands") == default
    assert await api.ok("getMyCommands", language_code="ko") == korean
    assert await api.ok("getMyCommands", language_code="en") == []
    assert await api.ok("getMyCommands", scope=private) == default
    assert await api.ok("deleteMyCommands", language_code="ko")
    assert await api.ok("getMyCommands", language_code="ko") == []
    assert await api.error(
        "setMyCommands", commands=[{"command": "Bad Command", "description": "x"}]
    ) == (400, "Bad Request: BOT_COMMAND_INVALID")
    assert await api.error("setMyCommands", commands=default, language_code="zh_Hans") == (
        400,
        "Bad Request: invalid language code specified",
    )
    assert await api.error("setMyCommands", commands=default, scope={"type": "weird"}) == (
        400,
        "Bad Request: can't parse BotCommandScope: unsupported type specified",
    )
    assert await api.error("setMyCommands", commands="[") == (
        400,
        "Bad Request: can't parse commands JSON object",
    )


@settings(
    max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(
    method=st.sampled_from(
        [
            "sendMessage",
            "editMessageText",
            "getUpdates",
            "answerCallbackQuery",
            "setMyCommands",
            "sendDocument",
            "setWebhook",
            "deleteMessage",
            "getFile",
            "sendLocation",
            "sendVenue",
        ]
    ),
    params=st.dictionaries(
        st.sampled_from(
            [
                "chat_id",
                "text",
                "parse_mode",
                "reply_markup",
                "message_id",
                "offset",
                "limit",
                "timeout",
                "commands",
                "scope",
                "document",
                "url",
                "latitude",
                "file_id",
                "callback_query_id",
                "entities",
                "reply_parameters",
            ]
        ),
        st.one_of(
            st.text(max_size=30),
            st.integers(),
            st.floats(allow_nan=True),
            st.booleans(),
            st.none(),
            st.lists(st.integers(), max_size=3),
            st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
        ),
        max_size=6,
    ),
)
async def test_server_never_crashes_on_garbage(
    api: Api, user: dict[str, Any], method: str, params: dict[str, Any]
) -> None:
    if method == "getUpdates":
        params["timeout"] = 0
    if method == "setWebhook":
        params.pop("url", None)
    async with api.http.post(
        api.url(method), data=json.dumps(params), headers={"Content-Type": "application/json"}
    ) as response:
        body = await response.json()
    assert response.status != 500, body
    assert body["ok"] or body["description"].split(":")[0] in (
        "Bad Request",
        "Forbidden",
        "Conflict",
    ), body


async def test_started_user_helper(client: SandboxClient) -> None:
    user = await started_user(client, "Ji-woo", language_code="ko")
    assert user["language_code"] == "ko"
