"""How asking for help reads: the request's review, its buttons, the calendar, the one-tap
times, the after-send offer to remember a home, and "My requests" with one request's details
and the reasons to cancel it; plain functions of what they show."""

from __future__ import annotations

from datetime import date
from html import escape

from aiogram.utils.i18n import gettext as _
from babel.dates import format_skeleton

from bot.handlers.asking.callbacks import (
    AskAction,
    AskStep,
    CancelWhy,
    OrderCancel,
    OrderOpen,
    PickDay,
    RememberHome,
)
from bot.handlers.helping import views as helping_views
from bot.kit import labels
from bot.kit.formatters import category_text, description_text, duration_text, language, place_text
from bot.kit.screens import Keyboard, inline, one_per_row
from bot.kit.times import order_when_text, when_text
from core.catalog import localized
from core.models import Member, OrderFunding, OrderStatus
from core.orders import Coverage, OrderView, Prepared
from core.schedule import When

PART_LABELS = {"morning": labels.MORNING, "afternoon": labels.AFTERNOON, "evening": labels.EVENING}
QUICK_TIME_LABELS = {
    (0, "morning"): labels.THIS_MORNING,
    (0, "afternoon"): labels.THIS_AFTERNOON,
    (0, "evening"): labels.THIS_EVENING,
    (1, "morning"): labels.TOMORROW_MORNING,
    (1, "afternoon"): labels.TOMORROW_AFTERNOON,
    (1, "evening"): labels.TOMORROW_EVENING,
}
ESTIMATE_LABELS = {
    30: labels.HALF_HOUR,
    60: labels.ONE_HOUR,
    120: labels.TWO_HOURS,
    240: labels.HALF_DAY,
}


def cancel_text() -> str:
    return _("Okay, I did not send anything. Tap “🙋 Ask for help” whenever you like.")


def coverage_lines(coverage: Coverage, name: str | None) -> list[str]:
    """What it costs and who pays; `name` is the beneficiary's when asking for someone else."""
    lines = [_("💳 Cost: about {cost} of time credit.").format(cost=duration_text(coverage.cost))]
    if coverage.funding == OrderFunding.POOL:
        lines.append(_("The community pool pays for this, so no credit is needed."))
        return lines
    balance = duration_text(coverage.available)
    if name is None:
        lines.append(_("Your available balance: {balance}.").format(balance=balance))
    else:
        lines.append(
            _("Available balance of {name}: {balance}.").format(name=escape(name), balance=balance)
        )
    if coverage.funding == OrderFunding.OVERDRAFT:
        lines.append(
            _(
                "That is more than there is now, but the branch allows going up to {limit} "
                "below zero, so it is fine."
            ).format(limit=duration_text(coverage.overdraft_limit))
        )
    elif coverage.funding == OrderFunding.NEEDS_SPONSOR:
        if name is None:
            lines.append(
                _(
                    "You do not have enough credit for this yet, and that is all right: I will "
                    "still send it, and a coordinator will help with the cost. You earn credit "
                    "by helping a neighbour, or you can ask a coordinator."
                )
            )
        else:
            lines.append(
                _(
                    "{name} does not have enough credit for this yet, and that is all right: "
                    "I will still send it, and a coordinator will help with the cost."
                ).format(name=escape(name))
            )
    return lines


def review_text(
    ready: Prepared,
    coverage: Coverage,
    *,
    when: When,
    place_kind: str,
    voice_file_id: str | None,
    for_other: bool,
    by_voice: bool,
    in_branch: bool = False,
) -> str:
    """The summary a member checks before ✅ Send; `in_branch` names the branch (the
    beneficiary is in several)."""
    name = ready.beneficiary.name if for_other else None
    filled_in = (
        [
            "",
            _(
                "I filled in the rest for you. The volunteer who says yes will get in touch "
                "to settle it. You can change anything with ✏️."
            ),
        ]
        if by_voice
        else []
    )
    title = (
        _("<b>Help for {name}</b>").format(name=escape(name))
        if name is not None
        else _("<b>Your request</b>")
    )
    lines = [
        title,
        escape(category_text(ready.category)),
        description_text(ready.description, voice_file_id),
        "🕒 " + when_text(when, ready.branch.time_zone),
        place_text(place_kind, ready.address, show_address=True),
        *(
            [_("🏘 In {branch}").format(branch=escape(localized(ready.branch.names, language())))]
            if in_branch
            else []
        ),
        "⏳ " + _("About {duration}").format(duration=duration_text(ready.minutes)),
        *filled_in,
        "",
        *coverage_lines(coverage, name),
    ]
    return "\n".join(lines)


def review_buttons(draft: str) -> Keyboard:
    def edit(action: AskAction, text: str) -> tuple[str, str]:
        return text, AskStep(action=action, draft=draft).pack()

    return inline(
        [
            [edit(AskAction.WHAT, _("✏️ What")), edit(AskAction.DESCRIBE, _("✏️ Details"))],
            [edit(AskAction.WHEN, _("✏️ When")), edit(AskAction.WHERE, _("✏️ Where"))],
            [edit(AskAction.DURATION, _("✏️ How long"))],
            [edit(AskAction.SEND, _("✅ Send"))],
        ]
    )


def calendar(draft: str, days: list[date]) -> Keyboard:
    """The days to pick from, three to a row."""
    buttons = [
        (
            format_skeleton("MMMEd", day, locale=language()),
            PickDay(draft=draft, day=day.strftime("%Y%m%d")).pack(),
        )
        for day in days
    ]
    return inline(buttons[i : i + 3] for i in range(0, len(buttons), 3))


