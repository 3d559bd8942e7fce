"""How the passbook reads in chat: balance, entries and the help the pool paid for, page by
page, with its buttons; and the screens of giving hours to family. Plain screens, as
`bot.kit.screens` holds them."""

from __future__ import annotations

from html import escape

from aiogram.utils.i18n import gettext as _

from bot.handlers.passbook.callbacks import Gift, GiftStep, PassbookExport, PassbookNav
from bot.kit import labels
from bot.kit.formatters import language as current_language
from bot.kit.screens import Keyboard, Screen, inline, one_per_row
from core import statements
from core.catalog import localized
from core.ledger import InsufficientCredit
from core.models import Member

GIFT_AMOUNTS = ((30, labels.HALF_HOUR), (60, labels.ONE_HOUR), (120, labels.TWO_HOURS))


def gettext(message: str) -> str:
    return _(message)


def hours(minutes: int) -> str:
    return statements.duration(minutes, gettext)


# ---------------------------------------------------------------- the passbook in chat


def pool_help_lines(view: statements.PassbookView) -> list[str]:
    """The help the community pool paid for: who helped, how long; the balance unchanged."""
    if not view.pool_help:
        return []
    language = current_language()
    lines = ["", _("🤝 <b>Help paid by the community pool</b>")]
    for help_ in view.pool_help:
        date = statements.entry_date(help_, view.summary.time_zone, language)
        what = localized(help_.category, language) if help_.category else _("Help received")
        lines.append(f"<b>{escape(date)}</b> · {escape(what)}")
        lines.append(
            "    "
            + _("{duration} from {name}, paid by the community pool").format(
                duration=hours(help_.minutes),
                name=escape(statements.pool_help_whom(help_, gettext)),
            )
        )
    lines.append(_("Your balance does not change for these."))
    more = view.pool_help_total - len(view.pool_help)
    if more > 0:
        lines.append(_("{count} more are in the PDF and CSV.").format(count=more))
    return lines


def passbook_text(view: statements.PassbookView) -> str:
    summary = view.summary
    lines = [_("📒 <b>Your passbook</b>"), ""]
    if not summary.has_account and not view.lines:
        lines += [
            _("You have 0 hours for now."),
            "",
            _(
                "You earn hours by helping a neighbour: every hour you help goes into your "
                "passbook, to use when you need a hand yourself. Tap “🙋 Ask for help” when "
                "you need it, or tell us you would like to help."
            ),
        ]
        return "\n".join(lines + pool_help_lines(view))
    lines.append(_("Balance: <b>{hours}</b>").format(hours=hours(summary.balance)))
    if summary.held:
        lines.append(
            _("Set aside for accepted requests: {hours}").format(hours=hours(summary.held))
        )
    lines.append(
        _("This year: earned {earned}, spent {spent}").format(
            earned=hours(summary.earned_this_year), spent=hours(summary.spent_this_year)
        )
    )
    if not view.lines:
        if not view.pool_help:
            lines += ["", _("No entries yet.")]
        return "\n".join(lines + pool_help_lines(view))
    lines.append("")
    language = current_language()
    for line in view.lines:
        date = statements.entry_date(line, summary.time_zone, language)
        what = statements.what_for(line, language, gettext)
        whom = statements.with_whom(line, gettext)
        lines.append(f"<b>{escape(date)}</b> · {escape(what)}")
        lines.append(
            "    "
            + _("{amount} with {whom} → {balance}").format(
                amount=statements.signed_duration(line.amount, gettext),
                whom=escape(whom),
                balance=hours(line.balance_after),
            )
        )
    lines += pool_help_lines(view)
    if view.page or view.has_more:
        lines += ["", _("Page {number}").format(number=view.page + 1)]
    return "\n".join(lines)


def passbook_buttons(view: statements.PassbookView) -> Keyboard:
    nav = []
    if view.page > 0:
        newer = PassbookNav(page=view.page - 1, anchor=view.anchor)
        nav.append((str(labels.PASSBOOK_NEWER), newer.pack()))
    if view.has_more:
        older = PassbookNav(page=view.page + 1, anchor=view.anchor)
        nav.append((str(labels.PASSBOOK_OLDER), older.pack()))
    exports = [
        (str(labels.EXPORT_PDF), PassbookExport(fmt="pdf").pack()),
        (str(labels.EXPORT_CSV), PassbookExport(fmt="csv").pack()),
    ]
    give = (str(labels.GIVE_HOURS), GiftStep(action=Gift.START).pack())
    return inline([*([nav] if nav else []), exports, [give]])


# ---------------------------------------------------------------- hours to family


def _gift(text: str, action: Gift, to: int = 0, minutes: int = 0) -> tuple[str, str]:
    return text, GiftStep(action=action, to=to, minutes=minutes).pack()


def relatives_screen(relatives: list[Member]) -> Screen:
    buttons = [_gift("👤 " + relative.name, Gift.TO, to=relative.id) for relative in relatives]
    cancel = _gift(str(labels.CANCEL), Gift.NO)
    return Screen(_("Who would you like to give hours to?"), one_per_row([*buttons, cancel]))


def amount_buttons(relative_id: int) -> Keyboard:
    amounts = [
        _gift(str(label), Gift.AMOUNT, to=relative_id, minutes=minutes)
        for minutes, label in GIFT_AMOUNTS
    ]
    return inline(
        [
            amounts,
            [_gift(str(labels.GIFT_OTHER_AMOUNT), Gift.TYPED, to=relative_id)],
            [_gift(str(labels.CANCEL), Gift.NO)],
        ]
    )


def confirmation(relative: Member, minutes: int) -> Screen:
    buttons = [
        _gift(str(labels.GIFT_CONFIRM), Gift.OK, to=relative.id, minutes=minutes),
        _gift(str(labels.CANCEL), Gift.NO),
    ]
    text = _("Give <b>{hours}</b> to {name}?").format(
        hours=hours(minutes), name=escape(relative.name)
    )
    return Screen(text, inline([buttons]))


def not_enough(error: InsufficientCredit) -> str:
    available = int(error.params.get("available", 0))
    needed = int(error.params.get("needed", 0))
    return _(
        "Sorry, you have {available} to give, and this gift needs {needed}. "
        "Helping a neighbour earns you more hours."
    ).format(available=hours(available), needed=hours(needed))
