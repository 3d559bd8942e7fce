"""Asking for help: (branch) → what → describe → when → where → review → send.

A member in several branches first says in which one the help is (the order is matched
and coordinated there); with one branch that question is not asked.

How long it may take starts at about an hour; the review's ✏️ changes it. "🎤 Ask by voice"
asks only for a voice note and fills in the rest (other help, as soon as possible, at home,
about an hour), which the review says in words and the volunteer settles with the member.

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
from datetime import date, datetime
from html import escape
from typing import Any

from aiogram import F
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, or_f
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from babel.dates import format_skeleton

from bot.handlers.asking.callbacks import AskAction, AskStep, PickDay
from bot.handlers.asking.views import (
    ESTIMATE_LABELS,
    PART_LABELS,
    QUICK_TIME_LABELS,
    calendar,
    cancel_text,
    quick_time_rows,
    remember_home_buttons,
    remember_home_text,
    review_buttons,
    review_text,
    sent_text,
)
from bot.kit import keyboards, labels
from bot.kit.formatters import category_text, error_text, language
from bot.kit.guards import Known, SignedUp
from bot.kit.screens import Asks, Button, Screen
from bot.kit.steps import Steps, Turn
from bot.kit.telegram import markup
from bot.kit.times import day_text
from core import asking, catalog, coordinators, family, members, orders, schedule
from core.asking import Answer
from core.config import Settings
from core.db import utcnow
from core.errors import DomainError, InvalidInput, NotFound
from core.models import Branch, Member
from core.orders import Place
from core.schedule import TooFarAhead, When


class AskHelp(StatesGroup):
    who = State()
    voice = State()
    new_name = State()
    new_branch = State()
    new_address = State()
    branch = State()
    what = State()
    describe = State()
    describe_long = State()
    when = State()
    day = State()
    part = State()
    where = State()
    duration = State()
    review = State()


STATE_OF: dict[Answer, State] = {
    Answer.WHAT: AskHelp.what,
    Answer.DESCRIBE: AskHelp.describe,
    Answer.WHEN: AskHelp.when,
    Answer.WHERE: AskHelp.where,
    Answer.DURATION: AskHelp.duration,
}
ANSWER_OF = {state: answer for answer, state in STATE_OF.items()}
# A sub-step goes Back to the question it belongs to.
PARENTS: dict[State, State] = {
    AskHelp.describe_long: AskHelp.describe,
    AskHelp.day: AskHelp.when,
    AskHelp.part: AskHelp.when,
    AskHelp.new_name: AskHelp.who,
    AskHelp.new_branch: AskHelp.new_name,
    AskHelp.new_address: AskHelp.new_branch,
    AskHelp.review: AskHelp.where,
}
SHORT_TEXT = __("Please answer with a short text.")
HINTS = {
    AskHelp.describe: __("Please type a few words, or send a voice message."),
    AskHelp.describe_long: __("Please type a few words, or send a voice message."),
    AskHelp.voice: __("Please send a voice message."),
    AskHelp.where: __("Please type the address, or share a location with the button below."),
    AskHelp.part: SHORT_TEXT,
    AskHelp.new_address: SHORT_TEXT,
    AskHelp.new_name: SHORT_TEXT,
    AskHelp.day: __("Please tap a day in the calendar above."),
    AskHelp.review: __(
        "Please use the buttons on the summary above: ✅ Send, or ✏️ to change something."
    ),
}
KEY_PREFIX = "tg-draft:"
MAX_PEOPLE = 30


def order_key(draft: str) -> str:
    return f"{KEY_PREFIX}{draft}"


# ---------------------------------------------------------------- the questions


async def prompt(step: State, turn: Turn) -> Screen:
    """The question of `step` and the buttons that answer it."""
    data, session = await turn.data(), turn.session
    if step == AskHelp.who:
        rows = [[name] for name in data.get("options", {})]
        if data.get("coordinator"):
            rows.append([str(labels.NEW_RESIDENT)])
        return Screen(_("Who is the help for?"), keyboards.reply(rows))
    if step == AskHelp.new_name:
        return Screen(
            _("What is the name of the person you are asking for?"),
            keyboards.reply([], placeholder=_("Their name")),
        )
    if step == AskHelp.new_branch:
        names = [catalog.localized(b.names, language()) for b in await coordinated(turn)]
        return Screen(_("Which branch is near them?"), keyboards.reply([[n] for n in names]))
    if step == AskHelp.new_address:
        return Screen(
            _(
                "What is their home address? Only coordinators and the volunteer who "
                "accepts will see it."
            ),
            keyboards.reply([], placeholder=_("Street, building, flat")),
        )
    if step == AskHelp.branch:
        return Screen(
            _("You are in more than one branch. In which one do you need the help?"),
            keyboards.reply([[label] for label, _id, _zone in data.get("branches", [])]),
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
        return Screen(question, keyboards.reply(rows))
    if step == AskHelp.describe:
        return Screen(
            _(
                "Tell me a little more, so the volunteer knows what to bring. Type a few "
                "words or send a voice message. Or tap Skip."
            ),
            keyboards.reply([[str(labels.SKIP)]], placeholder=_("A few words")),
        )
    if step == AskHelp.describe_long:
        return Screen(
            _(
                "That is a long message! I can keep the first {count} characters, up to "
                "“…{ending}”. Is that all right?"
            ).format(
                count=orders.MAX_DESCRIPTION,
                ending=escape(str(data.get("long_text", ""))[-40:]),
            ),
            keyboards.reply([[str(labels.KEEP_SHORTENED)], [str(labels.WRITE_AGAIN)]]),
        )
    if step == AskHelp.voice:
        return Screen(
            _(
                "Hold the 🎤 microphone button and tell me what you need. Let go when you "
                "are done, and I will show you the request before it is sent."
            ),
            keyboards.reply([]),
        )
    if step in (AskHelp.when, AskHelp.day, AskHelp.part):
        return when_question(step, data)
    if step == AskHelp.where:
        return where_question(data)
    assert step == AskHelp.duration
    return Screen(
        _("About how long might it take?"),
        keyboards.reply(keyboards.in_pairs([str(x) for x in ESTIMATE_LABELS.values()])),
    )


async def coordinated(turn: Turn) -> list[Branch]:
    """The branches the coordinator may register a resident in: those they coordinate."""
    assert turn.member is not None
    mine = await coordinators.coordinated_branches(turn.session, turn.member)
    return [branch for branch in await catalog.branches(turn.session) if branch.id in mine]


def when_question(step: State, data: dict[str, Any]) -> Screen:
    time_zone, now = data["time_zone"], utcnow()
    if step == AskHelp.when:
        return Screen(
            _("When would you like the help?"),
            keyboards.reply(quick_time_rows(asking.quick_times_open(time_zone, now))),
        )
    if step == AskHelp.day:
        return Screen(
            _("Which day? Tap it below."),
            calendar(data["draft"], asking.calendar_days(time_zone, now)),
        )
    day = date.fromisoformat(data["day"])
    parts = schedule.open_parts(day, time_zone, now)
    shown = day_text(day, schedule.local_today(time_zone, now))
    if parts:
        question = _("{day}: which part of the day? Or type an exact time, like 14:30.").format(
            day=shown
        )
    else:
        question = _("{day}: please type a time, like 20:30.").format(day=shown)
    rows = [[str(PART_LABELS[p]) for p in parts]] if parts else []
    return Screen(question, keyboards.reply(rows, placeholder="14:30"))


def where_question(data: dict[str, Any]) -> Screen:
    rows: list[list[str | Button]] = []
    if data.get("has_home"):
        rows.append([str(labels.THEIR_HOME if data.get("for_other") else labels.MY_HOME)])
    rows.append([Button(str(labels.SHARE_LOCATION), asks=Asks.LOCATION)])
    return Screen(
        _(
            "Where should the volunteer come? Tap a button, or type the address. "
            "Only the volunteer who accepts will see it."
        ),
        keyboards.reply(rows, placeholder=_("Street, building, flat")),
    )


# ---------------------------------------------------------------- Back, Cancel, refusals


async def retire_review(turn: Turn) -> None:
    """Take the buttons off the last summary, so only the newest one can be used."""
    message_id = (await turn.data()).get("review_message_id")
    if message_id and turn.message.bot is not None:
        try:
            await turn.message.bot.edit_message_reply_markup(
                chat_id=turn.message.chat.id, message_id=message_id, reply_markup=None
            )
        except TelegramBadRequest:
            pass


async def stop(turn: Turn) -> None:
    await retire_review(turn)
    await turn.leave(cancel_text())


async def refused(turn: Turn, error: DomainError) -> None:
    await retire_review(turn)
    await turn.leave(error_text(error))


async def back(turn: Turn) -> bool:
    """Back where the way back depends on the draft: out of the wizard from its first
    question, to the voice note on a voice request, to whom it is for, to the review once
    it was reached. Sub-steps and the plain way back are the step machine's."""
    current = await turn.step()
    data = await turn.data()
    to_review = data.get("to_review")
    first = current in (AskHelp.what, AskHelp.voice) and not to_review
    if current == AskHelp.who:
        await turn.leave(cancel_text())
    elif first and data.get("branches"):
        await turn.ask(AskHelp.branch)
    elif current == AskHelp.voice and not to_review:
        await turn.leave(cancel_text())
    elif data.get("by_voice") and (current == AskHelp.review or not to_review):
        await turn.ask(AskHelp.voice)
    elif current in PARENTS:
        return False
    elif current in (AskHelp.what, AskHelp.branch) and data.get("for_other"):
        if data.get("options") is None:
            assert turn.member is not None
            people = await family.beneficiaries(turn.session, turn.member.id)
            await turn.update(options=_options(people[:MAX_PEOPLE]))
        await turn.ask(AskHelp.who)
    elif current in (AskHelp.what, AskHelp.branch):
        await turn.leave(cancel_text())
    elif current == AskHelp.when and data.get("when") is None and data.get("repeat"):
        await turn.update(repeat=False, to_review=False)
        await turn.ask(AskHelp.what)
    elif to_review or current == AskHelp.duration:
        await show_review(turn)
    else:
        return False
    return True


