"""`timebank demo`: the bot and the local Bot API server with a web chat, no token needed.

The demo's volunteer and coordinator are the members `seed-demo` creates, so they arrive
already signed up; the resident is a newcomer who goes through onboarding.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.runner import serve
from core.config import Settings
from core.db import create_engine, session_factory, transaction
from core.demo import seed_demo
from core.migrate import upgrade_engine
from sandbox.server import SandboxServer

DEMO_TOKEN = "1000000001:TIMEBANK-demo"
DEMO_DATABASE = "sqlite:///timebank-demo.db"
DEMO_STATE = "timebank-demo-chats.json"

PERSONAS: list[dict[str, Any]] = [
    {
        "key": "resident", "role": "resident", "user_id": 910001,
        "first_name": "Mei", "last_name": "Chen", "language_code": "zh-hans",
        "phone_number": "+8613800000001",
        "location": {"latitude": 31.2141, "longitude": 121.5532},
    },
    {
        "key": "volunteer", "role": "volunteer", "user_id": 900002,
        "first_name": "민지", "last_name": "김", "language_code": "ko",
        "phone_number": "+821000000002",
        "location": {"latitude": 37.5556, "longitude": 126.9010},
    },
    {
        "key": "coordinator", "role": "coordinator", "user_id": 900003,
        "first_name": "Wei", "last_name": "Li", "language_code": "en",
        "phone_number": "+8613800000003",
        "location": {"latitude": 31.2102, "longitude": 121.5611},
    },
]  # fmt: skip


async def _prepare_database(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade_engine(engine)
        async with transaction(session_factory(engine), write=True) as session:
            await seed_demo(session)
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def demo(
    settings: Settings, port: int, *, host: str = "127.0.0.1", state_file: Path | None = None
) -> AsyncIterator[SandboxServer]:
    """The sandbox with its web chat and the bot polling it, on a seeded database."""
    await _prepare_database(settings.database_url)
    sandbox = SandboxServer(
        host,
        port,
        bots=[{"token": DEMO_TOKEN, "username": "timebank_demo_bot"}],
        state_file=state_file,
        demo_personas=PERSONAS,
        language_command="/language",
    )
    await sandbox.start()
    bot_settings = settings.model_copy(
        update={"telegram_api_url": sandbox.base_url, "telegram_token": SecretStr(DEMO_TOKEN)}
    )
    bot = asyncio.create_task(serve(bot_settings, handle_signals=False))
    try:
        yield sandbox
        if bot.done():
            bot.result()
    finally:
        bot.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await bot
        await sandbox.stop()


async def run_demo(settings: Settings, port: int) -> None:
    """Serve the demo until Ctrl-C or SIGTERM; chats are kept in a file across restarts."""
    async with demo(settings, port, state_file=Path(DEMO_STATE)) as sandbox:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(
            f"Time bank demo: open {sandbox.base_url}/ in a browser (Ctrl-C stops it)", flush=True
        )
        await stop.wait()
