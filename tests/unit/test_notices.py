"""Every outbox notice is a `Kind` that core sends and the bot renders, in every language."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.handlers.helping import views as helping_views
from bot.i18n import create_i18n
from bot.kit.screens import Edit, Send
from bot.notices import RENDERERS, render
from core import helping, notices
from core.broadcasts import Progress, delivery
from core.broadcasts.delivery import LanguageFigures
from core.broadcasts.tables import Broadcast
from core.config import PROJECT_ROOT
from core.languages import LANGUAGES
from core.market.tables import MarketBooking, MarketEvent, MarketShift, MarketSlot, MarketUnit
from core.models import (
    Branch,
    Category,
    DigestSubscription,
    FamilyLink,
    FamilyLinkStatus,
    Member,
    Nudge,
    Order,
    OrderFunding,
    OutboxMessage,
)
from core.notices import Kind
from core.rewards.tables import ClassSession, CommunityClass, ParkingBooking, ParkingSpace

PAYLOAD: dict[str, Any] = {
    "order_id": 1,
    "nudge_id": 1,
    "from": 2,
    "by": 2,
    "text": "hi",
    "alert_id": 1,
    "volunteer_id": 3,
    "link_id": 1,
    "accepted": True,
    "minutes": 90,
    "outcome": "confirmed",
    "soon": True,
    "outbox_ids": [1],
    "booking_id": 1,
    "event_id": 1,
    "version": 2,
    "ahead": "day",
    "shift_id": 1,
    "class_id": 1,
    "session_id": 1,
    "starts_at": "2026-03-03T01:00:00+00:00",
    "child": "<b>&Kim</b>",
    "booker": "Bo",
    "broadcast_id": 1,
    "language": "en",
    "status": "done",
    "note": "next week",
    "category": {"en": "Health", "zh_Hans": "健康医疗", "ko": "건강"},
    "team": {"en": "Green team", "zh_Hans": "绿队", "ko": "초록 팀"},
    "sender": "Ada",
    "member_id": 2,
    "branch_id": 1,
}
# Notices that are a member's own words, with nothing of the bot's to translate.
OWN_WORDS = {Kind.RELAY, Kind.BROADCAST}


PAYLOADS = {
    name: cls
    for name, cls in vars(notices).items()
    if isinstance(cls, type) and issubclass(cls, notices.Payload) and hasattr(cls, "KIND")
}


def kinds_core_sends() -> set[str]:
    """The kinds named anywhere in core/ but the enum's own module: as `Kind.X`, or by their
    payload class (`notices.Coming`)."""
    named = set()
    for path in (PROJECT_ROOT / "core").rglob("*.py"):
        if path.name == "notices.py" and path.parent.name == "core":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if node.value.id == "Kind":
                    named.add(node.attr)
                elif node.value.id == "notices" and node.attr in PAYLOADS:
                    named.add(PAYLOADS[node.attr].KIND.name)
    return named


def test_every_kind_has_a_renderer_and_core_sends_every_kind() -> None:
    assert set(RENDERERS) == set(Kind)
    assert {kind.name for kind in Kind} == kinds_core_sends()


def test_every_payload_names_its_own_kind_and_reads_back_what_it_stores() -> None:
    kinds = [cls.KIND for cls in PAYLOADS.values()]
    assert len(kinds) == len(set(kinds)) and set(kinds) <= set(Kind)
    for cls in PAYLOADS.values():
        notice = cls.read(PAYLOAD)
        assert cls.read(notice.payload()) == notice, cls


def test_payloads_keep_the_outbox_rows_shape() -> None:
    assert notices.Thanks(order_id=4, from_id=2).payload() == {"order_id": 4, "from": 2}
    assert notices.Nudged(nudge_id=3).payload() == {"nudge_id": 3}
    assert notices.Nudged(nudge_id=3, asked_by=9).payload() == {"nudge_id": 3, "asked_by": 9}
    assert notices.Verified().payload() == {}
    sent = {"order_id": 1, "outcome": "confirmed", "sent_as": "voice"}
    assert notices.Settled.read(sent) == notices.Settled(order_id=1, outcome="confirmed")


class FakeSession:
    """Just enough of a session for the renderers: rows by model and id."""

    def __init__(self) -> None:
        at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        self.rows: dict[tuple[type, int], Any] = {
            (Branch, 1): Branch(id=1, code="b", names={"en": "B"}, time_zone="Asia/Shanghai"),
            (Category, 1): Category(id=1, code="c", names={"en": "Shopping"}, emoji="🛒"),
            (Member, 1): Member(id=1, name="Ada", created_at=at),
            (Member, 2): Member(id=2, name="Bo", created_at=at),
            (Member, 3): Member(id=3, name="Cy", created_at=at, verified=False),
            (Order, 1): Order(
                id=1,
                branch_id=1,
                requester_id=1,
                beneficiary_id=1,
                category_id=1,
                volunteer_id=2,
                estimated_minutes=60,
                actual_minutes=90,
                status="open",
                funding=OrderFunding.NEEDS_SPONSOR,
                created_at=at,
                window_start=at,
                address="1 Road",
                description="",
                when_asked=None,
            ),
            (Nudge, 1): Nudge(id=1, order_id=1, member_id=2, distance_m=800, outbox_id=1),
            (OutboxMessage, 1): OutboxMessage(id=1, chat_id="5", message_id=7, payload={}),
            (CommunityClass, 1): CommunityClass(
                id=1,
                branch_id=1,
                teacher_id=2,
                titles={"en": "Pen writing"},
                descriptions={},
                seats=3,
                place="Hall",
            ),
            (ClassSession, 1): ClassSession(id=1, class_id=1, starts_at=at, minutes=60),
            (ParkingSpace, 1): ParkingSpace(id=1, branch_id=1, owner_id=2, address="B-12"),
            (ParkingBooking, 1): ParkingBooking(
                id=1, space_id=1, booker_id=1, starts_at=at, ends_at=at, key="k"
            ),
            (Broadcast, 1): Broadcast(
                id=1,
                branch_id=1,
                author_id=1,
                texts={"en": "Market day <b>&Tom</b>", "ko": "장터"},
                buttons=[{"kind": "come", "event_id": 1}],
                key="b",
            ),
            (DigestSubscription, 1): DigestSubscription(member_id=1, local_hour=9),
            (DigestSubscription, 2): DigestSubscription(member_id=2, local_hour=9),
            (FamilyLink, 1): FamilyLink(
                id=1, member_id=1, relative_id=2, status=FamilyLinkStatus.PENDING
            ),
            (MarketEvent, 1): MarketEvent(
                id=1,
                branch_id=1,
                names={"zh_Hans": "集市", "ko": "장터", "en": "Market"},
                starts_at=at,
                ends_at=at + timedelta(hours=3),
                venue_address="1 Road",
                created_by_id=2,
                key="e",
            ),
            (MarketUnit, 1): MarketUnit(id=1, event_id=1, names={"en": "Haircuts"}, capacity=6),
            (MarketSlot, 1): MarketSlot(
                id=1, unit_id=1, starts_at=at, ends_at=at + timedelta(minutes=30), capacity=6
            ),
            (MarketBooking, 1): MarketBooking(
                id=1,
                event_id=1,
                unit_id=1,
                slot_id=1,
                member_id=1,
                booked_by_id=2,
                number=7,
                key="b",
            ),
            (MarketShift, 1): MarketShift(
                id=1, unit_id=1, member_id=2, starts_at=at, ends_at=at + timedelta(hours=3)
            ),
        }

    async def get(self, model: type, key: int) -> Any:
        return self.rows.get((model, key))


@pytest.fixture
def fake_core(monkeypatch: pytest.MonkeyPatch) -> None:
    async def balance(session: Any, member_id: int) -> int:
        return 120

    async def progress(session: Any, order_id: int) -> Any:
        return helping.OrderProgress(order_id=order_id, thanks="Thank you so much")

    async def broadcast_progress(session: Any, broadcast_id: int, author_id: int) -> Progress:
        return Progress(
            broadcast_id=broadcast_id,
            status="sending",
            total=120,
            sent=80,
            waiting=38,
            not_delivered={"blocked": 2},
            by_language={"en": LanguageFigures(120, 80, 2)},
            eta_seconds=95,
            coming=3,
            expanded=True,
        )

    async def order_facts(session: Any, order_id: int) -> helping_views.OrderFacts:
        """The renderers' one read of an order and its rows, from the fake session's rows."""
        order = await session.get(Order, order_id)
        volunteer = await session.get(Member, order.volunteer_id) if order.volunteer_id else None
        return helping_views.OrderFacts(
            order,
            await session.get(Category, order.category_id),
            await session.get(Branch, order.branch_id),
            await session.get(Member, order.requester_id),
            await session.get(Member, order.beneficiary_id),
            volunteer,
        )

    monkeypatch.setattr(delivery, "progress", broadcast_progress)
    monkeypatch.setattr(helping_views, "facts", order_facts)
    monkeypatch.setattr(helping, "balance", balance)
    monkeypatch.setattr(helping, "progress", progress)


async def _said(kind: Kind, language: str, reader: int) -> str:
    i18n = create_i18n("en")
    session = FakeSession()
    row = OutboxMessage(kind=kind, payload=PAYLOAD)
    with i18n.context(), i18n.use_locale(language):
        shown = await render(session, row, session.rows[(Member, reader)])  # type: ignore[arg-type]
    assert isinstance(shown, Send | Edit), kind
    assert shown.text.strip(), kind
    return shown.text


@pytest.mark.usefixtures("fake_core")
@pytest.mark.parametrize("kind", list(Kind))
async def test_every_kind_is_rendered_in_every_language(kind: Kind) -> None:
    for reader in (1, 2):  # the requester, the volunteer
        english = await _said(kind, "en", reader)
        for language in LANGUAGES:
            said = await _said(kind, language, reader)
            if language != "en" and kind not in OWN_WORDS:
                assert said != english, (kind, language)
