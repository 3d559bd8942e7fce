"""What volunteers, requesters and coordinators see of matching: button payloads, labels,
and the texts of every outbox message (rendered in the reader's language at send time)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from zoneinfo import ZoneInfo

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.keyboard import InlineKeyboardBuilder
from babel.dates import format_skeleton
from babel.numbers import format_decimal
from sqlalchemy.ext.asyncio import AsyncSession

from bot import notices
from bot.callbacks import CoordStep
from bot.conversations.request_help import (
    category_text,
    description_text,
    duration_text,
    language,
)
from bot.labels import BACK
from core import helping, nudges, outbox
from core.errors import DomainError
from core.models import Branch, Category, Member, Nudge, Order, OrderFunding, OutboxMessage

MENU_VOLUNTEER = __("🤝 Volunteering")
ACCEPT = __("✅ Accept")
NOT_THIS_TIME = __("Not this time")
DONE = __("✔️ Done")
HAND_BACK = __("↩️ I cannot go after all")
HAND_BACK_YES = __("Yes, give it back")
SOMETHING_WRONG = __("⚠️ Something is wrong")
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
POOL_PAYS = __("💝 The branch pool pays")
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


class NudgeAnswer(CallbackData, prefix="ndg"):
    nudge_id: int
    accept: bool


class OrderStep(CallbackData, prefix="ostep"):
    """done | minutes | other | back | back_yes | wrong | relay | stars | thanks_skip."""

    action: str
    order_id: int
    value: int = 0


class Settle(CallbackData, prefix="stl"):
    """A coordinator settling an order: view | minutes | other | credit (value: minutes) |
    none | none_yes."""

    action: str
    order_id: int
    value: int = 0


class ProfileStep(CallbackData, prefix="vol"):
    """view | skills | skill | times | slot | day | part | week | distance | dist | quiet | q |
    langs | lang | pause | resume | verify_list | verify."""

    action: str
    value: int = 0
    text: str = ""


def when_of(order: Order, branch: Branch) -> str:
    start = order.window_start or order.created_at
    local = start.astimezone(ZoneInfo(branch.time_zone))
    return (
        format_skeleton("MMMMEd", local, locale=language())
        + " "
        + format_skeleton("Hm", local, locale=language())
    )


def distance_text(metres: int) -> str:
    if metres < 1000:
        return _("{metres} m").format(metres=max(100, round(metres, -2)))
    km = format_decimal(round(metres / 1000, 1), locale=language())
    return _("{km} km").format(km=km)


def stars(n: int) -> str:
    return "⭐" * n


@dataclass(frozen=True)
class Send:
    """A new message; with `voice` (a file id) the voice note goes, `text` as its caption."""

    text: str
    markup: InlineKeyboardMarkup | None = None
    voice: str | None = None


@dataclass(frozen=True)
class Edit:
    """A sent message's new words: its caption if it went as a voice note, else its text."""

    chat_id: str
    message_id: int
    text: str
    caption: bool = False


@dataclass(frozen=True)
class OrderFacts:
    order: Order
    category: Category
    branch: Branch
    requester: Member
    beneficiary: Member
    volunteer: Member | None


async def facts(session: AsyncSession, order_id: int) -> OrderFacts:
    order = await session.get(Order, order_id)
    assert order is not None
    category = await session.get(Category, order.category_id)
    branch = await session.get(Branch, order.branch_id)
    requester = await session.get(Member, order.requester_id)
    beneficiary = await session.get(Member, order.beneficiary_id)
    volunteer = await session.get(Member, order.volunteer_id) if order.volunteer_id else None
    assert category and branch and requester and beneficiary
    return OrderFacts(order, category, branch, requester, beneficiary, volunteer)


def summary(f: OrderFacts) -> list[str]:
    return [
        f"<b>{escape(category_text(f.category))}</b>",
        "🕒 " + when_of(f.order, f.branch),
        "⏳ " + _("About {duration}").format(duration=duration_text(f.order.estimated_minutes)),
    ]


