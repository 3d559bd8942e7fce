"""Asking for help: what → describe → when → where → how long → review → send.

The draft lives in the FSM data as plain JSON values, so the conversation survives a
restart. `draft`, a random id made when the conversation starts, names it: it becomes the
order's idempotency key and rides in the review's buttons, so a second tap on Send, or a
button of an older summary, never makes a second order. Back goes one step back (straight
to the review once the review was reached); Cancel leaves without sending anything.

"Ask for someone else" starts with whom the help is for: a relative linked under Family,
or, for a coordinator, a resident without a phone (whom they may register here first).
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, time, timedelta
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
)
from aiogram.utils.i18n import get_i18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from babel.dates import format_skeleton, format_time
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keyboards, labels
from bot.callbacks import AskStep, PickDay, RememberHome
from bot.replies import show_in_place
from core import catalog, family, members, orders, schedule
from core.config import Settings
from core.db import utcnow
from core.errors import DomainError, InvalidInput, NotFound
from core.models import Category, Member, Order, OrderFunding
from core.orders import Coverage, HelpRequest, Place
from core.schedule import TimeInPast, TooFarAhead, When

router = Router(name="request_help")


class AskHelp(StatesGroup):
    who = State()
    new_name = State()
    new_branch = State()
    new_address = State()
    what = State()
    describe = State()
    describe_long = State()
    when = State()
    day = State()
    part = State()
    where = State()
    duration = State()
    review = State()


TOP_STEPS: list[State] = [
    AskHelp.what,
    AskHelp.describe,
    AskHelp.when,
    AskHelp.where,
    AskHelp.duration,
]
# A sub-step goes Back to the question it belongs to.
PARENT: dict[str, State] = {
    AskHelp.describe_long.state: AskHelp.describe,
    AskHelp.day.state: AskHelp.when,
    AskHelp.part.state: AskHelp.when,
    AskHelp.new_name.state: AskHelp.who,
    AskHelp.new_branch.state: AskHelp.new_name,
    AskHelp.new_address.state: AskHelp.new_branch,
    AskHelp.review.state: AskHelp.duration,
}
EDITS: dict[str, State] = {
    "what": AskHelp.what,
    "describe": AskHelp.describe,
    "when": AskHelp.when,
    "where": AskHelp.where,
    "duration": AskHelp.duration,
}
ESTIMATE_LABELS = [
    (labels.HALF_HOUR, 30),
    (labels.ONE_HOUR, 60),
    (labels.TWO_HOURS, 120),
    (labels.HALF_DAY, 240),
]
PART_LABELS = {"morning": labels.MORNING, "afternoon": labels.AFTERNOON, "evening": labels.EVENING}
KEY_PREFIX = "tg-draft:"
NAVIGATION = (labels.BACK, labels.CANCEL)


def order_key(draft: str) -> str:
    return f"{KEY_PREFIX}{draft}"


# ---------------------------------------------------------------- how things read


def language() -> str:
    return get_i18n().current_locale


def duration_text(minutes: int) -> str:
    """Whole minutes as people say them: "1 hour 30 min", "2 hours", "−45 min"."""
    sign = "−" if minutes < 0 else ""
    hours, rest = divmod(abs(minutes), 60)
    if hours == 0:
        text = _("{minutes} min").format(minutes=rest)
    elif hours == 1:
        text = _("1 hour") if rest == 0 else _("1 hour {minutes} min").format(minutes=rest)
    elif rest == 0:
        text = _("{hours} hours").format(hours=hours)
    else:
        text = _("{hours} hours {minutes} min").format(hours=hours, minutes=rest)
    return sign + text


def clock(at: time, *, in_a_part: bool = False) -> str:
    """A time of day. Korean spells out 오전/오후, which Babel's short pattern abbreviates;
    inside a named part of the day ("오후 (12:00–17:00)") it says the hours alone."""
    if language() == "ko":
        return format_time(at, "H:mm" if in_a_part else "aaaa h:mm", locale="ko")
    return format_time(at, "short", locale=language())


def day_text(day: date, today: date) -> str:
    shown = format_skeleton("MMMMEd", day, locale=language())
    if day == today:
        return _("Today, {date}").format(date=shown)
    if day == today + timedelta(days=1):
        return _("Tomorrow, {date}").format(date=shown)
    return shown


def when_text(when: When, time_zone: str, now: datetime | None = None) -> str:
    """The time as the member chose it, in the branch's time zone and the reader's language."""
    if when.kind == "asap":
        return _("As soon as possible")
    assert when.day is not None
    day = day_text(when.day, schedule.local_today(time_zone, now or utcnow()))
    if when.kind == "exact":
        assert when.at is not None
        return _("{day} at {time}").format(day=day, time=clock(when.at))
    first, last = schedule.DAY_PARTS[when.part or ""]
    hours = {"start": clock(time(first), in_a_part=True), "end": clock(time(last), in_a_part=True)}
    if when.part == "morning":
        return _("{day}, in the morning ({start}–{end})").format(day=day, **hours)
    if when.part == "afternoon":
        return _("{day}, in the afternoon ({start}–{end})").format(day=day, **hours)
    return _("{day}, in the evening ({start}–{end})").format(day=day, **hours)


def order_when_text(order: Order, time_zone: str) -> str:
    """When an order is, as it was asked ("Tomorrow, in the afternoon"), else its day."""
    if order.when_asked:
        return when_text(When.from_dict(order.when_asked), time_zone)
    start = order.window_start or order.created_at
    return format_skeleton("MMMMEd", start.astimezone(ZoneInfo(time_zone)), locale=language())


def category_text(category: Category) -> str:
    return f"{category.emoji} {catalog.localized(category.names, language())}".strip()


def description_text(description: str, voice_file_id: str | None) -> str:
    if voice_file_id:
        return _("🎤 A voice message")
    if description:
        return f"💬 {escape(description)}"
    return _("💬 No details given")


def place_text(kind: str, address: str | None, *, show_address: bool) -> str:
    if kind == Place.LOCATION:
        return _("📍 At the location that was shared")
    if not show_address:
        return _("📍 The address is shown only to the volunteer who accepts")
    if kind == Place.HOME:
        return _("🏠 At home: {address}").format(address=escape(address or ""))
    return _("📍 {address}").format(address=escape(address or ""))


def coverage_lines(coverage: Coverage, name: str | None) -> list[str]:
    """What it costs and who pays; `name` is the beneficiary's when asking for someone else."""
    lines = [_("💳 Cost: about {cost} of time credit.").format(cost=duration_text(coverage.cost))]
    if coverage.funding == OrderFunding.POOL:
        lines.append(_("The community pool pays for this, so no credit is needed."))
        return lines
    balance = duration_text(coverage.available)
    if name is None:
        lines.append(_("Your available balance: {balance}.").format(balance=balance))
    else:
        lines.append(
            _("Available balance of {name}: {balance}.").format(name=escape(name), balance=balance)
        )
    if coverage.funding == OrderFunding.OVERDRAFT:
        lines.append(
            _(
                "That is more than there is now, but the branch allows going up to {limit} "
                "below zero, so it is fine."
            ).format(limit=duration_text(coverage.overdraft_limit))
        )
    elif coverage.funding == OrderFunding.NEEDS_SPONSOR:
        if name is None:
            lines.append(
                _(
                    "You do not have enough credit for this yet, and that is all right: I will "
                    "still send it, and a coordinator will help with the cost. You earn credit "
                    "by helping a neighbour, or you can ask a coordinator."
                )
            )
        else:
            lines.append(
                _(
                    "{name} does not have enough credit for this yet, and that is all right: "
                    "I will still send it, and a coordinator will help with the cost."
                ).format(name=escape(name))
            )
    return lines


