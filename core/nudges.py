"""The sweep: waves of nudges, escalation, expiry, reminders, unconfirmed orders.

`sweep` is idempotent over database state: run it twice, or in two workers, or again after
a crash, and nothing is decided twice. Waves are unique per (order, round, number), outbox
rows unique per key, and each order is worked on under a row lock (PostgreSQL SKIP LOCKED;
SQLite has one writer). Every message goes into the outbox, never straight out.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import case, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import matching, notices, outbox
from core.db import utcnow
from core.ledger.atomic import atomically
from core.logs import log_event
from core.models import (
    Member,
    Membership,
    MembershipRole,
    Nudge,
    NudgeStatus,
    Order,
    OrderEvent,
    OrderFunding,
    OrderProgress,
    OrderStatus,
    OrderWave,
    OutboxMessage,
)

T = TypeVar("T")
log = logging.getLogger("timebank.sweep")

# In a nudge's outbox payload: the coordinator who asked that volunteer personally.
ASKED_BY = "asked_by"


@dataclass(frozen=True)
class Rules:
    wave_size: int = 5
    wave_minutes: int = 10
    max_waves: int = 3
    confirm_days: int = 3
    # A dispute no coordinator has settled is announced to them again this often.
    dispute_hours: int = 24


@dataclass
class SweepReport:
    waves: list[tuple[int, int]] = field(default_factory=list)  # (order, wave number)
    nudged: int = 0
    escalated: list[int] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)
    reminders: int = 0
    unconfirmed: list[int] = field(default_factory=list)
    disputes_again: list[int] = field(default_factory=list)


def _locked(session: AsyncSession, query):
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True, of=Order)
    return query


async def progress_of(session: AsyncSession, order_id: int) -> OrderProgress:
    row = await session.get(OrderProgress, order_id, with_for_update=True)
    if row is None:
        try:
            async with session.begin_nested():
                row = OrderProgress(order_id=order_id)
                session.add(row)
                await session.flush()
        except IntegrityError:
            row = await session.get(OrderProgress, order_id, populate_existing=True)
            assert row is not None
    return row


async def advance_progress(session: AsyncSession, order_id: int, **values: Any) -> OrderProgress:
    """The order's progress changed by `values` (column expressions allowed, such as
    `OrderProgress.accepts + 1`) in one UPDATE … RETURNING, which locks the row as
    `progress_of` does: one statement instead of reading the row and writing it back.
    The session's copy is refreshed with what the UPDATE left; a missing row is created."""
    statement = (
        update(OrderProgress)
        .where(OrderProgress.order_id == order_id)
        .values(**values)
        .returning(OrderProgress)
    )
    options = {"synchronize_session": False, "populate_existing": True}
    row = (await session.execute(statement, execution_options=options)).scalar()
    if row is None:
        await progress_of(session, order_id)
        row = (await session.execute(statement, execution_options=options)).scalar()
        assert row is not None
    return row


async def coordinators(session: AsyncSession, branch_id: int) -> list[int]:
    """Everyone who coordinates the branch: at home, or by a membership (`core.coordinators`)."""
    by_membership = select(Membership.member_id).where(
        Membership.branch_id == branch_id, Membership.role == MembershipRole.COORDINATOR
    )
    return list(
        await session.scalars(
            select(Member.id)
            .where(
                Member.is_coordinator.is_(True),
                or_(Member.branch_id == branch_id, Member.id.in_(by_membership)),
                Member.erased_at.is_(None),
            )
            .order_by(Member.id)
        )
    )


async def tell_parties(
    session: AsyncSession, order: Order, notice: notices.AboutOrder, key: str
) -> None:
    """The requester (proxy) and, if someone else, the beneficiary."""
    await outbox.enqueue_many(session, party_messages(order, notice, key))


