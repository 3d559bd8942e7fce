"""How the volunteer profile reads: the summary with its buttons, the editors (skills, the
week's free times, distance, quiet hours, languages), the coordinator's list of volunteers
to verify, and the invitation to volunteer; plain screens, as `bot.kit.screens` holds them."""

from __future__ import annotations

from datetime import time
from html import escape

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.keyboard import InlineKeyboardBuilder
from babel import Locale
from babel.dates import get_day_names
from babel.lists import format_list
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.broadcasts import views as broadcast_views
from bot.handlers.coordination.callbacks import CoordStep, Find
from bot.handlers.coordination.views import ALL_WAITING
from bot.handlers.helping import views as ui
from bot.handlers.needs.callbacks import NeedAct, NeedAction
from bot.handlers.stats.callbacks import StatsAct, StatsAction
from bot.handlers.teams.callbacks import TeamAct, TeamAction
from bot.handlers.volunteer_profile.callbacks import Profile, ProfileStep
from bot.kit.formatters import distance_text
from bot.kit.formatters import language as current_language
from bot.kit.screens import Screen, grid, inline, one_per_row
from bot.kit.telegram import plain_buttons
from bot.kit.times import clock
from core import catalog, teams, volunteers
from core.languages import LANGUAGES, NATIVE_NAMES
from core.matching import PARTS
from core.models import Member, VolunteerProfile
from core.schedule import DAY_PARTS

MY_TEAMS = __("👥 My teams")
WEEK_FIGURES = __("📊 This week's figures")
NEEDS_SURVEY = __("📝 Needs residents told us of")
BECOME_VOLUNTEER = __("🙋 Become a volunteer")
SKILLS_SHOWN = 3
TICK, EMPTY = "✅", "⬜"
EVERY_DAY = tuple(range(volunteers.DAYS))
Buttons = list[tuple[str, str]]


# ---------------------------------------------------------------- how the profile reads


def _listed(items: list[str]) -> str:
    """Items joined as the language lists them ("a, b", "a、b"), without a closing "and"."""
    middle = Locale.parse(current_language()).list_patterns["standard"]["middle"]
    text = items[0] if items else ""
    for item in items[1:]:
        text = middle.format(text, item)
    return text


def _days_text(runs: tuple[tuple[int, int], ...]) -> str:
    names = get_day_names("abbreviated", locale=current_language())
    shown: list[str] = []
    for first, last in runs:
        if last - first >= 2:
            shown.append(_("{first}–{last}").format(first=names[first], last=names[last]))
        else:
            shown.extend(names[day] for day in range(first, last + 1))
    return _listed(shown)


def availability_text(availability: int) -> str:
    """When the volunteer is free, as people say it: "Mon–Fri mornings · Sat, Sun all day"."""
    if availability == volunteers.EVERY_SLOT:
        return _("Any day, any time")
    groups = volunteers.free_times(availability)
    if not groups:
        return _("No free times ticked, so I will not send you requests")
    phrases = []
    for group in groups:
        if len(group.parts) == len(PARTS):
            parts = _("all day")
        else:
            parts = format_list(
                [str(ui.PART_TIMES[PARTS[p]]) for p in group.parts], locale=current_language()
            )
        if group.runs == ((0, volunteers.DAYS - 1),):
            phrases.append(_("Every day, {parts}").format(parts=parts))
        else:
            phrases.append(_("{days} {parts}").format(days=_days_text(group.runs), parts=parts))
    return " · ".join(phrases)


async def _skills_text(session: AsyncSession, row: VolunteerProfile) -> str:
    mine = volunteers.skills_of(row)
    language = current_language()
    names = [
        catalog.localized(category.names, language)
        for category in await catalog.categories(session)
        if category.id in mine
    ]
    if not names:
        return _("Nothing chosen yet: tap “{button}”").format(button=str(ui.SKILLS))
    if len(names) <= SKILLS_SHOWN:
        return _listed(names)
    return _("{skills} and {count} more").format(
        skills=_listed(names[:SKILLS_SHOWN]), count=len(names) - SKILLS_SHOWN
    )


