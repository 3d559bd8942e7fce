"""The volunteer profile, reached from the main menu's volunteer button: what I can help
with, when I am free, how far I will go, quiet hours, languages I speak, pausing nudges;
and the coordinator's list of volunteers to verify."""

from __future__ import annotations

from datetime import time

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from babel import Locale
from babel.dates import get_day_names
from babel.lists import format_list
from sqlalchemy.ext.asyncio import AsyncSession

from bot import volunteer_ui as ui
from bot.callbacks import CoordStep
from bot.conversations.request_help import clock
from bot.coordinator_ui import ALL_WAITING
from bot.volunteer_ui import ProfileStep
from core import catalog, volunteers
from core.errors import DomainError, InvalidInput
from core.languages import LANGUAGES, NATIVE_NAMES
from core.matching import PARTS
from core.models import Member, VolunteerProfile
from core.schedule import DAY_PARTS

router = Router(name="volunteer_profile")

SKILLS_SHOWN = 3
TICK, EMPTY = "✅", "⬜"
EVERY_DAY = tuple(range(volunteers.DAYS))


async def _edit(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None) -> None:
    if query.message is None:
        return
    try:
        await query.message.edit_text(text, reply_markup=markup)
    except TelegramBadRequest as error:
        if "not modified" in error.message:
            return  # a tap that changed nothing, such as the distance already chosen
        await query.message.answer(text, reply_markup=markup)


# ---------------------------------------------------------------- how the profile reads


def _listed(items: list[str]) -> str:
    """Items joined as the language lists them ("a, b", "a、b"), without a closing "and"."""
    middle = Locale.parse(ui.language()).list_patterns["standard"]["middle"]
    text = items[0] if items else ""
    for item in items[1:]:
        text = middle.format(text, item)
    return text


def _days_text(runs: tuple[tuple[int, int], ...]) -> str:
    names = get_day_names("abbreviated", locale=ui.language())
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
                [str(ui.PART_TIMES[PARTS[p]]) for p in group.parts], locale=ui.language()
            )
        if group.runs == ((0, volunteers.DAYS - 1),):
            phrases.append(_("Every day, {parts}").format(parts=parts))
        else:
            phrases.append(_("{days} {parts}").format(days=_days_text(group.runs), parts=parts))
    return " · ".join(phrases)


async def _skills_text(session: AsyncSession, row: VolunteerProfile) -> str:
    mine = volunteers.skills_of(row)
    language = ui.language()
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


async def profile_text(session: AsyncSession, row: VolunteerProfile, member: Member) -> str:
    return "\n".join(
        [
            _("🤝 <b>Volunteering</b>"),
            _("✅ Verified")
            if member.verified
            else _("🕓 Waiting for a coordinator to verify you"),
            _("⏸ Nudges paused") if row.paused else _("🔔 Nudges on"),
            "🧰 " + await _skills_text(session, row),
            "📅 " + availability_text(row.availability),
            "🗣 " + _languages_text(row, member),
            _("📏 Up to {distance}").format(distance=ui.distance_text(row.max_distance_m)),
            "🌙 " + _quiet_text(row),
        ]
    )


def _profile_buttons(row: VolunteerProfile, member: Member) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    buttons.button(text=str(ui.SKILLS), callback_data=ProfileStep(action="skills"))
    buttons.button(text=str(ui.TIMES), callback_data=ProfileStep(action="times"))
    buttons.button(text=str(ui.DISTANCE), callback_data=ProfileStep(action="distance"))
    buttons.button(text=str(ui.QUIET), callback_data=ProfileStep(action="quiet"))
    buttons.button(text=str(ui.LANGUAGES), callback_data=ProfileStep(action="langs"))
    if row.paused:
        buttons.button(text=str(ui.RESUME), callback_data=ProfileStep(action="resume"))
    else:
        buttons.button(text=str(ui.PAUSE), callback_data=ProfileStep(action="pause"))
    if member.is_coordinator:
        _coordinator_buttons(buttons)
    buttons.adjust(1)
    return buttons.as_markup()