def party_messages(order: Order, notice: notices.AboutOrder, key: str) -> list[outbox.Message]:
    """`tell_parties`' messages, for a caller that enqueues them with others at once."""
    return [
        outbox.Message(f"{key}:{member_id}", member_id, notice.KIND, notice.payload())
        for member_id in dict.fromkeys((order.requester_id, order.beneficiary_id))
    ]


async def close_nudges(
    session: AsyncSession,
    order: Order,
    closed: type[notices.NudgeTaken | notices.NudgeClosed],
    now: datetime,
    *,
    accepted: Nudge | None = None,
    also: Sequence[outbox.Message] = (),
) -> None:
    """Nudges still waiting for an answer: closed, and their messages edited to say why.

    `accepted`, the nudge whose Accept won the order, is marked accepted by the same UPDATE
    (its message is answered by the tap itself); `also` are more messages to enqueue with
    the edits, in the same statement."""
    status = NudgeStatus.TAKEN if closed is notices.NudgeTaken else NudgeStatus.CLOSED
    which = Nudge.status == NudgeStatus.SENT
    new_status: Any = status
    if accepted is not None:
        which = or_(which, Nudge.id == accepted.id)
        new_status = case((Nudge.id == accepted.id, NudgeStatus.ACCEPTED), else_=status)
    changed = await session.execute(
        update(Nudge)
        .where(Nudge.order_id == order.id, which)
        .values(status=new_status, answered_at=now)
        .returning(Nudge),
        execution_options={"synchronize_session": False, "populate_existing": True},
    )
    waiting = [nudge for nudge in changed.scalars() if accepted is None or nudge.id != accepted.id]
    await outbox.enqueue_many(
        session,
        [
            *(
                outbox.Message(
                    f"{closed.KIND}:{nudge.id}",
                    nudge.member_id,
                    closed.KIND,
                    closed(nudge_id=nudge.id).payload(),
                )
                for nudge in waiting
            ),
            *also,
        ],
    )


async def send_wave(
    session: AsyncSession, order: Order, progress: OrderProgress, now: datetime, rules: Rules
) -> int | None:
    """The next wave of nudges for an order; None if another sweep made it first."""
    number = progress.waves + 1
    try:
        async with session.begin_nested():
            wave = OrderWave(order_id=order.id, round=progress.round, number=number, created_at=now)
            session.add(wave)
            await session.flush()
    except IntegrityError:
        return None
    need = await matching.need_for(session, order, now)
    chosen = await matching.eligible(session, need, now=now, limit=rules.wave_size)
    # The wave's nudges in one INSERT, their messages in another (keyed by the nudges' ids).
    sent = [
        Nudge(
            order_id=order.id,
            member_id=candidate.member_id,
            round=progress.round,
            wave=number,
            distance_m=candidate.distance_m,
            created_at=now,
        )
        for candidate in chosen
    ]
    session.add_all(sent)
    await session.flush()
    ids = await outbox.enqueue_many(
        session,
        [
            outbox.Message(
                f"nudge:{nudge.id}",
                nudge.member_id,
                notices.Nudged.KIND,
                notices.Nudged(nudge_id=nudge.id).payload(),
            )
            for nudge in sent
        ],
    )
    for nudge in sent:
        nudge.outbox_id = ids.get(f"nudge:{nudge.id}")
    wave.size = len(chosen)
    progress.waves = number
    progress.next_wave_at = now + timedelta(minutes=rules.wave_minutes)
    await session.flush()
    return len(chosen)


async def escalate(
    session: AsyncSession, order: Order, progress: OrderProgress, now: datetime
) -> None:
    await tell_coordinators(
        session,
        order,
        notices.Escalated(order_id=order.id),
        f"escalated:{order.id}:{progress.round}",
    )
    progress.escalated_at = now
    progress.next_wave_at = None
    await session.flush()


