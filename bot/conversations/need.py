"""Telling the time bank about a need of the neighbourhood: kind → words or voice → with or
without one's name → recorded. A coordinator at a stall may record it for a resident: they
say whose need it is first (found by name), and the resident is the one told later.

The draft lives in the FSM data as plain JSON values, so the conversation survives a
restart; `draft`, made when it starts, becomes the need's idempotency key, so a repeated
last tap records one need. Back goes one step back, Cancel leaves without recording.
"""

from __future__ import annotations

import secrets
from html import escape
from typing import Any

from aiogram import F
from aiogram.filters import Command
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __

from bot.kit import keyboards, labels
from bot.kit.formatters import language
from bot.kit.guards import SignedUp
from bot.kit.screens import Screen
from bot.kit.steps import Steps, Turn
from core import catalog, directory, needs
from core.models import Member

FOR_ME = __("🙋 A need of my own")
FOR_RESIDENT = __("🏠 For a resident")
WITH_NAME = __("👤 With my name")
WITHOUT_NAME = __("🕶 Without my name")
MAX_FOUND = 8


class NeedSurvey(StatesGroup):
    whom = State()
    resident = State()
    pick = State()
    category = State()
    describe = State()
    anonymous = State()


async def _categories(turn: Turn) -> list[tuple[str, int]]:
    assert turn.member is not None and turn.member.branch_id is not None
    found = await needs.ensure_need_categories(turn.session, turn.member.branch_id)
    return [(catalog.localized(c.names, language()), c.id) for c in found]


async def prompt(step: State, turn: Turn) -> Screen:
    """The step's one question, with its buttons and Back and Cancel."""
    data = await turn.data()
    if step == NeedSurvey.whom:
        return Screen(_("Whose need is it?"), keyboards.reply([[str(FOR_ME)], [str(FOR_RESIDENT)]]))
    if step == NeedSurvey.resident:
        return Screen(_("Please type the resident's name."), keyboards.reply([]))
    if step == NeedSurvey.pick:
        rows = [[label] for label, _id in data.get("found", [])]
        return Screen(_("Which one is it?"), keyboards.reply(rows))
    if step == NeedSurvey.category:
        options = await _categories(turn)
        await turn.update(options=options)
        rows = keyboards.in_pairs([label for label, _id in options])
        return Screen(_("What is the need about?"), keyboards.reply(rows, back=_asked_whom(data)))
    if step == NeedSurvey.describe:
        return Screen(
            _("Please tell us in a few words, or send a voice message."), keyboards.reply([])
        )
    assert step == NeedSurvey.anonymous
    return Screen(
        _("May coordinators see your name with it?"),
        keyboards.reply([[str(WITH_NAME)], [str(WITHOUT_NAME)]]),
    )


def _asked_whom(data: dict[str, Any]) -> bool:
    """Was "whose need is it?" asked (a coordinator's survey)?"""
    return bool(data.get("coordinator") or data.get("recorded_by"))


async def stop(turn: Turn) -> None:
    await turn.leave(_("Okay, nothing was recorded."))


steps = Steps(
    NeedSurvey,
    name="need",
    prompt=prompt,
    cancel=stop,
    way_on=lambda member: keyboards.main_menu(),
    path=[NeedSurvey.whom, NeedSurvey.category, NeedSurvey.describe, NeedSurvey.anonymous],
    parents={NeedSurvey.resident: NeedSurvey.whom, NeedSurvey.pick: NeedSurvey.resident},
    skip=lambda step, data: step == NeedSurvey.whom and not _asked_whom(data),
    hints={
        NeedSurvey.describe: __("Please type a few words, or send a voice message."),
        NeedSurvey.resident: __("Please answer with a short text."),
    },
)
router = steps.router


@router.message(Command("need"), SignedUp())
@router.message(F.text == labels.MENU_NEED, SignedUp())
async def on_start(message: Message, turn: Turn, member: Member) -> None:
    await turn.state.set_data(
        {"draft": secrets.token_hex(8), "for": member.id, "coordinator": member.is_coordinator}
    )
    await message.answer(
        _("📝 Tell us what our neighbourhood needs. Coordinators read every answer.")
    )
    await turn.ask(NeedSurvey.whom if member.is_coordinator else NeedSurvey.category)