def accepted_text(f: OrderFacts) -> str:
    lines = [_("🙏 Thank you! It is yours."), *summary(f)]
    lines.append("🏠 " + escape(f.order.address or _("At the location that was shared")))
    lines.append("👤 " + escape(f.beneficiary.name))
    description = description_text(f.order.description, f.order.voice_file_id)
    if description:
        lines.append(description)
    return "\n".join(lines)


def volunteer_buttons(f: OrderFacts) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    buttons.button(
        text=_("💬 Message {name}").format(name=f.requester.name),
        callback_data=OrderStep(action="relay", order_id=f.order.id),
    )
    buttons.button(text=str(DONE), callback_data=OrderStep(action="done", order_id=f.order.id))
    buttons.button(text=str(HAND_BACK), callback_data=OrderStep(action="back", order_id=f.order.id))
    buttons.adjust(1)
    return buttons.as_markup()


def time_choices(
    f: OrderFacts, choose: Callable[[int], CallbackData], other: CallbackData
) -> InlineKeyboardBuilder:
    """The times to pick from for the help given: as estimated, the usual lengths, other."""
    buttons = InlineKeyboardBuilder()
    estimate = f.order.estimated_minutes
    buttons.button(
        text=str(AS_ESTIMATED).format(duration=duration_text(estimate)),
        callback_data=choose(estimate),
    )
    for minutes in DONE_MINUTES:
        buttons.button(text=duration_text(minutes), callback_data=choose(minutes))
    buttons.button(text=str(OTHER_TIME), callback_data=other)
    return buttons


def minutes_buttons(f: OrderFacts) -> InlineKeyboardMarkup:
    buttons = time_choices(
        f,
        lambda minutes: OrderStep(action="minutes", order_id=f.order.id, value=minutes),
        OrderStep(action="other", order_id=f.order.id),
    )
    buttons.adjust(1, 2, 2, 1)
    return buttons.as_markup()


def stars_buttons(order_id: int, *, wrong: bool = True) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    for n in (5, 4, 3, 2, 1):
        buttons.button(
            text=stars(n), callback_data=OrderStep(action="stars", order_id=order_id, value=n)
        )
    if wrong:
        buttons.button(
            text=str(SOMETHING_WRONG), callback_data=OrderStep(action="wrong", order_id=order_id)
        )
    buttons.adjust(1)
    return buttons.as_markup()


def relay_button(order_id: int, name: str) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    buttons.button(
        text=_("💬 Message {name}").format(name=name),
        callback_data=OrderStep(action="relay", order_id=order_id),
    )
    return buttons.as_markup()


def payer_name(f: OrderFacts) -> str:
    if f.order.funding == OrderFunding.POOL:
        return _("the branch pool")
    return f.beneficiary.name


def settle_view(f: OrderFacts, disputed_by: Member | None) -> tuple[str, InlineKeyboardMarkup]:
    """What a coordinator sees of a disputed or unconfirmed order, with the ways to settle it."""
    what, when = escape(category_text(f.category)), when_of(f.order, f.branch)
    if disputed_by is not None:
        first = _(
            "⚠️ {name} says something is wrong with {category}, {when}. Please look into it."
        ).format(name=escape(disputed_by.name), category=what, when=when)
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
    buttons = InlineKeyboardBuilder()
    if reported:
        buttons.button(
            text=str(CONFIRM_REPORTED).format(duration=duration_text(reported)),
            callback_data=Settle(action="credit", order_id=f.order.id, value=reported),
        )
    buttons.button(
        text=str(CREDIT_OTHER), callback_data=Settle(action="minutes", order_id=f.order.id)
    )
    buttons.button(text=str(NO_CREDIT), callback_data=Settle(action="none", order_id=f.order.id))
    buttons.adjust(1)
    return "\n".join(lines), buttons.as_markup()


