"""The outbox's claims: a message is read without being claimed, claimed once as it leaves,
and a claim left by a killed sender is settled as sent (unconfirmed), never sent again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core import outbox
from core.db import transaction
from core.models import Branch, Member, OutboxMessage, OutboxStatus

NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)


async def _messages(sessions, count: int) -> list[int]:
    async with transaction(sessions, write=True) as session:
        branch = Branch(code="b", names={"en": "B"}, time_zone="UTC", default_language="en")
        session.add(branch)
        await session.flush()
        member = Member(name="Mei", branch_id=branch.id, is_resident=True)
        session.add(member)
        await session.flush()
        return [
            await outbox.enqueue(
                session, key=f"m{n}", member_id=member.id, kind="nudge", not_before=NOW
            )
            for n in range(count)
        ]


async def _row(sessions, outbox_id: int) -> OutboxMessage:
    async with sessions() as session:
        return await session.get(OutboxMessage, outbox_id)


async def test_read_without_claiming_then_claimed_once(sessions) -> None:
    first, second = await _messages(sessions, 2)
    async with transaction(sessions, write=True) as session:
        assert [m.id for m in await outbox.due(session, limit=5, now=NOW)] == [first, second]
        assert [m.id for m in await outbox.due(session, limit=5, skip={first}, now=NOW)] == [second]
        assert await outbox.claim(session, first, now=NOW)
        assert not await outbox.claim(session, first, now=NOW)  # another worker's turn came too
        assert [m.id for m in await outbox.due(session, limit=5, now=NOW)] == [second]
    row = await _row(sessions, first)
    assert (row.status, row.attempts) == (OutboxStatus.SENDING, 1)
    assert row.lease_until == NOW + outbox.LEASE


async def test_a_claim_left_by_a_killed_sender_is_settled_as_sent_unconfirmed(sessions) -> None:
    left, live = await _messages(sessions, 2)
    async with transaction(sessions, write=True) as session:
        assert await outbox.claim(session, left, now=NOW)
        assert await outbox.claim(session, live, now=NOW + outbox.LEASE / 2)
        later = NOW + outbox.LEASE + timedelta(seconds=1)
        assert await outbox.settle_unconfirmed(session, now=later) == [left]
        assert await outbox.settle_unconfirmed(session, now=later) == []
        assert await outbox.due(session, limit=5, now=later) == []
    row = await _row(sessions, left)
    assert (row.status, row.error, row.lease_until) == (OutboxStatus.SENT, outbox.UNCONFIRMED, None)
    assert (await _row(sessions, live)).status == OutboxStatus.SENDING


async def test_a_message_called_off_or_not_yet_due_is_not_claimed(sessions) -> None:
    held, early = await _messages(sessions, 2)
    async with transaction(sessions, write=True) as session:
        await session.execute(
            OutboxMessage.__table__.update()
            .where(OutboxMessage.id == held)
            .values(status=OutboxStatus.HELD)
        )
        assert not await outbox.claim(session, held, now=NOW)
        assert not await outbox.claim(session, early, now=NOW - timedelta(seconds=1))


async def test_several_sent_messages_recorded_in_one_transaction(sessions) -> None:
    text, voice = await _messages(sessions, 2)
    async with transaction(sessions, write=True) as session:
        assert await outbox.claim(session, text, now=NOW)
        assert await outbox.claim(session, voice, now=NOW)
    async with transaction(sessions, write=True) as session:
        await outbox.mark_sent_many(
            session, [outbox.Sent(text, "7", 11), outbox.Sent(voice, "7", 12, sent_as="voice")]
        )
    for outbox_id, message_id in ((text, 11), (voice, 12)):
        row = await _row(sessions, outbox_id)
        assert (row.status, row.chat_id, row.message_id, row.lease_until) == (
            OutboxStatus.SENT, "7", message_id, None
        )  # fmt: skip
        assert row.sent_at is not None
    assert (await _row(sessions, voice)).payload == {outbox.SENT_AS: "voice"}
    assert (await _row(sessions, text)).payload == {}


async def test_enqueue_many_adds_in_one_go_each_key_once(sessions) -> None:
    [first] = await _messages(sessions, 1)
    async with transaction(sessions, write=True) as session:
        member_id = (await session.get(OutboxMessage, first)).member_id
        made = await outbox.enqueue_many(
            session,
            [
                outbox.Message("m0", member_id, "nudge", {"n": 0}),  # exists: left as it is
                outbox.Message("x1", member_id, "nudge", {"n": 1}),
                outbox.Message("x2", member_id, "taken", {"n": 2}),
            ],
        )
        assert set(made) == {"x1", "x2"} and made["x1"] < made["x2"]
        assert await outbox.enqueue_many(session, []) == {}
        again = await outbox.enqueue_many(session, [outbox.Message("x1", member_id, "nudge", {})])
        assert again == {}
    assert (await _row(sessions, first)).payload == {}
    row = await _row(sessions, made["x2"])
    assert (row.kind, row.payload, row.status) == ("taken", {"n": 2}, OutboxStatus.PENDING)