# ---------------------------------------------------------------- the draft


def draft_request(data: dict[str, Any]) -> HelpRequest:
    """The finished draft as a request; InvalidInput if something is missing or mangled."""
    try:
        return HelpRequest(
            category_id=int(data["category_id"]),
            when=When.from_dict(data["when"]),
            place=Place.from_dict(data["place"]),
            estimated_minutes=int(data["minutes"]),
            description=str(data.get("description") or ""),
            voice_file_id=data.get("voice_file_id"),
        )
    except (KeyError, TypeError, ValueError):
        raise InvalidInput() from None


def first_missing(data: dict[str, Any]) -> State | None:
    for step, key in (
        (AskHelp.what, "category_id"),
        (AskHelp.describe, "described"),
        (AskHelp.when, "when"),
        (AskHelp.where, "place"),
        (AskHelp.duration, "minutes"),
    ):
        if data.get(key) is None:
            return step
    return None


def step_of(name: str | None) -> State | None:
    return next((s for s in AskHelp.__all_states__ if s.state == name), None)


def cancel_text() -> str:
    return _("Okay, I did not send anything. Tap “🙋 Ask for help” whenever you like.")


# ---------------------------------------------------------------- asking


def review_buttons(draft: str) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    for action, text in (
        ("what", _("✏️ What")),
        ("describe", _("✏️ Details")),
        ("when", _("✏️ When")),
        ("where", _("✏️ Where")),
        ("duration", _("✏️ How long")),
    ):
        buttons.button(text=text, callback_data=AskStep(action=action, draft=draft))
    buttons.button(text=_("✅ Send"), callback_data=AskStep(action="send", draft=draft))
    buttons.button(text=_("✖️ Cancel"), callback_data=AskStep(action="cancel", draft=draft))
    buttons.adjust(2, 2, 1, 2)
    return buttons.as_markup()