async def tell_coordinators(
    session: AsyncSession, order: Order, notice: notices.AboutOrder, key: str
) -> None:
    """An alert about the order to each coordinator of its branch."""
    for coordinator in await coordinators(session, order.branch_id):
        await outbox.enqueue(
            session,
            key=f"{key}:{coordinator}",
            member_id=coordinator,
            kind=notice.KIND,
            payload=notice.payload(),
        )


async def close_alerts(session: AsyncSession, order: Order) -> None:
    """The coordinators' alerts about an expired order lose their buttons ("Find someone",
    "Cover the cost"): each is edited to say the request has expired."""
    progress = await progress_of(session, order.id)
    people = await coordinators(session, order.branch_id)
    keys = [f"{notices.Kind.NEEDS_SPONSOR}:{order.id}:{c}" for c in people] + [
        f"{notices.Kind.ESCALATED}:{order.id}:{n}:{c}"
        for n in range(1, progress.round + 1)
        for c in people
    ]
    alerts = await session.execute(
        select(OutboxMessage.id, OutboxMessage.member_id).where(OutboxMessage.key.in_(keys))
    )
    for alert_id, coordinator in list(alerts):
        notice = notices.AlertExpired(order_id=order.id, alert_id=alert_id)
        await outbox.enqueue(
            session,
            key=f"{notice.KIND}:{alert_id}",
            member_id=coordinator,
            kind=notice.KIND,
            payload=notice.payload(),
        )


async def tell_asker(
    session: AsyncSession, nudge: Nudge, answer: type[notices.AskYes | notices.AskNo]
) -> None:
    """The volunteer's answer ("ask_yes" / "ask_no"), to the coordinator who asked them
    personally, if one did: who asked is in the payload of the nudge's latest message. Keyed
    by that message, so each ask is answered once of each kind, whatever is tapped again."""
    if nudge.outbox_id is None:
        return
    asked = await session.get(OutboxMessage, nudge.outbox_id)
    asker_id = notices.Nudged.read(asked.payload).asked_by if asked is not None else None
    if asker_id is None:
        return
    asker = await session.get(Member, asker_id)
    if asker is None or not asker.is_coordinator or asker.erased_at is not None:
        return
    await outbox.enqueue(
        session,
        key=f"{answer.KIND}:{asked.id}",
        member_id=asker.id,
        kind=answer.KIND,
        payload=answer(order_id=nudge.order_id, nudge_id=nudge.id).payload(),
    )


async def _expire(session: AsyncSession, now: datetime, report: SweepReport, limit: int) -> None:
    stale = list(
        await session.scalars(
            _locked(
                session,
                select(Order)
                .where(Order.status == OrderStatus.OPEN, Order.window_end <= now)
                .order_by(Order.id)
                .limit(limit),
            )
        )
    )
    for order in stale:
        changed = await session.execute(
            update(Order)
            .where(Order.id == order.id, Order.status == OrderStatus.OPEN)
            .values(status=OrderStatus.EXPIRED, updated_at=now)
            .returning(Order.id)
            .execution_options(synchronize_session=False)
        )
        if changed.scalar() is None:
            continue
        await session.refresh(order)
        session.add(
            OrderEvent(
                order_id=order.id,
                from_status=OrderStatus.OPEN,
                to_status=OrderStatus.EXPIRED,
                at=now,
                key=f"order:{order.id}:expire",
            )
        )
        await close_nudges(session, order, notices.NudgeClosed, now)
        await close_alerts(session, order)
        if order.funding == OrderFunding.NEEDS_SPONSOR:
            # Never sent to volunteers: say so, and tell who could have covered it.
            await tell_parties(
                session, order, notices.ExpiredUncovered(order_id=order.id), f"expired:{order.id}"
            )
            await tell_coordinators(
                session, order, notices.LapsedUncovered(order_id=order.id), f"lapsed:{order.id}"
            )
        else:
            await tell_parties(
                session, order, notices.Expired(order_id=order.id), f"expired:{order.id}"
            )
        report.expired.append(order.id)


