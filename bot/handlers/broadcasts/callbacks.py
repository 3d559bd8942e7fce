"""Typed inline-button payloads of broadcasts: the coordinator steering one, a member's
"I'll come", and the announcements setting.

aiogram rejects data that does not parse into these.
"""

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class Steer(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"


class SteerBroadcast(CallbackData, prefix="bcs"):
    """A button of the progress message (or of a scheduled broadcast's confirmation)."""

    action: Steer
    broadcast_id: int


class ComeToEvent(CallbackData, prefix="bcc"):
    """A member's "I'll come" under a broadcast."""

    broadcast_id: int


class Announcements(CallbackData, prefix="bca"):
    """The member's one-tap setting: coordinators' announcements on or off."""

    wanted: bool


class Tool(StrEnum):
    COMPOSE = "compose"
    HISTORY = "history"


class CoordinatorTool(CallbackData, prefix="bct"):
    """A coordinator's broadcast tools under "🤝 Volunteering": write one, or the history."""

    action: Tool
