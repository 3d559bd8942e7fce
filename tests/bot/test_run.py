"""`timebank run` as an operator starts it: polling or webhook, stopped by SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Iterator

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.runner import serve
from core import migrate
from core.config import load_settings
from core.db import create_engine, session_factory, transaction
from sandbox.client import SandboxClient
from sandbox.server import SandboxServer
from tests.bot.conftest import TOKEN
from tests.conftest import broken_upgrade, fresh_database


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_run_polls_then_stops_cleanly_on_sigterm(sandbox, database_url, seeded) -> None:
    env = {
        **os.environ,
        "TIMEBANK_TELEGRAM_TOKEN": TOKEN,
        "TIMEBANK_TELEGRAM_API_URL": sandbox.base_url,
        "TIMEBANK_DATABASE_URL": database_url,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with SandboxClient(sandbox.base_url) as control:
            ann = await control.user("Ann", language_code="en")
            await ann.command("/help")
            reply = await ann.wait_reply(timeout=90)  # the bot starts first: ~30 s when busy
            assert "/mydata" in reply["text"]
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=15)
    assert process.returncode == 0, stderr.decode()
    assert b"Traceback" not in stderr


async def test_webhook_mode_receives_updates_with_the_secret(
    sandbox, database_url, engine, seeded
) -> None:
    port = _free_port()
    settings = load_settings(
        telegram_token=TOKEN,
        telegram_api_url=sandbox.base_url,
        database_url=database_url,
        webhook_url=f"http://127.0.0.1:{port}",
        webhook_secret="s3cret-token",
        webhook_host="127.0.0.1",
        webhook_port=port,
    )
    task = asyncio.create_task(serve(settings, webhook=True, handle_signals=False))
    try:
        async with SandboxClient(sandbox.base_url) as control:
            for _ in range(100):
                info = await control.request("GET", f"/bot{TOKEN}/getWebhookInfo")
                if info.get("url") or info.get("result", {}).get("url"):
                    break
                await asyncio.sleep(0.05)
            ann = await control.user("Ann", language_code="ko")
            await ann.command("/help")
            reply = await ann.wait_reply(timeout=10)
            assert "/mydata" in reply["text"] and "시간은행" in reply["text"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class BotProcess:
    """`timebank run` in a child process, its log lines collected as they come."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.lines: list[str] = []
        self.process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> BotProcess:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run",
            env=self.env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        async for line in self.process.stderr:
            self.lines.append(line.decode(errors="replace"))

    async def wait_for_line(self, text: str, count: int = 1, timeout: float = 180) -> None:  # noqa: ASYNC109
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while sum(text in line for line in self.lines) < count:
            assert self.process is not None
            if self.process.returncode is not None or loop.time() > deadline:
                raise AssertionError(f"no {text!r} in the log:\n{''.join(self.lines[-20:])}")
            await asyncio.sleep(0.05)

    async def stop(self, sig: int | None = signal.SIGTERM, within: float = 30) -> int:
        """Send `sig` (None: none, wait for the process to end by itself); the exit code."""
        assert self.process is not None
        if self.process.returncode is None and sig is not None:
            self.process.send_signal(sig)
        code = await asyncio.wait_for(self.process.wait(), timeout=within)
        if self._reader is not None:
            await asyncio.wait_for(self._reader, timeout=10)
        return code


def _env(database_url: str, api_url: str, token: str = TOKEN) -> dict[str, str]:
    return {
        **os.environ,
        "TIMEBANK_TELEGRAM_TOKEN": token,
        "TIMEBANK_TELEGRAM_API_URL": api_url,
        "TIMEBANK_DATABASE_URL": database_url,
        "TIMEBANK_LOG_LEVEL": "INFO",
    }


@contextlib.asynccontextmanager
async def _handling_blocked(engine: AsyncEngine) -> AsyncIterator[None]:
    """Holds what every update's unit of work needs first, so a handler stops midway."""
    async with transaction(session_factory(engine), write=True) as session:
        if engine.dialect.name == "postgresql":
            await session.execute(text("LOCK TABLE processed_updates IN ACCESS EXCLUSIVE MODE"))
        yield


async def _until_an_update_waits(engine: AsyncEngine) -> None:
    """PostgreSQL shows the bot's unit of work waiting for the lock; SQLite cannot show it,
    so the bot (long-polling already) gets a moment to take the update."""
    if engine.dialect.name != "postgresql":
        await asyncio.sleep(3)
        return
    for _ in range(600):
        async with engine.connect() as connection:
            waiting = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query ILIKE '%processed_updates%'"
                )
            )
        if waiting:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the bot never took the update")


async def test_an_update_taken_by_polling_survives_a_kill_in_the_middle_of_its_handler(
    sandbox, database_url, engine, seeded
) -> None:
    """By long polling the update is confirmed only after it committed: killed midway, the
    bot gets it again when it starts again."""
    env = _env(database_url, sandbox.base_url)
    bot = await BotProcess(env).start()
    try:
        await bot.wait_for_line('"bot started"')
        async with SandboxClient(sandbox.base_url) as control:
            ann = await control.user("Ann", language_code="en")
            async with _handling_blocked(engine):
                await ann.command("/help")
                await _until_an_update_waits(engine)
                await bot.stop(signal.SIGKILL)
            bot = await BotProcess(env).start()
            reply = await ann.wait_reply(timeout=60)
            assert "/mydata" in reply["text"]
    finally:
        await bot.stop()