def quick_time_rows(open_times: list[tuple[int, str]]) -> list[list[str]]:
    """As soon as possible, the one-tap times still open (today's, then tomorrow's), and
    another day."""
    rows: list[list[str]] = [[str(labels.ASAP)]]
    for offset in (0, 1):
        row = [str(QUICK_TIME_LABELS[t]) for t in open_times if t[0] == offset]
        if row:
            rows.append(row)
    rows.append([str(labels.ANOTHER_DAY)])
    return rows


def sent_text(*, for_other: bool, name: str, needs_sponsor: bool) -> str:
    if for_other:
        text = _(
            "✅ Sent! I will let you know as soon as a volunteer says yes, and {name} too "
            "if they use this bot."
        ).format(name=escape(name))
    else:
        text = _("✅ Sent! I will let you know as soon as a volunteer says yes.")
    if needs_sponsor:
        text += "\n" + _("A coordinator will see that it needs help with the cost.")
    return text


def remember_home_text(address: str) -> str:
    return _(
        "Is {address} your home? I can remember it, so next time you just tap “{my_home}”."
    ).format(address=escape(address), my_home=labels.MY_HOME)


def remember_home_buttons(order_id: int) -> Keyboard:
    return one_per_row(
        [
            (str(labels.REMEMBER_HOME), RememberHome(order_id=order_id, keep=True).pack()),
            (str(labels.NOT_MY_HOME), RememberHome(order_id=order_id, keep=False).pack()),
        ]
    )


# ---------------------------------------------------------------- my requests


REASON_LABELS = {
    CancelWhy.NOT_NEEDED: labels.REASON_NOT_NEEDED,
    CancelWhy.FOUND_HELP: labels.REASON_FOUND_HELP,
    CancelWhy.WRONG_TIME: labels.REASON_WRONG_TIME,
}


def status_text(view: OrderView) -> str:
    status = view.order.status
    uncovered = view.order.funding == OrderFunding.NEEDS_SPONSOR
    if status == OrderStatus.OPEN:
        if uncovered:
            return _("🕓 Waiting for a coordinator to help with the cost")
        return _("🕓 Waiting for a volunteer")
    if status == OrderStatus.ACCEPTED:
        if view.volunteer is not None:
            return _("🤝 {name} is coming to help").format(name=escape(view.volunteer.name))
        return _("🤝 A volunteer is coming to help")
    if status == OrderStatus.DONE:
        return _("✔️ Done, waiting to be confirmed")
    if status == OrderStatus.CONFIRMED:
        return _("✅ Done and confirmed")
    if status == OrderStatus.NOT_CREDITED:
        return _("🚫 Closed by a coordinator: no time credited")
    if status == OrderStatus.CANCELLED:
        return _("✖️ Cancelled")
    if uncovered:
        return _("⌛ Expired: the cost was not covered in time")
    return _("⌛ Expired: nobody was free in time")


def order_when(view: OrderView) -> str:
    return order_when_text(view.order, view.branch.time_zone)


def short_when(view: OrderView) -> str:
    return order_when_text(view.order, view.branch.time_zone, short=True)


def details_text(view: OrderView, viewer: Member) -> str:
    order = view.order
    lines = [f"<b>{escape(category_text(view.category))}</b>", status_text(view)]
    if view.by_proxy:
        if viewer.id == order.beneficiary_id:
            lines.append(_("Asked for you by {name}").format(name=escape(view.requester.name)))
        else:
            lines.append(_("For {name}").format(name=escape(view.beneficiary.name)))
    lines += [
        description_text(order.description, order.voice_file_id),
        "🕒 " + order_when(view),
        place_text(order.place_kind, order.address, show_address=view.shows_address),
        "⏳ " + _("About {duration}").format(duration=duration_text(order.estimated_minutes)),
    ]
    return "\n".join(lines)


def details_buttons(view: OrderView) -> Keyboard:
    buttons = []
    if view.can_cancel:
        buttons.append((str(labels.CANCEL_ORDER), OrderCancel(order_id=view.order.id).pack()))
    buttons.append((str(labels.ALL_MY_ORDERS), OrderOpen(order_id=0).pack()))
    return one_per_row(buttons)


def reason_buttons(order_id: int) -> Keyboard:
    cancel = [
        (str(label), OrderCancel(order_id=order_id, reason=reason).pack())
        for reason, label in REASON_LABELS.items()
    ]
    return one_per_row(
        [
            *cancel,
            (
                str(labels.REASON_TYPE),
                OrderCancel(order_id=order_id, reason=CancelWhy.TYPED).pack(),
            ),
            (str(labels.KEEP_ORDER), OrderOpen(order_id=order_id).pack()),
        ]
    )


def orders_list_view(views: list[OrderView], member: Member) -> tuple[str, Keyboard | None]:
    """The member's requests, one button each; no buttons when there are none. A volunteer
    also finds here the way to the requests they are helping with."""
    helping = [helping_views.helping_with_button()] if member.is_volunteer else []
    if not views:
        text = _("You have no requests yet. Tap “🙋 Ask for help” to make one.")
        return text, one_per_row(helping) if helping else None
    lines = [_("<b>Your requests</b> (tap one to see it or cancel it):"), ""]
    buttons = []
    for number, view in enumerate(views, start=1):
        who = ""
        if view.by_proxy and member.id != view.order.beneficiary_id:
            who = " · " + escape(view.beneficiary.name)
        lines.append(
            f"{number}. {escape(category_text(view.category))}{who} · {short_when(view)}\n"
            f"    {status_text(view)}"
        )
        buttons.append(
            (
                f"{number}. {category_text(view.category)} · {short_when(view)}",
                OrderOpen(order_id=view.order.id).pack(),
            )
        )
    return "\n".join(lines), one_per_row(buttons + helping)
