"""What the ledger refuses, each with a message key a bot can translate and fill in."""

from __future__ import annotations

from core.errors import N_, DomainError, InvalidInput, NotFound


class InvalidAmount(InvalidInput):
    key = N_("Please give a whole number of minutes from 1 to {maximum}.")


class InvalidLimit(InvalidInput):
    key = N_("Please give a whole number of minutes from 0 to {maximum}.")


class InvalidPosting(InvalidInput):
    """Entries that cannot make a posting: fewer than two, or not summing to zero."""

    key = N_("A posting needs two or more accounts whose amounts add up to zero.")


class InvalidKind(InvalidInput):
    key = N_("This kind of posting cannot be made here.")


class InvalidKey(InvalidInput):
    key = N_("This request has no valid idempotency key.")


class TextTooLong(InvalidInput):
    key = N_("Please keep the note under {maximum} characters.")


class InvalidExpiry(InvalidInput):
    key = N_("A hold must expire in the future.")


class InvalidCursor(InvalidInput):
    key = N_("This page of the passbook is no longer available. Please start again.")


class SameAccount(InvalidInput):
    key = N_("You cannot send time credit to the same account.")


class UnknownAccount(NotFound):
    key = N_("I could not find that account.")


class UnknownMember(NotFound):
    key = N_("I could not find that member.")


class UnknownBranch(NotFound):
    key = N_("I could not find that branch.")


class UnknownTransaction(NotFound):
    key = N_("I could not find that transaction.")


class UnknownHold(NotFound):
    key = N_("I could not find that hold.")


class InsufficientCredit(DomainError):
    """`available` is what the account may still spend, its overdraft included."""

    key = N_("Not enough time credit: {available} minutes available, {needed} needed.")


class IdempotencyConflict(DomainError):
    key = N_("This request was already made with different details.")


class AlreadyReversed(DomainError):
    key = N_("This transaction has already been reversed.")


class CannotReverseReversal(DomainError):
    key = N_("A reversal cannot be reversed. Make an adjustment instead.")


class CoordinatorRequired(DomainError):
    key = N_("Only a coordinator can do this.")


class ReasonRequired(InvalidInput):
    key = N_("Please give a reason.")


class HoldNotPending(DomainError):
    key = N_("This hold has already been settled or released.")


class HoldExpired(DomainError):
    key = N_("This hold has expired.")


class PostExceedsHold(DomainError):
    key = N_("You cannot post more than the {held} minutes held.")


class OverdraftInUse(DomainError):
    key = N_("Some members are already below that limit, so it cannot be lowered.")
