"""A brand-new resident, signed up through the bot, is welcomed with the branch's welcome
hours; their first request goes straight to volunteers with no coordinator step, and one
past what the branch's policy allows still alerts the coordinator. In Chinese, Korean and
English."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.db import utcnow
from core.demo import DEMO_POLICIES
from core.models import OrderFunding, OutboxMessage
from tests.bot.lang import t
from tests.bot.test_coordinator import NAMES
from tests.bot.test_request_help import all_orders, coordinator_member, fill_in, sent_message
from tests.bot.test_volunteer_journey import d, sweep, until, volunteer

LUOSHAN = DEMO_POLICIES["luoshan"]
SIGN_UP = {
    # (Telegram language code, the language button, the branch button)
    "zh_Hans": ("zh-hans", "中文", "上海罗山"),
    "ko": ("ko", "한국어", "상하이 뤄산"),
    "en": ("en", "English", "Luoshan, Shanghai"),
}
NUDGE = "🔔 Someone near you would like help"
NEEDS_COORDINATOR = "A coordinator will see that it needs help with the cost."
NO_CREDIT_YET = (
    "You do not have enough credit for this yet, and that is all right: I will still send it, "
    "and a coordinator will help with the cost. You earn credit by helping a neighbour, or you "
    "can ask a coordinator."
)


@pytest.fixture(autouse=True)
def _no_scheduled_sweep(monkeypatch) -> None:
    monkeypatch.setenv("TIMEBANK_SWEEP_SECONDS", "0")


async def sign_up(person, lang: str, name: str):
    """A stranger signs up as a resident of Luoshan, every step through the bot."""
    tag, native, branch = SIGN_UP[lang]
    newcomer = await person(name, language_code=tag)
    await newcomer.command("/start")
    await newcomer.wait_reply()
    await newcomer.tap(native)
    await newcomer.wait_reply()
    await newcomer.send(name)
    await newcomer.wait_reply()
    await newcomer.tap(branch)
    await newcomer.wait_reply()
    await newcomer.tap(t(lang, "🙋 I need help"))
    await newcomer.wait_reply()
    await newcomer.tap(t(lang, "📞 Share my phone number"))
    await newcomer.wait_reply()
    await newcomer.tap(t(lang, "🏘 Choose my neighbourhood"))
    await newcomer.wait_reply()
    await newcomer.tap(newcomer.keyboard_labels()[0])
    await newcomer.wait_reply()
    return newcomer


async def coordinator_alerts(sessions) -> set[int]:
    """The orders the branch's coordinators were alerted about for their cost."""
    async with sessions() as session:
        alerts = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "needs_sponsor")
        )
        return {alert.payload["order_id"] for alert in alerts}


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
async def test_a_new_residents_first_request_goes_straight_to_volunteers(
    person, sessions, lang
) -> None:
    resident_name, coordinator_name, tom_name, _ann, _area = NAMES[lang]
    coordinator = await coordinator_member(person, sessions, coordinator_name, lang)
    tom = await volunteer(person, sessions, tom_name, lang, 0.001)
    resident = await sign_up(person, lang, resident_name)
    welcome = t(
        lang,
        "As a welcome, your passbook starts with {hours} of time credit: "
        "ask for help whenever you need it.",
    ).format(hours=d(lang, LUOSHAN.welcome_minutes))
    assert welcome in resident.last_text()

    # About an hour: the welcome hours pay; nobody is asked about the cost.
    review = await fill_in(resident, sessions, lang)
    assert t(lang, NO_CREDIT_YET) not in review["text"]
    await resident.tap_inline(t(lang, "✅ Send"))
    await until(resident, t(lang, "✅ Sent! I will let you know as soon as a volunteer says yes."))
    assert t(lang, NEEDS_COORDINATOR) not in sent_message(resident)
    [first] = await all_orders(sessions)
    assert first.funding == OrderFunding.OWN
    report = await sweep(sessions, utcnow())
    assert report.nudged == 1
    await until(tom, t(lang, NUDGE))
    assert await coordinator_alerts(sessions) == set()

    # Half a day is past the welcome hours and the residents' overdraft: the coordinator.
    review = await fill_in(resident, sessions, lang, duration="Half a day")
    assert t(lang, NO_CREDIT_YET) in review["text"]
    await resident.tap_inline(t(lang, "✅ Send"))
    await until(resident, t(lang, NEEDS_COORDINATOR))
    second = (await all_orders(sessions))[-1]
    assert second.funding == OrderFunding.NEEDS_SPONSOR
    await until(coordinator, resident_name)
    assert await coordinator_alerts(sessions) == {second.id}