steps = Steps(
    AskHelp,
    name="request_help",
    prompt=prompt,
    cancel=stop,
    way_on=lambda member: keyboards.main_menu(),
    path=[STATE_OF[answer] for answer in asking.PATH],
    parents=PARENTS,
    back=back,
    hints=HINTS,
    hint_only={AskHelp.day, AskHelp.review},
    refused=refused,
)
router = steps.router


# ---------------------------------------------------------------- the review


async def answer_again(turn: Turn, error: DomainError) -> None:
    """The draft was refused for one answer: forget it and ask it again, then review."""
    answer = asking.asked_again(error)
    assert answer is not None
    await turn.update(**{asking.KEYS[answer]: None, "to_review": True})
    await turn.ask(STATE_OF[answer], hint=error_text(error))


async def show_review(turn: Turn) -> None:
    data = await turn.data()
    missing = asking.first_missing(data)
    if missing is not None:
        await turn.ask(STATE_OF[missing])
        return
    assert turn.member is not None
    try:
        preview = await orders.preview(
            turn.session,
            requester_id=turn.member.id,
            beneficiary_id=data["beneficiary_id"],
            request=asking.to_request(data),
        )
    except (InvalidInput, NotFound) as error:
        if asking.asked_again(error) is None:
            raise
        await answer_again(turn, error)
        return
    await retire_review(turn)
    await turn.state.set_state(AskHelp.review)
    text = review_text(
        preview.prepared,
        preview.coverage,
        when=When.from_dict(data["when"]),
        place_kind=data["place"]["kind"],
        voice_file_id=data.get("voice_file_id"),
        for_other=bool(data.get("for_other")),
        by_voice=bool(data.get("by_voice")),
        in_branch=bool(data.get("branches")),
    )
    await turn.message.answer(
        _("Almost done! Please check your request, then tap ✅ Send."),
        reply_markup=keyboards.reply_keyboard([]),
    )
    sent = await turn.message.answer(text, reply_markup=markup(review_buttons(data["draft"])))
    await turn.update(review_message_id=sent.message_id, to_review=True)


