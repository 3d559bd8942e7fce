"""The lean update path: one read per update, cached members and branches checked against
their row versions (also when another process changed them), the conversation state written
only when it changed, and a read-only update that takes no lock and writes nothing."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message, Update
from sqlalchemy import event, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App, create_app, create_bot
from bot.kit import keyboards
from bot.kit.formatters import error_text
from bot.kit.screens import Screen
from bot.kit.steps import Steps, Turn
from core import members
from core.config import load_settings
from core.db import create_engine, session_factory, transaction, utcnow
from core.errors import N_, DomainError, InvalidInput
from core.models import Branch, ConversationState, Member, ProcessedUpdate
from sandbox.client import SandboxClient
from tests.bot.conftest import TOKEN

_ids = itertools.count(30_000)


class Boom(Exception):
    pass


def _command(user: dict[str, Any], text_: str, update_id: int | None = None) -> Update:
    return Update.model_validate({
        "update_id": update_id or next(_ids),
        "message": {
            "message_id": next(_ids), "date": 0, "text": text_,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text_)}],
            "chat": {"id": user["id"], "type": "private"}, "from": {"is_bot": False, **user},
        },
    })  # fmt: skip


async def whoami(message: Message, member: Member | None, branch: Branch | None) -> None:
    await message.answer(f"{member and member.language} {branch and branch.code}")


class Worker:
    """One bot process's app: its own engine, caches and dispatcher."""

    def __init__(self, app: App, bot: Any, user: dict[str, Any]) -> None:
        self.app = app
        self.bot = bot
        self.user = user

    async def feed(self, text_: str, update_id: int | None = None) -> None:
        await self.app.dispatcher.feed_update(self.bot, _command(self.user, text_, update_id))


@pytest.fixture
async def worker(sandbox, engine, database_url, ann) -> AsyncIterator[Worker]:
    """The bot's app, fed updates one at a time. Another process is another engine here: a
    second app cannot be made in one process (aiogram's routers are attached to one)."""
    settings = load_settings(
        telegram_token=TOKEN, telegram_api_url=sandbox.base_url, database_url=database_url
    )
    app = create_app(settings, create_engine(database_url))
    app.dispatcher.message.register(whoami, Command("whoami"))
    worker = Worker(app, create_bot(settings), ann.user)
    try:
        yield worker
    finally:
        await app.close()
        await worker.bot.session.close()


@pytest.fixture
async def ann(sandbox, sessions) -> AsyncIterator[Any]:
    """A signed-up member in branch `north`, whose chat with the bot is open."""
    control = SandboxClient(sandbox.base_url)
    await control.__aenter__()
    person = await control.user("Ann", language_code="en")
    await person.command("/help")  # opens the chat, so replies can arrive
    async with transaction(sessions, write=True) as session:
        for code in ("north", "south"):
            session.add(
                Branch(code=code, names={"en": code}, time_zone="UTC", default_language="en")
            )
        await session.flush()
        north = await session.scalar(select(Branch.id).where(Branch.code == "north"))
        member = await members.join(session, "telegram", str(person.id), language="en")
        member.branch_id = north
        member.onboarded_at = utcnow()
    await person.sync()
    try:
        yield person
    finally:
        await control.__aexit__(None, None, None)


async def _replies(person: Any, count: int) -> list[str]:
    await person.sync()
    return [m["text"] for m in person.bot_messages()[-count:]]


async def _change(sessions, **values: Any) -> None:
    """A write from outside the bot (another process, a coordinator's tool)."""
    async with transaction(sessions, write=True) as session:
        await session.execute(update(Member).values(**values))


