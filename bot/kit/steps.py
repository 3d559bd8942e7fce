"""The step machine every multi-step conversation (a wizard) runs on.

One question per message, ⬅️ Back and ✖️ Cancel at every step, a kind re-ask when an answer
does not fit, and a conversation that survives a restart of the bot.

The contract, for a wizard in `bot/conversations/<flow>.py`:

- **States.** The wizard is an aiogram `StatesGroup`; `Steps(group, ...)` makes its router
  (`steps.router`, which `bot/app.py` includes once). Its state names ("AskHelp:what") are
  stored, so renaming a state strands the conversations in flight.
- **Answers.** What the member answered lives in the FSM data as plain JSON values (ids,
  strings, `to_dict()` of domain values; never objects). The state and the data are in the
  FSM storage (`bot.storage.SqlStorage` in the update's unit of work, or Redis), so after a
  restart the member answers the question still on screen and the wizard goes on from the
  stored step; anything else they send is met by the re-ask below.
- **Questions.** `prompt(step, turn)` returns the step's question as a `Screen` (text and
  its buttons as plain data, `bot.kit.screens`; `keyboards.reply` adds Back and Cancel):
  the wizard's views; the turn makes Telegram's markup of it at the edge.
  `turn.ask(step, hint=...)` sets the state and asks; a `hint` (why the last answer did
  not fit) goes before the question.
- **Forward.** `steps.after(step, data)` is the step that follows `step` on `path`, leaving
  out those `skip(step, data)` says are settled; None at the end (the wizard then reviews or
  finishes: its own business).
- **Back.** The ⬅️ Back label at any step. `back(turn)`, when given, decides first (returns
  True when it has answered). Otherwise a sub-step goes to its `parents` entry, a step on
  `path` to the one before it (skipping as above), and the first step leaves as Cancel does.
- **Cancel.** The ✖️ Cancel label at any step calls `cancel(turn)` (say so, clear the state,
  show the way on).
- **Re-ask.** Whatever no handler of the step took (a sticker or photo where text was asked,
  text where a button was, a stray command) asks the step again after `hints[step]`
  (default: "Please choose one of the buttons below."). A step in `hint_only` gets the hint
  alone: its question sits on an inline message above (a calendar, a review).
- **Refusals.** With `refused` given, a `DomainError` a wizard handler lets through ends the
  wizard that way (say why, clear the state) instead of going to the app's error boundary.
  With `reask_on` given (typically `(InvalidInput,)`), such an error asks the step again
  with the error as the hint, as `turn.reask(hint=error_text(error))` would. Either way the
  handler's writes are undone. A handler catches only the refusals it answers otherwise.
- **Order.** Back and Cancel are registered when `Steps` is made, so before the wizard's own
  handlers: a step's "any text" handler never swallows them. The re-ask is a child router,
  tried after every handler of the wizard.

Handlers receive the `turn: Turn` of their update (message, state, session, member) by
declaring it; callback handlers get one too, answering under the message of the button.
A wizard in short (the help request and onboarding are the full examples)::

    class Booking(StatesGroup):
        slot = State()
        name = State()

    steps = Steps(Booking, prompt=booking_prompt, cancel=stop, way_on=lambda m: main_menu(),
                  path=[Booking.slot, Booking.name], hints={Booking.name: TYPE_A_NAME})
    router = steps.router

    @router.message(Booking.slot, F.text)
    async def on_slot(message: Message, turn: Turn) -> None:
        slot = slot_named(await turn.data(), message.text)
        if slot is None:
            await turn.reask()
            return
        await turn.update(slot_id=slot.id)
        await turn.ask(steps.after(Booking.slot, await turn.data()))
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Container, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware, F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message, ReplyKeyboardMarkup, TelegramObject
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from sqlalchemy.ext.asyncio import AsyncSession

from bot.kit import labels
from bot.kit.formatters import error_text
from bot.kit.guards import answering_refusals
from bot.kit.screens import Screen
from bot.kit.telegram import markup
from core.errors import DomainError
from core.models import Member

CHOOSE_A_BUTTON = __("Please choose one of the buttons below.")


@dataclass
class Turn:
    """One update inside a wizard: where to answer, the conversation, and who is there."""

    steps: Steps
    message: Message
    state: FSMContext
    session: AsyncSession
    member: Member | None

    async def step(self) -> State | None:
        return self.steps.state_named(await self.state.get_state())

    async def data(self) -> dict[str, Any]:
        return await self.state.get_data()

    async def update(self, **values: Any) -> None:
        await self.state.update_data(**values)

    async def ask(self, step: State, hint: str | None = None) -> None:
        """Ask the question of `step`, after a short `hint` when the last answer did not fit."""
        await self.state.set_state(step)
        question = await self.steps.prompt(step, self)
        text = f"{hint}\n\n{question.text}" if hint else question.text
        await self.message.answer(text, reply_markup=markup(question.keyboard))

    async def reask(self, hint: str | None = None) -> None:
        """The current step again, after `hint` (the step's own hint when none is given)."""
        step = await self.step()
        assert step is not None
        hint = hint or str(self.steps.hints.get(step, CHOOSE_A_BUTTON))
        if step in self.steps.hint_only:
            await self.message.answer(hint)
        else:
            await self.ask(step, hint=hint)

    async def leave(self, text: str, markup: ReplyKeyboardMarkup | None = None) -> None:
        """End the wizard with `text`; the buttons default to the wizard's way on."""
        await self.state.clear()
        await self.message.answer(text, reply_markup=markup or self.steps.way_on(self.member))


Prompt = Callable[[State, Turn], Awaitable[Screen]]
Hook = Callable[[Turn], Awaitable[None]]
Refused = Callable[[Turn, DomainError], Awaitable[None]]


class Steps:
    """A wizard's steps over aiogram's FSM; see the module's docstring for the contract."""

    def __init__(
        self,
        group: type[StatesGroup],
        *,
        prompt: Prompt,
        cancel: Hook,
        way_on: Callable[[Member | None], ReplyKeyboardMarkup],
        path: Sequence[State] = (),
        parents: Mapping[State, State] | None = None,
        skip: Callable[[State, dict[str, Any]], bool] | None = None,
        back: Callable[[Turn], Awaitable[bool]] | None = None,
        hints: Mapping[State, Any] | None = None,
        hint_only: Container[State] = (),
        refused: Refused | None = None,
        reask_on: tuple[type[DomainError], ...] = (),
        name: str | None = None,
    ) -> None:
        self.group = group
        self.prompt = prompt
        self.way_on = way_on
        self.path = list(path)
        self.parents = dict(parents or {})
        self.skip = skip or (lambda step, data: False)
        self.hints = dict(hints or {})
        self.hint_only = hint_only
        self._cancel = cancel
        self._back = back
        self.router = Router(name=name or group.__name__)
        turns = TurnMiddleware(self, refused, reask_on)
        self.router.message.middleware(turns)
        self.router.callback_query.middleware(turns)
        self.router.message.register(self.on_cancel, group(), F.text == labels.CANCEL)
        self.router.message.register(self.on_back, group(), F.text == labels.BACK)
        reasking = Router(name=f"{self.router.name}.reask")
        reasking.message.register(self.on_anything_else, group())
        self.router.include_router(reasking)

    def state_named(self, name: str | None) -> State | None:
        return next((s for s in self.group.__all_states__ if s.state == name), None)

    def after(self, step: State, data: dict[str, Any]) -> State | None:
        """The next step on the path that still needs an answer; None after the last."""
        later = self.path[self.path.index(step) + 1 :] if step in self.path else []
        return next((s for s in later if not self.skip(s, data)), None)

    def before(self, step: State, data: dict[str, Any]) -> State | None:
        """Where Back goes from `step`: its parent, else the path's previous step; None from
        the first one."""
        if step in self.parents:
            return self.parents[step]
        earlier = self.path[: self.path.index(step)] if step in self.path else []
        return next((s for s in reversed(earlier) if not self.skip(s, data)), None)

    def turn(
        self, message: Message, state: FSMContext, session: AsyncSession, member: Member | None
    ) -> Turn:
        return Turn(self, message, state, session, member)

    async def on_cancel(self, message: Message, turn: Turn) -> None:
        await self._cancel(turn)

    async def on_back(self, message: Message, turn: Turn) -> None:
        if self._back is not None and await self._back(turn):
            return
        step = await turn.step()
        assert step is not None
        previous = self.before(step, await turn.data())
        if previous is None:
            await self._cancel(turn)
        else:
            await turn.ask(previous)

    async def on_anything_else(self, message: Message, turn: Turn) -> None:
        await turn.reask()


Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class TurnMiddleware(BaseMiddleware):
    """Hands a wizard's handlers their `turn`; answers the refusals the wizard takes itself
    (`refused`, `reask_on`), undoing the handler's writes.

    By the app's error boundary's one mechanism (`bot.kit.guards.answering_refusals`): no
    savepoint up front, a refusal after a write has the update handled again with it.
    """

    def __init__(
        self, steps: Steps, refused: Refused | None, reask_on: tuple[type[DomainError], ...]
    ) -> None:
        self.steps = steps
        self.refused = refused
        self.reask_on = reask_on

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        message = event.message if isinstance(event, CallbackQuery) else event
        if not isinstance(message, Message):
            assert isinstance(event, CallbackQuery)
            return await event.answer(_("This button is no longer active."))
        turn = self.steps.turn(message, data["state"], data["session"], data.get("member"))
        data["turn"] = turn
        if self.refused is None and not self.reask_on:
            return await handler(event, data)

        async def answer(error: DomainError) -> None:
            await self._answer(event, turn, error)

        async def answers(error: DomainError) -> bool:
            return self.refused is not None or await self._reasks(turn, error)

        return await answering_refusals(handler, event, data, answer, answers)

    async def _reasks(self, turn: Turn, error: DomainError) -> bool:
        return isinstance(error, self.reask_on) and await turn.step() is not None

    async def _answer(self, event: TelegramObject, turn: Turn, error: DomainError) -> None:
        reask = await self._reasks(turn, error)
        if isinstance(event, CallbackQuery):
            await event.answer()
        if reask:
            await turn.reask(hint=error_text(error))
        else:
            assert self.refused is not None
            await self.refused(turn, error)


def typed_line(message: Message, limit: int, *, shortest: int = 1) -> str | None:
    """The message's text on one line (runs of spaces and line breaks made one space), or
    None when it is shorter than `shortest`, longer than `limit` or a command."""
    text = " ".join((message.text or "").split())
    return text if shortest <= len(text) <= limit and not text.startswith("/") else None
