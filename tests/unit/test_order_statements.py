"""How many statements a volunteer's taps send to the database: accept, done, confirm.

Each statement is a round trip and, above all, Python time in SQLAlchemy and the driver;
on a city day these taps queue behind one another, so their statements are counted here
(what the tap itself does, not the bot's per-update path). The counts are upper bounds:
SQLite runs the hold's two statements, and the posting's four, in one driver call each,
which the count does not see.
"""

from __future__ import annotations

from sqlalchemy import event, select

from core import helping, nudges
from core.db import transaction
from core.models import (
    Nudge,
    NudgeStatus,
    OrderProgress,
    OrderStatus,
    OutboxMessage,
    VolunteerProfile,
)
from core.notices import Kind
from tests.unit.test_matching import NOW, _setup


class _Statements:
    def __init__(self, engine) -> None:
        self.engine = engine.sync_engine
        self.seen: list[str] = []

    def _note(self, _conn, _cursor, statement, *_args) -> None:
        self.seen.append(" ".join(statement.split())[:100])

    def __enter__(self) -> _Statements:
        event.listen(self.engine, "before_cursor_execute", self._note)
        return self

    def __exit__(self, *_exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._note)

    @property
    def count(self) -> int:
        return len([s for s in self.seen if "SAVEPOINT" not in s])


async def test_accept_done_and_confirm_take_a_few_statements_each(sessions, engine) -> None:
    """Accept (opening the volunteer's account on their first): the nudge, the order, the
    progress, the event, both accounts in one read, the account's opening in two, the hold
    in one, every nudge and the parties' notices in one UPDATE and one INSERT, the asker.
    Done and confirm likewise, a read or a write each (confirm's posting of the hold, its
    settling and its entries in one); the outcome is as before."""
    ctx = await _setup(sessions, [(0.001, 0), (0.002, 0)])
    winner, other = ctx["volunteers"]
    async with transaction(sessions, write=True) as s:
        await nudges.sweep(s, now=NOW)
    async with sessions() as s:
        mine = await s.scalar(select(Nudge.id).where(Nudge.member_id == winner))
    async with transaction(sessions, write=True) as s:
        with _Statements(engine) as accept:
            accepted = await helping.accept(s, nudge_id=mine, member_id=winner, now=NOW)
    assert accept.count <= 11, "\n".join(accept.seen)
    assert accepted.order.status == OrderStatus.ACCEPTED and accepted.hold_id is not None
    async with sessions() as s:
        statuses = dict((await s.execute(select(Nudge.member_id, Nudge.status))).all())
        progress = await s.get(OrderProgress, ctx["order"])
        kinds = sorted((await s.execute(select(OutboxMessage.kind, OutboxMessage.member_id))).all())
    assert statuses == {winner: NudgeStatus.ACCEPTED, other: NudgeStatus.TAKEN}
    assert progress is not None and progress.accepts == 1 and progress.accepted_at is not None
    assert (Kind.NUDGE_TAKEN, other) in kinds and (Kind.COMING, ctx["resident"]) in kinds

    async with transaction(sessions, write=True) as s:
        with _Statements(engine) as done:
            await helping.mark_done(s, order_id=ctx["order"], member_id=winner, minutes=60, now=NOW)
    assert done.count <= 5, "\n".join(done.seen)
    async with transaction(sessions, write=True) as s:
        with _Statements(engine) as confirm:
            confirmed = await helping.confirm(
                s, order_id=ctx["order"], member_id=ctx["resident"], rating=4, now=NOW
            )
    assert confirm.count <= 8, "\n".join(confirm.seen)
    assert confirmed.posting is not None
    assert {e.amount for e in confirmed.posting.entries} == {-60, 60}
    async with sessions() as s:
        profile = await s.get(VolunteerProfile, winner)
        progress = await s.get(OrderProgress, ctx["order"])
    assert profile is not None and (profile.rating_sum, profile.rating_count) == (4, 1)
    assert progress is not None and progress.rating == 4 and progress.done_at is not None
    async with sessions() as s:
        assert await helping.balance(s, winner) == 60