def calendar(draft: str, time_zone: str) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    for day in schedule.bookable_days(time_zone, utcnow()):
        buttons.button(
            text=format_skeleton("MEd", day, locale=language()),
            callback_data=PickDay(draft=draft, day=day.strftime("%Y%m%d")),
        )
    buttons.adjust(3)
    return buttons.as_markup()


async def prompt(
    step: State, data: dict[str, Any], session: AsyncSession
) -> tuple[str, ReplyKeyboardMarkup | InlineKeyboardMarkup]:
    """The question of `step` and the buttons that answer it."""
    if step == AskHelp.who:
        names = list(data.get("options", {}))
        rows = [[name] for name in names]
        if data.get("coordinator"):
            rows.append([str(labels.NEW_RESIDENT)])
        return _("Who is the help for?"), keyboards.reply_keyboard(rows)
    if step == AskHelp.new_name:
        return (
            _("What is the name of the person you are asking for?"),
            keyboards.reply_keyboard([], placeholder=_("Their name")),
        )
    if step == AskHelp.new_branch:
        names = [catalog.localized(b.names, language()) for b in await catalog.branches(session)]
        return _("Which branch is near them?"), keyboards.reply_keyboard([[n] for n in names])
    if step == AskHelp.new_address:
        return (
            _(
                "What is their home address? Only coordinators and the volunteer who "
                "accepts will see it."
            ),
            keyboards.reply_keyboard([], placeholder=_("Street, building, flat")),
        )
    if step == AskHelp.what:
        rows: list[list[str]] = []
        if data.get("has_last"):
            rows.append([str(labels.SAME_AS_LAST)])
        rows += keyboards.in_pairs([category_text(c) for c in await catalog.categories(session)])
        question = _("What do you need help with?")
        if data.get("for_other"):
            question = _("What does {name} need help with?").format(
                name=escape(data.get("beneficiary_name", ""))
            )
        return question, keyboards.reply_keyboard(rows)
    if step == AskHelp.describe:
        return (
            _(
                "Tell me a little more, so the volunteer knows what to bring. Type a few "
                "words or send a voice message. Or tap Skip."
            ),
            keyboards.reply_keyboard([[str(labels.SKIP)]], placeholder=_("A few words")),
        )
    if step == AskHelp.describe_long:
        return (
            _(
                "That is a long message! I can keep the first {count} characters, up to "
                "“…{ending}”. Is that all right?"
            ).format(
                count=orders.MAX_DESCRIPTION,
                ending=escape(str(data.get("long_text", ""))[-40:]),
            ),
            keyboards.reply_keyboard([[str(labels.KEEP_SHORTENED)], [str(labels.WRITE_AGAIN)]]),
        )
    if step == AskHelp.when:
        return _("When would you like the help?"), keyboards.reply_keyboard(
            [[str(labels.ASAP)], [str(labels.TODAY), str(labels.TOMORROW)], [str(labels.PICK_DAY)]]
        )
    if step == AskHelp.day:
        return _("Which day? Tap it below."), calendar(data["draft"], data["time_zone"])
    if step == AskHelp.part:
        day = date.fromisoformat(data["day"])
        parts = schedule.open_parts(day, data["time_zone"], utcnow())
        shown = day_text(day, schedule.local_today(data["time_zone"], utcnow()))
        if parts:
            question = _("{day}: which part of the day? Or type an exact time, like 14:30.").format(
                day=shown
            )
        else:
            question = _("{day}: please type a time, like 20:30.").format(day=shown)
        rows = [[str(PART_LABELS[p]) for p in parts]] if parts else []
        return question, keyboards.reply_keyboard(rows, placeholder="14:30")
    if step == AskHelp.where:
        rows_where: list[list[str | KeyboardButton]] = []
        if data.get("has_home"):
            home = labels.THEIR_HOME if data.get("for_other") else labels.MY_HOME
            rows_where.append([str(home)])
        rows_where.append([KeyboardButton(text=str(labels.SHARE_LOCATION), request_location=True)])
        return (
            _(
                "Where should the volunteer come? Tap a button, or type the address. "
                "Only the volunteer who accepts will see it."
            ),
            keyboards.reply_keyboard(rows_where, placeholder=_("Street, building, flat")),
        )
    assert step == AskHelp.duration
    return _("About how long might it take?"), keyboards.reply_keyboard(
        keyboards.in_pairs([str(label) for label, _minutes in ESTIMATE_LABELS])
    )


async def ask(
    step: State,
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    hint: str | None = None,
) -> None:
    """Ask the question of `step`, after a short `hint` when the last answer did not fit."""
    await state.set_state(step)
    question, markup = await prompt(step, await state.get_data(), session)
    await message.answer(f"{hint}\n\n{question}" if hint else question, reply_markup=markup)


