"""A coordinator settling a dispute through the local Bot API server: the resident says
something is wrong, the coordinator credits a corrected time or none at all, both sides are
told; a second coordinator, a forged button and a late tap change nothing."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from core import helping
from core.db import utcnow
from core.models import Order, OrderProgress, OrderStatus
from tests.bot.lang import t
from tests.bot.test_request_help import coordinator_member, fill_in, member, member_id
from tests.bot.test_volunteer_journey import d, grant, sweep, until, volunteer

NAMES = {
    "zh_Hans": ("王芳", "李伟", "张伟"),
    "ko": ("김영희", "이민호", "박민수"),
    "en": ("Margaret", "Li Wei", "Tom"),
}


ASK_FIRST = (
    "⚠️ Shall I ask a coordinator to look into {category}? They will get in touch with "
    "you, and nothing is paid until they have."
)


@pytest.fixture(autouse=True)
def _no_scheduled_sweep(monkeypatch) -> None:
    monkeypatch.setenv("TIMEBANK_SWEEP_SECONDS", "0")


async def _disputed(person, sessions, lang: str):
    """Resident (300 min), coordinator, volunteer; an order done in 2 hours, disputed."""
    resident, coordinator, helper = await _done(person, sessions, lang)
    await resident.tap_inline(t(lang, "⚠️ Something is wrong"))
    await until(resident, t(lang, ASK_FIRST).split("}")[-1])
    await resident.tap_inline(t(lang, "⚠️ Yes, ask a coordinator"))
    await until(resident, t(lang, "⚠️ I have asked a coordinator to look into it."))
    return resident, coordinator, helper


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
async def test_something_wrong_asks_first_and_back_leads_to_the_stars(
    person, sessions, lang
) -> None:
    """One tap under the stars is easily made: it asks, and Back shows the stars again;
    nothing reaches a coordinator until Yes."""
    resident, coordinator, _helper = await _done(person, sessions, lang)
    await resident.tap_inline(t(lang, "⚠️ Something is wrong"))
    await until(resident, t(lang, ASK_FIRST).split("}")[-1])
    async with sessions() as s:
        progress = await s.get(OrderProgress, (await s.scalar(select(Order.id))))
    assert progress is not None and progress.disputed_at is None
    await resident.tap_inline(t(lang, "⬅️ Back"))
    rate = t(lang, "✔️ {name} says the help with {category} is done: {duration}. How was it?")
    await until(resident, rate.split("}")[-1])
    assert t(lang, "⚠️ Something is wrong") in resident.inline_labels()
    await resident.tap_inline(t(lang, "⚠️ Something is wrong"))
    await until(resident, t(lang, ASK_FIRST).split("}")[-1])
    await resident.tap_inline(t(lang, "⚠️ Yes, ask a coordinator"))
    await until(resident, t(lang, "⚠️ I have asked a coordinator to look into it."))
    await until(coordinator, NAMES[lang][0])


async def _done(person, sessions, lang: str):
    """Resident (300 min), coordinator, volunteer; an order done in 2 hours, to confirm."""
    resident_name, coordinator_name, helper_name = NAMES[lang]
    coordinator = await coordinator_member(person, sessions, coordinator_name, lang)
    resident = await member(person, sessions, resident_name, lang, branch="luoshan")
    await grant(sessions, await member_id(sessions, resident), 300)
    helper = await volunteer(person, sessions, helper_name, lang, 0.001)
    await fill_in(resident, sessions, lang)
    await resident.tap_inline(t(lang, "✅ Send"))
    await resident.wait_reply()
    assert (await sweep(sessions, utcnow())).nudged == 1
    await until(helper, t(lang, "🔔 Someone near you would like help"))
    await helper.tap_inline(t(lang, "✅ Accept"))
    await until(helper, t(lang, "🙏 Thank you! It is yours."))
    await helper.tap_inline(t(lang, "✔️ Done"))
    await helper.wait_reply()
    await helper.tap_inline(d(lang, 120))
    await until(resident, d(lang, 120))
    return resident, coordinator, helper


async def _order(sessions) -> Order:
    async with sessions() as s:
        return await s.scalar(select(Order))


@pytest.mark.parametrize("lang", ["zh_Hans", "ko"])
async def test_coordinator_corrects_two_hours_to_one(person, sessions, lang) -> None:
    resident, coordinator, helper = await _disputed(person, sessions, lang)
    resident_name, _coordinator_name, helper_name = NAMES[lang]
    alert = await until(coordinator, resident_name)
    assert d(lang, 120) in alert and helper_name in alert
    assert t(lang, "✅ Confirm {duration}").format(duration=d(lang, 120)) in (
        coordinator.inline_labels()
    )
    await coordinator.tap_inline(t(lang, "✏️ Credit a different time"))
    asked = t(lang, "⏳ How much time should {name} be credited for {category}?")
    await until(coordinator, asked.split("}")[-1])
    await coordinator.tap_inline(d(lang, 60))
    settled = "✅ Settled: {name} is credited {duration} for {category}. Both sides have been told."
    done = await until(coordinator, t(lang, settled).split("{")[0])
    assert d(lang, 60) in done and coordinator.inline_labels() == []

    rid, wid = await member_id(sessions, resident), await member_id(sessions, helper)
    async with sessions() as s:
        assert await helping.balance(s, wid) == 60
        assert await helping.balance(s, rid) == 300 - 60
    told_helper = await until(
        helper, t(lang, "Your balance: {balance}").format(balance=d(lang, 60))
    )
    assert d(lang, 120) in told_helper  # "… (you reported 2 hours)"
    told_resident = await until(
        resident, t(lang, "Your balance: {balance}").format(balance=d(lang, 240))
    )
    assert d(lang, 60) in told_resident and helper_name in told_resident
    order = await _order(sessions)
    assert order.status == OrderStatus.CONFIRMED and order.actual_minutes == 60


_forged_ids = itertools.count(9_000_000)


async def forge(running_bot, engine, persona, data: str) -> str | None:
    """A callback with `data` from `persona`, on no message of theirs (as a forged client
    would send it), fed to the bot's dispatcher; returns the bot's answer."""
    from aiogram.types import Update

    from bot.app import create_app, create_bot

    app, bot = create_app(running_bot.settings, engine), create_bot(running_bot.settings)
    answers: list[str | None] = []

    async def spy(bot_, method, timeout=None):  # noqa: ASYNC109  (aiogram signature)
        answers.append(getattr(method, "text", None))
        return True

    bot.session.make_request = spy
    try:
        await app.dispatcher.feed_update(bot, Update.model_validate({
            "update_id": next(_forged_ids),
            "callback_query": {
                "id": f"forged-{persona.id}-{data}", "chat_instance": "1", "data": data,
                "from": {"is_bot": False, **persona.user},
            },
        }))  # fmt: skip
    finally:
        await app.close()
        await bot.session.close()
    return answers[-1] if answers else None


async def test_no_credit_with_a_reason_then_late_and_forged_taps(
    person, sessions, running_bot, engine
) -> None:
    lang = "en"
    resident, coordinator, helper = await _disputed(person, sessions, lang)
    second = await member(
        person, sessions, "Zhang Min", lang, branch="luoshan", is_resident=False,
        is_coordinator=True,
    )  # fmt: skip
    async with sessions() as s:  # the second coordinator joined after the alert: send it too
        order = await s.scalar(select(Order))
    from core import notices, nudges
    from core.db import transaction

    async with transaction(sessions, write=True) as s:
        await nudges.tell_coordinators(
            s,
            order,
            notices.Dispute(order_id=order.id, by=order.requester_id),
            f"dispute:{order.id}",
        )
    await until(coordinator, "Margaret says something is wrong")
    await until(second, "Margaret says something is wrong")

    # Both look into it; the first to decide settles it, the second is told so.
    await second.tap_inline(t(lang, "🚫 No credit"))
    await until(second, "If you like, type a short reason")
    await coordinator.tap_inline(t(lang, "🚫 No credit"))
    await until(coordinator, "If you like, type a short reason")
    await coordinator.send("Tom could not get in; nobody was at home.")
    await until(coordinator, "🚫 Settled: no credit")
    await until(second, "Li Wei has settled it already")
    assert second.inline_labels() == []
    await second.send("He came, but late.")
    already = t(lang, "This has already been settled. Thank you for looking into it!")
    await until(second, already)

    # Forged and late taps (the bot is stopped meanwhile: its dispatcher is fed the forged
    # updates directly): a kind answer, nothing changes.
    await running_bot.stop()
    for forger, answer in ((helper, "Sorry, this button is not for you."),
                           (resident, "Sorry, this button is not for you."),
                           (second, already)):  # fmt: skip
        for data in (f"stl:credit:{order.id}:600", f"stl:none_yes:{order.id}:0"):
            assert await forge(running_bot, engine, forger, data) == t(lang, answer)
    await running_bot.start()

    told_helper = await until(helper, "no time is credited")
    assert "Reason: Tom could not get in; nobody was at home." in told_helper
    told_resident = await until(resident, "nothing is paid")
    assert "Reason: Tom could not get in" in told_resident
    rid, wid = await member_id(sessions, resident), await member_id(sessions, helper)
    async with sessions() as s:
        assert await helping.balance(s, wid) in (0, None)
        assert await helping.balance(s, rid) == 300
        assert await helping.pending_hold(s, order.id) is None
    assert (await _order(sessions)).status == OrderStatus.NOT_CREDITED
    # The old "message Tom" button: the request has moved on, so the tap itself says so.
    answer = await resident.tap_inline(t(lang, "💬 Message {name}").format(name="Tom"))
    assert answer["text"] == t(lang, "This request has moved on; nothing was changed.")
