"""A Korean coordinator creating a market day types the date and the hours as they would
say them: "12월 20일" and "오전 9시부터 12시". A date the bot cannot read gets a reply that
shows what a date looks like, not the opening-hours error."""

from __future__ import annotations

from datetime import timedelta

from babel.dates import format_skeleton

from bot.conversations.market import day_example
from core.db import utcnow
from core.schedule import local_today
from tests.bot.lang import _i18n, t
from tests.bot.test_request_help import coordinator_member
from tests.bot.test_volunteer_journey import until


async def test_a_korean_coordinator_types_the_day_and_hours_in_words(person, sessions) -> None:
    lang = "ko"
    coordinator = await coordinator_member(person, sessions, "이 영희", lang)
    await coordinator.command("/newmarket")
    await coordinator.wait_reply()
    await coordinator.send("이웃 장터")
    await coordinator.wait_reply()

    today = local_today("Asia/Shanghai", utcnow())
    i18n = _i18n()
    with i18n.context(), i18n.use_locale(lang):
        example = day_example(today)
    await coordinator.send("언젠가")
    said = t(lang, "Please type a coming date, like {example}, or tap one of the days.")
    await until(coordinator, said.format(example=example))

    day = today + timedelta(days=10)
    await coordinator.send(format_skeleton("MMMd", day, locale="ko"))  # "12월 20일"
    await until(coordinator, t(lang, "From when to when? Tap one, or type it like 9:00-11:30."))
    await coordinator.send("오전 9시부터 12시")
    await until(coordinator, t(lang, "Where is it? Type the venue's address."))
