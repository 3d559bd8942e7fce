"""Delivery through the outbox sender, against the local Bot API server: voice notes in
nudges, flood control (429 retry_after), members who block the bot and come back, and
server errors or dropped connections. Faults are injected in the sandbox; the bot runs as
`timebank run` runs it."""

from __future__ import annotations

import pytest

from core.db import utcnow
from core.models import Order
from sandbox.persona import Persona
from tests.bot.lang import t
from tests.bot.test_request_help import all_orders, fill_in, member, member_id
from tests.bot.test_volunteer_journey import grant, sweep, until, volunteer

LANG = "en"
NUDGE = "🔔 Someone near you would like help"
TAKEN = "Another volunteer has already said yes. Thank you all the same!"


@pytest.fixture(autouse=True)
def _no_scheduled_sweep(monkeypatch) -> None:
    monkeypatch.setenv("TIMEBANK_SWEEP_SECONDS", "0")


def nudges_to(persona: Persona) -> list[dict]:
    return [m for m in persona.bot_messages() if t(LANG, NUDGE) in (m.get("text") or "")]


async def ask(person, sessions, name: str, **fill) -> Order:
    """A resident with credit who sends a request; returns the new order."""
    resident = await member(person, sessions, name, LANG, branch="luoshan")
    await grant(sessions, await member_id(sessions, resident), 300)
    before = {o.id for o in await all_orders(sessions)}
    await fill_in(resident, sessions, LANG, **fill)
    await resident.tap_inline(t(LANG, "✅ Send"))
    await resident.wait_reply()
    [order] = [o for o in await all_orders(sessions) if o.id not in before]
    return order


@pytest.mark.parametrize("winner", [0, 2], ids=["voice-nudge", "text-nudge"])
async def test_a_voice_request_nudges_with_the_voice_itself(
    person, sessions, client, winner: int
) -> None:
    helpers = [
        await volunteer(person, sessions, name, LANG, 0.001 * (n + 1))
        for n, name in enumerate(["Tom", "Ann", "Raj"])
    ]
    # Raj's privacy settings refuse voice notes: his nudge comes as words only.
    await client.update_user(helpers[2].id, voice_messages_forbidden=True)
    order = await ask(person, sessions, "Margaret", voice=True)
    assert order.voice_file_id

    assert (await sweep(sessions, utcnow())).nudged == 3
    for h in helpers:
        await until(h, t(LANG, NUDGE))
    for h in helpers[:2]:
        [nudge] = nudges_to(h)
        assert nudge["kind"] == "voice" and nudge["voice"]["file_id"] == order.voice_file_id
        assert h.inline_labels(nudge) == [t(LANG, "✅ Accept"), t(LANG, "Not this time")]
        assert "Luoshan Road" not in nudge["text"]
    [words] = nudges_to(helpers[2])
    assert words["kind"] == "text" and t(LANG, "🎤 A voice message") in words["text"]
    assert helpers[2].inline_labels(words) == [t(LANG, "✅ Accept"), t(LANG, "Not this time")]

    nudged = [nudges_to(h)[0]["message_id"] for h in helpers]
    chosen = helpers[winner]
    if winner == 2:  # Raj has allowed voice notes since: he gets the voice with the order.
        await client.update_user(chosen.id, voice_messages_forbidden=False)
    await chosen.tap_inline(t(LANG, "✅ Accept"))
    await until(chosen, t(LANG, "🙏 Thank you! It is yours."))
    [accepted] = [m for m in chosen.bot_messages() if m["message_id"] == nudged[winner]]
    assert "12 Luoshan Road, flat 3" in accepted["text"]
    assert t(LANG, "✔️ Done") in chosen.inline_labels(accepted)
    if winner == 2:
        assert accepted["kind"] == "text"
        voice = chosen.last_message()
        assert voice["kind"] == "voice" and voice["voice"]["file_id"] == order.voice_file_id
    else:
        assert accepted["kind"] == "voice" and accepted["edited"]
        # Every later step edits the voice note's caption too.
        await chosen.tap_inline(t(LANG, "✔️ Done"))
        await until(chosen, t(LANG, "⏳ How long did it take?"))
        assert chosen.bot_messages()[-1]["message_id"] == accepted["message_id"]
    for n, h in enumerate(helpers):
        if n != winner:
            await until(h, t(LANG, TAKEN))
            [taken] = [m for m in h.bot_messages() if t(LANG, TAKEN) in (m["text"] or "")]
            assert taken["kind"] == ("text" if n == 2 else "voice")
            assert not h.inline_labels(taken)
    async with sessions() as s:
        assert (await s.get(Order, order.id)).volunteer_id == await member_id(sessions, chosen)
