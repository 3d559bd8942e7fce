"""Onboarding end to end through the local Bot API server, as a member would do it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.models import Identity, Member
from tests.bot.lang import t
from tests.bot.test_volunteer_journey import until

LANGUAGES = [
    # (Telegram language_code, our code, native name, a name, the branch as shown)
    ("zh-hans", "zh_Hans", "中文", "王芳", "上海罗山"),
    ("ko", "ko", "한국어", "김민지", "서울 마포"),
    ("en", "en", "English", "Margaret", "Luoshan, Shanghai"),
]


async def member_of(sessions, persona) -> Member | None:
    async with sessions() as session:
        return await session.scalar(
            select(Member)
            .join(Identity, Identity.member_id == Member.id)
            .where(Identity.external_id == str(persona.id))
        )


@pytest.mark.parametrize(("tag", "lang", "native", "name", "branch"), LANGUAGES)
async def test_a_resident_signs_up(person, sessions, tag, lang, native, name, branch) -> None:
    mei = await person(name, language_code=tag)
    await mei.command("/start")
    await mei.wait_reply()
    assert mei.last_text() == t(lang, "Which language would you like me to speak?")
    assert mei.keyboard_labels()[:3] == ["中文", "한국어", "English"]

    await mei.tap(native)
    assert (await mei.wait_reply())["text"] == t(
        lang, "What should we call you? Please type your name."
    )
    assert t(lang, "⬅️ Back") in mei.keyboard_labels()
    assert t(lang, "✖️ Cancel") in mei.keyboard_labels()

    await mei.send(name)
    await mei.wait_reply()
    assert mei.last_text() == t(lang, "Which time bank branch is near you?")
    await mei.tap(branch)
    await mei.wait_reply()
    await mei.tap(t(lang, "🙋 I need help"))
    await mei.wait_reply()
    await mei.tap(t(lang, "📞 Share my phone number"))
    await mei.wait_reply()
    assert t(lang, "Thank you, I have saved your number.") in [m["text"] for m in mei.replies]
    await mei.tap(t(lang, "🏘 Choose my neighbourhood"))
    await mei.wait_reply()
    area = mei.keyboard_labels()[0]
    await mei.tap(area)
    done = await mei.wait_reply()
    assert name in done["text"]
    assert t(lang, "👤 My details") in mei.keyboard_labels()

    saved = await member_of(sessions, mei)
    assert saved is not None and saved.onboarded_at is not None
    assert (saved.name, saved.language, saved.is_resident, saved.is_volunteer) == (
        name,
        lang,
        True,
        False,
    )
    assert saved.phone is not None and saved.neighbourhood_id is not None


async def test_back_goes_one_step_back_and_cancel_keeps_what_was_saved(person, sessions) -> None:
    kim = await person("Kim", language_code="ko")
    await kim.command("/start")
    await kim.wait_reply()
    await kim.tap("English")
    await kim.wait_reply()
    await kim.send("Kim")
    await kim.wait_reply()
    await kim.tap("⬅️ Back")
    assert (await kim.wait_reply())["text"] == "What should we call you? Please type your name."
    await kim.tap("⬅️ Back")
    assert (await kim.wait_reply())["text"] == "Which language would you like me to speak?"
    await kim.tap("한국어")
    await kim.wait_reply()
    await kim.send("김영희")
    await kim.wait_reply()
    await kim.tap("✖️ 취소")
    await kim.wait_reply()
    assert kim.keyboard_labels() == ["▶️ 가입 이어서 하기"]
    saved = await member_of(sessions, kim)
    assert (saved.name, saved.language, saved.onboarded_at) == ("김영희", "ko", None)

    await kim.tap("▶️ 가입 이어서 하기")
    assert (await kim.wait_reply())["text"] == "가까운 시간은행 지점은 어디인가요?"


async def test_the_qr_poster_deep_link_skips_the_branch_question(person, sessions) -> None:
    park = await person("Park", language_code="ko")
    await park.command("/start b_mapo")
    await park.wait_reply()
    await park.tap("한국어")
    await park.wait_reply()
    await park.send("박영희")
    assert (await park.wait_reply())["text"] == "어떻게 참여하고 싶으세요?"
    await park.tap("⬅️ 뒤로")
    assert (await park.wait_reply())["text"] == "어떻게 불러 드릴까요? 이름을 입력해 주세요."
    saved = await member_of(sessions, park)
    async with sessions() as session:
        from core.models import Branch

        assert (await session.get(Branch, saved.branch_id)).code == "mapo"


async def test_a_restart_in_the_middle_resumes_at_the_same_step(person, running_bot) -> None:
    ann = await person("Ann", language_code="en")
    await ann.command("/start")
    await ann.wait_reply()
    await ann.tap("English")
    await ann.wait_reply()
    await ann.send("Ann")
    await ann.wait_reply()

    await running_bot.restart()

    await ann.tap("Luoshan, Shanghai")
    assert (await ann.wait_reply())["text"] == "How would you like to take part?"


async def _sign_up(persona, native: str = "English", name: str = "Ann") -> None:
    await persona.command("/start")
    await persona.wait_reply()
    await persona.tap(native)
    await persona.wait_reply()
    await persona.send(name)
    await persona.wait_reply()
    await persona.tap(persona.keyboard_labels()[0])
    await persona.wait_reply()
    await persona.tap(persona.keyboard_labels()[1])
    await persona.wait_reply()
    await persona.tap(persona.keyboard_labels()[1])
    await persona.wait_reply()
    await persona.tap(persona.keyboard_labels()[2])
    await persona.wait_reply()


async def test_a_returning_member_is_greeted_by_name(person) -> None:
    ann = await person("Ann", language_code="en")
    await _sign_up(ann)
    await ann.command("/start")
    assert (await ann.wait_reply())["text"] == "Welcome back, Ann! How can I help today?"


@pytest.mark.parametrize(
    "bad_input",
    ["sticker", "photo", "long text", "unknown command", "voice"],
)
async def test_bad_input_at_a_button_step_reprompts_the_same_step(person, bad_input) -> None:
    bo = await person("Bo", language_code="en")
    await bo.command("/start")
    await bo.wait_reply()
    await bo.tap("English")
    await bo.wait_reply()
    await bo.send("Bo")
    await bo.wait_reply()
    before = bo.keyboard_labels()
    if bad_input == "sticker":
        await bo.send_sticker()
    elif bad_input == "photo":
        await bo.send_photo()
    elif bad_input == "voice":
        await bo.send_voice()
    elif bad_input == "long text":
        await bo.send("x" * 4096)
    else:
        await bo.send("/frobnicate")
    reply = await bo.wait_reply()
    assert reply["text"].startswith("Please choose one of the buttons below.")
    assert reply["text"].endswith("Which time bank branch is near you?")
    assert bo.keyboard_labels() == before


async def test_a_too_long_name_is_refused_kindly(person) -> None:
    bo = await person("Bo", language_code="en")
    await bo.command("/start")
    await bo.wait_reply()
    await bo.tap("English")
    await bo.wait_reply()
    await bo.send("B" * 500)
    reply = await bo.wait_reply()
    assert reply["text"].startswith("Please send your name as a short text, up to 64 letters.")


async def test_unknown_command_outside_a_conversation_points_to_help(person) -> None:
    ann = await person("Ann", language_code="en")
    await _sign_up(ann)
    await ann.command("/frobnicate")
    reply = await ann.wait_reply()
    assert "/help" in reply["text"]
    await ann.command("/help")
    assert "/mydata" in (await ann.wait_reply())["text"]


async def test_names_are_escaped_for_html(person) -> None:
    eve = await person("Eve", language_code="en")
    await _sign_up(eve, name="<b>Eve</b> & co")
    await eve.command("/start")
    reply = await eve.wait_reply()
    assert "<b>Eve</b> & co" in reply["text"]


async def test_language_can_be_changed_any_time(person) -> None:
    ann = await person("Ann", language_code="en")
    await _sign_up(ann)
    await ann.tap("🌐 Language")
    await ann.wait_reply()
    await ann.tap("中文")
    assert (await ann.wait_reply())["text"] == "好了！以后我就用中文和您说话。"
    assert "👤 我的资料" in ann.keyboard_labels()


async def test_my_data_then_delete_me(person, client, sessions) -> None:
    ann = await person("Ann", language_code="en")
    await _sign_up(ann, name="Ann Lee")
    await ann.tap("👤 My details")  # as /mydata, without the file (tests/bot/test_mydata)
    details = await until(ann, "Here is everything we keep about you:")
    assert "Ann Lee" in details and "Luoshan, Shanghai" in details

    await ann.command("/deleteme")
    older = await ann.wait_reply()
    await ann.command("/deleteme")
    confirmation = await ann.wait_reply()
    await ann.tap_inline("Yes, erase my details", message_id=confirmation["message_id"])
    await ann.wait_reply()
    assert ann.last_text().startswith("Your details are erased.")
    assert await member_of(sessions, ann) is None
    async with sessions() as session:
        erased = (await session.scalars(select(Member).where(Member.erased_at.is_not(None)))).all()
    assert [m.name for m in erased] == [""]

    edited = next(m for m in ann.bot_messages() if m["message_id"] == confirmation["message_id"])
    assert ann.inline_labels(edited) == []
    erase = older["reply_markup"]["inline_keyboard"][0][0]
    pressed = await client.press(ann.id, older["message_id"], erase["callback_data"])
    stale = await client.callback_answer(pressed["callback_query_id"], timeout=5)
    assert stale["answer"]["text"] == "This button is no longer active."
