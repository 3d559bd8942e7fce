"""The volunteer profile, reached from the main menu's volunteer button: what I can help
with, when I am free, how far I will go, quiet hours, languages I speak, pausing nudges;
becoming a volunteer for a member who is not one yet; and the coordinator's list of
volunteers to verify, with the "Verify" button of the notice that one is waiting."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.coordination.callbacks import VerifyStep
from bot.handlers.volunteer_profile import views
from bot.handlers.volunteer_profile.callbacks import Profile, ProfileStep
from bot.handlers.volunteer_profile.views import EVERY_DAY
from bot.handlers.volunteer_profile.views import availability_text as availability_text
from bot.kit import labels
from bot.kit.edit import show_in_place, show_screen
from bot.kit.guards import Known
from bot.kit.screens import Screen
from bot.kit.telegram import markup
from core import volunteers
from core.errors import InvalidInput
from core.matching import PARTS
from core.models import Member

router = Router(name="volunteer_profile")


async def _profile_screen(session: AsyncSession, member: Member) -> Screen:
    row = await volunteers.profile(session, member.id)
    return await views.profile_screen(session, row, member)


@router.message(F.text == labels.MENU_VOLUNTEER, Known())
async def on_menu(message: Message, session: AsyncSession, member: Member) -> None:
    try:
        screen = await _profile_screen(session, member)
    except volunteers.NotAVolunteer:
        screen = views.invitation(member)
    await message.answer(screen.text, reply_markup=markup(screen.keyboard))


# ---------------------------------------------------------------- the profile's buttons

PROFILE_PREFIX = ProfileStep.__prefix__ + ":"


@router.callback_query(F.data.startswith(PROFILE_PREFIX), ~Known())
async def on_profile_stranger(query: CallbackQuery) -> None:
    await query.answer(_("Sorry, this button is not for you."), show_alert=True)


async def _show(query: CallbackQuery, screen: Screen, note: str | None = None) -> None:
    await query.answer(note)
    await show_screen(query, screen)


async def _show_skills(query: CallbackQuery, session: AsyncSession, member: Member) -> None:
    await _show(
        query, await views.skills_screen(session, await volunteers.profile(session, member.id))
    )


async def _show_times(query: CallbackQuery, session: AsyncSession, member: Member) -> None:
    await _show(query, views.times_screen(await volunteers.profile(session, member.id)))


@router.callback_query(ProfileStep.filter(F.action == Profile.VIEW), Known())
async def on_view(query: CallbackQuery, session: AsyncSession, member: Member) -> None:
    await _show(query, await _profile_screen(session, member))


@router.callback_query(ProfileStep.filter(F.action == Profile.PAUSE), Known())
async def on_pause(query: CallbackQuery, session: AsyncSession, member: Member) -> None:
    await volunteers.set_paused(session, member.id, True)
    await _show(query, await _profile_screen(session, member))


@router.callback_query(ProfileStep.filter(F.action == Profile.RESUME), Known())
async def on_resume(query: CallbackQuery, session: AsyncSession, member: Member) -> None:
    await volunteers.set_paused(session, member.id, False)
    await _show(query, await _profile_screen(session, member))


@router.callback_query(ProfileStep.filter(F.action == Profile.SKILLS), Known())
async def on_skills(query: CallbackQuery, session: AsyncSession, member: Member) -> None:
    await _show_skills(query, session, member)


@router.callback_query(ProfileStep.filter(F.action == Profile.SKILL), Known())
async def on_skill(
    query: CallbackQuery, callback_data: ProfileStep, session: AsyncSession, member: Member
) -> None:
    await volunteers.toggle_skill(session, member.id, callback_data.value)
    await _show_skills(query, session, member)


@router.callback_query(ProfileStep.filter(F.action == Profile.TIMES), Known())
async def on_times(query: CallbackQuery, session: AsyncSession, member: Member) -> None:
    await _show_times(query, session, member)


@router.callback_query(ProfileStep.filter(F.action == Profile.SLOT), Known())
async def on_slot(
    query: CallbackQuery, callback_data: ProfileStep, session: AsyncSession, member: Member
) -> None:
    day, part = callback_data.value, callback_data.text
    await volunteers.toggle_slots(session, member.id, [day], [part])
    await _show_times(query, session, member)


@router.callback_query(ProfileStep.filter(F.action == Profile.DAY), Known())
async def on_day(
    query: CallbackQuery, callback_data: ProfileStep, session: AsyncSession, member: Member
) -> None:
    await volunteers.toggle_slots(session, member.id, [callback_data.value], PARTS)
    await _show_times(query, session, member)


@router.callback_query(ProfileStep.filter(F.action == Profile.PART), Known())
async def on_part(
    query: CallbackQuery, callback_data: ProfileStep, session: AsyncSession, member: Member
) -> None:
    await volunteers.toggle_slots(session, member.id, EVERY_DAY, [callback_data.text])
    await _show_times(query, session, member)


@router.callback_query(ProfileStep.filter(F.action == Profile.WEEK), Known())
async def on_week(query: CallbackQuery, session: AsyncSession, member: Member) -> None:
    await volunteers.toggle_slots(session, member.id, EVERY_DAY, PARTS)
    await _show_times(query, session, member)


@router.callback_query(ProfileStep.filter(F.action == Profile.DISTANCE), Known())
async def on_distance(query: CallbackQuery, session: AsyncSession, member: Member) -> None:
    await _show(query, views.distance_screen(await volunteers.profile(session, member.id)))


@router.callback_query(ProfileStep.filter(F.action == Profile.DIST), Known())
async def on_distance_chosen(
    query: CallbackQuery, callback_data: ProfileStep, session: AsyncSession, member: Member
) -> None:
    row = await volunteers.set_distance(session, member.id, callback_data.value)
    await _show(query, views.distance_screen(row))


@router.callback_query(ProfileStep.filter(F.action == Profile.QUIET), Known())
async def on_quiet(query: CallbackQuery, session: AsyncSession, member: Member) -> None:
    await _show(query, views.quiet_screen(await volunteers.profile(session, member.id)))


@router.callback_query(ProfileStep.filter(F.action == Profile.Q), Known())
async def on_quiet_chosen(
    query: CallbackQuery, callback_data: ProfileStep, session: AsyncSession, member: Member
) -> None:
    row = await volunteers.set_quiet(session, member.id, callback_data.text)
    await _show(query, views.quiet_screen(row))


@router.callback_query(ProfileStep.filter(F.action == Profile.LANGS), Known())
async def on_languages(query: CallbackQuery, session: AsyncSession, member: Member) -> None:
    await _show(query, views.languages_screen(await volunteers.profile(session, member.id)))


@router.callback_query(ProfileStep.filter(F.action == Profile.LANG), Known())
async def on_language(
    query: CallbackQuery, callback_data: ProfileStep, session: AsyncSession, member: Member
) -> None:
    row = await volunteers.toggle_language(session, member.id, callback_data.text)
    await _show(query, views.languages_screen(row))


@router.callback_query(ProfileStep.filter(F.action == Profile.VERIFY_LIST), Known())
async def on_verify_list(query: CallbackQuery, session: AsyncSession, member: Member) -> None:
    await _show(query, await views.verify_screen(session, member))


@router.callback_query(ProfileStep.filter(F.action == Profile.VERIFY), Known())
async def on_verify_from_list(
    query: CallbackQuery, callback_data: ProfileStep, session: AsyncSession, member: Member
) -> None:
    await volunteers.verify(session, member.id, callback_data.value)
    await _show(query, await views.verify_screen(session, member), _("Verified."))


@router.callback_query(ProfileStep.filter(F.action == Profile.BECOME), Known())
async def on_become(query: CallbackQuery, session: AsyncSession, member: Member) -> None:
    row = await volunteers.become_volunteer(session, member.id)
    await _show(query, await views.skills_screen(session, row, welcome=True))


@router.callback_query(F.data.startswith(PROFILE_PREFIX), Known())
async def on_unknown_profile_button(query: CallbackQuery) -> None:
    raise InvalidInput()


@router.callback_query(VerifyStep.filter())
async def on_verify(
    query: CallbackQuery, callback_data: VerifyStep, session: AsyncSession, member: Member | None
) -> None:
    """The "Verify" button of the notice that a volunteer is waiting."""
    if member is None:
        await query.answer(_("Sorry, this button is not for you."), show_alert=True)
        return
    volunteer = await volunteers.verify(session, member.id, callback_data.volunteer_id)
    await query.answer(_("Verified."))
    text = _("✅ {name} is verified. I have let them know.").format(name=escape(volunteer.name))
    await show_in_place(query, text, None)
