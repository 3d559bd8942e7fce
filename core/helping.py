"""A volunteer's part of an order: accept (first tap wins), decline, hand back, done;
then the requester's confirmation, which posts the credits; disputes and relayed messages.

Each service takes the caller's session, flushes, never commits. Status changes are
conditional UPDATEs (`WHERE status = …`), so of concurrent taps, in any number of
processes, exactly one changes the order; the ledger calls carry keys derived from the
order, so a retry posts nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from core import coordinators, ledger, members, notices, nudges, outbox
from core.db import utcnow
from core.errors import N_, DomainError, InvalidInput, NotFound
from core.models import (
    Member,
    Nudge,
    NudgeStatus,
    Order,
    OrderEvent,
    OrderFunding,
    OrderProgress,
    OrderStatus,
    OutboxMessage,
    VolunteerProfile,
)
from core.notices import Kind

MAX_MINUTES = 12 * 60
MAX_TEXT = 500
STARS = (1, 2, 3, 4, 5)


class NotYours(NotFound):
    """A button that is not this member's (forged or someone else's): nothing changes."""

    key = N_("Sorry, this button is not for you.")


class AlreadyTaken(DomainError):
    key = N_("Another volunteer has already said yes. Thank you all the same!")


class NoLongerNeeded(DomainError):
    key = N_("This request is no longer open. Thank you for looking!")


class NotHelping(DomainError):
    """A card's button on a request this volunteer no longer has (done, handed back)."""

    key = N_("You are no longer helping with this request; nothing was changed.")


class WrongStep(DomainError):
    key = N_("This request has moved on; nothing was changed.")


class MinutesInvalid(InvalidInput):
    key = N_("Please send the time as minutes, a number from 1 to 720.")


class RatingInvalid(InvalidInput):
    key = N_("Please choose from one to five stars.")


class TextInvalid(InvalidInput):
    key = N_("Please send a short text, up to 500 letters.")


class CannotCover(DomainError):
    key = N_(
        "There is only enough credit for {minutes} minutes just now, so I cannot take more. "
        "Please choose a shorter time."
    )


class AlreadySettled(DomainError):
    key = N_("This has already been settled. Thank you for looking into it!")


class OwnOrder(DomainError):
    key = N_("You are part of this request, so another coordinator needs to settle it.")


def check_minutes(minutes: object) -> int:
    if type(minutes) is not int or not 0 < minutes <= MAX_MINUTES:
        raise MinutesInvalid()
    return minutes


def clean_text(text: str) -> str:
    cleaned = text.strip()
    if not cleaned or len(cleaned) > MAX_TEXT or cleaned.startswith("/"):
        raise TextInvalid()
    return cleaned


async def _event(
    session: AsyncSession,
    order: Order,
    before: str,
    after: str,
    actor_id: int | None,
    key: str,
    now: datetime,
    note: str = "",
) -> None:
    session.add(
        OrderEvent(
            order_id=order.id,
            from_status=before,
            to_status=after,
            actor_id=actor_id,
            note=note[:500],
            at=now,
            key=key,
        )
    )
    await session.flush()


async def _move(
    session: AsyncSession,
    order_id: int,
    before: str | tuple[str, ...],
    after: str,
    **values: object,
) -> bool:
    """The conditional UPDATE at the heart of every transition: True if this call won."""
    befores = (before,) if isinstance(before, str) else before
    changed = await session.execute(
        update(Order)
        .where(Order.id == order_id, Order.status.in_(befores))
        .values(status=after, **values)
        .returning(Order.id)
        .execution_options(synchronize_session=False)
    )
    return changed.scalar() is not None


async def _moved(
    session: AsyncSession,
    order_id: int,
    before: str | tuple[str, ...],
    after: str,
    *only: ColumnElement[bool],
    **values: object,
) -> Order | None:
    """`_move` that returns the order as the UPDATE left it (RETURNING the whole row, the
    session's copy refreshed with it), or None if this call did not win: one round trip
    instead of the UPDATE and a read after it. `only`: further conditions on the order."""
    befores = (before,) if isinstance(before, str) else before
    changed = await session.execute(
        update(Order)
        .where(Order.id == order_id, Order.status.in_(befores), *only)
        .values(status=after, **values)
        .returning(Order),
        execution_options={"synchronize_session": False, "populate_existing": True},
    )
    return changed.scalar()


async def _fresh(session: AsyncSession, order_id: int) -> Order:
    order = await session.get(Order, order_id, populate_existing=True)
    if order is None:
        raise NotFound()
    return order