async def _due_waves(session: AsyncSession, now: datetime, limit: int) -> list[int]:
    """The ids of up to `limit` open orders whose next wave (or escalation) is due."""
    return list(
        await session.scalars(
            select(Order.id)
            .outerjoin(OrderProgress, OrderProgress.order_id == Order.id)
            .where(
                Order.status == OrderStatus.OPEN,
                Order.funding != OrderFunding.NEEDS_SPONSOR,
                or_(Order.window_end.is_(None), Order.window_end > now),
                or_(OrderProgress.order_id.is_(None), OrderProgress.next_wave_at <= now),
            )
            .order_by(Order.id)
            .limit(limit)
        )
    )


async def _wave(
    session: AsyncSession, order_id: int, now: datetime, rules: Rules, report: SweepReport
) -> None:
    """The order's next wave, or its escalation after the last, if it is still due; an order
    locked by a tap at this moment (PostgreSQL) is left to the next sweep."""
    order = await session.scalar(
        _locked(
            session,
            select(Order).where(Order.id == order_id, Order.status == OrderStatus.OPEN),
        )
    )
    if order is None:
        return
    progress = await progress_of(session, order.id)
    if progress.escalated_at is not None or (
        progress.next_wave_at is not None and progress.next_wave_at > now
    ):
        return
    if progress.waves < rules.max_waves:
        sent = await send_wave(session, order, progress, now, rules)
        if sent is not None:
            report.waves.append((order.id, progress.waves))
            report.nudged += sent
    else:
        await escalate(session, order, progress, now)
        report.escalated.append(order.id)


async def _reminders(session: AsyncSession, now: datetime, report: SweepReport) -> None:
    rows = list(
        await session.execute(
            select(Order, OrderProgress)
            .join(OrderProgress, OrderProgress.order_id == Order.id)
            .where(
                Order.status == OrderStatus.ACCEPTED,
                Order.window_start > now,
                Order.window_start <= now + timedelta(days=1),
                or_(OrderProgress.reminded_day.is_(False), OrderProgress.reminded_hour.is_(False)),
            )
            .order_by(Order.id)
        )
    )
    for order, progress in rows:
        soon = order.window_start <= now + timedelta(hours=1)
        if soon and progress.reminded_hour:
            continue
        if not soon and progress.reminded_day:
            continue
        which = "hour" if soon else "day"
        people = dict.fromkeys((order.volunteer_id, order.requester_id, order.beneficiary_id))
        for member_id in people:
            if member_id is None:
                continue
            await outbox.enqueue(
                session,
                key=f"remind:{order.id}:{progress.accepts}:{which}:{member_id}",
                member_id=member_id,
                kind=notices.Reminder.KIND,
                payload=notices.Reminder(order_id=order.id, soon=soon).payload(),
            )
            report.reminders += 1
        progress.reminded_day = True
        progress.reminded_hour = progress.reminded_hour or soon
    await session.flush()


async def _unconfirmed(
    session: AsyncSession, now: datetime, rules: Rules, report: SweepReport
) -> None:
    rows = list(
        await session.execute(
            select(Order, OrderProgress)
            .join(OrderProgress, OrderProgress.order_id == Order.id)
            .where(
                Order.status == OrderStatus.DONE,
                OrderProgress.done_at <= now - timedelta(days=rules.confirm_days),
                OrderProgress.coordinator_asked_at.is_(None),
                # A dispute has asked the coordinators already; a second alert would confuse.
                OrderProgress.disputed_at.is_(None),
            )
            .order_by(Order.id)
        )
    )
    for order, progress in rows:
        await tell_coordinators(
            session, order, notices.Unconfirmed(order_id=order.id), f"unconfirmed:{order.id}"
        )
        progress.coordinator_asked_at = now
        report.unconfirmed.append(order.id)
    await session.flush()


