"""How many taps a request takes, from the main menu to "✅ Sent!", with no typing.

A member signed up by sharing where they live, as most do; nothing else is on file. Every
tap goes through a counter, and each must find its button on the keyboard the bot shows at
that moment, so a step the bot adds fails here before it reaches a resident.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core import matching, volunteers
from core.db import transaction, utcnow
from core.models import Category
from sandbox.persona import Persona
from tests.bot.lang import t
from tests.bot.test_request_help import all_orders, category_label, member, member_id
from tests.bot.test_volunteer_journey import grant, sweep, until

LANGUAGES = ["zh_Hans", "ko", "en"]
NAMES = {"zh_Hans": "王芳", "ko": "김영희", "en": "Margaret"}
# Where the sign-up's "📍 Share my location" leaves a resident of Luoshan: the area only.
AREA = {"home_latitude": 31.21, "home_longitude": 121.56}
FIRST_REQUEST_TAPS = 6
SAME_AS_LAST_TAPS = 4
VOICE_TAPS = 3
RECORD = (
    "Hold the 🎤 microphone button and tell me what you need. Let go when you are done, "
    "and I will show you the request before it is sent."
)
FILLED_IN = (
    "I filled in the rest for you. The volunteer who says yes will get in touch to settle it. "
    "You can change anything with ✏️."
)


@pytest.fixture(autouse=True)
def _no_scheduled_sweep(monkeypatch) -> None:
    monkeypatch.setenv("TIMEBANK_SWEEP_SECONDS", "0")


class Counted:
    """A member whose every tap (a reply button, an inline button, a voice note) is counted."""

    def __init__(self, persona: Persona, lang: str) -> None:
        self.persona = persona
        self.lang = lang
        self.taps = 0

    async def tap(self, label: str) -> dict:
        self.taps += 1
        await self.persona.tap(t(self.lang, label))
        return await self.persona.wait_reply()

    async def tap_exact(self, label: str) -> dict:
        """A button whose label is data (a category), not a catalog message."""
        self.taps += 1
        await self.persona.tap(label)
        return await self.persona.wait_reply()

    async def tap_inline(self, label: str) -> dict:
        self.taps += 1
        await self.persona.tap_inline(t(self.lang, label))
        return await self.persona.wait_reply()

    async def record_voice(self) -> dict:
        """Hold the microphone, speak, let go: one gesture."""
        self.taps += 1
        await self.persona.send_voice(duration=5)
        return await self.persona.wait_reply()

    def sent(self) -> bool:
        sent = t(self.lang, "✅ Sent! I will let you know as soon as a volunteer says yes.")
        return any((m.get("text") or "").startswith(sent) for m in self.persona.bot_messages())


async def resident(person, sessions, lang: str) -> Counted:
    return Counted(await member(person, sessions, NAMES[lang], lang, **AREA), lang)


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_a_first_request_takes_six_taps_and_the_same_again_four(
    person, sessions, lang
) -> None:
    p = await resident(person, sessions, lang)
    await p.tap("🙋 Ask for help")
    await p.tap_exact(await category_label(sessions, "shopping", lang))
    await p.tap("Skip ➡️")
    await p.tap("☀️ Tomorrow afternoon")
    review = await p.tap("🏠 My home")
    assert (
        t(lang, "🏠 At home. The volunteer who says yes will ask for the exact address.")
        in (review["text"])
    )
    await p.tap_inline("✅ Send")
    assert p.sent()
    print(f"{lang}: a first request in {p.taps} taps")
    assert p.taps <= FIRST_REQUEST_TAPS

    p.taps = 0
    await p.tap("🙋 Ask for help")
    await p.tap("🔁 Same as last time")
    await p.tap("⚡ As soon as possible")
    await p.tap_inline("✅ Send")
    print(f"{lang}: the same again in {p.taps} taps")
    assert p.taps == SAME_AS_LAST_TAPS

    first, again = await all_orders(sessions)
    assert first.when_asked["part"] == "afternoon" and again.when_asked["kind"] == "asap"
    for order in (first, again):
        assert order.place_kind == "home" and order.address is None
        assert (order.latitude, order.longitude) == (31.21, 121.56)
        assert order.estimated_minutes == 60


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_asking_by_voice_takes_three_taps(person, sessions, lang) -> None:
    p = await resident(person, sessions, lang)
    asked = await p.tap("🎤 Ask by voice")
    assert asked["text"] == t(lang, RECORD)
    assert p.persona.keyboard_labels() == [t(lang, "⬅️ Back"), t(lang, "✖️ Cancel")]
    review = await p.record_voice()
    # The defaults, in words: other help, a voice note, as soon as possible, home, an hour.
    for line in (
        await category_label(sessions, "other", lang),
        t(lang, "🎤 A voice message"),
        "🕒 " + t(lang, "⚡ As soon as possible").removeprefix("⚡ "),
        t(lang, "🏠 At home. The volunteer who says yes will ask for the exact address."),
        t(lang, FILLED_IN),
    ):
        assert line in review["text"], line
    await p.tap_inline("✅ Send")
    assert p.sent()
    print(f"{lang}: a request by voice in {p.taps} taps")
    assert p.taps == VOICE_TAPS

    [order] = await all_orders(sessions)
    async with sessions() as session:
        category = await session.get(Category, order.category_id)
    assert order.voice_file_id and order.description == ""
    assert category.code == "other" and order.when_asked["kind"] == "asap"
    assert order.place_kind == "home" and order.estimated_minutes == 60


async def test_a_voice_request_without_a_home_asks_where_and_back_records_again(
    person, sessions
) -> None:
    lang = "en"
    p = await member(person, sessions, "Ann", lang)
    await p.tap("🎤 Ask by voice")
    await p.wait_reply()
    await p.send("Please come and help")
    assert (await p.wait_reply())["text"].startswith("Please send a voice message.")
    await p.send_voice(duration=3)
    assert (await p.wait_reply())["text"].startswith("Where should the volunteer come?")
    await p.tap("⬅️ Back")
    assert (await p.wait_reply())["text"] == RECORD
    await p.send_voice(duration=4)
    await p.wait_reply()
    await p.send("Flat 3, 12 Luoshan Road")
    review = await p.wait_reply()
    assert "📍 Flat 3, 12 Luoshan Road" in review["text"]
    await p.tap("⬅️ Back")
    assert (await p.wait_reply())["text"] == RECORD
    await p.tap("⬅️ Back")  # the review was reached: Back goes to it, nothing is lost
    review = await p.wait_reply()
    assert "📍 Flat 3, 12 Luoshan Road" in review["text"]
    await p.tap("✖️ Cancel")
    assert (await p.wait_reply())["text"].startswith("Okay, I did not send anything.")
    assert await all_orders(sessions) == []


async def test_the_review_has_one_cancel_and_keeps_back(person, sessions) -> None:
    lang = "ko"
    p = await resident(person, sessions, lang)
    await p.tap("🙋 Ask for help")
    await p.tap_exact(await category_label(sessions, "repairs", lang))
    await p.tap("Skip ➡️")
    await p.tap("⚡ As soon as possible")
    review = await p.tap("🏠 My home")
    cancel = t(lang, "✖️ Cancel")
    assert cancel not in p.persona.inline_labels(review)
    assert p.persona.keyboard_labels() == [t(lang, "⬅️ Back"), cancel]
    await p.tap("✖️ Cancel")
    shown = next(m for m in p.persona.bot_messages() if m["message_id"] == review["message_id"])
    assert not (shown.get("reply_markup") or {}).get("inline_keyboard")
    assert await all_orders(sessions) == []


async def test_a_nearby_volunteer_is_nudged_with_the_voice_note(person, sessions) -> None:
    lang = "zh_Hans"
    p = await resident(person, sessions, lang)
    await grant(sessions, await member_id(sessions, p.persona), 120)
    helper = await member(
        person, sessions, "李明", lang,
        is_resident=False, is_volunteer=True, verified=True,
        home_latitude=31.215, home_longitude=121.556,
    )  # fmt: skip
    async with transaction(sessions, write=True) as session:
        other = await session.scalar(select(Category.id).where(Category.code == "other"))
        profile = await volunteers.profile(session, await member_id(sessions, helper))
        profile.skills = matching.skill_bit(other)
        profile.max_distance_m = 5000
    await p.tap("🎤 Ask by voice")
    await p.record_voice()
    await p.tap_inline("✅ Send")
    [order] = await all_orders(sessions)

    assert (await sweep(sessions, utcnow())).nudged == 1
    await until(helper, t(lang, "🔔 Someone near you would like help"))
    nudge = next(m for m in helper.bot_messages() if m["kind"] == "voice")
    assert nudge["voice"]["file_id"] == order.voice_file_id
