"""The volunteer profile through the local Bot API server: when I am free (a week grid) and
the languages I speak, edited as a volunteer would, and matching honouring the change."""

from __future__ import annotations

from datetime import timedelta

import pytest
from babel.dates import get_day_names
from sqlalchemy import select

from bot.handlers.volunteer_profile.views import availability_text
from core import catalog, matching, orders, volunteers
from core.db import transaction, utcnow
from core.errors import InvalidInput
from core.matching import PARTS
from core.models import Category, Member, Order, VolunteerProfile
from core.orders import HelpRequest, Place
from core.schedule import When, local_today
from tests.bot.lang import _i18n, t
from tests.bot.test_request_help import member, member_id
from tests.bot.test_volunteer_journey import volunteer

NAMES = {"zh_Hans": "李明", "ko": "박민수", "en": "Tom"}
TICK, EMPTY = "✅", "⬜"
PART_HEADINGS = ("Morning", "Afternoon", "Evening")


@pytest.fixture(autouse=True)
def _no_scheduled_sweep(monkeypatch) -> None:
    """No background nudges: a volunteer once nudged is no longer among the eligible."""
    monkeypatch.setenv("TIMEBANK_SWEEP_SECONDS", "0")


def in_language(lang: str, render, *args) -> str:
    i18n = _i18n()
    with i18n.context(), i18n.use_locale(lang):
        return render(*args)


async def order_tomorrow_afternoon(sessions, *, language: str) -> tuple[int, int, str]:
    """A resident's open order for tomorrow afternoon; returns it with its (day, part)."""
    async with transaction(sessions, write=True) as s:
        branch = await catalog.branch_by_code(s, "luoshan")
        resident = Member(name="王芳", language=language, branch_id=branch.id, is_resident=True,
                          onboarded_at=utcnow())  # fmt: skip
        s.add(resident)
        await s.flush()
        repairs = await s.scalar(select(Category.id).where(Category.code == "repairs"))
        tomorrow = local_today(branch.time_zone, utcnow()) + timedelta(days=1)
        placed = await orders.place_order(
            s,
            requester_id=resident.id,
            beneficiary_id=resident.id,
            request=HelpRequest(
                category_id=repairs,
                when=When.day_part(tomorrow, "afternoon"),
                place=Place.typed("12 Luoshan Road, flat 3"),
                estimated_minutes=60,
            ),
            key=f"profile-test:{resident.id}",
            max_open=3,
        )
    return placed.order.id, tomorrow.weekday(), "afternoon"


async def candidates(sessions, order_id: int) -> dict[int, matching.Candidate]:
    async with sessions() as s:
        order = await s.get(Order, order_id)
        now = utcnow()
        need = await matching.need_for(s, order, now)
        return {c.member_id: c for c in await matching.eligible(s, need, now=now)}


def grid(persona) -> list[list[str]]:
    markup = persona.last_message()["reply_markup"]
    return [[button["text"] for button in row] for row in markup["inline_keyboard"]]


def cells(persona) -> list[list[str]]:
    """The week's boxes, Monday first, as the grid shows them."""
    return [row[1:] for row in grid(persona)[1:8]]


async def open_profile(persona, lang: str, editor: str) -> str:
    await persona.tap(t(lang, "🤝 Volunteering"))
    summary = (await persona.wait_reply())["text"]
    await persona.tap_inline(t(lang, editor))
    await persona.wait_reply()
    return summary


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
async def test_a_volunteer_unticks_the_orders_time_and_is_not_asked(person, sessions, lang) -> None:
    order_id, day, part = await order_tomorrow_afternoon(sessions, language=lang)
    tom = await volunteer(person, sessions, NAMES[lang], lang, 0.001)
    vid = await member_id(sessions, tom)
    assert vid in await candidates(sessions, order_id)

    summary = await open_profile(tom, lang, "📅 When I am free")
    assert "📅 " + t(lang, "Any day, any time") in summary
    days = get_day_names("abbreviated", locale=lang)
    assert grid(tom)[0] == [t(lang, "All"), *(t(lang, h) for h in PART_HEADINGS)]
    assert [row[0] for row in grid(tom)[1:8]] == [days[d] for d in range(7)]
    assert cells(tom) == [[TICK] * 3] * 7
    assert grid(tom)[8] == [t(lang, "⬅️ Back")]

    # The box for tomorrow afternoon: unticked, and the order no longer finds them.
    await tom.tap_inline_at(1 + day, 1 + PARTS.index(part))
    await tom.wait_reply()
    expected = [[TICK] * 3 for _ in range(7)]
    expected[day][PARTS.index(part)] = EMPTY
    assert cells(tom) == expected
    assert vid not in await candidates(sessions, order_id)

    # Tapping the day clears the rest of it; tapping again ticks it all: asked again.
    await tom.tap_inline_at(1 + day, 0)
    await tom.wait_reply()
    assert cells(tom)[day] == [EMPTY] * 3
    await tom.tap_inline_at(1 + day, 0)
    await tom.wait_reply()
    assert cells(tom) == [[TICK] * 3] * 7
    assert vid in await candidates(sessions, order_id)

    # Weekday mornings only: two days and two headings.
    for row, column in ((6, 0), (0, 2), (7, 0), (0, 3)):
        await tom.tap_inline_at(row, column)
        await tom.wait_reply()
    assert cells(tom) == [[TICK, EMPTY, EMPTY]] * 5 + [[EMPTY] * 3] * 2
    assert vid not in await candidates(sessions, order_id)

    await tom.tap_inline(t(lang, "⬅️ Back"))
    summary = (await tom.wait_reply())["text"]
    weekday_mornings = {"zh_Hans": "周一至周五上午", "ko": "월~금 오전", "en": "Mon–Fri mornings"}
    assert "📅 " + weekday_mornings[lang] in summary
    async with sessions() as s:
        saved = (await s.get(VolunteerProfile, vid)).availability
    assert in_language(lang, availability_text, saved) == weekday_mornings[lang]

    # "All" clears the week, and the summary warns; once more ticks every box.
    await tom.tap_inline(t(lang, "📅 When I am free"))
    await tom.wait_reply()
    await tom.tap_inline(t(lang, "All"))
    await tom.wait_reply()
    assert cells(tom) == [[EMPTY] * 3] * 7
    await tom.tap_inline(t(lang, "⬅️ Back"))
    summary = (await tom.wait_reply())["text"]
    assert t(lang, "No free times ticked, so I will not send you requests") in summary
    await tom.tap_inline(t(lang, "📅 When I am free"))
    await tom.wait_reply()
    await tom.tap_inline(t(lang, "All"))
    await tom.wait_reply()
    assert cells(tom) == [[TICK] * 3] * 7
    assert vid in await candidates(sessions, order_id)


