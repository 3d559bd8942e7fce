"""What a member sees of their teams, and a leader of their team."""

from __future__ import annotations

from html import escape

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.handlers.teams.callbacks import TeamAct, TeamAction
from bot.handlers.volunteer_profile.handlers import availability_text
from bot.kit.formatters import duration_text, language
from core.catalog import localized
from core.models import Member, Team

WRITE = __("✉️ Write to the team")
MY_TEAMS = __("⬅️ My teams")
NEW_TEAM = __("➕ Form a team")


def team_name(team: Team) -> str:
    return localized(team.names, language())


def list_text(teams: list[Team], *, coordinator: bool = False) -> str:
    if not teams and coordinator:
        return _("👥 The branch has no volunteer teams yet. Tap ➕ to form one.")
    if not teams:
        return _("👥 You are not in a volunteer team yet. A coordinator forms the teams.")
    return _("👥 <b>Your teams</b>\nTap one to see who is in it.")


def list_buttons(teams: list[Team], *, coordinator: bool = False) -> InlineKeyboardMarkup | None:
    """A button per team; for a coordinator, one to form a new team too."""
    if not teams and not coordinator:
        return None
    buttons = InlineKeyboardBuilder()
    for team in teams:
        buttons.button(
            text=team_name(team),
            callback_data=TeamAction(action=TeamAct.VIEW, team_id=team.id or 0),
        )
    if coordinator:
        buttons.button(text=str(NEW_TEAM), callback_data=TeamAction(action=TeamAct.NEW))
    buttons.adjust(1)
    return buttons.as_markup()


def team_text(
    team: Team, people: list[Member], free: dict[int, int], minutes: int, *, leads: bool
) -> str:
    """The team, its members (with when they are free, for whoever leads it) and its hours
    this month."""
    lines = [f"👥 <b>{escape(team_name(team))}</b>"]
    lines.append(_("Helped this month: {duration}").format(duration=duration_text(minutes)))
    lines.append("")
    for person in people:
        mark = "⭐ " if person.id == team.leader_id else "• "
        line = mark + escape(person.name)
        if leads:
            when = free.get(person.id or 0)
            line += " · " + (availability_text(when) if when else _("no free times given"))
        lines.append(line)
    return "\n".join(lines)


def team_buttons(team: Team, *, leads: bool) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    if leads:
        buttons.button(
            text=str(WRITE), callback_data=TeamAction(action=TeamAct.WRITE, team_id=team.id or 0)
        )
    buttons.button(text=str(MY_TEAMS), callback_data=TeamAction(action=TeamAct.LIST))
    buttons.adjust(1)
    return buttons.as_markup()