async def test_run_waits_for_a_bot_api_that_does_not_answer_yet(
    database_url, engine, seeded
) -> None:
    port = _free_port()
    bot = await BotProcess(_env(database_url, f"http://127.0.0.1:{port}")).start()
    try:
        await bot.wait_for_line("bot api unreachable, retrying", count=2)
        async with SandboxServer(bots=[TOKEN], port=port) as sandbox:
            await bot.wait_for_line('"bot started"')
            async with SandboxClient(sandbox.base_url) as control:
                ann = await control.user("Ann", language_code="en")
                await ann.command("/help")
                assert "/mydata" in (await ann.wait_reply(timeout=30))["text"]
    finally:
        assert await bot.stop() == 0
    assert not any("Traceback" in line for line in bot.lines)


async def test_run_with_a_token_the_bot_api_refuses_says_so_in_one_line(
    sandbox, database_url, engine, seeded
) -> None:
    bot = await BotProcess(_env(database_url, sandbox.base_url, token="999:REFUSED")).start()
    assert await bot.stop(sig=None, within=120) == 2
    assert bot.lines[-1].startswith("timebank: the Bot API at ") and "refused" in bot.lines[-1]
    assert not any("Traceback" in line for line in bot.lines)


@contextlib.asynccontextmanager
async def _forwarding(port: int, to_host: str, to_port: int) -> AsyncIterator[None]:
    """A TCP relay on `port` to the database: it comes up when the test says so."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def relay(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(to_host, to_port)
        await asyncio.gather(pipe(client_r, server_w), pipe(server_r, client_w))

    server = await asyncio.start_server(relay, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()


async def test_run_waits_for_a_database_that_does_not_answer_yet(
    sandbox, database_url, engine, seeded
) -> None:
    """Started before its database (PostgreSQL on a port nothing listens on yet), the bot
    logs one line per attempt, without a traceback, and starts once the database answers."""
    real = make_url(database_url)
    if real.get_backend_name() != "postgresql":
        pytest.skip("waits for a database server: run with TIMEBANK_DATABASE_URL=postgresql://")
    port = _free_port()
    url = real.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    bot = await BotProcess(_env(url, sandbox.base_url)).start()
    try:
        await bot.wait_for_line("database unreachable, retrying", count=2)
        async with _forwarding(port, real.host or "127.0.0.1", real.port or 5432):
            await bot.wait_for_line('"bot started"')
            async with SandboxClient(sandbox.base_url) as control:
                ann = await control.user("Ann", language_code="en")
                await ann.command("/help")
                assert "/mydata" in (await ann.wait_reply(timeout=30))["text"]
            assert await bot.stop() == 0
    finally:
        await bot.stop()
    assert not any("Traceback" in line for line in bot.lines)


async def test_run_with_a_migration_that_fails_says_so_in_one_line(tmp_path) -> None:
    """Not a connection error: no retry, one line, exit code 2."""
    url = await asyncio.to_thread(broken_upgrade, tmp_path / "broken.db")
    bot = await BotProcess(_env(url, "http://127.0.0.1:9")).start()
    assert await bot.stop(sig=None, within=120) == 2
    assert bot.lines[-1].startswith("timebank: the migrations of the database"), bot.lines
    assert not any("Traceback" in line or "retrying" in line for line in bot.lines)


@pytest.fixture
def database_at_0004(tmp_path, database_url) -> Iterator[str]:
    """A PostgreSQL database of its own, at revision 0004: `timebank run` has to migrate."""
    if make_url(database_url).get_backend_name() != "postgresql":
        pytest.skip("a server connection to kill: run with TIMEBANK_DATABASE_URL=postgresql://")
    for url in fresh_database(tmp_path):
        migrate.upgrade(url, "0004")
        yield url


async def _backend_waiting_for_a_lock(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        while True:
            pid = await connection.scalar(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock'"
                )
            )
            if pid is not None:
                return pid
            await connection.rollback()
            await asyncio.sleep(0.05)


async def test_run_retries_a_start_up_migration_whose_connection_is_killed(
    sandbox, database_at_0004
) -> None:
    """The migration waits for a lock the test holds; its connection is killed there; the
    bot logs one retry line, then migrates to head and starts, with no traceback."""
    engine = create_engine(database_at_0004)
    bot = BotProcess(_env(database_at_0004, sandbox.base_url))
    try:
        async with engine.connect() as holder:
            await holder.execute(text("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE"))
            await bot.start()
            pid = await asyncio.wait_for(_backend_waiting_for_a_lock(engine), timeout=120)
            async with engine.connect() as admin:
                await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            await bot.wait_for_line("database unreachable, retrying")
            await holder.rollback()
        await bot.wait_for_line('"bot started"')
        async with engine.connect() as connection:
            version = await connection.scalar(text("SELECT version_num FROM alembic_version"))
        assert version == ScriptDirectory.from_config(migrate.alembic_config("")).get_current_head()
    finally:
        if bot.process is not None:
            assert await bot.stop() == 0
        await engine.dispose()
    assert not any("Traceback" in line for line in bot.lines)
