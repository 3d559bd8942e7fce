"""How family links read: the overview with a button to unlink each relative, the question
before unlinking, and the question a member answers when a relative has entered their code.
Plain screens, as `bot.kit.screens` holds them."""

from __future__ import annotations

from html import escape

from aiogram.utils.i18n import gettext as _

from bot.handlers.family.callbacks import Act, FamilyAction, FamilyAnswer
from bot.kit import labels
from bot.kit.screens import Keyboard, Screen, inline, one_per_row
from core import family
from core.models import FamilyLinkStatus


def _action(text: str, action: Act, link_id: int = 0) -> tuple[str, str]:
    return text, FamilyAction(action=action, link_id=link_id).pack()


def overview(links: list[family.Link]) -> Screen:
    lines = [
        _("<b>👨‍👩‍👧 Family</b>"),
        _(
            "A relative you link with can ask for help for you, and hears how your "
            "requests go. Either of you can unlink at any time."
        ),
        "",
    ]
    buttons = []
    for link in links:
        name = escape(link.other.name)
        if link.status == FamilyLinkStatus.PENDING:
            lines.append(_("• {name}: waiting for a yes").format(name=name))
        elif link.i_am_relative:
            lines.append(_("• You can ask for help for {name}").format(name=name))
        else:
            lines.append(_("• {name} can ask for help for you").format(name=name))
        unlink = str(labels.FAMILY_UNLINK).format(name=link.other.name)
        buttons.append(_action(unlink, Act.UNLINK, link.id))
    if not links:
        lines.append(_("You are not linked with anyone yet."))
    buttons.append(_action(str(labels.FAMILY_GIVE_CODE), Act.CODE))
    buttons.append(_action(str(labels.FAMILY_HAVE_CODE), Act.ENTER))
    return Screen("\n".join(lines), one_per_row(buttons))


def unlink_question(link: family.Link) -> Screen:
    text = _("Unlink {name}? You can link again later with a new code.").format(
        name=escape(link.other.name)
    )
    buttons = [
        _action(str(labels.FAMILY_UNLINK_YES), Act.UNLINK_YES, link.id),
        _action(str(labels.BACK), Act.MENU),
    ]
    return Screen(text, one_per_row(buttons))


def answer_buttons(link_id: int) -> Keyboard:
    """Yes or no to the relative who entered the member's code."""
    return inline(
        [
            [
                (str(labels.FAMILY_YES), FamilyAnswer(link_id=link_id, accept=True).pack()),
                (str(labels.FAMILY_NO), FamilyAnswer(link_id=link_id, accept=False).pack()),
            ]
        ]
    )