async def advance(step: State, turn: Turn) -> None:
    """After an answer: the next question, or the review once it was reached before."""
    following = asking.following(ANSWER_OF[step], await turn.data())
    if following is None:
        await show_review(turn)
    else:
        await turn.ask(STATE_OF[following])


# ---------------------------------------------------------------- starting


async def begin(
    turn: Turn, beneficiary_id: int, settings: Settings, *, for_other: bool, by_voice: bool = False
) -> None:
    member = turn.member
    assert member is not None
    start = await orders.start_request(
        turn.session,
        requester_id=member.id,
        beneficiary_id=beneficiary_id,
        max_open=settings.max_open_orders,
    )
    has_home = orders.has_home(start.beneficiary)
    data: dict[str, Any] = {
        "draft": secrets.token_hex(8),
        "beneficiary_id": start.beneficiary.id,
        "beneficiary_name": start.beneficiary.name,
        "for_other": for_other,
        "coordinator": member.is_coordinator,
        "time_zone": start.branch.time_zone,
        "has_home": has_home,
        "has_last": start.has_last,
        "minutes": orders.DEFAULT_ESTIMATE,
    }
    if len(start.branches) > 1:
        data["branches"] = [
            [catalog.localized(b.names, language()), b.id, b.time_zone] for b in start.branches
        ]
    if by_voice:
        categories = await catalog.categories(turn.session)
        other = next((c for c in categories if c.code == asking.VOICE_CATEGORY), None)
        data |= asking.by_voice(other.id if other else None, has_home=has_home)
    await turn.state.set_data(data)
    await turn.ask(AskHelp.branch if data.get("branches") else first_question(data))


