"""Bot tests: the local Bot API server and the real bot app, driven by personas.

The bot runs exactly as `timebank run` runs it (`bot.runner.serve`, long polling), pointed
at the sandbox through its settings' `telegram_api_url`.

After every test that used the database, the ledger is verified as `timebank ledger verify`
does: whatever a journey did, it must leave the ledger sound.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.runner import serve
from core.config import Settings, load_settings
from core.db import create_engine, session_factory, transaction
from core.demo import seed_demo
from core.ledger import verify_ledger
from sandbox.client import SandboxClient
from sandbox.persona import Persona
from sandbox.ratelimit import RateLimits
from sandbox.server import SandboxServer

TOKEN = "424242:TEST-timebank-bot"
COORDINATOR_ID = 777001


@pytest.fixture(autouse=True)
async def ledger_verified(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Fails the test if it leaves an unsound ledger. Checked once every other fixture of
    the test has stopped (the bot included) and before the next test empties the tables."""
    yield
    if "engine" not in request.fixturenames:
        return
    engine = create_engine(request.getfixturevalue("database_url"))
    try:
        report = await verify_ledger(session_factory(engine))
    finally:
        await engine.dispose()
    if not report.ok:
        pytest.fail(f"after {request.node.name}: {report.summary}", pytrace=False)


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    async with SandboxServer(bots=[TOKEN], rate_limits=RateLimits.relaxed()) as server:
        yield server


@pytest.fixture
async def seeded(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with transaction(sessions, write=True) as session:
        await seed_demo(session)


class RunningBot:
    """The bot process, which a test can stop and start again as a restart would."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(serve(self.settings, handle_signals=False))
        await asyncio.sleep(0)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()


@pytest.fixture
async def running_bot(
    sandbox: SandboxServer, engine: AsyncEngine, database_url: str, seeded: None
) -> AsyncIterator[RunningBot]:
    settings = load_settings(
        telegram_token=TOKEN,
        telegram_api_url=sandbox.base_url,
        database_url=database_url,
        coordinators=[COORDINATOR_ID],
        log_level="WARNING",
    )
    bot = RunningBot(settings)
    await bot.start()
    yield bot
    await bot.stop()


@pytest.fixture
async def client(sandbox: SandboxServer, running_bot: RunningBot) -> AsyncIterator[SandboxClient]:
    async with SandboxClient(sandbox.base_url) as control:
        yield control


PersonaFactory = Callable[..., Awaitable[Persona]]


@pytest.fixture
def person(client: SandboxClient) -> PersonaFactory:
    """`await person("Mei", language_code="zh-hans")` → a new Telegram user talking to the bot."""

    async def make(name: str, **kwargs: object) -> Persona:
        return await client.user(name, **kwargs)

    return make