def settle_minutes(f: OrderFacts) -> tuple[str, InlineKeyboardMarkup]:
    """The volunteer's own choice of times, for the coordinator to credit one of them."""
    text = _("⏳ How much time should {name} be credited for {category}?").format(
        name=escape(f.volunteer.name if f.volunteer else ""),
        category=escape(category_text(f.category)),
    )
    buttons = time_choices(
        f,
        lambda minutes: Settle(action="credit", order_id=f.order.id, value=minutes),
        Settle(action="other", order_id=f.order.id),
    )
    buttons.button(text=str(BACK), callback_data=Settle(action="view", order_id=f.order.id))
    buttons.adjust(1, 2, 2, 2)
    return text, buttons.as_markup()


def settle_nothing(f: OrderFacts) -> tuple[str, InlineKeyboardMarkup]:
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
    buttons = InlineKeyboardBuilder()
    buttons.button(
        text=str(NO_CREDIT_YES), callback_data=Settle(action="none_yes", order_id=f.order.id)
    )
    buttons.button(text=str(BACK), callback_data=Settle(action="view", order_id=f.order.id))
    buttons.adjust(1)
    return text, buttons.as_markup()


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


async def settled_text(session: AsyncSession, f: OrderFacts, payload: dict, member: Member) -> str:
    """How a coordinator settled the order, as its volunteer or its requester hears it."""
    what, when = escape(category_text(f.category)), when_of(f.order, f.branch)
    is_volunteer = member.id == f.order.volunteer_id
    reason = payload.get("reason") or ""
    if payload["outcome"] == "not_credited":
        if is_volunteer:
            first = _(
                "📝 A coordinator has looked into {category}, {when}: no time is credited for it."
            )
        else:
            first = _(
                "📝 A coordinator has looked into {category}, {when}: nothing is paid, "
                "and the time held for it is free again."
            )
        lines = [first.format(category=what, when=when)]
        if reason:
            lines.append(_("Reason: {reason}").format(reason=escape(reason)))
        return "\n".join(lines)
    duration = duration_text(f.order.actual_minutes or 0)
    reported = payload.get("reported")
    if is_volunteer and payload["outcome"] == "corrected" and reported:
        first = _(
            "✅ A coordinator has settled {category}, {when}: {duration} are now in your "
            "passbook (you reported {reported})."
        ).format(category=what, when=when, duration=duration, reported=duration_text(reported))
    elif is_volunteer:
        first = _(
            "✅ A coordinator has confirmed {category}, {when}: "
            "{duration} are now in your passbook."
        ).format(category=what, when=when, duration=duration)
    else:
        first = _(
            "✅ A coordinator has settled {category}, {when}: {duration} paid to {name}."
        ).format(
            category=what, when=when, duration=duration,
            name=escape(f.volunteer.name if f.volunteer else ""),
        )  # fmt: skip
    paid = member.id == f.order.beneficiary_id and f.order.funding != OrderFunding.POOL
    if is_volunteer or paid:
        return first + "\n" + balance_text(await helping.balance(session, member.id))
    return first


def find_someone_button(order_id: int, *, pool_pays: bool = False) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    if pool_pays:
        buttons.button(
            text=str(POOL_PAYS), callback_data=CoordStep(action="sponsor", order_id=order_id)
        )
    buttons.button(
        text=str(FIND_SOMEONE), callback_data=CoordStep(action="view", order_id=order_id)
    )
    return buttons.as_markup()


def balance_text(minutes: int | None) -> str:
    return _("Your balance: {balance}").format(balance=duration_text(minutes or 0))


def error_text(error: DomainError) -> str:
    return _(error.key).format(**error.params)


