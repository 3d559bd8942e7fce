"""Joining: language → name → branch → role → phone (optional) → home area (optional).

Every answer is saved as it is given, so /cancel keeps it and /start resumes at the first
step still missing. Back goes one step back; a branch given by a QR poster's deep link is
not asked again.
"""

from __future__ import annotations

from html import escape

from aiogram import F
from aiogram.filters import CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands import set_coordinator_commands
from bot.kit import keyboards, labels
from bot.kit.formatters import duration_text, error_text
from bot.kit.screens import Asks, Button, Screen
from bot.kit.steps import Steps, Turn
from bot.middlewares import PLATFORM
from core import catalog, members, volunteers
from core.languages import NATIVE_NAMES
from core.members import Roles
from core.models import Member


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


async def prompt(step: State, turn: Turn) -> Screen:
    """The question of `step` and the buttons that answer it."""
    member, session = turn.member, turn.session
    language = (member.language if member else None) or "en"
    if step == Onboarding.language:
        return Screen(
            _("Which language would you like me to speak?"), keyboards.languages(back=False)
        )
    if step == Onboarding.name:
        return Screen(
            _("What should we call you? Please type your name."),
            keyboards.reply([], placeholder=_("Your name")),
        )
    if step == Onboarding.branch:
        names = [catalog.localized(b.names, language) for b in await catalog.branches(session)]
        return Screen(
            _("Which time bank branch is near you?"),
            keyboards.reply([[name] for name in names]),
        )
    if step == Onboarding.role:
        return Screen(_("How would you like to take part?"), keyboards.reply(
            [[str(labels.ROLE_RESIDENT)], [str(labels.ROLE_VOLUNTEER)], [str(labels.ROLE_BOTH)]]
        ))  # fmt: skip
    if step == Onboarding.phone:
        return Screen(_(
            "If you like, share your phone number so a coordinator can call you. "
            "Other members never see it."
        ), keyboards.reply(
            [[Button(str(labels.SHARE_PHONE), asks=Asks.CONTACT)],
             [str(labels.SKIP)]]
        ))  # fmt: skip
    if step == Onboarding.home:
        return Screen(_(
            "Where do you live, roughly? It helps us find volunteers close to you. "
            "We keep only the neighbourhood, never your address."
        ), keyboards.reply(
            [[Button(str(labels.SHARE_LOCATION), asks=Asks.LOCATION)],
             [str(labels.CHOOSE_AREA)], [str(labels.SKIP)]]
        ))  # fmt: skip
    assert step == Onboarding.area and member is not None and member.branch_id is not None
    areas = await catalog.neighbourhoods(session, member.branch_id)
    names = [catalog.localized(a.names, language) for a in areas]
    return Screen(_("Which neighbourhood?"), keyboards.reply(keyboards.in_pairs(names)))


async def stop(turn: Turn) -> None:
    await turn.leave(
        _("Okay, we stopped here. What you told me is saved; tap the button to go on."),
        keyboards.continue_signup(),
    )


async def back_from_language(turn: Turn) -> bool:
    """The language is the first question: Back there (typed; it has no button) re-asks it."""
    if await turn.step() != Onboarding.language:
        return False
    await turn.reask()
    return True


steps = Steps(
    Onboarding,
    name="onboarding",
    prompt=prompt,
    cancel=stop,
    way_on=lambda member: keyboards.continue_signup(),
    path=STEPS,
    parents={Onboarding.area: Onboarding.home},
    # A branch given by a QR poster's deep link is not asked again.
    skip=lambda step, data: step == Onboarding.branch and bool(data.get("branch_set")),
    back=back_from_language,
    hints={Onboarding.name: __("Please type your name as a short text.")},
)
router = steps.router


async def next_step(current: State, turn: Turn) -> None:
    following = steps.after(current, await turn.data())
    if following is None:
        assert turn.member is not None
        await finish(turn.message, turn.state, turn.session, turn.member)
    else:
        await turn.ask(following)


async def finish(
    message: Message, state: FSMContext, session: AsyncSession, member: Member
) -> None:
    joined = await members.finish_onboarding(session, member.id)
    await volunteers.ask_for_verification(session, member.id)
    await state.clear()
    text = _(
        "All set, {name}! Welcome to the time bank. Tap a button below whenever you need me."
    ).format(name=escape(member.name))
    if joined.welcome_minutes and member.is_resident:
        text += "\n\n" + _(
            "As a welcome, your passbook starts with {hours} of time credit: "
            "ask for help whenever you need it."
        ).format(hours=duration_text(joined.welcome_minutes))
    elif joined.welcome_minutes:
        text += "\n\n" + _(
            "As a welcome, your passbook starts with {hours} of time credit."
        ).format(hours=duration_text(joined.welcome_minutes))
    if member.is_volunteer and not member.verified:
        text += "\n\n" + _(
            "What comes next: tap “{button}” and choose what you can help with. "
            "A coordinator will check your details and verify you; after that I will "
            "tell you when a neighbour near you needs help."
        ).format(button=str(labels.MENU_VOLUNTEER))
    await message.answer(text, reply_markup=keyboards.main_menu())