# An order some volunteer has taken, whatever became of it since.
_TAKEN_STATUSES = (OrderStatus.ACCEPTED, OrderStatus.DONE, OrderStatus.CONFIRMED)


def _refusal(order: Order, member_id: int) -> DomainError:
    if order.status in _TAKEN_STATUSES:
        return AlreadyTaken()
    return NoLongerNeeded()


async def pending_hold(session: AsyncSession, order_id: int) -> ledger.Hold | None:
    return await ledger.pending_order_hold(session, order_id)


async def _hold(session: AsyncSession, order: Order, minutes: int, key: str) -> ledger.Hold:
    """The payer's minutes held for the volunteer: the payer's (the beneficiary's, or the
    branch pool's for a sponsored order) and the volunteer's accounts read (the members' in
    one statement, opened if need be), the hold placed in one more."""
    assert order.volunteer_id is not None
    if order.funding == OrderFunding.POOL:
        payer = await ledger.pool_account(session, order.branch_id)
        earner = await ledger.open_member_account(session, order.volunteer_id, order.branch_id)
    else:
        both = await ledger.open_member_accounts(
            session, {order.beneficiary_id: order.branch_id, order.volunteer_id: order.branch_id}
        )
        payer, earner = both[order.beneficiary_id], both[order.volunteer_id]
    return await ledger.place_hold(session, payer, earner, minutes, key=key, order_id=order.id)


async def _regrow(
    session: AsyncSession, order: Order, hold_id: int, minutes: int, step: str
) -> ledger.Hold:
    """The order's hold replaced by a bigger one of `minutes`, if the payer can cover it;
    else nothing changes and CannotCover says how much they can."""
    try:
        async with session.begin_nested():
            await ledger.void_hold(session, hold_id, key=f"order:{order.id}:regrow:{hold_id}")
            return await _hold(session, order, minutes, f"order:{order.id}:hold:{step}")
    except ledger.InsufficientCredit as error:
        raise CannotCover(minutes=max(0, error.params.get("available", 0))) from error


@dataclass(frozen=True)
class Accepted:
    order: Order
    hold_id: int | None
    replayed: bool = False


async def _my_nudge(session: AsyncSession, nudge_id: int, member_id: int) -> Nudge:
    nudge = await session.get(Nudge, nudge_id, populate_existing=True)
    if nudge is None or nudge.member_id != member_id:
        raise NotYours()
    return nudge


async def accept(
    session: AsyncSession, *, nudge_id: int, member_id: int, now: datetime | None = None
) -> Accepted:
    """Take the order of one's own nudge. The first tap wins; a repeat by the winner replays.

    The payer's credit is held for the estimate; the other nudges are edited to "taken";
    the requester (and beneficiary) are told who is coming.
    """
    now = now or utcnow()
    nudge = await _my_nudge(session, nudge_id, member_id)
    if nudge.status == NudgeStatus.ACCEPTED:
        order = await _fresh(session, nudge.order_id)
        if order.volunteer_id == member_id and order.status in (
            OrderStatus.ACCEPTED,
            OrderStatus.DONE,
            OrderStatus.CONFIRMED,
        ):
            hold = await pending_hold(session, order.id)
            return Accepted(order, hold.id if hold else None, replayed=True)
    won = await _moved(
        session,
        nudge.order_id,
        OrderStatus.OPEN,
        OrderStatus.ACCEPTED,
        volunteer_id=member_id,
        updated_at=now,
    )
    if won is None:
        raise _refusal(await _fresh(session, nudge.order_id), member_id)
    order = won
    progress = await nudges.advance_progress(
        session,
        order.id,
        accepts=OrderProgress.accepts + 1,
        accepted_at=now,
        next_wave_at=None,
        reminded_day=False,
        reminded_hour=False,
    )
    await _event(
        session,
        order,
        OrderStatus.OPEN,
        OrderStatus.ACCEPTED,
        member_id,
        f"order:{order.id}:accept:{progress.accepts}",
        now,
    )
    hold = await _hold(
        session, order, order.estimated_minutes, f"order:{order.id}:hold:{progress.accepts}"
    )
    # This nudge accepted, the others closed, the parties told: one UPDATE, one INSERT.
    coming = nudges.party_messages(
        order, notices.Coming(order_id=order.id), f"coming:{order.id}:{progress.accepts}"
    )
    await nudges.close_nudges(session, order, notices.NudgeTaken, now, accepted=nudge, also=coming)
    await nudges.tell_asker(session, nudge, notices.AskYes)
    return Accepted(order, hold.id)


