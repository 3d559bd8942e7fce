"""Joining: language → name → branch → role → phone (optional) → home area (optional).

Every answer is saved as it is given, so /cancel keeps it and /start resumes at the first
step still missing. Back goes one step back; a branch given by a QR poster's deep link is
not asked again.
"""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import KeyboardButton, Message, ReplyKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keyboards, labels
from bot.middlewares import PLATFORM
from core import catalog, members
from core.errors import DomainError
from core.languages import NATIVE_NAMES
from core.members import Roles
from core.models import Member

router = Router(name="onboarding")


class Onboarding(StatesGroup):
    language = State()
    name = State()
    branch = State()
    role = State()
    phone = State()
    home = State()
    area = State()


STEPS: list[State] = [
    Onboarding.language,
    Onboarding.name,
    Onboarding.branch,
    Onboarding.role,
    Onboarding.phone,
    Onboarding.home,
]
LANGUAGE_BY_NAME = {name: code for code, name in NATIVE_NAMES.items()}


def first_missing_step(member: Member | None) -> State:
    if member is None or not member.language:
        return Onboarding.language
    if not member.name:
        return Onboarding.name
    if member.branch_id is None:
        return Onboarding.branch
    if not (member.is_resident or member.is_volunteer):
        return Onboarding.role
    return Onboarding.phone


async def prompt(
    step: State, session: AsyncSession, member: Member | None
) -> tuple[str, ReplyKeyboardMarkup]:
    """The question of `step` and the buttons that answer it."""
    language = (member.language if member else None) or "en"
    if step == Onboarding.language:
        return _("Which language would you like me to speak?"), keyboards.languages(back=False)
    if step == Onboarding.name:
        return (
            _("What should we call you? Please type your name."),
            keyboards.reply_keyboard([], placeholder=_("Your name")),
        )
    if step == Onboarding.branch:
        names = [catalog.localized(b.names, language) for b in await catalog.branches(session)]
        return (
            _("Which time bank branch is near you?"),
            keyboards.reply_keyboard([[name] for name in names]),
        )
    if step == Onboarding.role:
        return _("How would you like to take part?"), keyboards.reply_keyboard(
            [[str(labels.ROLE_RESIDENT)], [str(labels.ROLE_VOLUNTEER)], [str(labels.ROLE_BOTH)]]
        )
    if step == Onboarding.phone:
        return _(
            "If you like, share your phone number so a coordinator can call you. "
            "Other members never see it."
        ), keyboards.reply_keyboard(
            [[KeyboardButton(text=str(labels.SHARE_PHONE), request_contact=True)],
             [str(labels.SKIP)]]
        )  # fmt: skip
    if step == Onboarding.home:
        return _(
            "Where do you live, roughly? It helps us find helpers close to you. "
            "We keep only the area, never your address."
        ), keyboards.reply_keyboard(
            [[KeyboardButton(text=str(labels.SHARE_LOCATION), request_location=True)],
             [str(labels.CHOOSE_AREA)], [str(labels.SKIP)]]
        )  # fmt: skip
    assert step == Onboarding.area and member is not None and member.branch_id is not None
    areas = await catalog.neighbourhoods(session, member.branch_id)
    names = [catalog.localized(a.names, language) for a in areas]
    return _("Which neighbourhood?"), keyboards.reply_keyboard(keyboards.in_pairs(names))


async def ask(
    step: State,
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    member: Member | None,
    hint: str | None = None,
) -> None:
    """Ask the question of `step` (after a short `hint` when the last answer did not fit)."""
    await state.set_state(step)
    question, markup = await prompt(step, session, member)
    await message.answer(f"{hint}\n\n{question}" if hint else question, reply_markup=markup)


async def next_step(
    current: State, message: Message, state: FSMContext, session: AsyncSession, member: Member
) -> None:
    position = STEPS.index(current) + 1
    data = await state.get_data()
    if position < len(STEPS) and STEPS[position] == Onboarding.branch and data.get("branch_set"):
        position += 1
    if position < len(STEPS):
        await ask(STEPS[position], message, state, session, member)
    else:
        await finish(message, state, session, member)


