"""Random sequences of ledger calls checked against a small in-memory model after each step."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import session_factory, utcnow
from core.errors import DomainError
from core.ledger import (
    SYSTEM,
    Actor,
    AlreadyReversed,
    CannotReverseReversal,
    Hold,
    HoldExpired,
    HoldNotPending,
    IdempotencyConflict,
    InsufficientCredit,
    PostExceedsHold,
    PostingKind,
    SameAccount,
    atomically,
    expire_due_holds,
    grant,
    issuance_account,
    open_member_account,
    place_hold,
    pool_account,
    post_hold,
    reverse,
    set_member_overdraft_limit,
    transfer,
    verify_ledger,
    void_hold,
)
from core.ledger.tables import LedgerAccount
from core.models import Branch, Member
from tests.profiles import examples

MEMBER_LIMIT = 20
MEMBERS = ("alice", "bob", "carol")
SPENDERS = ("pool", *MEMBERS)
KINDS = (PostingKind.SERVICE, PostingKind.GIFT, PostingKind.REDEMPTION)


@dataclass
class ModelHold:
    account: str
    beneficiary: str
    amount: int
    expiring: bool
    status: str = "pending"


@dataclass
class ModelPosting:
    legs: dict[str, int]
    is_reversal: bool = False
    reversed: bool = False


@dataclass
class Sent:
    """A request that succeeded, to send again: it must replay, not post."""

    call: Callable[[AsyncSession], Awaitable[Any]]
    result: Any
    altered: Callable[[AsyncSession], Awaitable[Any]] | None = None


@dataclass
class Model:
    limits: dict[str, int | None]
    balance: dict[str, int] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.balance = dict.fromkeys(self.limits, 0)
        self.held = dict.fromkeys(self.limits, 0)

    def can_take(self, account: str, minutes: int) -> bool:
        limit = self.limits[account]
        return limit is None or self.balance[account] - self.held[account] - minutes >= -limit

    def move(self, legs: dict[str, int]) -> None:
        for account, amount in legs.items():
            self.balance[account] += amount


class LedgerMachine(RuleBasedStateMachine):
    holds = Bundle("holds")
    postings = Bundle("postings")

    def __init__(self, database: Any) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.engine = self.loop.run_until_complete(database.open())
        self.sessions = session_factory(self.engine)
        self.ids = self.run(self._open_accounts)
        self.names = {account_id: name for name, account_id in self.ids.items()}
        self.model = Model({"issuance": None, "pool": 0, **dict.fromkeys(MEMBERS, MEMBER_LIMIT)})
        self.model_holds: dict[int, ModelHold] = {}
        self.model_postings: dict[int, ModelPosting] = {}
        self.sent: list[Sent] = []
        self.keys = 0

    async def _open_accounts(self, session: AsyncSession) -> dict[str, int]:
        branch = Branch(code="model", names={"en": "Model"}, time_zone="UTC", default_language="en")
        session.add(branch)
        await session.flush()
        assert branch.id is not None
        coordinator = Actor(is_coordinator=True)
        await set_member_overdraft_limit(session, branch.id, MEMBER_LIMIT, actor=coordinator)
        ids = {
            "issuance": (await issuance_account(session, branch.id)).id,
            "pool": (await pool_account(session, branch.id)).id,
        }
        for name in MEMBERS:
            member = Member(name=name, branch_id=branch.id)
            session.add(member)
            await session.flush()
            assert member.id is not None
            ids[name] = (await open_member_account(session, member.id, branch.id)).id
        return ids

    def run(self, work: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
        return self.loop.run_until_complete(atomically(self.sessions, work))

    def refused(self, error: type[DomainError], work: Callable[[AsyncSession], Awaitable[Any]]):
        with pytest.raises(error):
            self.run(work)

    def key(self) -> str:
        self.keys += 1
        return f"k{self.keys}"

    def teardown(self) -> None:
        self.loop.run_until_complete(self.engine.dispose())
        self.loop.close()

    def _posted(self, posting: Any, legs: dict[str, int], **flags: bool) -> int:
        assert {self.names[e.account_id]: e.amount for e in posting.entries} == legs
        self.model.move(legs)
        self.model_postings[posting.id] = ModelPosting(legs, **flags)
        return posting.id

    @rule(target=postings, account=st.sampled_from(SPENDERS), minutes=st.integers(1, 200))
    def grant(self, account: str, minutes: int) -> int:
        call = self._grant(account, minutes, self.key())
        posting = self.run(call)
        self.sent.append(Sent(call, posting))
        return self._posted(posting, {"issuance": -minutes, account: minutes})

    def _grant(self, account: str, minutes: int, key: str):
        return lambda s: grant(s, self.ids[account], minutes, key=key)

    @rule(
        target=postings,
        source=st.sampled_from(SPENDERS),
        destination=st.sampled_from(SPENDERS),
        minutes=st.integers(1, 80),
        kind=st.sampled_from(KINDS),
    )
    def transfer(self, source: str, destination: str, minutes: int, kind: PostingKind):
        key = self.key()

        def call(m: int) -> Callable[[AsyncSession], Awaitable[Any]]:
            return lambda s: transfer(
                s, self.ids[source], self.ids[destination], m, kind=kind, key=key
            )

        if source == destination:
            self.refused(SameAccount, call(minutes))
            return multiple()
        if not self.model.can_take(source, minutes):
            self.refused(InsufficientCredit, call(minutes))
            return multiple()
        posting = self.run(call(minutes))
        self.sent.append(Sent(call(minutes), posting, altered=call(minutes + 1)))
        return self._posted(posting, {source: -minutes, destination: minutes})

    @rule(
        target=holds,
        source=st.sampled_from(SPENDERS),
        destination=st.sampled_from(SPENDERS),
        minutes=st.integers(1, 80),
        expiring=st.booleans(),
    )
    def place(self, source: str, destination: str, minutes: int, expiring: bool):
        if source == destination:
            return multiple()
        expires_at = utcnow() + timedelta(days=1) if expiring else None
        key = self.key()

        def call(s: AsyncSession) -> Awaitable[Any]:
            return place_hold(
                s, self.ids[source], self.ids[destination], minutes, key=key, expires_at=expires_at
            )

        if not self.model.can_take(source, minutes):
            self.refused(InsufficientCredit, call)
            return multiple()
        hold = self.run(call)
        self.sent.append(Sent(call, hold))
        self.model.held[source] += minutes
        self.model_holds[hold.id] = ModelHold(source, destination, minutes, expiring)
        return hold.id

    @rule(target=postings, hold=holds, part=st.none() | st.integers(1, 90))
    def post(self, hold: int, part: int | None):
        expected = self.model_holds[hold]
        key = self.key()

        def call(s: AsyncSession) -> Awaitable[Any]:
            return post_hold(s, hold, key=key, minutes=part)

        if part is not None and part > expected.amount:
            self.refused(PostExceedsHold, call)
            return multiple()
        if expected.status != "pending":
            self.refused(HoldExpired if expected.status == "expired" else HoldNotPending, call)
            return multiple()
        posting = self.run(call)
        self.sent.append(Sent(call, posting))
        expected.status = "posted"
        self.model.held[expected.account] -= expected.amount
        minutes = expected.amount if part is None else part
        return self._posted(posting, {expected.account: -minutes, expected.beneficiary: minutes})

    @rule(hold=holds)
    def void(self, hold: int) -> None:
        expected = self.model_holds[hold]
        key = self.key()

        def call(s: AsyncSession) -> Awaitable[Any]:
            return void_hold(s, hold, key=key)

        if expected.status != "pending":
            self.refused(HoldNotPending, call)
            return
        self.sent.append(Sent(call, self.run(call)))
        expected.status = "voided"
        self.model.held[expected.account] -= expected.amount

    @rule()
    def expire(self) -> None:
        later = utcnow() + timedelta(days=2)
        expired = self.run(lambda s: expire_due_holds(s, now=later))
        due = [i for i, h in self.model_holds.items() if h.status == "pending" and h.expiring]
        assert sorted(expired) == sorted(due)
        for hold_id in due:
            expected = self.model_holds[hold_id]
            expected.status = "expired"
            self.model.held[expected.account] -= expected.amount

    @rule(target=postings, posting=postings)
    def reverse(self, posting: int):
        original = self.model_postings[posting]
        key = self.key()

        def call(s: AsyncSession) -> Awaitable[Any]:
            return reverse(s, posting, reason="model", actor=SYSTEM, key=key)

        mirror = {account: -amount for account, amount in original.legs.items()}
        if original.is_reversal:
            self.refused(CannotReverseReversal, call)
            return multiple()
        if original.reversed:
            self.refused(AlreadyReversed, call)
            return multiple()
        if not all(self.model.can_take(a, -m) for a, m in mirror.items() if m < 0):
            self.refused(InsufficientCredit, call)
            return multiple()
        reversal = self.run(call)
        self.sent.append(Sent(call, reversal))
        original.reversed = True
        return self._posted(reversal, mirror, is_reversal=True)

    @precondition(lambda self: self.sent)
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        sent = data.draw(st.sampled_from(self.sent))
        again = self.run(sent.call)
        assert again.replayed
        if isinstance(again, Hold):
            # The same hold, as it stands now: it may have been posted or voided since.
            placed = replace(again, status=sent.result.status, transaction_id=None)
            assert placed == sent.result
            assert again.status == self.model_holds[again.id].status
            assert (again.transaction_id is not None) == (again.status == "posted")
        else:
            assert again == sent.result

    @precondition(lambda self: any(sent.altered for sent in self.sent))
    @rule(data=st.data())
    def reuse_key(self, data: st.DataObject) -> None:
        sent = data.draw(st.sampled_from([sent for sent in self.sent if sent.altered]))
        assert sent.altered is not None
        self.refused(IdempotencyConflict, sent.altered)

    @invariant()
    def ledger_matches_the_model(self) -> None:
        accounts = LedgerAccount.__table__

        async def read(session: AsyncSession) -> dict[str, tuple[int, int]]:
            rows = await session.execute(select(accounts.c.id, accounts.c.balance, accounts.c.held))
            return {self.names[row.id]: (row.balance, row.held) for row in rows}

        stored = self.run(read)
        assert {name: balance for name, (balance, _) in stored.items()} == self.model.balance
        assert {name: held for name, (_, held) in stored.items()} == self.model.held
        assert sum(self.model.balance.values()) == 0
        for name, limit in self.model.limits.items():
            assert limit is None or self.model.balance[name] - self.model.held[name] >= -limit
        report = self.loop.run_until_complete(verify_ledger(self.sessions))
        assert report.ok, report.summary


def test_random_sequences_keep_the_ledger_consistent(ledger_database):
    run_state_machine_as_test(
        lambda: LedgerMachine(ledger_database),
        settings=settings(
            max_examples=examples(ci=15, thorough=200),
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