def _coordinator_buttons(buttons: InlineKeyboardBuilder) -> None:
    buttons.button(text=str(ui.TO_VERIFY), callback_data=ProfileStep(action="verify_list"))
    buttons.button(text=str(ALL_WAITING), callback_data=CoordStep(action="list"))


def _back(buttons: InlineKeyboardBuilder) -> None:
    """Back to the profile, on a row of its own below an editor's buttons."""
    buttons.row(
        InlineKeyboardButton(
            text=str(ui.BACK_TO_PROFILE), callback_data=ProfileStep(action="view").pack()
        )
    )


# ---------------------------------------------------------------- the editors


async def _skills_screen(
    session: AsyncSession, row: VolunteerProfile
) -> tuple[str, InlineKeyboardMarkup]:
    mine = volunteers.skills_of(row)
    language = ui.language()
    buttons = InlineKeyboardBuilder()
    for category in await catalog.categories(session):
        mark = "✅ " if category.id in mine else ""
        buttons.button(
            text=mark + f"{category.emoji} {catalog.localized(category.names, language)}",
            callback_data=ProfileStep(action="skill", value=category.id),
        )
    buttons.adjust(2)
    _back(buttons)
    return _("What can you help with? Tap to choose."), buttons.as_markup()


def _times_screen(row: VolunteerProfile) -> tuple[str, InlineKeyboardMarkup]:
    """A week × parts-of-the-day grid. A box ticks one slot; a day, a heading or "All"
    clears the whole row, column or week (or ticks it all when nothing in it is ticked)."""
    buttons = InlineKeyboardBuilder()
    buttons.button(text=str(ui.WHOLE_WEEK), callback_data=ProfileStep(action="week"))
    for part in PARTS:
        buttons.button(
            text=str(ui.PART_HEADINGS[part]), callback_data=ProfileStep(action="part", text=part)
        )
    days = get_day_names("abbreviated", locale=ui.language())
    for day in EVERY_DAY:
        buttons.button(text=days[day], callback_data=ProfileStep(action="day", value=day))
        for index, part in enumerate(PARTS):
            buttons.button(
                text=TICK if volunteers.available(row, day, index) else EMPTY,
                callback_data=ProfileStep(action="slot", value=day, text=part),
            )
    buttons.adjust(1 + len(PARTS))
    _back(buttons)
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
    return text, buttons.as_markup()


def _distance_screen(row: VolunteerProfile) -> tuple[str, InlineKeyboardMarkup]:
    buttons = InlineKeyboardBuilder()
    for metres in volunteers.DISTANCES_M:
        mark = "✅ " if metres == row.max_distance_m else ""
        buttons.button(
            text=mark + ui.distance_text(metres),
            callback_data=ProfileStep(action="dist", value=metres),
        )
    buttons.adjust(2)
    _back(buttons)
    return _("How far will you go to help?"), buttons.as_markup()


def _quiet_screen(row: VolunteerProfile) -> tuple[str, InlineKeyboardMarkup]:
    chosen = volunteers.quiet_choice(row)
    buttons = InlineKeyboardBuilder()
    for name, label in ui.QUIET_NAMES.items():
        mark = "✅ " if name == chosen else ""
        buttons.button(text=mark + str(label), callback_data=ProfileStep(action="q", text=name))
    buttons.adjust(1)
    _back(buttons)
    return _("When should I not send you requests?"), buttons.as_markup()


def _languages_screen(row: VolunteerProfile) -> tuple[str, InlineKeyboardMarkup]:
    spoken = row.languages or []
    buttons = InlineKeyboardBuilder()
    for code in LANGUAGES:
        mark = "✅ " if code in spoken else ""
        buttons.button(
            text=mark + NATIVE_NAMES[code], callback_data=ProfileStep(action="lang", text=code)
        )
    buttons.adjust(1)
    _back(buttons)
    return _("Which languages do you speak? Tap to tick or untick."), buttons.as_markup()


