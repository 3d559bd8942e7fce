"""What /branch and /joinbranch show: a member's branches, a coordinator's switch, and the
branches one may ask to join."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.handlers.branches.callbacks import Act, BranchStep, NbrAct, Neighbours
from bot.kit import labels
from bot.kit.formatters import language
from core import catalog
from core.memberships import Neighbours as NeighbourView
from core.models import Branch


def branch_name(branch: Branch) -> str:
    return catalog.localized(branch.names, language())


def overview(
    branches: Sequence[Branch],
    home_id: int | None,
    coordinated: Sequence[int],
    working_id: int | None,
    note: str | None = None,
) -> tuple[str, InlineKeyboardMarkup]:
    """The member's branches; for a coordinator of more than one, a button to work in each."""
    lines = [note, ""] if note else []
    lines.append(_("<b>🏘 Your branches</b>"))
    for branch in branches:
        name = escape(branch_name(branch))
        if branch.id == home_id:
            lines.append(_("• {name} (home: your passbook is kept here)").format(name=name))
        else:
            lines.append(f"• {name}")
    lines += ["", _("Your time credit is one balance, whichever branch you help in.")]
    buttons = InlineKeyboardBuilder()
    if len(coordinated) > 1:
        current = next(b for b in branches if b.id == working_id)
        lines += [
            "",
            _("You are working in {name} now. Which branch would you like to work in?").format(
                name=escape(branch_name(current))
            ),
        ]
        for branch in branches:
            if branch.id in coordinated:
                mark = "✅ " if branch.id == working_id else ""
                buttons.button(
                    text=mark + branch_name(branch),
                    callback_data=BranchStep(action=Act.SWITCH, branch_id=branch.id),
                )
    if working_id is not None:
        buttons.button(
            text=_("🤝 Neighbouring branches"),
            callback_data=Neighbours(action=NbrAct.VIEW, branch_id=working_id),
        )
    buttons.button(text=_("➕ Join another branch"), callback_data=BranchStep(action=Act.JOIN_MENU))
    buttons.button(text=str(labels.CANCEL), callback_data=BranchStep(action=Act.CLOSE))
    buttons.adjust(1)
    return "\n".join(lines), buttons.as_markup()


def switched(branch: Branch) -> str:
    return _("✅ You are now working in {name}. /waiting shows its requests.").format(
        name=escape(branch_name(branch))
    )


def joinable(branches: Sequence[Branch]) -> tuple[str, InlineKeyboardMarkup]:
    """The branches one may ask to join, a button each, with Back and Cancel."""
    buttons = InlineKeyboardBuilder()
    for branch in branches:
        buttons.button(
            text=branch_name(branch),
            callback_data=BranchStep(action=Act.JOIN, branch_id=branch.id),
        )
    buttons.button(text=str(labels.BACK), callback_data=BranchStep(action=Act.MENU))
    buttons.button(text=str(labels.CANCEL), callback_data=BranchStep(action=Act.CLOSE))
    buttons.adjust(1)
    if not branches:
        return _("You are already in every branch."), buttons.as_markup()
    text = _(
        "Which branch would you like to join as well? Its coordinators will say yes, "
        "and your passbook stays as it is."
    )
    return text, buttons.as_markup()


def asked(branch: Branch, coordinators: int) -> str:
    name = escape(branch_name(branch))
    if not coordinators:
        return _("{name} has no coordinator yet. Please ask at its office.").format(name=name)
    return _(
        "📨 I have asked the coordinators of {name}. I will tell you when they say yes."
    ).format(name=name)


def approved(member_name: str, branch: Branch) -> str:
    return _("✅ {member} is now in {branch} too.").format(
        member=escape(member_name), branch=escape(branch_name(branch))
    )


def closed() -> str:
    return _("All right.")


def neighbours(view: NeighbourView, note: str | None = None) -> tuple[str, InlineKeyboardMarkup]:
    """The branch's neighbours, a button each to mark or unmark, and whether its requests
    may go to their volunteers."""
    name = escape(branch_name(view.branch))
    lines = [note, ""] if note else []
    lines += [
        _("<b>🤝 Branches next to {name}</b>").format(name=name),
        _("Tap a branch to mark it as next to {name}; tap it again to take the mark off.").format(
            name=name
        ),
        "",
        (
            _(
                "Requests of {name} also go to volunteers of the branches marked ✅ when its "
                "own cannot help."
            )
            if view.branch.match_neighbours
            else _("Requests of {name} go only to its own volunteers.")
        ).format(name=name),
    ]
    buttons = InlineKeyboardBuilder()
    for other in view.others:
        marked = other.id in view.next_to
        buttons.button(
            text=("✅ " if marked else "▫️ ") + branch_name(other),
            callback_data=Neighbours(
                action=NbrAct.SET, branch_id=view.branch.id, other_id=other.id, on=not marked
            ),
        )
    allowed = view.branch.match_neighbours
    buttons.button(
        text=_("🔁 Stop asking the neighbours' volunteers")
        if allowed
        else _("🔁 Ask the neighbours' volunteers too"),
        callback_data=Neighbours(action=NbrAct.MATCH, branch_id=view.branch.id, on=not allowed),
    )
    buttons.button(text=str(labels.BACK), callback_data=BranchStep(action=Act.MENU))
    buttons.button(text=str(labels.CANCEL), callback_data=BranchStep(action=Act.CLOSE))
    buttons.adjust(1)
    return "\n".join(lines), buttons.as_markup()


def saved() -> str:
    return _("✅ Saved.")