async def finish(
    message: Message, state: FSMContext, session: AsyncSession, member: Member
) -> None:
    await members.finish_onboarding(session, member.id)
    await state.clear()
    await message.answer(
        _(
            "All set, {name}! Welcome to the time bank. Tap a button below whenever you need me."
        ).format(name=escape(member.name)),
        reply_markup=keyboards.main_menu(),
    )


async def start_onboarding(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    member: Member | None,
    branch_code: str | None = None,
) -> None:
    await state.clear()
    if branch_code:
        branch = await catalog.branch_by_code(session, branch_code)
        if branch is not None:
            await state.update_data(branch_id=branch.id)
            if member is not None:
                await members.set_branch(session, member.id, branch.id)
                await state.update_data(branch_set=True)
    step = first_missing_step(member)
    if member is None:
        await message.answer(_("Hello! I am the time bank helper. Let us get you set up."))
    await ask(step, message, state, session, member)


@router.message(CommandStart())
async def on_start(
    message: Message,
    command: CommandObject,
    state: FSMContext,
    session: AsyncSession,
    member: Member | None,
) -> None:
    args = command.args or ""
    branch_code = args[2:] if args.startswith("b_") else None
    if member is not None and member.onboarded_at is not None:
        await state.clear()
        await message.answer(
            _("Welcome back, {name}! How can I help today?").format(name=escape(member.name)),
            reply_markup=keyboards.main_menu(),
        )
        return
    await start_onboarding(message, state, session, member, branch_code)


@router.message(F.text == labels.CONTINUE_SIGNUP)
async def on_continue(
    message: Message, state: FSMContext, session: AsyncSession, member: Member | None
) -> None:
    await start_onboarding(message, state, session, member)


@router.message(Onboarding.name, F.text == labels.BACK)
@router.message(Onboarding.branch, F.text == labels.BACK)
@router.message(Onboarding.role, F.text == labels.BACK)
@router.message(Onboarding.phone, F.text == labels.BACK)
@router.message(Onboarding.home, F.text == labels.BACK)
@router.message(Onboarding.area, F.text == labels.BACK)
async def on_back(
    message: Message, state: FSMContext, session: AsyncSession, member: Member
) -> None:
    current = await state.get_state()
    if current == Onboarding.area.state:
        await ask(Onboarding.home, message, state, session, member)
        return
    position = [s.state for s in STEPS].index(current) - 1
    data = await state.get_data()
    if STEPS[position] == Onboarding.branch and data.get("branch_set"):
        position -= 1
    await ask(STEPS[position], message, state, session, member)