def first_question(data: dict[str, Any]) -> State:
    return AskHelp.voice if data.get("by_voice") else AskHelp.what


ENTRIES = or_f(
    Command("ask"),
    F.text == labels.MENU_ASK,
    F.text == labels.MENU_ASK_BY_VOICE,
    F.text == labels.MENU_ASK_FOR_OTHER,
    Command("askfor"),
)


@router.message(ENTRIES, ~SignedUp())
async def on_ask_not_signed_up(message: Message) -> None:
    await message.answer(_(orders.NoBranch.key), reply_markup=keyboards.continue_signup())


@router.message(Command("ask"), SignedUp())
@router.message(F.text == labels.MENU_ASK, SignedUp())
async def on_ask(message: Message, turn: Turn, member: Member, settings: Settings) -> None:
    await begin(turn, member.id, settings, for_other=False)


@router.message(F.text == labels.MENU_ASK_BY_VOICE, SignedUp())
async def on_ask_by_voice(message: Message, turn: Turn, member: Member, settings: Settings) -> None:
    await begin(turn, member.id, settings, for_other=False, by_voice=True)


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


@router.message(F.text == labels.MENU_ASK_FOR_OTHER, SignedUp())
@router.message(Command("askfor"), SignedUp())
async def on_ask_for_other(message: Message, turn: Turn, member: Member) -> None:
    people = await family.beneficiaries(turn.session, member.id)
    if not people and not member.is_coordinator:
        await turn.leave(
            _(
                "To ask for someone else, link with them first. They tap “👨‍👩‍👧 Family” and "
                "“Give my family a code”; then you tap “👨‍👩‍👧 Family”, “I have a code”, and "
                "type it in."
            )
        )
        return
    await turn.state.set_data(
        {"options": _options(people[:MAX_PEOPLE]), "coordinator": member.is_coordinator}
    )
    await turn.ask(AskHelp.who)


# ---------------------------------------------------------------- for whom


@router.message(AskHelp.who, F.text == labels.NEW_RESIDENT)
async def on_new_resident(message: Message, turn: Turn, member: Member) -> None:
    if not member.is_coordinator:
        await turn.reask(hint=error_text(family.CoordinatorsOnly()))
        return
    await turn.ask(AskHelp.new_name)


@router.message(AskHelp.who, F.text)
async def on_who(message: Message, turn: Turn, settings: Settings) -> None:
    chosen = (await turn.data()).get("options", {}).get(message.text or "")
    if chosen is None:
        await turn.reask()
        return
    await begin(turn, chosen, settings, for_other=True)


@router.message(AskHelp.new_name, F.text)
async def on_new_name(message: Message, turn: Turn) -> None:
    try:
        name = members.clean_name(message.text or "")
    except members.NameInvalid as error:
        await turn.reask(hint=error_text(error))
        return
    await turn.update(new_name=name)
    await turn.ask(AskHelp.new_branch)


