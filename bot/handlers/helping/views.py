"""What volunteers, requesters and coordinators see of matching: button payloads, labels,
and the texts of every outbox message (rendered in the reader's language at send time)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape

from aiogram.filters.callback_data import CallbackData
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.handlers.coordination.callbacks import CoordStep, Find, Settle, SettleAction
from bot.handlers.helping.callbacks import FROM_LIST, Do, OrderStep
from bot.handlers.volunteer_profile.callbacks import Profile, ProfileStep
from bot.kit.formatters import (
    balance_text,
    category_text,
    description_text,
    duration_text,
    stars,
)
from bot.kit.labels import BACK
from bot.kit.screens import Keyboard, Screen, inline, one_per_row
from bot.kit.times import order_when_text, when_line
from core import helping, notices
from core.models import Branch, Category, Member, Order, OrderFunding
from core.orders import Place

ACCEPT = __("✅ Accept")
NOT_THIS_TIME = __("Not this time")
DONE = __("✔️ Done")
HAND_BACK = __("↩️ I cannot go after all")
HAND_BACK_YES = __("Yes, give it back")
KEEP_IT = __("No, I will keep it")
HELPING_WITH = __("📋 Requests I am helping with")
SOMETHING_WRONG = __("⚠️ Something is wrong")
WRONG_YES = __("⚠️ Yes, ask a coordinator")
AS_ESTIMATED = __("As estimated ({duration})")
OTHER_TIME = __("✏️ Other")
SKIP_THANKS = __("Skip")
CONFIRM_REPORTED = __("✅ Confirm {duration}")
CREDIT_OTHER = __("✏️ Credit a different time")
NO_CREDIT = __("🚫 No credit")
NO_CREDIT_YES = __("🚫 Yes, no credit")
PAUSE = __("⏸ Pause nudges")
RESUME = __("▶️ Resume nudges")
SKILLS = __("🧰 What I can help with")
TIMES = __("📅 When I am free")
DISTANCE = __("📏 How far I will go")
QUIET = __("🌙 Quiet hours")
LANGUAGES = __("🗣 Languages I speak")
TO_VERIFY = __("✅ Volunteers to verify")
FIND_SOMEONE = __("🔎 Find someone")
POOL_PAYS = __("💝 The community pool pays")
BACK_TO_PROFILE = __("⬅️ Back")
WHOLE_WEEK = __("All")
# Column headings of the availability grid: short, so four columns fit on a phone.
PART_HEADINGS = {
    "morning": __("Morning"),
    "afternoon": __("Afternoon"),
    "evening": __("Evening"),
}
# Parts of the day as the profile summary says them ("Mon–Fri mornings").
PART_TIMES = {
    "morning": __("mornings"),
    "afternoon": __("afternoons"),
    "evening": __("evenings"),
}
QUIET_NAMES = {
    "none": __("No quiet hours"),
    "night": __("21:00 – 8:00"),
    "evening": __("19:00 – 9:00"),
}
DONE_MINUTES = (30, 60, 90, 120)


def when_of(order: Order, branch: Branch) -> str:
    return order_when_text(order, branch.time_zone)


@dataclass(frozen=True)
class OrderFacts:
    order: Order
    category: Category
    branch: Branch
    requester: Member
    beneficiary: Member
    volunteer: Member | None


_REQUESTER, _BENEFICIARY, _VOLUNTEER = aliased(Member), aliased(Member), aliased(Member)
_FACTS = (
    select(Order, Category, Branch, _REQUESTER, _BENEFICIARY, _VOLUNTEER)
    .join(Category, Category.id == Order.category_id)
    .join(Branch, Branch.id == Order.branch_id)
    .join(_REQUESTER, _REQUESTER.id == Order.requester_id)
    .join(_BENEFICIARY, _BENEFICIARY.id == Order.beneficiary_id)
    .outerjoin(_VOLUNTEER, _VOLUNTEER.id == Order.volunteer_id)
)


async def facts(session: AsyncSession, order_id: int) -> OrderFacts:
    """The order and the rows its views name, in one statement (one `Session.get` each
    missed the identity map, a round trip apiece). Rows the session holds already are kept
    as they are, as `Session.get` would."""
    row = (await session.execute(_FACTS.where(Order.id == order_id))).first()
    assert row is not None
    order, category, branch, requester, beneficiary, volunteer = row
    return OrderFacts(order, category, branch, requester, beneficiary, volunteer)


def summary(f: OrderFacts) -> list[str]:
    return [
        f"<b>{escape(category_text(f.category))}</b>",
        "🕒 " + when_of(f.order, f.branch),
        "⏳ " + _("About {duration}").format(duration=duration_text(f.order.estimated_minutes)),
    ]


def place_words(f: OrderFacts) -> str:
    """Where the help is, as the volunteer who took it reads it (with its emoji). At the
    resident's home: the address they keep with us (given with their consent), or, with
    none on file, that they are to be asked for it; the point on file is only the area, so
    it is never offered as the place."""
    order, name = f.order, escape(f.beneficiary.name)
    if order.place_kind == Place.HOME and order.address:
        return _("🏠 At {name}'s home: {address}").format(name=name, address=escape(order.address))
    if order.place_kind == Place.HOME:
        return _(
            "🏠 At {name}'s home. Please ask them for the exact address with the 💬 button."
        ).format(name=name)
    if order.address:
        return "📍 " + escape(order.address)
    return _("📍 At the location that was shared")


def pin_of(f: OrderFacts) -> tuple[float, float] | None:
    """The point to pin for the volunteer: only a location the requester shared for it (a
    home's point on file is the area, not the door)."""
    order = f.order
    if order.place_kind == Place.HOME or order.latitude is None or order.longitude is None:
        return None
    return order.latitude, order.longitude


def accepted_text(f: OrderFacts) -> str:
    lines = [_("🙏 Thank you! It is yours."), *summary(f)]
    lines.append(place_words(f))
    lines.append("👤 " + escape(f.beneficiary.name))
    description = description_text(f.order.description, f.order.voice_file_id)
    if description:
        lines.append(description)
    return "\n".join(lines)


def _step(text: str, action: Do, order_id: int, value: int = 0) -> tuple[str, str]:
    return text, OrderStep(action=action, order_id=order_id, value=value).pack()


def relay_text(name: str) -> str:
    return _("💬 Message {name}").format(name=name)


def volunteer_buttons(f: OrderFacts, value: int = 0) -> Keyboard:
    """The card's buttons; `value` FROM_LIST: it was opened from the list, and leads back."""
    order_id = f.order.id
    buttons = [
        _step(relay_text(f.requester.name), Do.RELAY, order_id),
        _step(str(DONE), Do.DONE, order_id, value),
        _step(str(HAND_BACK), Do.BACK, order_id, value),
    ]
    if value == FROM_LIST:
        buttons.append((str(BACK), _helping_with()))
    return one_per_row(buttons)


def _helping_with() -> str:
    return OrderStep(action=Do.MINE, order_id=0).pack()


def helping_with_button() -> tuple[str, str]:
    return str(HELPING_WITH), _helping_with()


def helping_with_screen(found: list[OrderFacts]) -> Screen:
    """The requests the volunteer has accepted, soonest first, each button opening its card."""
    lines = [_("📋 <b>Requests you are helping with</b>")]
    buttons = []
    if not found:
        lines.append(
            _(
                "You are not helping with any request just now. When someone near you needs "
                "help, I will send you a message; you can also look in “📍 Near me”."
            )
        )
    for number, f in enumerate(found, start=1):
        what = category_text(f.category)
        lines += [
            "",
            f"<b>{number}. {escape(what)}</b>",
            when_line(when_of(f.order, f.branch)),
            "👤 " + escape(f.beneficiary.name),
        ]
        buttons.append(_step(f"{number}. {what}", Do.CARD, f.order.id, FROM_LIST))
    if found:
        lines += ["", _("Tap a request to see it, mark it done or message the person.")]
    buttons.append((str(BACK_TO_PROFILE), ProfileStep(action=Profile.VIEW).pack()))
    return Screen("\n".join(lines), one_per_row(buttons))


def time_choices(
    f: OrderFacts, choose: Callable[[int], CallbackData], other: CallbackData
) -> list[list[tuple[str, str]]]:
    """The times to pick from for the help given: as estimated, the usual lengths in twos,
    other."""
    estimate = f.order.estimated_minutes
    usual = [(duration_text(minutes), choose(minutes).pack()) for minutes in DONE_MINUTES]
    return [
        [(str(AS_ESTIMATED).format(duration=duration_text(estimate)), choose(estimate).pack())],
        *(usual[i : i + 2] for i in range(0, len(usual), 2)),
        [(str(OTHER_TIME), other.pack())],
    ]


def done_text(f: OrderFacts, minutes: int) -> str:
    return _("✔️ Thank you! I have asked {name} to confirm {duration}.").format(
        name=escape(f.requester.name), duration=duration_text(minutes)
    )


def hand_back_buttons(order_id: int, value: int = 0) -> Keyboard:
    """Yes, or keep it: the card again (leading back to the list if it came from there)."""
    return one_per_row(
        [
            _step(str(HAND_BACK_YES), Do.BACK_YES, order_id),
            _step(str(KEEP_IT), Do.CARD, order_id, value),
        ]
    )


def confirmed_text(f: OrderFacts, order: Order, balance: int | None, *, ask_thanks: bool) -> str:
    """The confirmation under the stars; the balance for the side that paid."""
    minutes = order.actual_minutes or order.estimated_minutes
    lines = [
        _("✅ Confirmed: {duration} for {category}.").format(
            duration=duration_text(minutes), category=escape(category_text(f.category))
        )
    ]
    if balance is not None:
        lines.append(balance_text(balance))
    if ask_thanks:
        lines.append(_("Would you like to add a thank-you note? Just type it."))
    return "\n".join(lines)


def skip_thanks_buttons(order_id: int) -> Keyboard:
    return inline([[_step(str(SKIP_THANKS), Do.THANKS_SKIP, order_id)]])


def minutes_buttons(f: OrderFacts, value: int = 0) -> Keyboard:
    """The times to pick, and Back to the card (to the list's card, `value` FROM_LIST)."""
    rows = time_choices(
        f,
        lambda minutes: OrderStep(action=Do.MINUTES, order_id=f.order.id, value=minutes),
        OrderStep(action=Do.OTHER, order_id=f.order.id),
    )
    rows[-1].append(_step(str(BACK), Do.CARD, f.order.id, value))  # beside "Other"
    return inline(rows)


def rate_screen(f: OrderFacts) -> Screen:
    """The volunteer says it is done: how was it (stars), or something is wrong."""
    minutes = f.order.actual_minutes or f.order.estimated_minutes
    text = _("✔️ {name} says the help with {category} is done: {duration}. How was it?").format(
        name=escape(f.volunteer.name) if f.volunteer else "",
        category=escape(category_text(f.category)),
        duration=duration_text(minutes),
    )
    return Screen(text, stars_buttons(f.order.id))


def wrong_question(f: OrderFacts) -> Screen:
    """Asked before a coordinator is called in: one tap under the stars is easily made."""
    text = _(
        "⚠️ Shall I ask a coordinator to look into {category}? They will get in touch with "
        "you, and nothing is paid until they have."
    ).format(category=escape(category_text(f.category)))
    buttons = [
        [_step(str(WRONG_YES), Do.WRONG_YES, f.order.id)],
        [_step(str(BACK), Do.RATE, f.order.id)],
    ]
    return Screen(text, inline(buttons))


def stars_buttons(order_id: int, *, wrong: bool = True) -> Keyboard:
    buttons = [_step(stars(n), Do.STARS, order_id, value=n) for n in (5, 4, 3, 2, 1)]
    if wrong:
        buttons.append(_step(str(SOMETHING_WRONG), Do.WRONG, order_id))
    return one_per_row(buttons)


def relay_button(order_id: int, name: str) -> Keyboard:
    return inline([[_step(relay_text(name), Do.RELAY, order_id)]])


def payer_name(f: OrderFacts) -> str:
    if f.order.funding == OrderFunding.POOL:
        return _("the community pool")
    return f.beneficiary.name


def _settle(text: str, action: SettleAction, order_id: int, value: int = 0) -> tuple[str, str]:
    return text, Settle(action=action, order_id=order_id, value=value).pack()


def settle_view(f: OrderFacts, disputed_by: Member | None) -> Screen:
    """What a coordinator sees of a disputed or unconfirmed order, with the ways to settle it."""
    what, when = escape(category_text(f.category)), when_of(f.order, f.branch)
    if disputed_by is not None:
        first = _("⚠️ {name} says something is wrong with {category}. Please look into it.")
        first = first.format(name=escape(disputed_by.name), category=what) + "\n" + when_line(when)
    else:
        first = _("🕓 {category} for {name} was done but nobody has confirmed it yet.").format(
            category=what, name=escape(f.beneficiary.name)
        )
    volunteer = escape(f.volunteer.name) if f.volunteer else ""
    lines = [
        first,
        "👤 " + _("For {name}").format(name=escape(f.beneficiary.name)),
        "🤝 " + _("Volunteer: {name}").format(name=volunteer),
    ]
    reported = f.order.actual_minutes
    estimate = duration_text(f.order.estimated_minutes)
    if reported:
        lines.append(
            "⏳ "
            + _("{name} reported {duration}; about {estimate} was planned.").format(
                name=volunteer, duration=duration_text(reported), estimate=estimate
            )
        )
    else:
        planned = _("Not marked as done yet; about {estimate} was planned.")
        lines.append("⏳ " + planned.format(estimate=estimate))
    order_id = f.order.id
    buttons = []
    if reported:
        confirm = str(CONFIRM_REPORTED).format(duration=duration_text(reported))
        buttons.append(_settle(confirm, SettleAction.CREDIT, order_id, value=reported))
    buttons.append(_settle(str(CREDIT_OTHER), SettleAction.MINUTES, order_id))
    buttons.append(_settle(str(NO_CREDIT), SettleAction.NONE, order_id))
    return Screen("\n".join(lines), one_per_row(buttons))


def settle_minutes(f: OrderFacts) -> Screen:
    """The volunteer's own choice of times, for the coordinator to credit one of them."""
    text = _("⏳ How much time should {name} be credited for {category}?").format(
        name=escape(f.volunteer.name if f.volunteer else ""),
        category=escape(category_text(f.category)),
    )
    rows = time_choices(
        f,
        lambda minutes: Settle(action=SettleAction.CREDIT, order_id=f.order.id, value=minutes),
        Settle(action=SettleAction.OTHER, order_id=f.order.id),
    )
    rows[-1].append(_settle(str(BACK), SettleAction.VIEW, f.order.id))  # beside "Other"
    return Screen(text, inline(rows))


def settle_nothing(f: OrderFacts) -> Screen:
    text = "\n".join(
        [
            _(
                "🚫 No credit for {category}, {when}? The time held for it goes back to "
                "{payer}, and both sides are told."
            ).format(
                category=escape(category_text(f.category)),
                when=when_of(f.order, f.branch),
                payer=escape(payer_name(f)),
            ),
            _("If you like, type a short reason for them first; or just tap the button."),
        ]
    )
    buttons = [
        _settle(str(NO_CREDIT_YES), SettleAction.NONE_YES, f.order.id),
        _settle(str(BACK), SettleAction.VIEW, f.order.id),
    ]
    return Screen(text, one_per_row(buttons))


def settled_for_coordinator(f: OrderFacts, settled: helping.Settled) -> str:
    what = escape(category_text(f.category))
    if settled.outcome == "not_credited":
        return _("🚫 Settled: no credit for {category}. Both sides have been told.").format(
            category=what
        )
    return _(
        "✅ Settled: {name} is credited {duration} for {category}. Both sides have been told."
    ).format(
        name=escape(f.volunteer.name if f.volunteer else ""),
        duration=duration_text(settled.order.actual_minutes or 0),
        category=what,
    )  # fmt: skip


async def settled_text(
    session: AsyncSession, f: OrderFacts, settled: notices.Settled, member: Member
) -> str:
    """How a coordinator settled the order, as its volunteer or its requester hears it."""
    what, when = escape(category_text(f.category)), when_of(f.order, f.branch)
    is_volunteer = member.id == f.order.volunteer_id
    reason = settled.reason
    if settled.outcome == "not_credited":
        if is_volunteer:
            first = _("📝 A coordinator has looked into {category}: no time is credited for it.")
        else:
            first = _(
                "📝 A coordinator has looked into {category}: nothing is paid, "
                "and the time held for it is free again."
            )
        lines = [first.format(category=what), when_line(when)]
        if reason:
            lines.append(_("Reason: {reason}").format(reason=escape(reason)))
        return "\n".join(lines)
    duration = duration_text(f.order.actual_minutes or 0)
    reported = settled.reported
    if is_volunteer and settled.outcome == "corrected" and reported:
        first = _(
            "✅ A coordinator has settled {category}: {duration} are now in your "
            "passbook (you reported {reported})."
        ).format(category=what, duration=duration, reported=duration_text(reported))
    elif is_volunteer:
        first = _(
            "✅ A coordinator has confirmed {category}: {duration} are now in your passbook."
        ).format(category=what, duration=duration)
    else:
        first = _("✅ A coordinator has settled {category}: {duration} paid to {name}.").format(
            category=what, duration=duration, name=escape(f.volunteer.name if f.volunteer else "")
        )
    first += "\n" + when_line(when)
    paid = member.id == f.order.beneficiary_id and f.order.funding != OrderFunding.POOL
    if is_volunteer or paid:
        return first + "\n" + balance_text(await helping.balance(session, member.id))
    return first


def find_someone_button(order_id: int, *, pool_pays: bool = False) -> Keyboard:
    find = (str(FIND_SOMEONE), CoordStep(action=Find.VIEW, order_id=order_id).pack())
    if pool_pays:
        sponsor = CoordStep(action=Find.SPONSOR, order_id=order_id).pack()
        return inline([[(str(POOL_PAYS), sponsor), find]])
    return inline([[find]])


@dataclass(frozen=True)
class Told:
    """An order as a notice names it: its facts, the volunteer's name, what and when."""

    f: OrderFacts
    volunteer: str
    what: str
    when: str


async def told(session: AsyncSession, notice: notices.AboutOrder) -> Told:
    f = await facts(session, notice.order_id)
    volunteer = escape(f.volunteer.name) if f.volunteer else ""
    return Told(f, volunteer, escape(category_text(f.category)), when_of(f.order, f.branch))
