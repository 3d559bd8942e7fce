"""Typed inline-button payloads of a volunteer's profile.

aiogram rejects data that does not parse into these.
"""

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class Profile(StrEnum):
    """A profile button: a screen to show, or the change it stands for and then that screen.
    `value` and `text` carry what the change needs: a category, a day and a part of the day,
    metres, a quiet-hours choice, a language, the volunteer to verify."""

    VIEW = "view"
    PAUSE = "pause"
    RESUME = "resume"
    SKILLS = "skills"
    SKILL = "skill"
    TIMES = "times"
    SLOT = "slot"
    DAY = "day"
    PART = "part"
    WEEK = "week"
    DISTANCE = "distance"
    DIST = "dist"
    QUIET = "quiet"
    Q = "q"
    LANGS = "langs"
    LANG = "lang"
    VERIFY_LIST = "verify_list"
    VERIFY = "verify"
    BECOME = "become"


class ProfileStep(CallbackData, prefix="vol"):
    action: Profile
    value: int = 0
    text: str = ""