def _languages_text(row: VolunteerProfile, member: Member) -> str:
    spoken = row.languages or [member.language]
    return _listed([NATIVE_NAMES[code] for code in LANGUAGES if code in spoken])


def _quiet_text(row: VolunteerProfile) -> str:
    choice = volunteers.quiet_choice(row)
    if choice == "none":
        return str(ui.QUIET_NAMES["none"])
    return _("Quiet hours: {hours}").format(hours=str(ui.QUIET_NAMES[choice]))


def _nudges_text(row: VolunteerProfile, member: Member) -> str:
    if row.paused:
        return _("⏸ Nudges paused")
    if not member.verified:
        return _("🔕 Nudges start once a coordinator has verified you")
    return _("🔔 Nudges on")


async def profile_text(session: AsyncSession, row: VolunteerProfile, member: Member) -> str:
    lines = [
        _("🤝 <b>Volunteering</b>"),
        _("✅ Verified") if member.verified else _("🕓 Waiting for a coordinator to verify you"),
        _nudges_text(row, member),
        "🧰 " + await _skills_text(session, row),
        "📅 " + availability_text(row.availability),
        "🗣 " + _languages_text(row, member),
        _("📏 Up to {distance}").format(distance=distance_text(row.max_distance_m)),
        "🌙 " + _quiet_text(row),
    ]
    in_teams = [
        catalog.localized(team.names, current_language())
        for team in await teams.teams_of(session, member.id)
    ]
    if in_teams:
        lines.append(_("👥 Teams: {teams}").format(teams=escape(_listed(in_teams))))
    return "\n".join(lines)


def _button(text: str, action: Profile, value: int = 0, part: str = "") -> tuple[str, str]:
    return text, ProfileStep(action=action, value=value, text=part).pack()


def _coordinator_buttons() -> Buttons:
    tools = InlineKeyboardBuilder()
    broadcast_views.add_coordinator_tools(tools)
    return [
        _button(str(ui.TO_VERIFY), Profile.VERIFY_LIST),
        (str(ALL_WAITING), CoordStep(action=Find.LIST).pack()),
        (str(WEEK_FIGURES), StatsAction(action=StatsAct.WEEK).pack()),
        (str(NEEDS_SURVEY), NeedAction(action=NeedAct.OVERVIEW).pack()),
        *plain_buttons(tools),
    ]


async def profile_screen(session: AsyncSession, row: VolunteerProfile, member: Member) -> Screen:
    buttons = [
        ui.helping_with_button(),
        _button(str(ui.SKILLS), Profile.SKILLS),
        _button(str(ui.TIMES), Profile.TIMES),
        _button(str(ui.DISTANCE), Profile.DISTANCE),
        _button(str(ui.QUIET), Profile.QUIET),
        _button(str(ui.LANGUAGES), Profile.LANGS),
        _button(str(ui.RESUME), Profile.RESUME)
        if row.paused
        else _button(str(ui.PAUSE), Profile.PAUSE),
        (str(MY_TEAMS), TeamAction(action=TeamAct.LIST).pack()),
    ]
    if member.is_coordinator:
        buttons += _coordinator_buttons()
    return Screen(await profile_text(session, row, member), one_per_row(buttons))


def _with_back(text: str, rows: list) -> Screen:
    """An editor's screen: its buttons, then Back to the profile on a row of its own."""
    return Screen(text, inline([*rows, [_button(str(ui.BACK_TO_PROFILE), Profile.VIEW)]]))


# ---------------------------------------------------------------- the editors


async def skills_screen(
    session: AsyncSession, row: VolunteerProfile, welcome: bool = False
) -> Screen:
    mine = volunteers.skills_of(row)
    language = current_language()
    buttons = [
        _button(
            ("✅ " if category.id in mine else "")
            + f"{category.emoji} {catalog.localized(category.names, language)}",
            Profile.SKILL,
            value=category.id,
        )
        for category in await catalog.categories(session)
    ]
    question = _("What can you help with? Tap to choose.")
    if welcome:
        question = "\n\n".join(
            [
                _(
                    "🙌 Thank you for volunteering! A coordinator will verify you soon, "
                    "and I will tell you when."
                ),
                question,
            ]
        )
    return _with_back(question, grid(buttons, 2))


