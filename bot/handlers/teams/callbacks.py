"""Typed inline-button payloads of volunteer teams.

aiogram rejects data that does not parse into these.
"""

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class TeamAct(StrEnum):
    LIST = "list"  # my teams
    VIEW = "view"  # one team: members, availability, hours
    WRITE = "write"  # the leader writes to the team; the text is asked next
    NEW = "new"  # a coordinator forms a team (the wizard bot.conversations.new_team)


class TeamAction(CallbackData, prefix="tm"):
    action: TeamAct
    team_id: int = 0
