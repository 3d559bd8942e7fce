"""A coordinator forms a volunteer team: its name in Chinese → Korean → English → its leader
→ its members → formed.

The team is of the branch the coordinator works in (/branch); its leader and members are
that branch's volunteers, at home there or by a membership. The members are chosen by
tapping names (a tap again takes a name off), then ✅ Done forms the team; the state is
cleared in the same unit of work, so a second ✅ Done finds no wizard and forms nothing.
`draft`, made when the wizard starts, becomes the team's idempotency key, so a retried ✅ Done
forms the team once (a wizard begun before drafts existed is keyed by its ✅ Done message).
"""

from __future__ import annotations

import secrets
from html import escape
from typing import Any

from aiogram import F
from aiogram.filters import Command
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __

from bot.handlers.teams.callbacks import TeamAct, TeamAction
from bot.kit import keyboards
from bot.kit.formatters import error_text, language
from bot.kit.guards import SignedUp
from bot.kit.screens import Screen
from bot.kit.steps import Steps, Turn
from core import teams
from core.catalog import localized
from core.coordinators import CoordinatorOnly
from core.errors import DomainError
from core.languages import LANGUAGES


class NewTeam(StatesGroup):
    name_zh_Hans = State()
    name_ko = State()
    name_en = State()
    leader = State()
    members = State()


NAME_STEPS: dict[str, State] = {code: getattr(NewTeam, f"name_{code}") for code in LANGUAGES}
DONE = __("✅ Done")
CHOSEN = "✔️ "
TYPE_A_NAME = __("Please type the team's name.")
QUESTIONS = {
    "zh_Hans": __("What is the new team called in Chinese?"),
    "ko": __("What is it called in Korean?"),
    "en": __("And in English?"),
}


async def prompt(step: State, turn: Turn) -> Screen:
    data = await turn.data()
    code = next((code for code, state in NAME_STEPS.items() if state == step), None)
    if code is not None:
        return Screen(str(QUESTIONS[code]), keyboards.reply([], placeholder=_("The team's name")))
    people = data["people"]
    if step == NewTeam.leader:
        return Screen(
            _("Who leads the team? The leader can write to its members."),
            keyboards.reply([[label] for label, _id in people]),
        )
    chosen = set(data.get("members", []))
    rows = [
        [CHOSEN + label if person in chosen else label]
        for label, person in people
        if person != data.get("leader")
    ]
    return Screen(
        _("Who else is in the team? Tap a name to add it, again to take it off; then ✅ Done."),
        keyboards.reply([[str(DONE)], *rows]),
    )


async def stop(turn: Turn) -> None:
    await turn.leave(_("Okay, no team was formed."))


async def refused(turn: Turn, error: DomainError) -> None:
    await turn.leave(error_text(error))


steps = Steps(
    NewTeam,
    name="new_team",
    prompt=prompt,
    cancel=stop,
    way_on=lambda member: keyboards.main_menu(),
    path=[*NAME_STEPS.values(), NewTeam.leader, NewTeam.members],
    hints={state: TYPE_A_NAME for state in NAME_STEPS.values()},
    refused=refused,
)
router = steps.router


def _labels(people: list[Any]) -> list[list[Any]]:
    """Button labels for people, made unique when two share a name."""
    labelled: list[list[Any]] = []
    for person in people:
        label, count = f"👤 {person.name}", 2
        while any(label == existing for existing, _id in labelled):
            label, count = f"👤 {person.name} ({count})", count + 1
        labelled.append([label, person.id])
    return labelled


async def begin(turn: Turn) -> None:
    """Start for a coordinator; anyone else is told kindly, and no conversation is begun."""
    assert turn.member is not None
    try:
        branch_id, people = await teams.candidates(turn.session, turn.member.id)
    except CoordinatorOnly as error:
        await turn.message.answer(error_text(error))
        return
    if not people:
        await turn.leave(_("This branch has no volunteers yet, so there is nobody to form a team."))
        return
    await turn.state.set_data(
        {
            "draft": secrets.token_hex(8),
            "branch_id": branch_id,
            "people": _labels(people),
            "names": {},
            "members": [],
        }
    )
    await turn.ask(NAME_STEPS[LANGUAGES[0]])


@router.message(Command("newteam"), SignedUp())
async def on_new_team(message: Message, turn: Turn) -> None:
    await begin(turn)


@router.callback_query(TeamAction.filter(F.action == TeamAct.NEW), SignedUp())
async def on_new_team_tapped(query: CallbackQuery, turn: Turn) -> None:
    await query.answer()
    await begin(turn)


@router.message(NewTeam.name_zh_Hans, F.text)
@router.message(NewTeam.name_ko, F.text)
@router.message(NewTeam.name_en, F.text)
async def on_name(message: Message, turn: Turn) -> None:
    step = await turn.step()
    code = next(code for code, state in NAME_STEPS.items() if state == step)
    try:
        name = teams.clean_name(message.text or "")
    except teams.TeamNameInvalid as error:
        await turn.reask(hint=error_text(error))
        return
    data = await turn.data()
    await turn.update(names={**data["names"], code: name})
    following = steps.after(step, data)
    assert following is not None
    await turn.ask(following)


@router.message(NewTeam.leader, F.text)
async def on_leader(message: Message, turn: Turn) -> None:
    data = await turn.data()
    leader = next((person for label, person in data["people"] if label == message.text), None)
    if leader is None:
        await turn.reask()
        return
    await turn.update(leader=leader, members=[m for m in data["members"] if m != leader])
    await turn.ask(NewTeam.members)


@router.message(NewTeam.members, F.text == DONE)
async def on_done(message: Message, turn: Turn) -> None:
    assert turn.member is not None
    data = await turn.data()
    team = await teams.create_team(
        turn.session,
        coordinator_id=turn.member.id,
        branch_id=data["branch_id"],
        names=data["names"],
        leader_id=data["leader"],
        member_ids=data["members"],
        key=f"tg-team:{data.get('draft') or f'{message.chat.id}:{message.message_id}'}",
    )
    await turn.leave(
        _("✅ The team {name} is formed, with {count} people. /team shows it.").format(
            name=escape(localized(team.names, language())), count=1 + len(data["members"])
        )
    )


@router.message(NewTeam.members, F.text)
async def on_member(message: Message, turn: Turn) -> None:
    data = await turn.data()
    label = (message.text or "").removeprefix(CHOSEN)
    person = next((p for shown, p in data["people"] if shown == label), None)
    if person is None or person == data["leader"]:
        await turn.reask()
        return
    chosen = list(data["members"])
    await turn.update(
        members=[p for p in chosen if p != person] if person in chosen else [*chosen, person]
    )
    await turn.ask(NewTeam.members)