@dataclass(frozen=True)
class Declined:
    """`yours`: the nudge's order, which this volunteer has already taken (a stale "Not this
    time" after their Accept): nothing changed, and their card stays as it is."""

    nudge: Nudge
    yours: Order | None = None


async def decline(
    session: AsyncSession, *, nudge_id: int, member_id: int, now: datetime | None = None
) -> Declined:
    """ "Not this time": this volunteer is not offered the order again, and a coordinator who
    asked them personally is told. Repeats are harmless. A stale tap changes nothing: on a
    nudge the volunteer accepted it says so (`Declined.yours`); on one taken by someone else,
    or no longer needed, it is refused as Accept would be."""
    nudge = await _my_nudge(session, nudge_id, member_id)
    if nudge.status == NudgeStatus.SENT:
        nudge.status = NudgeStatus.DECLINED
        nudge.answered_at = now or utcnow()
        await nudges.tell_asker(session, nudge, notices.AskNo)
        await session.flush()
    elif nudge.status in (NudgeStatus.ACCEPTED, NudgeStatus.TAKEN, NudgeStatus.CLOSED):
        order = await _fresh(session, nudge.order_id)
        if order.volunteer_id == member_id and order.status in _TAKEN_STATUSES:
            return Declined(nudge, yours=order)
        if order.status != OrderStatus.OPEN:
            raise _refusal(order, member_id)
    return Declined(nudge)


async def helping_with(session: AsyncSession, member_id: int, limit: int = 10) -> list[Order]:
    """The requests this volunteer has accepted and not yet marked done, soonest first."""
    found = await session.scalars(
        select(Order)
        .where(Order.volunteer_id == member_id, Order.status == OrderStatus.ACCEPTED)
        .order_by(Order.window_start, Order.id)
        .limit(limit)
    )
    return list(found)


async def card_order(session: AsyncSession, order_id: int, member_id: int) -> Order:
    """The order whose card the volunteer opens again (from their list, a reminder, "No,
    keep it" or Back): theirs and still to be done; else nothing to show."""
    order = await _fresh(session, order_id)
    if order.volunteer_id != member_id or order.status != OrderStatus.ACCEPTED:
        raise NotHelping()
    return order


async def _volunteer_order(session: AsyncSession, order_id: int, member_id: int) -> Order:
    order = await _fresh(session, order_id)
    if order.volunteer_id != member_id:
        raise NotYours()
    return order


async def hand_back(
    session: AsyncSession, *, order_id: int, member_id: int, now: datetime | None = None
) -> Order:
    """The volunteer cannot come after all: the hold is voided, the order is open again and
    goes back into matching (a new round of waves, without this volunteer)."""
    now = now or utcnow()
    order = await _volunteer_order(session, order_id, member_id)
    progress = await nudges.progress_of(session, order.id)
    won = await _moved(
        session,
        order.id,
        OrderStatus.ACCEPTED,
        OrderStatus.OPEN,
        volunteer_id=None,
        updated_at=now,
    )
    if won is None:
        order = await _fresh(session, order_id)
        if order.status == OrderStatus.OPEN:
            return order  # handed back already
        raise WrongStep()
    order = won
    hold = await pending_hold(session, order.id)
    if hold is not None:
        await ledger.void_hold(session, hold.id, key=f"order:{order.id}:handback:{hold.id}")
    await _event(
        session,
        order,
        OrderStatus.ACCEPTED,
        OrderStatus.OPEN,
        member_id,
        f"order:{order.id}:handback:{progress.accepts}",
        now,
    )
    progress.round += 1
    progress.waves = 0
    progress.next_wave_at = now
    progress.escalated_at = None
    await nudges.tell_parties(
        session,
        order,
        notices.HandedBack(order_id=order.id),
        f"handed_back:{order.id}:{progress.accepts}",
    )
    return order