@pytest.mark.parametrize(
    ("lang", "resident_speaks"), [("en", "ko"), ("zh_Hans", "ko"), ("ko", "en")]
)
async def test_a_volunteer_chooses_the_languages_they_speak(
    person, sessions, lang, resident_speaks
) -> None:
    order_id, _day, _part = await order_tomorrow_afternoon(sessions, language=resident_speaks)
    tom = await volunteer(person, sessions, NAMES[lang], lang, 0.001)
    vid = await member_id(sessions, tom)
    assert not (await candidates(sessions, order_id))[vid].speaks_language

    summary = await open_profile(tom, lang, "🗣 Languages I speak")
    native = {"zh_Hans": "中文", "ko": "한국어", "en": "English"}
    assert "🗣 " + native[lang] in summary
    assert tom.inline_labels() == [
        ("✅ " if code == lang else "") + native[code] for code in ("zh_Hans", "ko", "en")
    ] + [t(lang, "⬅️ Back")]

    await tom.tap_inline(native[resident_speaks])
    await tom.wait_reply()
    assert "✅ " + native[resident_speaks] in tom.inline_labels()
    assert (await candidates(sessions, order_id))[vid].speaks_language

    # Their own language off; the last one left stays, with a kind word.
    await tom.tap_inline("✅ " + native[lang])
    await tom.wait_reply()
    answer = await tom.tap_inline("✅ " + native[resident_speaks])
    assert answer["show_alert"]
    assert answer["text"] == t(lang, volunteers.LastLanguage.key)
    async with sessions() as s:
        assert (await s.get(VolunteerProfile, vid)).languages == [resident_speaks]

    await tom.tap_inline(t(lang, "⬅️ Back"))
    summary = (await tom.wait_reply())["text"]
    assert "🗣 " + native[resident_speaks] + "\n" in summary
    assert t(lang, "🔔 Nudges on") in summary and t(lang, "✅ Verified") in summary


async def test_forged_profile_buttons_get_a_kind_answer_and_change_nothing(
    person, sessions
) -> None:
    mei = await member(person, sessions, "美", "zh_Hans", branch="luoshan", is_volunteer=True)
    jun = await member(person, sessions, "준", "ko", branch="luoshan")
    stranger = await person("Eve", language_code="en")
    await stranger.command("/start")
    await stranger.wait_reply()
    ids = {"zh_Hans": await member_id(sessions, mei), "ko": await member_id(sessions, jun)}
    async with transaction(sessions, write=True) as session:
        before = await volunteers.profile(session, ids["zh_Hans"])
        before = (before.availability, list(before.languages), before.max_distance_m)
    not_understood = t("zh_Hans", InvalidInput.key)
    forged = [
        (mei, "vol:slot:9:morning", not_understood),
        (mei, "vol:slot:2:night", not_understood),
        (mei, "vol:day:-1:", not_understood),
        (mei, "vol:part:0:noon", not_understood),
        (mei, "vol:lang:0:fr", not_understood),
        (mei, "vol:dist:123:", not_understood),
        (mei, "vol:hack:0:", not_understood),
        (jun, "vol:slot:0:morning", t("ko", volunteers.NotAVolunteer.key)),
        (jun, "vol:lang:0:ko", t("ko", volunteers.NotAVolunteer.key)),
        (stranger, "vol:times:0:", t("en", "Sorry, this button is not for you.")),
    ]
    for persona, data, expected in forged:
        answer = await persona.forge_tap(data)
        assert (answer["text"], answer["show_alert"]) == (expected, True), data
    async with sessions() as session:
        after = await session.get(VolunteerProfile, ids["zh_Hans"])
        assert (after.availability, after.languages, after.max_distance_m) == before
        assert await session.get(VolunteerProfile, ids["ko"]) is None
