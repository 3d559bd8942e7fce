"""Who is shown an address or a phone number: a request's journey through the local Bot API
server, then every version of every message the bot sent to anyone, read back from the
sandbox's transcripts. A resident's address or phone may reach only the resident, the
volunteer who accepted while the order is open, and a coordinator of her branch; never a
relative, another volunteer, another branch's coordinator or a stranger."""

from __future__ import annotations

import re
from typing import Any

import pytest

from core import family
from core.db import transaction, utcnow
from core.models import Member
from tests.bot.lang import t
from tests.bot.test_request_help import coordinator_member, fill_in, member, member_id
from tests.bot.test_volunteer_journey import d, grant, sweep, until, volunteer

ADDRESS = "Flat 3, 12 Luoshan Road"
PHONES = {
    "resident": "+8613800138000",
    "relative": "+8613700137001",
    "helper": "+8613912345678",
    "other": "+8613611136002",
    "coordinator": "+8613500135003",
    "faraway": "+821055550004",
}


@pytest.fixture(autouse=True)
def _no_scheduled_sweep(monkeypatch) -> None:
    monkeypatch.setenv("TIMEBANK_SWEEP_SECONDS", "0")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def shown(message: dict[str, Any]) -> list[tuple[str, str]]:
    """Every version of a bot message (its edits included) as (version id, what it showed)."""
    versions = [*message.get("edits", []), message]
    out = []
    for n, version in enumerate(versions):
        said = [version.get("text") or ""]
        venue = message.get("venue") if version is message else None
        if venue:
            said += [venue.get("title", ""), venue.get("address", "")]
        out.append((f"{message['message_id']}.{n}", " ".join(said)))
    return out


def secrets_in(text: str) -> set[tuple[str, str]]:
    """(whose, what) of the phones (by their last eight digits, however grouped) and the
    resident's address that `text` shows."""
    found = {
        (who, "phone") for who, phone in PHONES.items() if _digits(phone)[-8:] in _digits(text)
    }
    return found | ({("resident", "address")} if "Luoshan Road" in text else set())


async def _transcript(client, persona) -> list[dict[str, Any]]:
    messages = (await client.transcript(persona.id))["messages"]
    return [m for m in messages if m.get("from") == "bot"]


async def test_an_address_or_a_phone_reaches_only_those_who_must_see_it(
    person, sessions, client
) -> None:
    lang = "en"
    people = {
        "coordinator": await coordinator_member(person, sessions, "Li Wei", lang),
        "faraway": await member(
            person, sessions, "Kim", lang, branch="mapo", is_resident=False, is_coordinator=True
        ),
        "resident": await member(person, sessions, "Margaret", lang, branch="luoshan"),
        "relative": await member(person, sessions, "Ann", lang, branch="luoshan"),
        "helper": await volunteer(person, sessions, "Tom", lang, 0.001),
        "other": await volunteer(person, sessions, "Sam", lang, 0.002),
    }
    ids = {who: await member_id(sessions, p) for who, p in people.items()}
    async with transaction(sessions, write=True) as s:
        for who, phone in PHONES.items():
            (await s.get(Member, ids[who])).phone = phone
        invite = await family.create_invite(s, ids["resident"])
        asked = await family.use_invite(s, ids["relative"], invite.code)
        await family.answer_link(s, ids["resident"], asked.link.id, accept=True)
    await grant(sessions, ids["resident"], 300)
    resident, helper, other = people["resident"], people["helper"], people["other"]
    for p in people.values():  # each reads their own details once
        await p.command("/mydata")
        await p.wait_reply()

    await fill_in(resident, sessions, lang, where=ADDRESS)
    await resident.tap_inline(t(lang, "✅ Send"))
    await resident.wait_reply()
    for coordinator in (people["coordinator"], people["faraway"]):
        await coordinator.command("/waiting")
        await coordinator.wait_reply()
    assert (await sweep(sessions, utcnow())).nudged == 2
    await until(helper, t(lang, "🔔 Someone near you would like help"))
    await until(other, t(lang, "🔔 Someone near you would like help"))
    await helper.tap_inline(t(lang, "✅ Accept"))
    await until(helper, ADDRESS)
    await until(resident, "Tom")
    while_open = {v for m in await _transcript(client, helper) for v, _ in shown(m)}

    await helper.tap_inline(t(lang, "✔️ Done"))
    await helper.wait_reply()
    await helper.tap_inline(d(lang, 90))
    await until(resident, d(lang, 90))
    await resident.tap_inline("⭐⭐⭐⭐⭐")
    await until(resident, t(lang, "Would you like to add a thank-you note? Just type it."))
    await resident.send("Thank you, Tom!")
    await until(helper, "Thank you, Tom!")
    await helper.command("/myorders")
    await helper.wait_reply()

    leaks = []
    for who, p in people.items():
        for message in await _transcript(client, p):
            for version, text in shown(message):
                for whose, what in secrets_in(text):
                    if whose == who or who == "coordinator":  # hers; the branch's coordinator
                        continue
                    if who == "helper" and whose == "resident" and version in while_open:
                        continue
                    leaks.append(f"{who} was shown {whose}'s {what} in {text[:80]!r}")
    assert not leaks, "\n".join(leaks)
    # The search can fail: the accepted volunteer was shown the address while it was open.
    helper_saw = [text for m in await _transcript(client, helper) for _, text in shown(m)]
    assert ("resident", "address") in set().union(*(secrets_in(text) for text in helper_saw))