async def mark_done(
    session: AsyncSession,
    *,
    order_id: int,
    member_id: int,
    minutes: int,
    now: datetime | None = None,
) -> Order:
    """The volunteer says it is done, with the real time spent. More than was held asks the
    payer's account to cover the difference now (or refuses, changing nothing)."""
    now = now or utcnow()
    minutes = check_minutes(minutes)
    # The move first, for the volunteer only: the order is read apart only when it did not
    # win (someone else's order, a repeated tap, a wrong step).
    done = await _moved(
        session, order_id, OrderStatus.ACCEPTED, OrderStatus.DONE,
        Order.volunteer_id == member_id, actual_minutes=minutes, updated_at=now,
    )  # fmt: skip
    if done is None:
        order = await _volunteer_order(session, order_id, member_id)
        if order.status == OrderStatus.DONE and order.actual_minutes == minutes:
            return order
        raise WrongStep()
    order = done
    progress = await nudges.advance_progress(session, order.id, done_at=now)
    hold = await pending_hold(session, order.id)
    if hold is not None and hold.amount < minutes:
        await _regrow(session, order, hold.id, minutes, f"{progress.accepts}:done")
    await _event(
        session,
        order,
        OrderStatus.ACCEPTED,
        OrderStatus.DONE,
        member_id,
        f"order:{order.id}:done:{progress.accepts}",
        now,
    )
    await outbox.enqueue(
        session,
        key=f"confirm_ask:{order.id}:{progress.accepts}",
        member_id=order.requester_id,
        kind=notices.ConfirmAsk.KIND,
        payload=notices.ConfirmAsk(order_id=order.id).payload(),
    )
    return order


async def _may_confirm(session: AsyncSession, order: Order, member_id: int) -> Member:
    """The requester or the beneficiary; a coordinator settles instead (`settle_with_credit`)."""
    actor = await members.get_member(session, member_id)
    if member_id in (order.requester_id, order.beneficiary_id):
        return actor
    raise NotYours()


@dataclass(frozen=True)
class Confirmed:
    order: Order
    posting: ledger.Posting | None
    replayed: bool = False


async def confirm(
    session: AsyncSession,
    *,
    order_id: int,
    member_id: int,
    rating: int,
    now: datetime | None = None,
) -> Confirmed:
    """The requester (proxy) or the beneficiary confirms and rates: the credits
    for the actual minutes move from the payer to the volunteer, once."""
    now = now or utcnow()
    if rating not in STARS:
        raise RatingInvalid()
    # The move first, for the requester or the beneficiary only: the order is read apart
    # only when it did not win (someone else's order, a repeated tap, a wrong step).
    confirmed = await _moved(
        session, order_id, OrderStatus.DONE, OrderStatus.CONFIRMED,
        or_(Order.requester_id == member_id, Order.beneficiary_id == member_id),
        updated_at=now,
    )  # fmt: skip
    if confirmed is None:
        order = await _fresh(session, order_id)
        await _may_confirm(session, order, member_id)
        if order.status == OrderStatus.CONFIRMED:
            return Confirmed(order, None, replayed=True)
        raise WrongStep()
    order = confirmed
    actor = await _may_confirm(session, order, member_id)
    await nudges.advance_progress(session, order.id, confirmed_at=now, rating=rating)
    hold = await pending_hold(session, order.id)
    if hold is None:
        raise WrongStep()
    posting = await ledger.post_hold(
        session,
        hold,
        key=f"order:{order.id}:pay",
        minutes=order.actual_minutes or order.estimated_minutes,
        actor=ledger.Actor(member_id=actor.id, is_coordinator=actor.is_coordinator),
    )
    # The stars added where they are kept, in one statement (no read of the profile first).
    await session.execute(
        update(VolunteerProfile)
        .where(VolunteerProfile.member_id == order.volunteer_id)
        .values(
            rating_sum=VolunteerProfile.rating_sum + rating,
            rating_count=VolunteerProfile.rating_count + 1,
        )
    )
    await _event(
        session, order, OrderStatus.DONE, OrderStatus.CONFIRMED, member_id,
        f"order:{order.id}:confirm", now, note=str(rating),
    )  # fmt: skip
    assert order.volunteer_id is not None
    receivers = [order.volunteer_id]
    if member_id != order.requester_id:
        receivers.append(order.requester_id)
    for receiver in receivers:
        await outbox.enqueue(
            session,
            key=f"receipt:{order.id}:{receiver}",
            member_id=receiver,
            kind=notices.Receipt.KIND,
            payload=notices.Receipt(order_id=order.id).payload(),
        )
    return Confirmed(order, posting)


async def add_thanks(session: AsyncSession, *, order_id: int, member_id: int, text: str) -> Order:
    """A thank-you note after confirming, passed on to the volunteer (once)."""
    order = await _fresh(session, order_id)
    await _may_confirm(session, order, member_id)
    if order.status != OrderStatus.CONFIRMED or order.volunteer_id is None:
        raise WrongStep()
    progress = await nudges.progress_of(session, order.id)
    progress.thanks = clean_text(text)
    await outbox.enqueue(
        session,
        key=f"thanks:{order.id}",
        member_id=order.volunteer_id,
        kind=notices.Thanks.KIND,
        payload=notices.Thanks(order_id=order.id, from_id=member_id).payload(),
    )
    return order