async def leave(message: Message, state: FSMContext, text: str) -> None:
    await state.clear()
    await message.answer(text, reply_markup=keyboards.main_menu())


async def _retire_review(bot: Bot, chat_id: int, data: dict[str, Any]) -> None:
    """Take the buttons off the last summary, so only the newest one can be used."""
    message_id = data.get("review_message_id")
    if message_id:
        try:
            await bot.edit_message_reply_markup(
                chat_id=chat_id, message_id=message_id, reply_markup=None
            )
        except TelegramBadRequest:
            pass


async def show_review(
    message: Message, state: FSMContext, session: AsyncSession, member: Member, bot: Bot
) -> None:
    data = await state.get_data()
    missing = first_missing(data)
    if missing is not None:
        await ask(missing, message, state, session)
        return
    try:
        preview = await orders.preview(
            session,
            requester_id=member.id,
            beneficiary_id=data["beneficiary_id"],
            request=draft_request(data),
        )
    except (TimeInPast, TooFarAhead) as error:
        await state.update_data(when=None)
        await ask(AskHelp.when, message, state, session, hint=_(error.key))
        return
    except (orders.NoHomeAddress, orders.PlaceInvalid) as error:
        await state.update_data(place=None)
        await ask(AskHelp.where, message, state, session, hint=_(error.key))
        return
    except orders.UnknownCategory:
        await state.update_data(category_id=None)
        await ask(AskHelp.what, message, state, session)
        return
    except orders.DescriptionTooLong:
        await state.update_data(described=None)
        await ask(AskHelp.describe, message, state, session)
        return
    except DomainError as error:
        await leave(message, state, _(error.key).format(**error.params))
        return
    await _retire_review(bot, message.chat.id, data)
    await state.set_state(AskHelp.review)
    ready = preview.prepared
    name = ready.beneficiary.name if data.get("for_other") else None
    title = (
        _("<b>Help for {name}</b>").format(name=escape(name))
        if name is not None
        else _("<b>Your request</b>")
    )
    lines = [
        title,
        escape(category_text(ready.category)),
        description_text(ready.description, data.get("voice_file_id")),
        "🕒 " + when_text(When.from_dict(data["when"]), ready.branch.time_zone),
        place_text(data["place"]["kind"], ready.address, show_address=True),
        "⏳ " + _("About {duration}").format(duration=duration_text(ready.minutes)),
        "",
        *coverage_lines(preview.coverage, name),
    ]
    await message.answer(
        _("Almost done! Please check your request, then tap ✅ Send."),
        reply_markup=keyboards.reply_keyboard([]),
    )
    sent = await message.answer("\n".join(lines), reply_markup=review_buttons(data["draft"]))
    await state.update_data(review_message_id=sent.message_id, to_review=True)


async def advance(
    step: State,
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    member: Member,
    bot: Bot,
) -> None:
    """After an answer: the next question, or the review once it was reached before."""
    data = await state.get_data()
    position = TOP_STEPS.index(step) + 1
    if data.get("to_review") or position >= len(TOP_STEPS):
        await show_review(message, state, session, member, bot)
    else:
        await ask(TOP_STEPS[position], message, state, session)


# ---------------------------------------------------------------- starting


async def begin(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    member: Member,
    beneficiary_id: int,
    settings: Settings,
    *,
    for_other: bool,
) -> None:
    try:
        start = await orders.start_request(
            session,
            requester_id=member.id,
            beneficiary_id=beneficiary_id,
            max_open=settings.max_open_orders,
        )
    except DomainError as error:
        await leave(message, state, _(error.key).format(**error.params))
        return
    await state.set_data(
        {
            "draft": secrets.token_hex(8),
            "beneficiary_id": start.beneficiary.id,
            "beneficiary_name": start.beneficiary.name,
            "for_other": for_other,
            "coordinator": member.is_coordinator,
            "time_zone": start.branch.time_zone,
            "has_home": bool(start.beneficiary.address),
            "has_last": start.last_order is not None,
        }
    )
    await ask(AskHelp.what, message, state, session)


def _signed_up(member: Member | None) -> bool:
    return member is not None and member.onboarded_at is not None


@router.message(Command("ask"))
@router.message(F.text == labels.MENU_ASK)
async def on_ask(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    member: Member | None,
    settings: Settings,
) -> None:
    if not _signed_up(member):
        await message.answer(_(orders.NoBranch.key), reply_markup=keyboards.continue_signup())
        return
    assert member is not None
    await begin(message, state, session, member, member.id, settings, for_other=False)


def _options(people: list[Member]) -> dict[str, int]:
    """Button labels for people, made unique when two share a name."""
    options: dict[str, int] = {}
    for person in people:
        label = f"👤 {person.name}"
        count = 2
        while label in options:
            label = f"👤 {person.name} ({count})"
            count += 1
        options[label] = person.id
    return options