async def start_onboarding(turn: Turn, branch_code: str | None = None) -> None:
    """Ask the first question still unanswered (after the branch of a poster's link)."""
    member, state, session = turn.member, turn.state, turn.session
    await state.clear()
    if branch_code:
        branch = await catalog.branch_by_code(session, branch_code)
        if branch is not None:
            await state.update_data(branch_id=branch.id)
            if member is not None:
                await members.set_branch(session, member.id, branch.id)
                await state.update_data(branch_set=True)
    if member is None:
        await turn.message.answer(_("Hello! I am the time bank helper. Let us get you set up."))
    await turn.ask(first_missing_step(member))


@router.message(CommandStart())
async def on_start(message: Message, command: CommandObject, turn: Turn) -> None:
    args = command.args or ""
    branch_code = args[2:] if args.startswith("b_") else None
    member = turn.member
    if member is not None and member.onboarded_at is not None:
        await turn.leave(
            _("Welcome back, {name}! How can I help today?").format(name=escape(member.name)),
            keyboards.main_menu(),
        )
        return
    await start_onboarding(turn, branch_code)


@router.message(F.text == labels.CONTINUE_SIGNUP)
async def on_continue(message: Message, turn: Turn) -> None:
    await start_onboarding(turn)


@router.message(Onboarding.language, F.text.in_(LANGUAGE_BY_NAME))
async def on_language(message: Message, turn: Turn, i18n: I18n, coordinators: list[int]) -> None:
    language = LANGUAGE_BY_NAME[message.text]
    assert message.from_user is not None
    member = turn.member
    if member is None:
        member = turn.member = await members.join(
            turn.session,
            PLATFORM,
            str(message.from_user.id),
            language=language,
            is_coordinator=message.from_user.id in coordinators,
        )
        if member.is_coordinator:
            await set_coordinator_commands(message.bot, i18n, message.from_user.id)
    else:
        await members.set_language(turn.session, member.id, language)
    i18n.current_locale = language
    data = await turn.data()
    if data.get("branch_id") and member.branch_id is None:
        await members.set_branch(turn.session, member.id, data["branch_id"])
        await turn.update(branch_set=True)
    await next_step(Onboarding.language, turn)


@router.message(Onboarding.name, F.text, ~F.text.startswith("/"))
async def on_name(message: Message, turn: Turn, member: Member) -> None:
    try:
        await members.set_name(turn.session, member.id, message.text or "")
    except members.NameInvalid as error:
        await turn.reask(hint=error_text(error))
        return
    await next_step(Onboarding.name, turn)


@router.message(Onboarding.branch, F.text)
async def on_branch(message: Message, turn: Turn, member: Member) -> None:
    language = member.language or "en"
    chosen = catalog.named(await catalog.branches(turn.session), message.text, language)
    if chosen is None:
        await turn.reask()
        return
    await members.set_branch(turn.session, member.id, chosen.id)
    await next_step(Onboarding.branch, turn)


ROLE_BY_LABEL = [
    (labels.ROLE_RESIDENT, Roles.RESIDENT),
    (labels.ROLE_VOLUNTEER, Roles.VOLUNTEER),
    (labels.ROLE_BOTH, Roles.BOTH),
]


@router.message(Onboarding.role, F.text)
async def on_role(message: Message, turn: Turn, member: Member) -> None:
    role = next((r for label, r in ROLE_BY_LABEL if message.text == str(label)), None)
    if role is None:
        await turn.reask()
        return
    await members.set_roles(turn.session, member.id, role)
    await next_step(Onboarding.role, turn)


@router.message(Onboarding.phone, F.contact)
async def on_contact(message: Message, turn: Turn, member: Member) -> None:
    assert message.contact is not None and message.from_user is not None
    if message.contact.user_id != message.from_user.id:
        await turn.reask(hint=_("Please share your own number with the button below."))
        return
    await members.set_phone(turn.session, member.id, message.contact.phone_number)
    await message.answer(_("Thank you, I have saved your number."))
    await next_step(Onboarding.phone, turn)


@router.message(Onboarding.phone, F.text == labels.SKIP)
@router.message(Onboarding.home, F.text == labels.SKIP)
async def on_skip(message: Message, turn: Turn) -> None:
    step = await turn.step()
    assert step is not None
    await next_step(step, turn)


@router.message(Onboarding.home, F.location)
async def on_location(message: Message, turn: Turn, member: Member) -> None:
    assert message.location is not None
    await members.set_home_location(
        turn.session, member.id, message.location.latitude, message.location.longitude
    )
    await finish(message, turn.state, turn.session, member)


@router.message(Onboarding.home, F.text == labels.CHOOSE_AREA)
async def on_choose_area(message: Message, turn: Turn) -> None:
    await turn.ask(Onboarding.area)


@router.message(Onboarding.area, F.text)
async def on_area(message: Message, turn: Turn, member: Member) -> None:
    assert member.branch_id is not None
    areas = await catalog.neighbourhoods(turn.session, member.branch_id)
    chosen = catalog.named(areas, message.text, member.language or "en")
    if chosen is None:
        await turn.reask()
        return
    await members.set_neighbourhood(turn.session, member.id, chosen.id)
    await finish(message, turn.state, turn.session, member)