async def disputable(session: AsyncSession, order_id: int, member_id: int) -> Order:
    """The order, if this member may say something is wrong with it now (either side,
    while it is accepted or done); else NotYours or WrongStep. Writes nothing."""
    order = await _fresh(session, order_id)
    if member_id not in (order.requester_id, order.beneficiary_id, order.volunteer_id):
        raise NotYours()
    if order.status not in (OrderStatus.ACCEPTED, OrderStatus.DONE):
        raise WrongStep()
    return order


async def dispute(
    session: AsyncSession, *, order_id: int, member_id: int, now: datetime | None = None
) -> Order:
    """Either side says something is wrong: the branch coordinators are asked to resolve it.
    Nothing is posted until someone confirms."""
    now = now or utcnow()
    order = await disputable(session, order_id, member_id)
    progress = await nudges.progress_of(session, order.id)
    if progress.disputed_at is None:
        progress.disputed_at = now
        progress.disputed_by_id = member_id
        await nudges.tell_coordinators(
            session, order, notices.Dispute(order_id=order.id, by=member_id), f"dispute:{order.id}"
        )
        await session.flush()
    return order


SETTLED = (OrderStatus.CONFIRMED, OrderStatus.NOT_CREDITED)


@dataclass(frozen=True)
class Settled:
    """A coordinator's decision on a disputed or unconfirmed order. `outcome` is "confirmed"
    (as the volunteer reported), "corrected" (another time) or "not_credited"."""

    order: Order
    outcome: str
    reported: int | None
    posting: ledger.Posting | None = None


async def may_settle(
    session: AsyncSession, order_id: int, member_id: int
) -> tuple[Order, Member, OrderProgress]:
    """The order, locked, if this coordinator may settle it now. Orders are settled by a
    coordinator of their branch who is not one of its people; once, whoever is first."""
    order = await session.get(Order, order_id, populate_existing=True, with_for_update=True)
    if order is None:
        raise NotFound()
    actor = await members.get_member(session, member_id)
    if not await coordinators.coordinates(session, actor, order.branch_id):
        raise NotYours()
    if member_id in (order.requester_id, order.beneficiary_id, order.volunteer_id):
        raise OwnOrder()
    if order.status in SETTLED:
        raise AlreadySettled()
    progress = await nudges.progress_of(session, order.id)
    disputed = progress.disputed_at is not None
    if order.status != OrderStatus.DONE and not (disputed and order.status == OrderStatus.ACCEPTED):
        raise WrongStep()
    return order, actor, progress


async def _settle_move(session: AsyncSession, order: Order, after: str, **values: object) -> str:
    """Moves the order on; returns the status it had. Of two coordinators, one wins."""
    before = order.status
    if not await _move(session, order.id, before, after, **values):
        current = await _fresh(session, order.id)
        raise AlreadySettled() if current.status in SETTLED else WrongStep()
    return before


async def settle_with_credit(
    session: AsyncSession,
    *,
    order_id: int,
    member_id: int,
    minutes: int,
    now: datetime | None = None,
) -> Settled:
    """A coordinator confirms the help with `minutes` (the reported time, or a correction):
    those minutes move from the payer to the volunteer, once. More than is held is placed
    on hold first, within the payer's limits; if they cannot cover it, nothing changes."""
    now = now or utcnow()
    minutes = check_minutes(minutes)
    order, actor, progress = await may_settle(session, order_id, member_id)
    reported = order.actual_minutes
    before = await _settle_move(
        session, order, OrderStatus.CONFIRMED, actual_minutes=minutes, updated_at=now
    )
    order = await _fresh(session, order_id)
    hold = await pending_hold(session, order.id)
    if hold is None:
        raise WrongStep()
    hold_id = hold.id
    if hold.amount < minutes:
        hold_id = (await _regrow(session, order, hold.id, minutes, f"{progress.accepts}:settle")).id
    posting = await ledger.post_hold(
        session,
        hold_id,
        key=f"order:{order.id}:pay",
        minutes=minutes,
        actor=ledger.Actor(member_id=actor.id, is_coordinator=True),
    )
    progress.confirmed_at = now
    outcome = "confirmed" if minutes == reported else "corrected"
    await _event(
        session, order, before, OrderStatus.CONFIRMED, member_id, f"order:{order.id}:confirm",
        now, note=f"{outcome}: reported {reported or '-'}, credited {minutes}",
    )  # fmt: skip
    await _tell_settled(session, order, outcome, reported, member_id)
    return Settled(order, outcome, reported, posting)


