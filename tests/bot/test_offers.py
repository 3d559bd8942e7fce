"""Standing offers through the local Bot API server: a volunteer offers a kind of help in
the chat; a resident finds it under Near me by its kind and asks for it; the request goes
to that volunteer first."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.models import Category, Nudge, Order
from core.rewards.tables import StandingOffer
from tests.bot.lang import t
from tests.bot.test_request_help import category_label, member, member_id
from tests.bot.test_volunteer_journey import grant, until, volunteer

HOSTILE = "<b>&Tom</b> fixes bikes"


@pytest.fixture(autouse=True)
def _no_scheduled_sweep(monkeypatch) -> None:
    monkeypatch.setenv("TIMEBANK_SWEEP_SECONDS", "0")


def plain(text: str) -> str:
    return text.replace("<b>", "").replace("</b>", "")


async def open_the_offer_wizard(helper, sessions, lang: str) -> str:
    """From the main menu to the question of the offer wizard; returns the kind's label."""
    await helper.tap(t(lang, "📍 Near me"))
    await helper.wait_for(lambda _e: t(lang, "⬅️ Near me") in helper.inline_labels(), 8)
    await helper.tap_inline(t(lang, "⬅️ Near me"))
    await helper.wait_for(lambda _e: t(lang, "🤝 Neighbours' offers") in helper.inline_labels(), 8)
    await helper.tap_inline(t(lang, "🤝 Neighbours' offers"))
    await helper.wait_for(lambda _e: t(lang, "🤝 My offers") in helper.inline_labels(), 8)
    await helper.tap_inline(t(lang, "🤝 My offers"))
    await helper.wait_for(lambda _e: t(lang, "➕ Offer my help") in helper.inline_labels(), 8)
    await helper.tap_inline(t(lang, "➕ Offer my help"))
    repairs = await category_label(sessions, "repairs", lang)
    await helper.wait_for(lambda _e: repairs in helper.inline_labels(), 8)
    await helper.tap_inline(repairs)
    return repairs


async def test_a_resident_asks_for_a_neighbours_offer(person, sessions) -> None:
    lang = "en"
    helper = await volunteer(person, sessions, "Vic", lang, 0.001)
    repairs = await open_the_offer_wizard(helper, sessions, lang)
    await until(
        helper, t(lang, "What can you do? A few words, like “I teach smartphone basics”. Or skip.")
    )
    await helper.send(HOSTILE)
    await until(
        helper, t(lang, "🎉 Thank you! Neighbours near you can now ask you for {kind}.")[:20]
    )

    resident = await member(person, sessions, "Ruth", lang, branch="luoshan", address="1 Road")
    await grant(sessions, await member_id(sessions, resident), 120)
    await resident.tap(t(lang, "📍 Near me"))
    await resident.wait_for(
        lambda _e: t(lang, "🤝 Neighbours' offers") in resident.inline_labels(), 8
    )
    await resident.tap_inline(t(lang, "🤝 Neighbours' offers"))
    await resident.wait_for(lambda _e: repairs in resident.inline_labels(), 8)
    await resident.tap_inline(repairs)  # only this kind
    listed = await until(resident, plain(t(lang, "🤝 <b>Neighbours' offers near you</b>")))
    assert HOSTILE in listed and "Vic" in listed
    await resident.tap_inline(t(lang, "🙋 Ask {number}").format(number=1))
    await resident.wait_for(
        lambda _e: t(lang, "🌅 Tomorrow morning") in resident.inline_labels(), 8
    )
    await resident.tap_inline(t(lang, "🌅 Tomorrow morning"))
    await until(resident, t(lang, "✅ Sent! I have asked {name} first.")[:10])
    await until(helper, t(lang, "🤝 They asked for the help you offer, so you are asked first."))
    async with sessions() as s:
        [order] = list(await s.scalars(select(Order)))
        [nudge] = list(await s.scalars(select(Nudge)))
        assert nudge.member_id == await member_id(sessions, helper)
        assert (nudge.order_id, nudge.wave) == (order.id, 0)
        category = await s.get(Category, order.category_id)
        assert category.code == "repairs"


async def test_the_offer_wizard_reasks_and_leaves_with_back_or_cancel(person, sessions) -> None:
    lang = "en"
    question = t(lang, "What can you do? A few words, like “I teach smartphone basics”. Or skip.")
    helper = await volunteer(person, sessions, "Vic", lang, 0.001)
    repairs = await open_the_offer_wizard(helper, sessions, lang)
    await until(helper, question)
    await helper.send_sticker()
    said = (await helper.wait_reply())["text"]
    assert t(lang, "Please type a few words, or tap “Skip ➡️”.") in said and question in said
    await helper.send("x" * 4096)  # the longest message Telegram lets anyone send
    said = (await helper.wait_reply())["text"]
    assert "500" in said and question in said
    await helper.tap(t(lang, "⬅️ Back"))
    assert (await helper.wait_reply())["text"] == t(lang, "All right, nothing was changed.")
    await helper.tap_inline(repairs)
    await until(helper, question)
    await helper.tap(t(lang, "✖️ Cancel"))
    await helper.wait_reply()
    assert helper.last_text() == t(lang, "All right, nothing was changed.")
    async with sessions() as s:
        assert list(await s.scalars(select(StandingOffer))) == []