async def _unresolved_disputes(
    session: AsyncSession, now: datetime, rules: Rules, report: SweepReport
) -> None:
    """A dispute still open after `dispute_hours` is announced again, once per period:
    the period's number is in the alerts' keys, so a repeated sweep adds nothing."""
    period = timedelta(hours=rules.dispute_hours)
    rows = await session.execute(
        select(Order, OrderProgress)
        .join(OrderProgress, OrderProgress.order_id == Order.id)
        .where(
            Order.status.in_((OrderStatus.ACCEPTED, OrderStatus.DONE)),
            OrderProgress.disputed_at <= now - period,
        )
        .order_by(Order.id)
    )
    for order, progress in list(rows):
        assert progress.disputed_at is not None
        times = (now - progress.disputed_at) // period
        before = await session.scalar(
            select(OutboxMessage.id).where(
                OutboxMessage.key.like(f"{notices.Kind.DISPUTE}:{order.id}:again{times}:%")
            )
        )
        if before is not None:
            continue
        await tell_coordinators(
            session,
            order,
            notices.Dispute(order_id=order.id, by=progress.disputed_by_id, again=times),
            f"{notices.Kind.DISPUTE}:{order.id}:again{times}",
        )
        report.disputes_again.append(order.id)


Step = Callable[[AsyncSession, SweepReport], Awaitable[T]]


async def _sweep_steps(
    run: Callable[[Step[Any], str], Awaitable[Any]], now: datetime, rules: Rules, limit: int
) -> None:
    """The sweep's steps in their order, each given to `run` with its name."""
    await run(lambda s, r: _expire(s, now, r, limit), "expiries")
    for order_id in await run(lambda s, r: _due_waves(s, now, limit), "due waves") or []:
        await run(lambda s, r, order_id=order_id: _wave(s, order_id, now, rules, r), "wave")
    await run(lambda s, r: _reminders(s, now, r), "reminders")
    await run(lambda s, r: _unconfirmed(s, now, rules, r), "unconfirmed")
    await run(lambda s, r: _unresolved_disputes(s, now, rules, r), "disputes")


async def sweep(
    session: AsyncSession,
    *,
    now: datetime | None = None,
    rules: Rules | None = None,
    limit: int = 200,
) -> SweepReport:
    """One pass over the orders that need something now, in the caller's transaction.
    Safe to repeat at any time."""
    report = SweepReport()

    async def run(work: Step[Any], name: str) -> Any:
        return await work(session, report)

    await _sweep_steps(run, now or utcnow(), rules or Rules(), limit)
    return report


async def sweep_in_turns(
    sessions: async_sessionmaker[AsyncSession],
    *,
    now: datetime | None = None,
    rules: Rules | None = None,
    limit: int = 200,
) -> SweepReport:
    """`sweep` as a row of short write transactions instead of one long one: the expiries,
    then each due order's wave in a transaction of its own, then the reminders, the
    unconfirmed orders and the disputes. A short transaction holds SQLite's one writer (and
    PostgreSQL's row locks on the order and its progress) for one order's work, so a
    member's tap waits for that, not for the whole sweep. Every step is idempotent over
    database state, as the whole sweep is: a step that fails is logged and the others still
    run; it runs again at the next sweep."""
    report = SweepReport()

    async def run(work: Step[Any], name: str) -> Any:
        async def attempt(session: AsyncSession) -> tuple[SweepReport, Any]:
            part = SweepReport()  # a retried attempt reports afresh
            return part, await work(session, part)

        try:
            part, result = await atomically(sessions, attempt)
        except Exception as error:
            log_event(
                log,
                "sweep step failed",
                logging.ERROR,
                step=name,
                failure=type(error).__name__,
                reason=str(getattr(error, "orig", None) or error)[:200],
            )
            return None
        for field_name, value in vars(part).items():
            setattr(report, field_name, getattr(report, field_name) + value)
        return result

    await _sweep_steps(run, now or utcnow(), rules or Rules(), limit)
    return report