def times_screen(row: VolunteerProfile) -> Screen:
    """A week × parts-of-the-day grid. A box ticks one slot; a day, a heading or "All"
    clears the whole row, column or week (or ticks it all when nothing in it is ticked)."""
    headings = [_button(str(ui.WHOLE_WEEK), Profile.WEEK)] + [
        _button(str(ui.PART_HEADINGS[part]), Profile.PART, part=part) for part in PARTS
    ]
    days = get_day_names("abbreviated", locale=current_language())
    week = [
        [_button(days[day], Profile.DAY, value=day)]
        + [
            _button(
                TICK if volunteers.available(row, day, index) else EMPTY,
                Profile.SLOT,
                value=day,
                part=part,
            )
            for index, part in enumerate(PARTS)
        ]
        for day in EVERY_DAY
    ]
    hours = {
        "morning_end": clock(time(DAY_PARTS["morning"][1]), in_a_part=True),
        "afternoon_end": clock(time(DAY_PARTS["afternoon"][1]), in_a_part=True),
    }
    text = "\n".join(
        [
            _("📅 <b>When are you free?</b>"),
            _(
                "Morning is until {morning_end}, afternoon until {afternoon_end}, "
                "evening after that."
            ).format(**hours),
            _("Tap a box to tick or untick it. Tap a day or a heading to change them all at once."),
        ]
    )
    return _with_back(text, [headings, *week])


def distance_screen(row: VolunteerProfile) -> Screen:
    buttons = [
        _button(
            ("✅ " if metres == row.max_distance_m else "") + distance_text(metres),
            Profile.DIST,
            value=metres,
        )
        for metres in volunteers.DISTANCES_M
    ]
    return _with_back(_("How far will you go to help?"), grid(buttons, 2))


def quiet_screen(row: VolunteerProfile) -> Screen:
    chosen = volunteers.quiet_choice(row)
    buttons = [
        [_button(("✅ " if name == chosen else "") + str(label), Profile.Q, part=name)]
        for name, label in ui.QUIET_NAMES.items()
    ]
    return _with_back(_("When should I not send you requests?"), buttons)


def languages_screen(row: VolunteerProfile) -> Screen:
    spoken = row.languages or []
    buttons = [
        [_button(("✅ " if code in spoken else "") + NATIVE_NAMES[code], Profile.LANG, part=code)]
        for code in LANGUAGES
    ]
    return _with_back(_("Which languages do you speak? Tap to tick or untick."), buttons)


async def verify_screen(session: AsyncSession, member: Member) -> Screen:
    waiting = await volunteers.awaiting_verification(session, member.id)
    buttons = [
        [
            _button(
                _("☑️ Verify {name}").format(name=person.name),
                Profile.VERIFY,
                value=person.member_id,
            )
        ]
        for person in waiting
    ]
    text = (
        _("Tap a volunteer to verify them.") if waiting else _("Nobody is waiting to be verified.")
    )
    return _with_back(text, buttons)


def invitation(member: Member) -> Screen:
    """For a member who does not volunteer: the way to start, and a coordinator's tools."""
    buttons = [_button(str(BECOME_VOLUNTEER), Profile.BECOME)]
    lines = [
        _("🤝 <b>Volunteering</b>"),
        _(
            "Neighbours here help each other: a hand with shopping, a lift to the doctor, "
            "a chat. Every hour you give is an hour of credit for you."
        ),
        _("Would you like to volunteer too?"),
    ]
    if member.is_coordinator:
        # A coordinator who does not volunteer still reaches their tools from the menu.
        buttons += _coordinator_buttons()
        lines.append(_("🧭 Your coordinator tools are below."))
    return Screen("\n".join(lines), one_per_row(buttons))