async def _verify_screen(session: AsyncSession, member: Member) -> tuple[str, InlineKeyboardMarkup]:
    waiting = await volunteers.awaiting_verification(session, member.id)
    buttons = InlineKeyboardBuilder()
    for person in waiting:
        buttons.button(
            text="✅ " + person.name,
            callback_data=ProfileStep(action="verify", value=person.member_id),
        )
    buttons.adjust(1)
    _back(buttons)
    text = (
        _("Tap a volunteer to verify them.") if waiting else _("Nobody is waiting to be verified.")
    )
    return text, buttons.as_markup()


# Which screen each button shows, after the change it stands for (if any).
SCREENS = {
    "view": "view",
    "pause": "view",
    "resume": "view",
    "skills": "skills",
    "skill": "skills",
    "times": "times",
    "slot": "times",
    "day": "times",
    "part": "times",
    "week": "times",
    "distance": "distance",
    "dist": "distance",
    "quiet": "quiet",
    "q": "quiet",
    "langs": "langs",
    "lang": "langs",
    "verify_list": "verify",
    "verify": "verify",
}


async def _change(session: AsyncSession, member: Member, step: ProfileStep) -> None:
    """The one change a button stands for; buttons that only show a screen change nothing."""
    action, value, text = step.action, step.value, step.text
    if action == "skill":
        await volunteers.toggle_skill(session, member.id, value)
    elif action == "slot":
        await volunteers.toggle_slots(session, member.id, [value], [text])
    elif action == "day":
        await volunteers.toggle_slots(session, member.id, [value], PARTS)
    elif action == "part":
        await volunteers.toggle_slots(session, member.id, EVERY_DAY, [text])
    elif action == "week":
        await volunteers.toggle_slots(session, member.id, EVERY_DAY, PARTS)
    elif action == "dist":
        await volunteers.set_distance(session, member.id, value)
    elif action == "q":
        await volunteers.set_quiet(session, member.id, text)
    elif action == "lang":
        await volunteers.toggle_language(session, member.id, text)
    elif action in ("pause", "resume"):
        await volunteers.set_paused(session, member.id, action == "pause")
    elif action == "verify":
        await volunteers.verify(session, member.id, value)


async def _screen(
    session: AsyncSession, member: Member, screen: str
) -> tuple[str, InlineKeyboardMarkup]:
    if screen == "verify":
        return await _verify_screen(session, member)
    row = await volunteers.profile(session, member.id)
    if screen == "skills":
        return await _skills_screen(session, row)
    if screen == "times":
        return _times_screen(row)
    if screen == "distance":
        return _distance_screen(row)
    if screen == "quiet":
        return _quiet_screen(row)
    if screen == "langs":
        return _languages_screen(row)
    return await profile_text(session, row, member), _profile_buttons(row, member)


@router.message(F.text == ui.MENU_VOLUNTEER)
async def on_menu(message: Message, session: AsyncSession, member: Member | None) -> None:
    if member is None:
        return
    try:
        text, markup = await _screen(session, member, "view")
    except volunteers.NotAVolunteer as error:
        if not member.is_coordinator:
            await message.answer(ui.error_text(error))
            return
        # A coordinator who does not volunteer still reaches their tools from the menu.
        buttons = InlineKeyboardBuilder()
        _coordinator_buttons(buttons)
        buttons.adjust(1)
        text, markup = _("🧭 Your coordinator tools:"), buttons.as_markup()
    except DomainError as error:
        await message.answer(ui.error_text(error))
        return
    await message.answer(text, reply_markup=markup)


@router.callback_query(ProfileStep.filter())
async def on_profile(
    query: CallbackQuery, callback_data: ProfileStep, session: AsyncSession, member: Member | None
) -> None:
    if member is None:
        await query.answer(_("Sorry, this button is not for you."), show_alert=True)
        return
    try:
        screen = SCREENS.get(callback_data.action)
        if screen is None:
            raise InvalidInput()
        async with session.begin_nested():
            await _change(session, member, callback_data)
            text, markup = await _screen(session, member, screen)
    except DomainError as error:
        await query.answer(ui.error_text(error), show_alert=True)
        return
    await query.answer(_("Verified.") if callback_data.action == "verify" else None)
    await _edit(query, text, markup)
