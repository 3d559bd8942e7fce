"""The journeys with names, descriptions and texts that hold HTML's special characters,
quotes, emoji, right-to-left letters and zero-width characters: every message the bot
sends is accepted by the local Bot API server (which parses HTML as Telegram does), and
each shows the member's words literally. In Chinese, Korean and English.

Sign-up, family link, a gift, a request for a relative and its cancelling, a request of
one's own: nudge, accept, a relayed message, done, stars and thanks; then one disputed
and settled by a coordinator."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import select

from core import catalog
from core.db import utcnow
from core.models import OutboxMessage, OutboxStatus
from sandbox.persona import Persona
from tests.bot.lang import t
from tests.bot.test_disputes import ASK_FIRST
from tests.bot.test_request_help import (
    category_label,
    coordinator_member,
    fill_in,
    link_family,
    member,
    member_id,
)
from tests.bot.test_volunteer_journey import d, grant, sweep, until, volunteer

RESIDENT = {
    "zh_Hans": '王<3 & "芳" 👵 سلام\u200b</i>',
    "ko": "김<영희> & '할머니' 👵 שלום\u200d</b>",
    "en": "Tom <3 & \"Ann\" 'Jo' 👵 مرحبا\u200b<b>",
}
VOLUNTEER = {
    "zh_Hans": '李<明> & "志愿" 🤝 עזרה\u200b',
    "ko": '박<민수> & "봉사" 🤝 عون\u200c',
    "en": 'Raj <&> "Vol" 🤝 עזרה\u200b',
}
RELATIVE = "<Son> & 'z' 👦 \u200bابن &amp;"
COORDINATOR = 'C<oord> & "c" 📋 \u2067אב\u2069'
DESCRIPTION = 'Fix <the> tap & "drip" 🚰 שלום\u200b </b> &lt;'
ADDRESS = '12 <Luoshan> Rd & "flat 3" \u200b'
RELAYED = 'See you <soon> & "bye" 👋 \u200f'
THANKS = "Thanks <3 & 'more' 🙏 <i>"


@pytest.fixture(autouse=True)
def _no_scheduled_sweep(monkeypatch) -> None:
    monkeypatch.setenv("TIMEBANK_SWEEP_SECONDS", "0")


async def until_all(persona: Persona, *parts: str, timeout: float = 10.0) -> str:  # noqa: ASYNC109
    """Wait until one of the bot's messages to the persona holds every one of `parts`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        await persona.sync()
        for message in reversed(persona.bot_messages()):
            if all(part in (message.get("text") or "") for part in parts):
                return message["text"]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(
                f"{parts!r} not in {[m.get('text') for m in persona.bot_messages()]}"
            )
        await asyncio.sleep(0.1)


async def sign_up(persona: Persona, sessions, lang: str, name: str) -> str:
    """Onboarding as a resident of Luoshan; returns the last message."""
    natives = {"zh_Hans": "中文", "ko": "한국어", "en": "English"}
    async with sessions() as session:
        branch = await catalog.branch_by_code(session, "luoshan")
    await persona.command("/start")
    await persona.wait_reply()
    await persona.tap(natives[lang])
    await persona.wait_reply()
    await persona.send(name)
    await persona.wait_reply()
    await persona.tap(catalog.localized(branch.names, lang))
    await persona.wait_reply()
    await persona.tap(t(lang, "🙋 I need help"))
    await persona.wait_reply()
    await persona.tap(t(lang, "📞 Share my phone number"))
    await persona.wait_reply()
    await persona.tap(t(lang, "🏘 Choose my neighbourhood"))
    await persona.wait_reply()
    await persona.tap(persona.keyboard_labels()[0])
    return (await persona.wait_reply())["text"]


async def ask_for_relative(son: Persona, sessions, lang: str, name: str) -> str:
    await son.tap(t(lang, "🤲 Ask for someone else"))
    await son.wait_reply()
    await son.tap(f"👤 {name}")
    await son.wait_reply()
    await son.tap(await category_label(sessions, "shopping", lang))
    await son.wait_reply()
    await son.send(DESCRIPTION)
    await son.wait_reply()
    await son.tap(t(lang, "⚡ As soon as possible"))
    await son.wait_reply()
    await son.send(ADDRESS)
    summary = (await son.wait_reply())["text"]
    await son.tap_inline(t(lang, "✅ Send"))
    await son.wait_reply()
    return summary


async def cancel_the_first_order(p: Persona, lang: str) -> None:
    await p.tap(t(lang, "📋 My requests"))
    listing = await p.wait_reply()
    await p.tap_inline(p.inline_labels(listing)[0])
    await p.wait_reply()
    await p.tap_inline(t(lang, "✖️ Cancel this request"))
    await p.wait_reply()
    await p.tap_inline(t(lang, "I found help elsewhere"))
    await p.wait_reply()


async def ask_and_accept(resident: Persona, helper: Persona, sessions, lang: str) -> str:
    """The resident's request, nudged to the volunteer and accepted; returns the card."""
    await fill_in(resident, sessions, lang, describe=DESCRIPTION, where=ADDRESS)
    await resident.tap_inline(t(lang, "✅ Send"))
    await resident.wait_reply()
    assert (await sweep(sessions, utcnow())).nudged == 1
    nudge = await until(helper, t(lang, "🔔 Someone near you would like help"))
    assert DESCRIPTION in nudge
    assert RESIDENT[lang] not in nudge and ADDRESS not in nudge  # only once accepted
    await helper.tap_inline(t(lang, "✅ Accept"))
    return await until(helper, t(lang, "🙏 Thank you! It is yours."))