async def settle_without_credit(
    session: AsyncSession,
    *,
    order_id: int,
    member_id: int,
    reason: str = "",
    now: datetime | None = None,
) -> Settled:
    """A coordinator finds the help did not happen as agreed: nothing is paid, the hold is
    released, and the order ends as not credited, with the reason (if given) on record."""
    now = now or utcnow()
    reason = clean_text(reason) if reason.strip() else ""
    order, _actor, _progress = await may_settle(session, order_id, member_id)
    reported = order.actual_minutes
    before = await _settle_move(session, order, OrderStatus.NOT_CREDITED, updated_at=now)
    order = await _fresh(session, order_id)
    hold = await pending_hold(session, order.id)
    if hold is not None:
        await ledger.void_hold(session, hold.id, key=f"order:{order.id}:not_credited")
    await _event(
        session, order, before, OrderStatus.NOT_CREDITED, member_id,
        f"order:{order.id}:not_credited", now, note=reason,
    )  # fmt: skip
    await _tell_settled(session, order, "not_credited", reported, member_id, reason)
    return Settled(order, "not_credited", reported)


async def _tell_settled(
    session: AsyncSession,
    order: Order,
    outcome: str,
    reported: int | None,
    settler_id: int,
    reason: str = "",
) -> None:
    """The volunteer, the requester and the beneficiary hear how it was settled; the other
    coordinators' alerts about the order are edited to say it is settled."""
    # Every alert about it: the first dispute or unconfirmed one, and the announcements again.
    alerts = await session.execute(
        select(OutboxMessage.id, OutboxMessage.member_id).where(
            or_(
                *(
                    OutboxMessage.key.like(f"{kind}:{order.id}:%")
                    for kind in (Kind.DISPUTE, Kind.UNCONFIRMED)
                )
            ),
            OutboxMessage.kind.in_((Kind.DISPUTE, Kind.UNCONFIRMED)),
            OutboxMessage.member_id != settler_id,
        )
    )
    for alert_id, coordinator in list(alerts):
        await outbox.enqueue(
            session,
            key=f"alert_settled:{alert_id}",
            member_id=coordinator,
            kind=notices.AlertSettled.KIND,
            payload=notices.AlertSettled(
                order_id=order.id, alert_id=alert_id, by=settler_id
            ).payload(),
        )
    for receiver in dict.fromkeys((order.volunteer_id, order.requester_id, order.beneficiary_id)):
        if receiver is None:
            continue
        await outbox.enqueue(
            session,
            key=f"settled:{order.id}:{receiver}",
            member_id=receiver,
            kind=notices.Settled.KIND,
            payload=notices.Settled(
                order_id=order.id, outcome=outcome, reported=reported, reason=reason
            ).payload(),
        )


def relay_target(order: Order, member_id: int) -> int:
    """Who a message from `member_id` about the order goes to; refused once the order has
    ended, so "💬 Message …" on an old card says so at once, before anything is typed."""
    if order.status not in (OrderStatus.ACCEPTED, OrderStatus.DONE):
        raise WrongStep()
    if member_id == order.volunteer_id:
        return order.requester_id
    if member_id in (order.requester_id, order.beneficiary_id) and order.volunteer_id:
        return order.volunteer_id
    raise NotYours()


async def relay(
    session: AsyncSession, *, order_id: int, member_id: int, text: str, key: str
) -> int:
    """A message from one side of an accepted order to the other, through the bot (no phone
    numbers change hands). Returns who it goes to."""
    order = await _fresh(session, order_id)
    to = relay_target(order, member_id)
    await outbox.enqueue(
        session,
        key=key,
        member_id=to,
        kind=notices.Relay.KIND,
        payload=notices.Relay(
            order_id=order.id, from_id=member_id, text=clean_text(text)
        ).payload(),
    )
    return to


async def balance(session: AsyncSession, member_id: int) -> int | None:
    found = await ledger.member_balance(session, member_id)
    return None if found is None else found.balance


async def progress(session: AsyncSession, order_id: int) -> OrderProgress | None:
    return await session.get(OrderProgress, order_id)