class Sent:
    """What the database was sent (each statement's first word), and on SQLite the calls
    into aiosqlite's thread (each a hop there and back)."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.calls = 0


def _sent(engine) -> Sent:
    """The driver's own account, BEGIN and COMMIT included: SQLite's trace; asyncpg's query
    loggers, which see its transactions' statements and its direct queries (not the
    prepared statements SQLAlchemy runs, so a read through SQLAlchemy would show none)."""
    sent = Sent()

    def note(statement: str) -> None:
        sent.statements.append(statement.lstrip().split(None, 1)[0].upper())

    @event.listens_for(engine.sync_engine, "checkout")
    def watch(dbapi_connection, record, _proxy) -> None:
        if record.info.get("watched"):
            return
        record.info["watched"] = True
        driver = dbapi_connection.driver_connection
        if engine.dialect.name != "sqlite":
            driver.add_query_logger(lambda query: note(query.query))
            return
        driver._conn.set_trace_callback(note)
        queue = driver._execute

        async def counted(fn, *args, **kwargs):
            sent.calls += 1
            return await queue(fn, *args, **kwargs)

        driver._execute = counted

    return sent


async def test_a_language_or_branch_change_is_seen_on_the_next_update(
    worker, ann, sessions
) -> None:
    await worker.feed("/whoami")
    await worker.feed("/whoami")
    assert await _replies(ann, 2) == ["en north", "en north"]

    async def to_korean(message: Message, member: Member) -> None:
        member.language = "ko"
        await message.answer("changed")

    worker.app.dispatcher.message.register(to_korean, Command("korean"))
    await worker.feed("/korean")
    await worker.feed("/whoami")
    assert await _replies(ann, 2) == ["changed", "ko north"]


async def test_a_change_made_by_another_process_is_seen_on_the_next_update(
    worker, ann, database_url
) -> None:
    await worker.feed("/whoami")
    assert await _replies(ann, 1) == ["en north"]
    elsewhere = create_engine(database_url)
    try:
        other = session_factory(elsewhere)
        await _change(other, language="zh_Hans")
        await worker.feed("/whoami")
        assert await _replies(ann, 1) == ["zh_Hans north"]

        async with other() as session:
            south = await session.scalar(select(Branch.id).where(Branch.code == "south"))
        await _change(other, branch_id=south)
        await worker.feed("/whoami")
        assert await _replies(ann, 1) == ["zh_Hans south"]

        async with transaction(other, write=True) as session:
            await session.execute(update(Branch).where(Branch.id == south).values(code="south2"))
        await worker.feed("/whoami")
        assert await _replies(ann, 1) == ["zh_Hans south2"]
    finally:
        await elsewhere.dispose()


async def test_a_known_member_s_read_only_update_is_one_read_and_writes_nothing(
    worker, ann, sessions
) -> None:
    await worker.feed("/whoami")
    sent = _sent(worker.app.engine)
    commits = _commits(worker.app.engine)
    await worker.feed("/whoami", update_id=7_100_001)
    assert await _replies(ann, 1) == ["en north"]
    assert sent.statements == ["SELECT"]  # no BEGIN, SAVEPOINT, RELEASE or COMMIT
    assert commits == []  # not even SQLAlchemy's commit, with nothing begun to commit
    if worker.app.engine.dialect.name == "sqlite":
        assert sent.calls == 1  # the read, ahead of a BEGIN that never had to go
    async with sessions() as session:
        assert await session.get(ProcessedUpdate, 7_100_001) is None


def _commits(engine) -> list[str]:
    """SQLAlchemy's commits on the engine's connections (sent to the driver or not)."""
    seen: list[str] = []
    event.listen(engine.sync_engine, "commit", lambda _conn: seen.append("COMMIT"))
    return seen


async def test_an_update_that_read_through_the_session_still_commits(worker, ann, sessions) -> None:
    """Only an update whose transaction never began skips the commit: one that read through
    the session (so its BEGIN went) ends it with a commit, and one that wrote keeps it."""

    async def reads(message: Message, session: AsyncSession) -> None:
        await message.answer(f"{await session.scalar(select(Branch.code).limit(1))}")

    async def writes(message: Message, session: AsyncSession) -> None:
        await session.execute(text("UPDATE branches SET code = 'west' WHERE code = 'south'"))
        await message.answer("written")

    worker.app.dispatcher.message.register(reads, Command("reads"))
    worker.app.dispatcher.message.register(writes, Command("writes"))
    await worker.feed("/whoami")
    commits = _commits(worker.app.engine)
    await worker.feed("/reads", update_id=7_150_001)
    assert len(commits) == 1
    await worker.feed("/writes", update_id=7_150_002)
    assert len(commits) == 2
    assert (await _replies(ann, 2))[1] == "written"
    async with sessions() as session:
        codes = set(await session.scalars(select(Branch.code)))
        recorded = set(await session.scalars(select(ProcessedUpdate.update_id)))
    assert codes == {"north", "west"}
    assert 7_150_002 in recorded and 7_150_001 not in recorded


async def test_a_rolled_back_change_to_the_member_leaves_the_cache_as_it_was(
    worker, ann, sessions
) -> None:
    await worker.feed("/whoami")

    async def changes_then_fails(message: Message, member: Member) -> None:
        member.language = "zh_Hans"
        raise Boom

    worker.app.dispatcher.message.register(changes_then_fails, Command("boom"))
    with pytest.raises(Boom):
        await worker.feed("/boom")
    await worker.feed("/whoami")
    assert await _replies(ann, 1) == ["en north"]
    async with sessions() as session:
        assert (await session.scalar(select(Member.language))) == "en"


async def test_a_change_made_in_place_to_a_cached_row_s_json_stays_in_its_update(
    worker, ann
) -> None:
    """Each update's member and branch are copies: a handler that changes a JSON value in
    place (and raises) leaves the cache's entry, and so the next update's, as it was."""
    await worker.feed("/whoami")

    async def renames_then_fails(message: Message, branch: Branch) -> None:
        branch.names["en"] = "renamed"
        raise Boom

    async def name(message: Message, branch: Branch) -> None:
        await message.answer(branch.names["en"])

    worker.app.dispatcher.message.register(renames_then_fails, Command("rename"))
    worker.app.dispatcher.message.register(name, Command("name"))
    with pytest.raises(Boom):
        await worker.feed("/rename")
    await worker.feed("/name")
    assert await _replies(ann, 1) == ["north"]


async def test_a_refusal_undoes_the_handler_s_writes_only_and_still_answers(
    worker, ann, sessions
) -> None:
    """The error boundary (`bot.kit.guards`) takes no savepoint up front: a refusal before
    any write answers at once; one after a write has the update handled again with the
    savepoint first, so the handler's write is undone, its replies and the refusal go out
    once, and the update is recorded as handled (a redelivery changes nothing)."""
    runs: list[str] = []

    async def refuses(message: Message, session: AsyncSession) -> None:
        runs.append("refuses")
        await message.answer("first, before its refusal")
        raise DomainError(N_("Sorry, I could not find that."))

    async def writes_then_refuses(
        message: Message, session: AsyncSession, state: FSMContext
    ) -> None:
        runs.append("writes")
        await state.set_state("asking:place")
        await message.answer("second, before its refusal")
        await session.execute(text("UPDATE branches SET code = 'west' WHERE code = 'south'"))
        raise DomainError(N_("Sorry, I did not understand that."))

    worker.app.dispatcher.message.register(refuses, Command("refuses"))
    worker.app.dispatcher.message.register(writes_then_refuses, Command("writesrefuses"))
    await worker.feed("/whoami")
    await worker.feed("/refuses", update_id=7_160_001)
    assert runs == ["refuses"]
    await worker.feed("/writesrefuses", update_id=7_160_002)
    assert runs == ["refuses", "writes", "writes"]
    await worker.feed("/writesrefuses", update_id=7_160_002)  # redelivered
    assert runs == ["refuses", "writes", "writes"]
    # What a handler sent before its refusal goes out, as with the savepoint taken first;
    # once: the first attempt's replies were dropped with it.
    assert await _replies(ann, 5) == [
        "en north",
        "first, before its refusal",
        "Sorry, I could not find that.",
        "second, before its refusal",
        "Sorry, I did not understand that.",
    ]
    async with sessions() as session:
        codes = set(await session.scalars(select(Branch.code)))
        recorded = set(await session.scalars(select(ProcessedUpdate.update_id)))
        state = await session.scalar(select(ConversationState.state))
    assert codes == {"north", "south"}
    # The refused update's own state step stays, as it did with the savepoint taken first.
    assert state == "asking:place"
    assert 7_160_002 in recorded and 7_160_001 not in recorded


async def test_the_conversation_state_is_written_only_when_it_changed(
    worker, ann, sessions
) -> None:

    async def step(message: Message, state: FSMContext) -> None:
        await state.set_state("asking:place")
        data = await state.get_data()
        data.setdefault("places", []).append(len(data.get("places", [])))
        if len(data["places"]) < 3:
            await state.set_data(data)
        await message.answer(f"{await state.get_state()} {data['places']}")

    worker.app.dispatcher.message.register(step, Command("step"))
    for update_id in (7_200_001, 7_200_002, 7_200_003):
        await worker.feed("/step", update_id=update_id)
    assert await _replies(ann, 3) == [
        "asking:place [0]",
        "asking:place [0, 1]",
        "asking:place [0, 1, 2]",
    ]
    async with sessions() as session:
        row = await session.scalar(select(ConversationState))
        assert (row.state, row.data) == ("asking:place", {"places": [0, 1]})
        recorded = await session.scalars(select(ProcessedUpdate.update_id))
        # The third set the same state and kept its data to itself: it wrote nothing.
        assert sorted(recorded) == [7_200_001, 7_200_002]

    await worker.feed("/step", update_id=7_200_002)  # a redelivery changes nothing
    async with sessions() as session:
        row = await session.scalar(select(ConversationState))
        assert row.data == {"places": [0, 1]}


async def test_a_read_only_update_takes_no_write_lock(worker, ann, database_url) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    await worker.feed("/whoami")
    other = create_engine(database_url)
    try:
        async with transaction(session_factory(other), write=True) as holding:
            await holding.execute(text("UPDATE branches SET code = code"))
            await asyncio.wait_for(worker.feed("/whoami"), timeout=5)
            await asyncio.wait_for(worker.feed("/help"), timeout=5)
    finally:
        await other.dispose()
    assert (await _replies(ann, 2))[0] == "en north"


async def test_a_write_refused_to_a_stale_read_runs_again_with_the_lock(
    worker, ann, sessions, database_url
) -> None:
    calls: list[int] = []

    async def reads_then_writes(message: Message, session: AsyncSession) -> None:
        calls.append(1)
        await session.scalar(select(Member.id))
        if len(calls) == 1:  # another chat's update commits in between
            other = create_engine(database_url)
            try:
                async with transaction(session_factory(other), write=True) as elsewhere:
                    elsewhere.add(ProcessedUpdate(update_id=7_300_999))
            finally:
                await other.dispose()
        session.add(ProcessedUpdate(update_id=7_300_500))
        await message.answer("written")

    worker.app.dispatcher.message.register(reads_then_writes, Command("write"))
    await worker.feed("/write", update_id=7_300_001)
    expected_calls = 2 if database_url.startswith("sqlite") else 1
    assert len(calls) == expected_calls
    await ann.sync()
    assert [m["text"] for m in ann.bot_messages()] == ["written"]
    async with sessions() as session:
        recorded = set(await session.scalars(select(ProcessedUpdate.update_id)))
        assert {7_300_001, 7_300_500, 7_300_999} <= recorded


class Probe(StatesGroup):
    step = State()


async def test_a_wizard_step_takes_no_savepoint_unless_refused_after_a_write(
    worker, ann, sessions
) -> None:
    """A wizard's step machine (`bot.kit.steps.TurnMiddleware`) undoes a refused handler's
    writes by the error boundary's one mechanism: no savepoint up front (a step that reads,
    or is refused before it wrote, sends none), and a refusal after a write handles the
    update again with the savepoint first, so the write is undone and the wizard's answer
    (a re-ask, or its end) goes out once."""
    runs: list[str] = []

    async def stop(turn: Turn) -> None:
        await turn.leave("cancelled")

    async def refused(turn: Turn, error: DomainError) -> None:
        await turn.leave(f"refused: {error_text(error)}")

    steps = Steps(
        Probe, name="probe", prompt=lambda step, turn: _screen("the question"), cancel=stop,
        way_on=lambda member: keyboards.main_menu(), refused=refused, reask_on=(InvalidInput,),
    )  # fmt: skip

    @steps.router.message(Command("probe"))
    async def enter(message: Message, turn: Turn) -> None:
        await turn.ask(Probe.step)

    @steps.router.message(Probe.step, Command("reads"))
    async def reads(message: Message, turn: Turn) -> None:
        runs.append("reads")
        await message.answer(f"{await turn.session.scalar(select(Branch.code).limit(1))}")

    @steps.router.message(Probe.step, Command("invalid"))
    async def invalid(message: Message, turn: Turn) -> None:
        runs.append("invalid")
        await turn.session.scalar(select(Branch.code).limit(1))
        raise InvalidInput(N_("Sorry, I did not understand that."))

    @steps.router.message(Probe.step, Command("writes"))
    async def writes_then_refused(message: Message, turn: Turn) -> None:
        runs.append("writes")
        await turn.session.execute(text("UPDATE branches SET code = 'west' WHERE code = 'south'"))
        raise DomainError(N_("Sorry, I could not find that."))

    routers = worker.app.dispatcher.include_router(steps.router).parent_router.sub_routers
    routers.insert(0, routers.pop())  # ahead of the app's own, and its fallback
    statements: list[str] = []
    event.listen(
        worker.app.engine.sync_engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, *_a: statements.append(statement),
    )
    await worker.feed("/whoami")
    await worker.feed("/probe")
    statements.clear()
    await worker.feed("/reads")
    await worker.feed("/invalid")
    assert runs == ["reads", "invalid"]
    assert not [s for s in statements if "SAVEPOINT" in s], statements
    await worker.feed("/writes", update_id=7_400_001)
    assert runs == ["reads", "invalid", "writes", "writes"]
    await worker.feed("/writes", update_id=7_400_001)  # redelivered: handled already
    assert runs == ["reads", "invalid", "writes", "writes"]
    replies = await _replies(ann, 4)
    assert replies == [
        "the question",
        "north",
        "Sorry, I did not understand that.\n\nthe question",
        "refused: Sorry, I could not find that.",
    ]
    async with sessions() as session:
        codes = set(await session.scalars(select(Branch.code)))
        state = await session.scalar(select(ConversationState.state))
        recorded = set(await session.scalars(select(ProcessedUpdate.update_id)))
    assert codes == {"north", "south"}
    assert state is None
    assert 7_400_001 in recorded


async def _screen(text_: str) -> Screen:
    return Screen(text_, keyboards.reply([]))