@router.message(F.text == labels.MENU_ASK_FOR_OTHER)
@router.message(Command("askfor"))
async def on_ask_for_other(
    message: Message, state: FSMContext, session: AsyncSession, member: Member | None
) -> None:
    if not _signed_up(member):
        await message.answer(_(orders.NoBranch.key), reply_markup=keyboards.continue_signup())
        return
    assert member is not None
    people = await family.beneficiaries(session, member.id)
    if not people and not member.is_coordinator:
        await leave(
            message,
            state,
            _(
                "To ask for someone else, link with them first. They tap “👨‍👩‍👧 Family” and "
                "“Give my family a code”; then you tap “👨‍👩‍👧 Family”, “I have a code”, and "
                "type it in."
            ),
        )
        return
    await state.set_data({"options": _options(people[:30]), "coordinator": member.is_coordinator})
    await ask(AskHelp.who, message, state, session)


# ---------------------------------------------------------------- Back and Cancel


@router.message(AskHelp(), F.text == labels.CANCEL)
async def on_cancel(message: Message, state: FSMContext, bot: Bot) -> None:
    await _retire_review(bot, message.chat.id, await state.get_data())
    await leave(message, state, cancel_text())


@router.message(AskHelp(), F.text == labels.BACK)
async def on_back(
    message: Message, state: FSMContext, session: AsyncSession, member: Member, bot: Bot
) -> None:
    current = step_of(await state.get_state())
    data = await state.get_data()
    if current is None or current == AskHelp.who:
        await leave(message, state, cancel_text())
    elif current.state in PARENT:
        await ask(PARENT[current.state], message, state, session)
    elif current == AskHelp.what:
        if data.get("for_other"):
            options = data.get("options")
            if options is None:
                people = await family.beneficiaries(session, member.id)
                await state.update_data(options=_options(people[:30]))
            await ask(AskHelp.who, message, state, session)
        else:
            await leave(message, state, cancel_text())
    elif current == AskHelp.when and data.get("when") is None and data.get("repeat"):
        await state.update_data(repeat=False, to_review=False)
        await ask(AskHelp.what, message, state, session)
    elif data.get("to_review"):
        await show_review(message, state, session, member, bot)
    else:
        await ask(TOP_STEPS[TOP_STEPS.index(current) - 1], message, state, session)


# ---------------------------------------------------------------- for whom


@router.message(AskHelp.who, F.text == labels.NEW_RESIDENT)
async def on_new_resident(
    message: Message, state: FSMContext, session: AsyncSession, member: Member
) -> None:
    if not member.is_coordinator:
        await ask(AskHelp.who, message, state, session, hint=_(family.CoordinatorsOnly.key))
        return
    await ask(AskHelp.new_name, message, state, session)


@router.message(AskHelp.who, F.text)
async def on_who(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    member: Member,
    settings: Settings,
) -> None:
    options: dict[str, int] = (await state.get_data()).get("options", {})
    chosen = options.get(message.text or "")
    if chosen is None:
        await ask(
            AskHelp.who, message, state, session, hint=_("Please choose one of the buttons below.")
        )
        return
    await begin(message, state, session, member, chosen, settings, for_other=True)


@router.message(AskHelp.new_name, F.text)
async def on_new_name(message: Message, state: FSMContext, session: AsyncSession) -> None:
    try:
        name = members.clean_name(message.text or "")
    except DomainError as error:
        await ask(AskHelp.new_name, message, state, session, hint=_(error.key))
        return
    await state.update_data(new_name=name)
    await ask(AskHelp.new_branch, message, state, session)


@router.message(AskHelp.new_branch, F.text)
async def on_new_branch(message: Message, state: FSMContext, session: AsyncSession) -> None:
    chosen = catalog.named(await catalog.branches(session), message.text, language())
    if chosen is None:
        await ask(
            AskHelp.new_branch,
            message,
            state,
            session,
            hint=_("Please choose one of the buttons below."),
        )
        return
    await state.update_data(new_branch_id=chosen.id)
    await ask(AskHelp.new_address, message, state, session)


@router.message(AskHelp.new_address, F.text)
async def on_new_address(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    member: Member,
    settings: Settings,
) -> None:
    data = await state.get_data()
    try:
        resident = await family.register_offline_resident(
            session,
            member.id,
            name=data.get("new_name", ""),
            branch_id=int(data.get("new_branch_id", 0)),
            address=message.text or "",
        )
    except family.AddressInvalid as error:
        await ask(AskHelp.new_address, message, state, session, hint=_(error.key))
        return
    except DomainError as error:
        await leave(message, state, _(error.key).format(**error.params))
        return
    await message.answer(
        _("I have added {name}. Now, about the help they need.").format(name=escape(resident.name))
    )
    await begin(message, state, session, member, resident.id, settings, for_other=True)