async def done_in(helper: Persona, lang: str, minutes: int) -> None:
    await helper.tap_inline(t(lang, "✔️ Done"))
    await helper.wait_reply()
    await helper.tap_inline(d(lang, minutes))
    await helper.wait_reply()


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
async def test_the_journeys_show_every_name_literally(person, sessions, caplog, lang) -> None:
    caplog.set_level(logging.ERROR)
    name, helper_name = RESIDENT[lang], VOLUNTEER[lang]
    resident = await person("Resident", language_code={"zh_Hans": "zh-hans"}.get(lang, lang))
    welcome = await sign_up(resident, sessions, lang, name)
    assert name in welcome
    rid = await member_id(sessions, resident)
    await grant(sessions, rid, 600)
    son = await member(person, sessions, RELATIVE, lang, branch="luoshan")
    await grant(sessions, await member_id(sessions, son), 300)
    coordinator = await coordinator_member(person, sessions, COORDINATOR, lang)
    helper = await volunteer(person, sessions, helper_name, lang, 0.001)

    # Family: the link asked and answered, both naming the other; hours given.
    await link_family(resident, son, lang)
    assert any(RELATIVE in (m["text"] or "") for m in resident.bot_messages())
    assert any(name in (m["text"] or "") for m in son.bot_messages())
    await son.tap(t(lang, "📒 My passbook"))
    await son.wait_reply()
    await son.tap_inline(t(lang, "🎁 Give hours to family"))
    await son.wait_reply()
    await son.tap_inline(f"👤 {name}")
    assert name in (await son.wait_reply())["text"]
    await son.tap_inline(t(lang, "1 hour"))
    assert name in (await son.wait_reply())["text"]
    await son.tap_inline(t(lang, "✅ Confirm"))
    assert name in (await son.wait_reply())["text"]
    assert RELATIVE in (await resident.wait_notice())["text"]

    # A request for the resident by the son, then cancelled by him: she is told both times.
    summary = await ask_for_relative(son, sessions, lang, name)
    assert name in summary and DESCRIPTION in summary and ADDRESS in summary
    assert RELATIVE in (await resident.wait_notice())["text"]
    await cancel_the_first_order(son, lang)
    cancelled = (await resident.wait_notice())["text"]
    assert RELATIVE in cancelled

    # Her own request: nudge, accept, a message passed on, done, stars and thanks.
    card = await ask_and_accept(resident, helper, sessions, lang)
    assert name in card and ADDRESS in card and DESCRIPTION in card
    await until(resident, helper_name)
    await helper.tap_inline(t(lang, "💬 Message {name}").format(name=name))
    assert name in (await helper.wait_reply())["text"]
    await helper.send(RELAYED)
    await helper.wait_reply()
    relayed = await until(resident, RELAYED)
    assert helper_name in relayed
    await done_in(helper, lang, 60)
    asked = t(lang, "✔️ Thank you! I have asked {name} to confirm {duration}.")
    await until(helper, asked.format(name=name, duration=d(lang, 60)))
    confirm = t(lang, "✔️ {name} says the help with {category} is done: {duration}. How was it?")
    await until_all(resident, confirm.format(name=helper_name, category="", duration="")[:6],
                    helper_name, d(lang, 60))  # fmt: skip
    await resident.tap_inline("⭐⭐⭐⭐⭐")
    await until(resident, t(lang, "Would you like to add a thank-you note? Just type it."))
    await resident.send(THANKS)
    await resident.wait_reply()
    await until_all(helper, THANKS, name)

    # Another request, disputed and settled by the coordinator: everyone named as they are.
    await ask_and_accept(resident, helper, sessions, lang)
    await done_in(helper, lang, 120)
    await until_all(resident, helper_name, d(lang, 120))
    await resident.tap_inline(t(lang, "⚠️ Something is wrong"))
    await until_all(resident, t(lang, ASK_FIRST).split("}")[-1])
    await resident.tap_inline(t(lang, "⚠️ Yes, ask a coordinator"))
    await until_all(coordinator, name, helper_name, d(lang, 120))
    await coordinator.tap_inline(t(lang, "✅ Confirm {duration}").format(duration=d(lang, 120)))
    settled = t(lang, "✅ Settled: {name} is credited {duration} for {category}. Both sides "
                      "have been told.")  # fmt: skip
    await until_all(coordinator, settled.split("{")[0], helper_name, d(lang, 120))
    paid = t(lang, "✅ A coordinator has settled {category}: {duration} paid to {name}.")
    await until_all(resident, paid.split("{")[0], helper_name, d(lang, 120))

    async with sessions() as s:
        refused = list(
            await s.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.status == OutboxStatus.SKIPPED, OutboxMessage.error != "nothing"
                )
            )
        )
    # The demo's seeded coordinators never opened a chat in the sandbox; nothing else fails.
    refused = [m for m in refused if not m.error.endswith("chat not found")]
    assert [(m.kind, m.error) for m in refused] == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
