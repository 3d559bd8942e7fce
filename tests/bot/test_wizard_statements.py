"""How many statements each step of the ask-for-help wizard sends to the database, the
update's own path included (its read, the state's write, the processed-update record, BEGIN
and COMMIT aside). On a city day the wizard's steps were the slowest taps; each statement is
a round trip and, above all, Python time in SQLAlchemy and the driver."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram.types import Update
from sqlalchemy import event, select

from bot.app import App, create_app, create_bot
from core import catalog
from core.config import load_settings
from core.db import create_engine, transaction, utcnow
from core.models import Category, ConversationState, Identity, Member, Order
from sandbox.client import SandboxClient
from tests.bot.conftest import TOKEN

_ids = itertools.count(60_000)


def _text(user: dict[str, Any], text_: str) -> Update:
    return Update.model_validate({
        "update_id": next(_ids),
        "message": {
            "message_id": next(_ids), "date": 0, "text": text_,
            "chat": {"id": user["id"], "type": "private"}, "from": {"is_bot": False, **user},
        },
    })  # fmt: skip


def _press(user: dict[str, Any], message: dict[str, Any], data: str) -> Update:
    return Update.model_validate({
        "update_id": next(_ids),
        "callback_query": {
            "id": str(next(_ids)), "chat_instance": "1", "data": data,
            "from": {"is_bot": False, **user},
            "message": {
                "message_id": message["message_id"], "date": message["date"],
                "chat": {"id": user["id"], "type": "private"}, "text": message.get("text", ""),
                "from": {"id": 1, "is_bot": True, "first_name": "bot"},
            },
        },
    })  # fmt: skip


class Statements:
    def __init__(self, app: App) -> None:
        self.seen: list[str] = []
        event.listen(app.engine.sync_engine, "before_cursor_execute", self._note)

    def _note(self, _conn, _cursor, statement, *_args) -> None:
        self.seen.append(" ".join(statement.split())[:120])

    def take(self) -> list[str]:
        seen, self.seen = self.seen, []
        return seen


@pytest.fixture
async def app(sandbox, engine, database_url, seeded) -> AsyncIterator[tuple[App, Any]]:
    settings = load_settings(
        telegram_token=TOKEN, telegram_api_url=sandbox.base_url, database_url=database_url
    )
    app = create_app(settings, create_engine(database_url))
    bot = create_bot(settings)
    try:
        yield app, bot
    finally:
        await app.close()
        await bot.session.close()


async def test_each_wizard_step_takes_a_few_statements(app, sandbox, sessions) -> None:
    """The start: the beneficiary's open orders, last order and other branches in one read,
    and the categories; "what": the categories; then only the state and the update's record,
    and the review's preview (its id written after the replies, not read again first); the
    send places the order (its ledger account opened, the hold in one statement)."""
    lang = "en"
    app_, bot = app
    async with SandboxClient(sandbox.base_url) as control:
        person = await control.user("Margaret", language_code=lang)
        await person.command("/help")  # opens the chat, so replies can arrive
        async with transaction(sessions, write=True) as session:
            branch = await catalog.branch_by_code(session, "luoshan")
            row = Member(
                name="Margaret", language=lang, branch_id=branch.id, onboarded_at=utcnow(),
                is_resident=True,
            )  # fmt: skip
            session.add(row)
            await session.flush()
            session.add(Identity(platform="telegram", external_id=str(person.id), member_id=row.id))
            category = await session.scalar(select(Category).where(Category.code == "repairs"))
            label = f"{category.emoji} {catalog.localized(category.names, lang)}"
        user = person.user

        async def feed(update: Update) -> None:
            await app_.dispatcher.feed_update(bot, update)

        await feed(_text(user, "/start"))  # the member and branch are cached from here on
        counted = Statements(app_)
        steps = [
            ("start", "🙋 Ask for help"),
            ("what", label),
            ("describe", "The kitchen tap drips"),
            ("when", "☀️ Tomorrow afternoon"),
            ("where", "12 Luoshan Road, flat 3"),
        ]
        counts: dict[str, list[str]] = {}
        for name, text_ in steps:
            await feed(_text(user, text_))
            counts[name] = counted.take()
        await person.sync()
        review = next(
            m for m in reversed(person.bot_messages()) if "ask:send:" in str(m.get("reply_markup"))
        )
        send = next(
            b["callback_data"]
            for row_ in review["reply_markup"]["inline_keyboard"]
            for b in row_
            if b.get("callback_data", "").startswith("ask:send:")
        )
        async with sessions() as session:
            kept = await session.scalar(select(ConversationState.data))
        assert kept["review_message_id"] == review["message_id"]  # the real id, written after
        await feed(_press(user, review, send))
        counts["send"] = counted.take()
        budget = {"start": 4, "what": 3, "describe": 2, "when": 2, "where": 8, "send": 16}
        for name, limit in budget.items():
            assert len(counts[name]) <= limit, f"{name}:\n" + "\n".join(counts[name])
    async with sessions() as session:
        assert len(list(await session.scalars(select(Order)))) == 1