@router.message(NeedSurvey.whom, F.text == FOR_ME)
async def on_for_me(message: Message, turn: Turn, member: Member) -> None:
    await turn.update(**{"for": member.id, "recorded_by": None})
    await turn.ask(NeedSurvey.category)


@router.message(NeedSurvey.whom, F.text == FOR_RESIDENT)
async def on_for_resident(message: Message, turn: Turn) -> None:
    await turn.ask(NeedSurvey.resident)


@router.message(NeedSurvey.resident, F.text, ~F.text.startswith("/"))
async def on_resident_name(message: Message, turn: Turn, member: Member) -> None:
    assert member.branch_id is not None and message.text is not None
    found = await directory.search_members(turn.session, member.branch_id, message.text)
    if not found:
        await turn.reask(hint=_("I found nobody of that name here."))
        return
    options = [
        (f"{row.name} · …{row.phone_end}" if row.phone_end else f"{row.name} · #{row.member_id}",
         row.member_id)
        for row in found[:MAX_FOUND]
    ]  # fmt: skip
    await turn.update(found=options)
    await turn.ask(NeedSurvey.pick)


def _option(options: list[Any], text: str | None) -> int | None:
    return next((value for label, value in options if label == text), None)


@router.message(NeedSurvey.pick, F.text)
async def on_pick(message: Message, turn: Turn, member: Member) -> None:
    chosen = _option((await turn.data()).get("found", []), message.text)
    if chosen is None:
        await turn.reask()
        return
    await turn.update(**{"for": chosen, "recorded_by": member.id})
    await turn.ask(NeedSurvey.category)


@router.message(NeedSurvey.category, F.text)
async def on_category(message: Message, turn: Turn) -> None:
    chosen = _option((await turn.data()).get("options", []), message.text)
    if chosen is None:
        await turn.reask()
        return
    await turn.update(category=chosen)
    await turn.ask(NeedSurvey.describe)


@router.message(NeedSurvey.describe, F.voice)
async def on_voice(message: Message, turn: Turn) -> None:
    assert message.voice is not None
    await turn.update(text="", voice=message.voice.file_id)
    await message.answer(_("🎤 Got it, coordinators will listen to your voice message."))
    await turn.ask(NeedSurvey.anonymous)


@router.message(NeedSurvey.describe, F.text, ~F.text.startswith("/"))
async def on_words(message: Message, turn: Turn) -> None:
    text = " ".join((message.text or "").split())
    if len(text) > needs.MAX_TEXT:
        await turn.reask(
            hint=_("That is a little long. Please keep it under {count} characters.").format(
                count=needs.MAX_TEXT
            )
        )
        return
    await turn.update(text=text, voice=None)
    await turn.ask(NeedSurvey.anonymous)


@router.message(NeedSurvey.anonymous, F.text.in_([WITH_NAME, WITHOUT_NAME]))
async def on_anonymity(message: Message, turn: Turn) -> None:
    data = await turn.data()
    need = await needs.raise_need(
        turn.session,
        member_id=data["for"],
        category_id=data["category"],
        key=f"tg-need:{data['draft']}",
        text=data.get("text") or None,
        voice_file_id=data.get("voice"),
        anonymous=message.text == WITHOUT_NAME,
        recorded_by_id=data.get("recorded_by"),
    )
    name = escape(
        next((label for label, value in data.get("options", []) if value == need.category_id), "")
    )
    if data.get("recorded_by") is None:
        text = _(
            "✅ Thank you. Your need ({category}) is recorded. "
            "You will hear from me when coordinators plan it or it is done."
        ).format(category=name)
    else:
        text = _(
            "✅ Thank you. The need ({category}) is recorded; I will tell the resident "
            "when it is planned or done."
        ).format(category=name)
    await turn.leave(text)
