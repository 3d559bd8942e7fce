"""/mydata through the local Bot API server, in each language: the summary, then a file in
the member's language with everything kept about them, their consents (dated) and their
passbook included."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core import catalog, family, members, orders, statements
from core.consent import Consent
from core.db import transaction, utcnow
from core.formatting import format_date
from core.orders import HelpRequest, Place
from core.schedule import When
from tests.bot.lang import t
from tests.bot.test_request_help import member, member_id
from tests.bot.test_volunteer_journey import grant

NAMES = {"zh_Hans": ("王芳", "王丽"), "ko": ("김영희", "김민지"), "en": ("Margaret", "Ann")}
ADDRESS = "Flat 3, 12 Luoshan Road"
PHONE = "+8613800138000"


@pytest.fixture(autouse=True)
def _no_scheduled_sweep(monkeypatch) -> None:
    monkeypatch.setenv("TIMEBANK_SWEEP_SECONDS", "0")


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
async def test_my_data_is_a_file_in_my_language(person, sessions, client, lang) -> None:
    name, relative_name = NAMES[lang]
    resident = await member(person, sessions, name, lang, branch="luoshan")
    relative = await member(person, sessions, relative_name, lang, branch="luoshan")
    rid, relative_id = await member_id(sessions, resident), await member_id(sessions, relative)
    await grant(sessions, rid, 300)
    async with transaction(sessions, write=True) as s:
        await members.set_phone(s, rid, PHONE)
        invite = await family.create_invite(s, rid)
        asked = await family.use_invite(s, relative_id, invite.code)
        await family.answer_link(s, rid, asked.link.id, accept=True)
        category = (await catalog.categories(s))[0]
        placed = await orders.place_order(
            s, requester_id=rid, beneficiary_id=rid,
            request=HelpRequest(
                category_id=category.id,
                when=When.day_part((utcnow() + timedelta(days=2)).date(), "morning"),
                place=Place.typed(ADDRESS), estimated_minutes=60, description="",
            ),
            key="mydata:1", max_open=3,
        )  # fmt: skip
        await orders.remember_home(s, member_id=rid, order_id=placed.order.id)
        agreed = {c.detail: c.given_at for c in await s.scalars(select(Consent))}
    assert set(agreed) == {"phone", "address"}

    await resident.command("/mydata")
    document = await resident.wait_for(lambda e: "document" in (e.get("message") or {}))
    sent = document["message"]
    assert sent["document"]["file_name"].endswith(".txt")
    assert sent["text"] == t(lang, "📄 Everything we keep about you, as a file to keep.")
    text = (await client.download(sent["document"]["file_id"])).decode("utf-8")

    def gettext(message: str) -> str:
        return t(lang, message)

    day = format_date(agreed["phone"], "Asia/Shanghai", lang)
    expected = [
        t(lang, "Name: {value}").format(value=name),
        t(lang, "Phone: {value}").format(value=PHONE),
        t(lang, "Home address: {value}").format(value=ADDRESS),
        t(lang, "On {date} you agreed that we keep your phone number.").format(date=day),
        t(lang, "On {date} you agreed that we keep your home address.").format(date=day),
        relative_name,
        catalog.localized(category.names, lang),
        t(lang, "🕓 Waiting for a volunteer"),
        t(lang, "Your balance: {balance}").format(balance=statements.duration(300, gettext)),
        statements.signed_duration(300, gettext),
        t(lang, "To erase all of this, send /deleteme."),
    ]
    missing = [line for line in expected if line not in text]
    assert not missing, f"{missing} not in:\n{text}"
    if lang != "en":
        assert "Phone:" not in text and "Passbook" not in text