# ---------------------------------------------------------------- what


@router.message(AskHelp.what, F.text == labels.SAME_AS_LAST)
async def on_same_as_last(
    message: Message, state: FSMContext, session: AsyncSession, member: Member, bot: Bot
) -> None:
    data = await state.get_data()
    try:
        last = await orders.repeat_last(session, member.id, data["beneficiary_id"])
    except NotFound:
        await state.update_data(has_last=False)
        await ask(AskHelp.what, message, state, session)
        return
    place = last.place
    if place is not None and place.kind == Place.HOME and not data.get("has_home"):
        place = None
    await state.update_data(
        category_id=last.category_id,
        description=last.description,
        voice_file_id=last.voice_file_id,
        described=True,
        place=place.to_dict() if place else None,
        minutes=last.estimated_minutes,
        when=None,
        repeat=True,
        to_review=True,
    )
    await ask(AskHelp.when, message, state, session)


@router.message(AskHelp.what, F.text)
async def on_what(
    message: Message, state: FSMContext, session: AsyncSession, member: Member, bot: Bot
) -> None:
    chosen = next(
        (c for c in await catalog.categories(session) if category_text(c) == message.text),
        None,
    )
    if chosen is None:
        await ask(
            AskHelp.what, message, state, session, hint=_("Please choose one of the buttons below.")
        )
        return
    await state.update_data(category_id=chosen.id)
    await advance(AskHelp.what, message, state, session, member, bot)


# ---------------------------------------------------------------- describe


@router.message(AskHelp.describe, F.text == labels.SKIP)
async def on_skip_description(
    message: Message, state: FSMContext, session: AsyncSession, member: Member, bot: Bot
) -> None:
    await state.update_data(description="", voice_file_id=None, described=True)
    await advance(AskHelp.describe, message, state, session, member, bot)


@router.message(AskHelp.describe, F.voice)
async def on_voice(
    message: Message, state: FSMContext, session: AsyncSession, member: Member, bot: Bot
) -> None:
    assert message.voice is not None
    await state.update_data(description="", voice_file_id=message.voice.file_id, described=True)
    await message.answer(_("🎤 Got it, I will pass your voice message on to the volunteer."))
    await advance(AskHelp.describe, message, state, session, member, bot)


@router.message(AskHelp.describe, F.text, ~F.text.startswith("/"))
@router.message(AskHelp.describe_long, F.text, ~F.text.startswith("/"))
async def on_description(
    message: Message, state: FSMContext, session: AsyncSession, member: Member, bot: Bot
) -> None:
    current = await state.get_state()
    data = await state.get_data()
    if current == AskHelp.describe_long.state:
        if message.text == labels.KEEP_SHORTENED:
            await state.update_data(
                description=data.get("long_text", ""), voice_file_id=None, described=True,
                long_text=None,
            )  # fmt: skip
            await advance(AskHelp.describe, message, state, session, member, bot)
            return
        if message.text == labels.WRITE_AGAIN:
            await state.update_data(long_text=None)
            await ask(AskHelp.describe, message, state, session)
            return
    kept, cut = orders.shorten_description(message.text or "")
    if cut:
        await state.update_data(long_text=kept)
        await ask(AskHelp.describe_long, message, state, session)
        return
    await state.update_data(description=kept, voice_file_id=None, described=True)
    await advance(AskHelp.describe, message, state, session, member, bot)


# ---------------------------------------------------------------- when


@router.message(AskHelp.when, F.text == labels.ASAP)
@router.message(AskHelp.day, F.text == labels.ASAP)
async def on_asap(
    message: Message, state: FSMContext, session: AsyncSession, member: Member, bot: Bot
) -> None:
    await state.update_data(when=When.asap().to_dict(), day=None)
    await advance(AskHelp.when, message, state, session, member, bot)


@router.message(AskHelp.when, F.text.in_([labels.TODAY, labels.TOMORROW]))
@router.message(AskHelp.day, F.text.in_([labels.TODAY, labels.TOMORROW]))
async def on_today_or_tomorrow(message: Message, state: FSMContext, session: AsyncSession) -> None:
    data = await state.get_data()
    today = schedule.local_today(data["time_zone"], utcnow())
    day = today if message.text == labels.TODAY else today + timedelta(days=1)
    await state.update_data(day=day.isoformat())
    await ask(AskHelp.part, message, state, session)


@router.message(AskHelp.when, F.text == labels.PICK_DAY)
@router.message(AskHelp.day, F.text == labels.PICK_DAY)
async def on_pick_day(message: Message, state: FSMContext, session: AsyncSession) -> None:
    await ask(AskHelp.day, message, state, session)