async def render(
    session: AsyncSession, row: OutboxMessage | object, member: Member
) -> Send | Edit | None:
    """The message an outbox row stands for, in the current locale; None: nothing to send."""
    kind, payload = row.kind, row.payload
    if kind in notices.KINDS:
        said = await notices.say(session, kind, payload, member)
        return Send(*said) if said else None
    if kind == "nudge":
        nudge = await session.get(Nudge, payload["nudge_id"])
        if nudge is None:
            return None
        f = await facts(session, nudge.order_id)
        if f.order.status != "open":
            return None  # taken or gone before it went out: say nothing
        lines = [_("🔔 Someone near you would like help")]
        asker_id = payload.get(nudges.ASKED_BY)
        asker = await session.get(Member, asker_id) if asker_id else None
        if asker is not None:
            lines.append(
                _("🙋 {name} from the time bank asked you personally.").format(
                    name=escape(asker.name)
                )
            )
        details = summary(f)
        details.insert(2, "📍 " + _("About {distance} from you").format(
            distance=distance_text(nudge.distance_m)))  # fmt: skip
        lines += details
        description = description_text(f.order.description, f.order.voice_file_id)
        if description:
            lines.append(description)
        buttons = InlineKeyboardBuilder()
        buttons.button(text=str(ACCEPT), callback_data=NudgeAnswer(nudge_id=nudge.id, accept=True))
        buttons.button(
            text=str(NOT_THIS_TIME), callback_data=NudgeAnswer(nudge_id=nudge.id, accept=False)
        )
        return Send("\n".join(lines), buttons.as_markup(), voice=f.order.voice_file_id)
    if kind in ("nudge_taken", "nudge_closed"):
        nudge = await session.get(Nudge, payload["nudge_id"])
        sent = await session.get(OutboxMessage, nudge.outbox_id) if nudge else None
        if sent is None or sent.message_id is None or sent.chat_id is None:
            return None
        error = helping.AlreadyTaken() if kind == "nudge_taken" else helping.NoLongerNeeded()
        return Edit(
            sent.chat_id,
            sent.message_id,
            "🙏 " + error_text(error),
            caption=sent.payload.get(outbox.SENT_AS) == "voice",
        )
    f = await facts(session, payload["order_id"])
    volunteer = escape(f.volunteer.name) if f.volunteer else ""
    what = escape(category_text(f.category))
    when = when_of(f.order, f.branch)
    if kind == "coming":
        text = _("🤝 Good news: {name} is coming to help with {category}, {when}.").format(
            name=volunteer, category=what, when=when
        )
        return Send(text, relay_button(f.order.id, f.volunteer.name) if f.volunteer else None)
    if kind == "expired":
        return Send(
            _(
                "😔 I am sorry: nobody was free in time for {category}. "
                "You are very welcome to ask again."
            ).format(category=what)
        )
    if kind == "expired_uncovered":
        return Send(
            _(
                "😔 I am sorry: the time for {category} has passed before its cost could be "
                "covered, so I could not ask the volunteers. A coordinator can help with "
                "credit; you are very welcome to ask again."
            ).format(category=what)
        )
    if kind == "lapsed_uncovered":
        return Send(
            _(
                "⌛ The time for {category} for {name}, {when}, has passed. Nobody covered "
                "its cost, so no volunteer was asked. Perhaps check in with {name}?"
            ).format(category=what, name=escape(f.beneficiary.name), when=when)
        )
    if kind in ("ask_yes", "ask_no"):
        nudge = await session.get(Nudge, payload["nudge_id"])
        asked = await session.get(Member, nudge.member_id) if nudge else None
        who = escape(asked.name if asked else "")
        for_whom = escape(f.beneficiary.name)
        if kind == "ask_yes":
            return Send(
                _("✅ {volunteer} said yes to {category} for {name}, {when}.").format(
                    volunteer=who, category=what, name=for_whom, when=when
                )
            )
        text = _("🙏 {volunteer} cannot help with {category} for {name} this time.").format(
            volunteer=who, category=what, name=for_whom
        )
        if f.order.status != "open":
            return Send(text)
        return Send(text + "\n" + _("Shall we ask someone else?"), find_someone_button(f.order.id))
    if kind == "handed_back":
        return Send(
            _(
                "{category}, {when}: the volunteer can no longer come. "
                "I am looking for someone else."
            ).format(category=what, when=when)
        )
    if kind == "escalated":
        if f.order.status != "open":
            return None  # someone said yes before the alert went out
        return Send(
            _(
                "📣 Nobody has said yes yet to {category} for {name}, {when}. "
                "Could you find someone?"
            ).format(category=what, name=escape(f.beneficiary.name), when=when),
            find_someone_button(f.order.id),
        )
    if kind == "needs_sponsor":
        if f.order.status != "open" or f.order.funding != OrderFunding.NEEDS_SPONSOR:
            return None  # covered, cancelled or gone before the alert went out
        return Send(
            _(
                "💝 {name} asked for {category}, {when}, but does not have enough credit "
                "for about {duration}. Could the branch pool pay for it?"
            ).format(
                name=escape(f.beneficiary.name),
                category=what,
                when=when,
                duration=duration_text(f.order.estimated_minutes),
            ),
            find_someone_button(f.order.id, pool_pays=True),
        )
    if kind == "sponsored":
        return Send(
            _(
                "💝 Good news: the branch will pay for {category}, {when}. "
                "I am looking for a volunteer now."
            ).format(category=what, when=when)
        )
    if kind == "reminder":
        first = _("⏰ In about an hour:") if payload.get("soon") else _("⏰ Coming up:")
        lines = [first, f"<b>{what}</b>", "🕒 " + when]
        if member.id == f.order.volunteer_id:
            lines.append("🏠 " + escape(f.order.address or ""))
            lines.append("👤 " + escape(f.beneficiary.name))
        elif f.volunteer:
            lines.append(_("🤝 {name} is coming to help").format(name=volunteer))
        return Send("\n".join(lines))
    if kind == "confirm_ask":
        minutes = f.order.actual_minutes or f.order.estimated_minutes
        return Send(
            _("✔️ {name} says the help with {category} is done: {duration}. How was it?").format(
                name=volunteer, category=what, duration=duration_text(minutes)
            ),
            stars_buttons(f.order.id),
        )
    if kind == "receipt":
        minutes = f.order.actual_minutes or f.order.estimated_minutes
        if member.id == f.order.volunteer_id:
            first = _("🎉 Thank you! {duration} for {category} are now in your passbook.")
        else:
            first = _("✅ {category} is confirmed: {duration} paid.")
        text = first.format(duration=duration_text(minutes), category=what)
        return Send(text + "\n" + balance_text(await helping.balance(session, member.id)))
    if kind == "thanks":
        progress = await helping.progress(session, f.order.id)
        sender = await session.get(Member, payload["from"])
        return Send(
            _("💌 {name} says thank you: {text}").format(
                name=escape(sender.name if sender else ""),
                text=escape(progress.thanks if progress else ""),
            )
        )
    if kind == "relay":
        sender = await session.get(Member, payload["from"])
        name = sender.name if sender else ""
        return Send(
            f"💬 <b>{escape(name)}</b>: {escape(payload['text'])}",
            relay_button(f.order.id, name),
        )
    if kind in ("dispute", "unconfirmed"):
        if f.order.status in helping.SETTLED:
            return None  # settled before the alert went out
        by = await session.get(Member, payload["by"]) if kind == "dispute" else None
        return Send(*settle_view(f, by))
    if kind == "settled":
        return Send(await settled_text(session, f, payload, member))
    if kind == "alert_settled":
        alert = await session.get(OutboxMessage, payload["alert_id"])
        if alert is None or alert.message_id is None or alert.chat_id is None:
            return None
        by = await session.get(Member, payload["by"])
        return Edit(
            alert.chat_id,
            alert.message_id,
            _("✔️ {category}, {when}: {name} has settled it already. Thank you!").format(
                category=what, when=when, name=escape(by.name if by else "")
            ),
        )
    return None
