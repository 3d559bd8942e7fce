"""A request's "when" stands on its own line in the asker's notices, never where a date
belongs in a sentence ("for As soon as possible", "가능한 한 빨리 … 요청")."""

from __future__ import annotations

from typing import Any

import pytest

from bot.i18n import create_i18n
from bot.notices import render
from core.languages import LANGUAGES
from core.models import Member, Order, OutboxMessage
from core.notices import Kind
from tests.unit.test_notices import PAYLOAD, FakeSession, fake_core  # noqa: F401

ASAP = {"en": "As soon as possible", "ko": "가능한 한 빨리", "zh_Hans": "越快越好"}
KINDS = [Kind.ASKED_FOR_YOU, Kind.CANCELLED, Kind.COMING, Kind.HANDED_BACK, Kind.SPONSORED]


@pytest.mark.usefixtures("fake_core")
@pytest.mark.parametrize("kind", KINDS)
async def test_as_soon_as_possible_stands_on_its_own_line(kind: Kind) -> None:
    i18n = create_i18n("en")
    for language in LANGUAGES:
        for reader in (1, 2):  # the requester, the volunteer
            session: Any = FakeSession()
            order = session.rows[(Order, 1)]
            order.when_asked = {"kind": "asap"}
            with i18n.context(), i18n.use_locale(language):
                shown = await render(session, OutboxMessage(kind=kind, payload=PAYLOAD),
                                     session.rows[(Member, reader)])  # fmt: skip
            lines = [line for line in shown.text.splitlines() if ASAP[language] in line]
            assert lines, (kind, language, shown.text)
            assert all(line.startswith("🕒 ") for line in lines), (kind, language, shown.text)


COORDINATOR_KINDS = [
    Kind.ASK_YES, Kind.ESCALATED, Kind.NEEDS_SPONSOR, Kind.LAPSED_UNCOVERED,
    Kind.ALERT_SETTLED, Kind.ALERT_EXPIRED, Kind.DISPUTE, Kind.SETTLED,
]  # fmt: skip


@pytest.mark.usefixtures("fake_core")
@pytest.mark.parametrize("kind", COORDINATOR_KINDS)
async def test_a_coordinators_notice_puts_the_time_on_its_own_line(kind: Kind) -> None:
    await test_as_soon_as_possible_stands_on_its_own_line(kind)


@pytest.mark.usefixtures("fake_core")
@pytest.mark.parametrize("kind", [Kind.MARKET_REMINDER, Kind.MARKET_PLACE_FREED])
async def test_a_market_booking_notice_puts_its_time_on_its_own_line(kind: Kind) -> None:
    """"A reminder: Haircuts at Market, Tomorrow, …" put a capital mid-sentence."""
    i18n = create_i18n("en")
    for language in LANGUAGES:
        session: Any = FakeSession()
        with i18n.context(), i18n.use_locale(language):
            shown = await render(session, OutboxMessage(kind=kind, payload=PAYLOAD),
                                 session.rows[(Member, 1)])  # fmt: skip
        first, second = shown.text.splitlines()[:2]
        assert "17:00" not in first and "5:00" not in first, (language, shown.text)
        assert second.startswith("🕒 "), (language, shown.text)