@router.callback_query(PickDay.filter())
async def on_day_picked(
    query: CallbackQuery,
    callback_data: PickDay,
    state: FSMContext,
    session: AsyncSession,
) -> None:
    data = await state.get_data()
    current = await state.get_state()
    if data.get("draft") != callback_data.draft or current not in (
        AskHelp.day.state,
        AskHelp.when.state,
        AskHelp.part.state,
    ):
        await query.answer(_("This button is no longer active."))
        return
    try:
        day = datetime.strptime(callback_data.day, "%Y%m%d").date()
    except ValueError:
        await query.answer(_("Sorry, I did not understand that."))
        return
    if day not in schedule.bookable_days(data["time_zone"], utcnow()):
        await query.answer(_(TooFarAhead.key))
        return
    await query.answer()
    await state.update_data(day=day.isoformat())
    if isinstance(query.message, Message):
        try:
            await query.message.edit_text(
                "📅 " + format_skeleton("MMMMEd", day, locale=language()), reply_markup=None
            )
        except TelegramBadRequest:
            pass
        await ask(AskHelp.part, query.message, state, session)


@router.message(AskHelp.part, F.text)
async def on_part(
    message: Message, state: FSMContext, session: AsyncSession, member: Member, bot: Bot
) -> None:
    data = await state.get_data()
    day = date.fromisoformat(data["day"])
    part = next((p for p, label in PART_LABELS.items() if message.text == label), None)
    try:
        if part is not None:
            when = When.day_part(day, part)
        else:
            when = When.exact(day, schedule.parse_time(message.text or ""))
        schedule.check(when, data["time_zone"], utcnow())
    except InvalidInput as error:
        await ask(AskHelp.part, message, state, session, hint=_(error.key))
        return
    await state.update_data(when=when.to_dict(), day=None)
    await advance(AskHelp.when, message, state, session, member, bot)


# ---------------------------------------------------------------- where


@router.message(AskHelp.where, F.text.in_([labels.MY_HOME, labels.THEIR_HOME]))
async def on_home(
    message: Message, state: FSMContext, session: AsyncSession, member: Member, bot: Bot
) -> None:
    if not (await state.get_data()).get("has_home"):
        await ask(AskHelp.where, message, state, session, hint=_(orders.NoHomeAddress.key))
        return
    await state.update_data(place=Place.home().to_dict())
    await advance(AskHelp.where, message, state, session, member, bot)


@router.message(AskHelp.where, F.location)
async def on_location(
    message: Message, state: FSMContext, session: AsyncSession, member: Member, bot: Bot
) -> None:
    assert message.location is not None
    place = Place.location(message.location.latitude, message.location.longitude)
    await state.update_data(place=place.to_dict())
    await advance(AskHelp.where, message, state, session, member, bot)


@router.message(AskHelp.where, F.text)
async def on_address(
    message: Message, state: FSMContext, session: AsyncSession, member: Member, bot: Bot
) -> None:
    try:
        place = Place.typed(message.text or "")
    except InvalidInput as error:
        await ask(AskHelp.where, message, state, session, hint=_(error.key))
        return
    await state.update_data(place=place.to_dict())
    await advance(AskHelp.where, message, state, session, member, bot)


# ---------------------------------------------------------------- how long


@router.message(AskHelp.duration, F.text)
async def on_duration(
    message: Message, state: FSMContext, session: AsyncSession, member: Member, bot: Bot
) -> None:
    minutes = next((m for label, m in ESTIMATE_LABELS if message.text == label), None)
    if minutes is None:
        await ask(AskHelp.duration, message, state, session, hint=_(orders.EstimateInvalid.key))
        return
    await state.update_data(minutes=minutes)
    await advance(AskHelp.duration, message, state, session, member, bot)


# ---------------------------------------------------------------- review


async def _stale(query: CallbackQuery, session: AsyncSession, member: Member, draft: str) -> None:
    """A button of a summary that is no longer the current one."""
    order = await orders.find_by_key(session, order_key(draft))
    if order is not None and order.requester_id == member.id:
        await query.answer(_("This request was already sent. You can see it in “📋 My orders”."))
    else:
        await query.answer(_("This button is no longer active."))
    if isinstance(query.message, Message):
        try:
            await query.message.edit_reply_markup(reply_markup=None)
        except TelegramBadRequest:
            pass


@router.callback_query(AskStep.filter())
async def on_review_button(
    query: CallbackQuery,
    callback_data: AskStep,
    state: FSMContext,
    session: AsyncSession,
    member: Member | None,
    settings: Settings,
    bot: Bot,
) -> None:
    if member is None:
        await query.answer(_("This button is no longer active."))
        return
    data = await state.get_data()
    if data.get("draft") != callback_data.draft or await state.get_state() is None:
        await _stale(query, session, member, callback_data.draft)
        return
    if not isinstance(query.message, Message):
        await query.answer(_("This button is no longer active."))
        return
    message = query.message
    action = callback_data.action
    if action in EDITS:
        await query.answer()
        await state.update_data(to_review=True)
        await ask(EDITS[action], message, state, session)
    elif action == "cancel":
        await query.answer()
        await _retire_review(bot, message.chat.id, data)
        await leave(message, state, cancel_text())
    elif action == "send":
        await send(query, message, data, state, session, member, settings, bot)
    else:
        await query.answer(_("Sorry, I did not understand that."))