@router.message(Onboarding.language, F.text == labels.CANCEL)
@router.message(Onboarding(), F.text == labels.CANCEL)
async def on_cancel(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(
        _("Okay, we stopped here. What you told me is saved; tap the button to go on."),
        reply_markup=keyboards.continue_signup(),
    )


@router.message(Onboarding.language, F.text.in_(LANGUAGE_BY_NAME))
async def on_language(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    member: Member | None,
    i18n: I18n,
    coordinators: list[int],
) -> None:
    language = LANGUAGE_BY_NAME[message.text]
    assert message.from_user is not None
    if member is None:
        member = await members.join(
            session,
            PLATFORM,
            str(message.from_user.id),
            language=language,
            is_coordinator=message.from_user.id in coordinators,
        )
    else:
        await members.set_language(session, member.id, language)
    i18n.current_locale = language
    data = await state.get_data()
    if data.get("branch_id") and member.branch_id is None:
        await members.set_branch(session, member.id, data["branch_id"])
        await state.update_data(branch_set=True)
    await next_step(Onboarding.language, message, state, session, member)


@router.message(Onboarding.name, F.text, ~F.text.startswith("/"))
async def on_name(
    message: Message, state: FSMContext, session: AsyncSession, member: Member
) -> None:
    try:
        await members.set_name(session, member.id, message.text or "")
    except DomainError as error:
        await ask(Onboarding.name, message, state, session, member, hint=_(error.key))
        return
    await next_step(Onboarding.name, message, state, session, member)


@router.message(Onboarding.branch, F.text)
async def on_branch(
    message: Message, state: FSMContext, session: AsyncSession, member: Member
) -> None:
    language = member.language or "en"
    chosen = catalog.named(await catalog.branches(session), message.text, language)
    if chosen is None:
        await reprompt(message, state, session, member)
        return
    await members.set_branch(session, member.id, chosen.id)
    await next_step(Onboarding.branch, message, state, session, member)


ROLE_BY_LABEL = [
    (labels.ROLE_RESIDENT, Roles.RESIDENT),
    (labels.ROLE_VOLUNTEER, Roles.VOLUNTEER),
    (labels.ROLE_BOTH, Roles.BOTH),
]


@router.message(Onboarding.role, F.text)
async def on_role(
    message: Message, state: FSMContext, session: AsyncSession, member: Member
) -> None:
    role = next((r for label, r in ROLE_BY_LABEL if message.text == str(label)), None)
    if role is None:
        await reprompt(message, state, session, member)
        return
    await members.set_roles(session, member.id, role)
    await next_step(Onboarding.role, message, state, session, member)


@router.message(Onboarding.phone, F.contact)
async def on_contact(
    message: Message, state: FSMContext, session: AsyncSession, member: Member
) -> None:
    assert message.contact is not None and message.from_user is not None
    if message.contact.user_id != message.from_user.id:
        hint = _("Please share your own number with the button below.")
        await ask(Onboarding.phone, message, state, session, member, hint=hint)
        return
    await members.set_phone(session, member.id, message.contact.phone_number)
    await message.answer(_("Thank you, I have saved your number."))
    await next_step(Onboarding.phone, message, state, session, member)


@router.message(Onboarding.phone, F.text == labels.SKIP)
@router.message(Onboarding.home, F.text == labels.SKIP)
async def on_skip(
    message: Message, state: FSMContext, session: AsyncSession, member: Member
) -> None:
    current = await state.get_state()
    await next_step(
        Onboarding.phone if current == Onboarding.phone.state else Onboarding.home,
        message,
        state,
        session,
        member,
    )


@router.message(Onboarding.home, F.location)
async def on_location(
    message: Message, state: FSMContext, session: AsyncSession, member: Member
) -> None:
    assert message.location is not None
    await members.set_home_location(
        session, member.id, message.location.latitude, message.location.longitude
    )
    await finish(message, state, session, member)


@router.message(Onboarding.home, F.text == labels.CHOOSE_AREA)
async def on_choose_area(
    message: Message, state: FSMContext, session: AsyncSession, member: Member
) -> None:
    await ask(Onboarding.area, message, state, session, member)


@router.message(Onboarding.area, F.text)
async def on_area(
    message: Message, state: FSMContext, session: AsyncSession, member: Member
) -> None:
    assert member.branch_id is not None
    language = member.language or "en"
    areas = await catalog.neighbourhoods(session, member.branch_id)
    chosen = catalog.named(areas, message.text, language)
    if chosen is None:
        await reprompt(message, state, session, member)
        return
    await members.set_neighbourhood(session, member.id, chosen.id)
    await finish(message, state, session, member)


@router.message(Onboarding())
async def reprompt(
    message: Message, state: FSMContext, session: AsyncSession, member: Member | None
) -> None:
    """Anything that is not an answer to this step: a sticker, a photo, a stray command."""
    current = await state.get_state()
    step = next(s for s in Onboarding.__all_states__ if s.state == current)
    if step == Onboarding.name:
        hint = _("Please type your name as a short text.")
    else:
        hint = _("Please choose one of the buttons below.")
    await ask(step, message, state, session, member, hint=hint)