@router.message(AskHelp.new_branch, F.text)
async def on_new_branch(message: Message, turn: Turn) -> None:
    chosen = catalog.named(await coordinated(turn), message.text, language())
    if chosen is None:
        await turn.reask()
        return
    await turn.update(new_branch_id=chosen.id)
    await turn.ask(AskHelp.new_address)


@router.message(AskHelp.new_address, F.text)
async def on_new_address(message: Message, turn: Turn, member: Member, settings: Settings) -> None:
    data = await turn.data()
    try:
        resident = await family.register_offline_resident(
            turn.session,
            member.id,
            name=data.get("new_name", ""),
            branch_id=int(data.get("new_branch_id", 0)),
            address=message.text or "",
        )
    except family.AddressInvalid as error:
        await turn.reask(hint=error_text(error))
        return
    await message.answer(
        _("I have added {name}. Now, about the help they need.").format(name=escape(resident.name))
    )
    await begin(turn, resident.id, settings, for_other=True)


# ---------------------------------------------------------------- in which branch


@router.message(AskHelp.branch, F.text)
async def on_branch(message: Message, turn: Turn) -> None:
    data = await turn.data()
    chosen = next((b for b in data.get("branches", []) if b[0] == message.text), None)
    if chosen is None:
        await turn.reask()
        return
    _label, branch_id, time_zone = chosen
    await turn.update(branch_id=branch_id, time_zone=time_zone)
    await turn.ask(first_question(data))


# ---------------------------------------------------------------- what


@router.message(AskHelp.what, F.text == labels.SAME_AS_LAST)
async def on_same_as_last(message: Message, turn: Turn, member: Member) -> None:
    data = await turn.data()
    try:
        last = await orders.repeat_last(turn.session, member.id, data["beneficiary_id"])
    except NotFound:
        await turn.update(has_last=False)
        await turn.ask(AskHelp.what)
        return
    await turn.update(**asking.repeated(last, has_home=bool(data.get("has_home"))))
    await turn.ask(AskHelp.when)


@router.message(AskHelp.what, F.text)
async def on_what(message: Message, turn: Turn) -> None:
    categories = await catalog.categories(turn.session)
    chosen = next((c for c in categories if category_text(c) == message.text), None)
    if chosen is None:
        await turn.reask()
        return
    await turn.update(category_id=chosen.id)
    await advance(AskHelp.what, turn)


# ---------------------------------------------------------------- describe


@router.message(AskHelp.describe, F.text == labels.SKIP)
async def on_skip_description(message: Message, turn: Turn) -> None:
    await turn.update(description="", voice_file_id=None, described=True)
    await advance(AskHelp.describe, turn)


@router.message(AskHelp.voice, F.voice)
async def on_voice_request(message: Message, turn: Turn) -> None:
    assert message.voice is not None
    await turn.update(description="", voice_file_id=message.voice.file_id, described=True)
    await show_review(turn)


@router.message(AskHelp.describe, F.voice)
async def on_voice(message: Message, turn: Turn) -> None:
    assert message.voice is not None
    await turn.update(description="", voice_file_id=message.voice.file_id, described=True)
    await message.answer(_("🎤 Got it, I will pass your voice message on to the volunteer."))
    await advance(AskHelp.describe, turn)


@router.message(AskHelp.describe_long, F.text == labels.KEEP_SHORTENED)
async def on_keep_shortened(message: Message, turn: Turn) -> None:
    kept = (await turn.data()).get("long_text", "")
    await turn.update(
        description=kept, voice_file_id=None, described=True, long_text=None, long_at=None
    )
    await advance(AskHelp.describe, turn)


@router.message(AskHelp.describe_long, F.text == labels.WRITE_AGAIN)
async def on_write_again(message: Message, turn: Turn) -> None:
    await turn.update(long_text=None, long_at=None)
    await turn.ask(AskHelp.describe)


# Telegram sends a text longer than 4,096 characters as several messages, a second or so
# apart: those parts belong to the long description the question is about.
SPLIT_PARTS_SECONDS = 2