async def send(
    query: CallbackQuery,
    message: Message,
    data: dict[str, Any],
    state: FSMContext,
    session: AsyncSession,
    member: Member,
    settings: Settings,
    bot: Bot,
) -> None:
    if await state.get_state() != AskHelp.review.state or first_missing(data) is not None:
        await query.answer()
        await show_review(message, state, session, member, bot)
        return
    try:
        placed = await orders.place_order(
            session,
            requester_id=member.id,
            beneficiary_id=data["beneficiary_id"],
            request=draft_request(data),
            key=order_key(data["draft"]),
            max_open=settings.max_open_orders,
        )
    except (TimeInPast, TooFarAhead) as error:
        await query.answer()
        await state.update_data(when=None, to_review=True)
        await ask(AskHelp.when, message, state, session, hint=_(error.key))
        return
    except (orders.NoHomeAddress, orders.PlaceInvalid) as error:
        await query.answer()
        await state.update_data(place=None, to_review=True)
        await ask(AskHelp.where, message, state, session, hint=_(error.key))
        return
    except DomainError as error:
        await query.answer()
        await _retire_review(bot, message.chat.id, data)
        await leave(message, state, _(error.key).format(**error.params))
        return
    await query.answer(_("Sent!"))
    await state.clear()
    try:
        await message.edit_reply_markup(reply_markup=None)
    except TelegramBadRequest:
        pass
    order = placed.order
    for_other = order.beneficiary_id != member.id
    if for_other:
        text = _(
            "✅ Sent! I will let you know as soon as a volunteer says yes, and {name} too "
            "if they use this bot."
        ).format(name=escape(data.get("beneficiary_name", "")))
    else:
        text = _("✅ Sent! I will let you know as soon as a volunteer says yes.")
    if placed.coverage.needs_sponsor:
        text += "\n" + _("A coordinator will see that it needs help with the cost.")
    await message.answer(text, reply_markup=keyboards.main_menu())
    if not for_other and order.place_kind == Place.ADDRESS and not member.address:
        await message.answer(
            _(
                "Is {address} your home? I can remember it, so next time you just tap "
                "“{my_home}”."
            ).format(address=escape(order.address or ""), my_home=labels.MY_HOME),
            reply_markup=remember_home_buttons(order.id),
        )


def remember_home_buttons(order_id: int) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    buttons.button(
        text=str(labels.REMEMBER_HOME), callback_data=RememberHome(order_id=order_id, keep=True)
    )
    buttons.button(
        text=str(labels.NOT_MY_HOME), callback_data=RememberHome(order_id=order_id, keep=False)
    )
    buttons.adjust(1)
    return buttons.as_markup()


@router.callback_query(RememberHome.filter())
async def on_remember_home(
    query: CallbackQuery, callback_data: RememberHome, session: AsyncSession, member: Member | None
) -> None:
    if member is None:
        await query.answer(_("Sorry, this button is not for you."), show_alert=True)
        return
    if callback_data.keep:
        try:
            async with session.begin_nested():
                kept = await orders.remember_home(
                    session, member_id=member.id, order_id=callback_data.order_id
                )
        except DomainError as error:
            await query.answer(_(error.key).format(**error.params), show_alert=True)
            return
        text = _("🏠 Thank you, I will remember {address} as your home.").format(
            address=escape(kept.address or "")
        )
    else:
        text = _("All right, I will not keep it.")
    await query.answer()
    await show_in_place(query, text, None)


# ---------------------------------------------------------------- anything else


@router.message(AskHelp())
async def reprompt(message: Message, state: FSMContext, session: AsyncSession) -> None:
    """A sticker, a photo, a stray command: say what fits here and ask again."""
    step = step_of(await state.get_state()) or AskHelp.what
    if step == AskHelp.review:
        await message.answer(
            _("Please use the buttons on the summary above: ✅ Send, or ✏️ to change something.")
        )
        return
    if step in (AskHelp.describe, AskHelp.describe_long):
        hint = _("Please type a few words, or send a voice message.")
    elif step == AskHelp.where:
        hint = _("Please type the address, or share a location with the button below.")
    elif step in (AskHelp.part, AskHelp.new_address, AskHelp.new_name):
        hint = _("Please answer with a short text.")
    elif step == AskHelp.day:
        hint = _("Please tap a day in the calendar above.")
        await message.answer(hint)
        return
    else:
        hint = _("Please choose one of the buttons below.")
    await ask(step, message, state, session, hint=hint)