@router.message(AskHelp.describe, F.text, ~F.text.startswith("/"))
@router.message(AskHelp.describe_long, F.text, ~F.text.startswith("/"))
async def on_description(message: Message, turn: Turn) -> None:
    sent_at = int(message.date.timestamp())
    long_at = (await turn.data()).get("long_at")
    if long_at is not None and sent_at - long_at <= SPLIT_PARTS_SECONDS:
        return  # the rest of the long message: the question about it stands
    kept, cut = asking.description(message.text or "")
    if cut:
        await turn.update(long_text=kept, long_at=sent_at)
        await turn.ask(AskHelp.describe_long)
        return
    await turn.update(description=kept, voice_file_id=None, described=True, long_at=None)
    await advance(AskHelp.describe, turn)


# ---------------------------------------------------------------- when


@router.message(AskHelp.when, F.text == labels.ASAP)
@router.message(AskHelp.day, F.text == labels.ASAP)
async def on_asap(message: Message, turn: Turn) -> None:
    await turn.update(when=When.asap().to_dict(), day=None)
    await advance(AskHelp.when, turn)


@router.message(AskHelp.when, F.text.in_(list(QUICK_TIME_LABELS.values())))
@router.message(AskHelp.day, F.text.in_(list(QUICK_TIME_LABELS.values())))
async def on_quick_time(message: Message, turn: Turn) -> None:
    days, part = next(t for t, label in QUICK_TIME_LABELS.items() if message.text == label)
    try:
        when = asking.quick_time(days, part, (await turn.data())["time_zone"], utcnow())
    except InvalidInput as error:
        await turn.ask(AskHelp.when, hint=error_text(error))
        return
    await turn.update(when=when.to_dict(), day=None)
    await advance(AskHelp.when, turn)


@router.message(AskHelp.when, F.text == labels.ANOTHER_DAY)
@router.message(AskHelp.day, F.text == labels.ANOTHER_DAY)
async def on_pick_day(message: Message, turn: Turn) -> None:
    await turn.ask(AskHelp.day)


@router.callback_query(PickDay.filter())
async def on_day_picked(query: CallbackQuery, callback_data: PickDay, turn: Turn) -> None:
    data = await turn.data()
    if data.get("draft") != callback_data.draft or await turn.step() not in (
        AskHelp.day,
        AskHelp.when,
        AskHelp.part,
    ):
        await query.answer(_("This button is no longer active."))
        return
    try:
        day = datetime.strptime(callback_data.day, "%Y%m%d").date()
    except ValueError:
        await query.answer(_("Sorry, I did not understand that."))
        return
    if day not in asking.calendar_days(data["time_zone"], utcnow()):
        await query.answer(error_text(TooFarAhead()))
        return
    await query.answer()
    await turn.update(day=day.isoformat())
    try:
        await turn.message.edit_text(
            "📅 " + format_skeleton("MMMMEd", day, locale=language()), reply_markup=None
        )
    except TelegramBadRequest:
        pass
    await turn.ask(AskHelp.part)


@router.message(AskHelp.part, F.text)
async def on_part(message: Message, turn: Turn) -> None:
    data = await turn.data()
    part = next((p for p, label in PART_LABELS.items() if message.text == label), None)
    day = date.fromisoformat(data["day"])
    try:
        when = asking.on_day(day, part, message.text or "", data["time_zone"], utcnow())
    except InvalidInput as error:
        await turn.reask(hint=error_text(error))
        return
    await turn.update(when=when.to_dict(), day=None)
    await advance(AskHelp.when, turn)


# ---------------------------------------------------------------- where


@router.message(AskHelp.where, F.text.in_([labels.MY_HOME, labels.THEIR_HOME]))
async def on_home(message: Message, turn: Turn) -> None:
    if not (await turn.data()).get("has_home"):
        await turn.reask(hint=error_text(orders.NoHomeAddress()))
        return
    await turn.update(place=Place.home().to_dict())
    await advance(AskHelp.where, turn)


@router.message(AskHelp.where, F.location)
async def on_location(message: Message, turn: Turn) -> None:
    assert message.location is not None
    place = Place.location(message.location.latitude, message.location.longitude)
    await turn.update(place=place.to_dict())
    await advance(AskHelp.where, turn)


@router.message(AskHelp.where, F.text)
async def on_address(message: Message, turn: Turn) -> None:
    try:
        place = Place.typed(message.text or "")
    except InvalidInput as error:
        await turn.reask(hint=error_text(error))
        return
    await turn.update(place=place.to_dict())
    await advance(AskHelp.where, turn)


# ---------------------------------------------------------------- how long


@router.message(AskHelp.duration, F.text)
async def on_duration(message: Message, turn: Turn) -> None:
    chosen = next((m for m, label in ESTIMATE_LABELS.items() if message.text == label), None)
    try:
        minutes = asking.estimate(chosen)
    except orders.EstimateInvalid as error:
        await turn.reask(hint=error_text(error))
        return
    await turn.update(minutes=minutes)
    await advance(AskHelp.duration, turn)


# ---------------------------------------------------------------- the review's buttons


async def is_current(query: CallbackQuery, draft: str, turn: Turn) -> bool:
    """Is this button on the summary in use now? If not, say so and take its buttons off:
    it was sent already, or a newer summary replaced it."""
    if (await turn.data()).get("draft") == draft and await turn.step() is not None:
        return True
    order = await orders.find_by_key(turn.session, order_key(draft))
    if order is not None and turn.member is not None and order.requester_id == turn.member.id:
        await query.answer(_("This request was already sent. You can see it in “📋 My requests”."))
    else:
        await query.answer(_("This button is no longer active."))
    try:
        await turn.message.edit_reply_markup(reply_markup=None)
    except TelegramBadRequest:
        pass
    return False


EDITS = [AskAction(answer.value) for answer in Answer]


@router.callback_query(AskStep.filter(F.action.in_(EDITS)), Known())
async def on_edit(query: CallbackQuery, callback_data: AskStep, turn: Turn) -> None:
    if not await is_current(query, callback_data.draft, turn):
        return
    await query.answer()
    await turn.update(to_review=True)
    await turn.ask(STATE_OF[Answer(callback_data.action.value)])


@router.callback_query(AskStep.filter(F.action == AskAction.CANCEL), Known())
async def on_review_cancel(query: CallbackQuery, callback_data: AskStep, turn: Turn) -> None:
    if not await is_current(query, callback_data.draft, turn):
        return
    await query.answer()
    await stop(turn)


@router.callback_query(AskStep.filter(F.action == AskAction.SEND), Known())
async def on_send(
    query: CallbackQuery, callback_data: AskStep, turn: Turn, member: Member, settings: Settings
) -> None:
    if not await is_current(query, callback_data.draft, turn):
        return
    data = await turn.data()
    if await turn.step() != AskHelp.review or asking.first_missing(data) is not None:
        await query.answer()
        await show_review(turn)
        return
    try:
        placed = await orders.place_order(
            turn.session,
            requester_id=member.id,
            beneficiary_id=data["beneficiary_id"],
            request=asking.to_request(data),
            key=order_key(data["draft"]),
            max_open=settings.max_open_orders,
        )
    except (InvalidInput, NotFound) as error:
        if asking.asked_again(error) is None:
            raise
        await query.answer()
        await answer_again(turn, error)
        return
    await query.answer(_("Sent!"))
    await turn.state.clear()
    try:
        await turn.message.edit_reply_markup(reply_markup=None)
    except TelegramBadRequest:
        pass
    await told_sent(turn, placed, member, data.get("beneficiary_name", ""))


async def told_sent(turn: Turn, placed: orders.Placed, member: Member, name: str) -> None:
    """Sent, and for a typed address of one's own, the offer to remember it as home."""
    order = placed.order
    for_other = order.beneficiary_id != member.id
    await turn.message.answer(
        sent_text(for_other=for_other, name=name, needs_sponsor=placed.coverage.needs_sponsor),
        reply_markup=keyboards.main_menu(),
    )
    if not for_other and order.place_kind == Place.ADDRESS and not member.address:
        await turn.message.answer(
            remember_home_text(order.address or ""),
            reply_markup=markup(remember_home_buttons(order.id)),
        )


@router.callback_query(Known(), F.data.startswith(AskStep.__prefix__ + ":"))
async def on_unknown_review_button(query: CallbackQuery) -> None:
    await query.answer(_("Sorry, I did not understand that."))
