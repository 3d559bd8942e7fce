"""`timebank run` as an operator starts it: polling or webhook, stopped by SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys

from bot.runner import serve
from core.config import load_settings
from sandbox.client import SandboxClient
from tests.bot.conftest import TOKEN


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
            reply = await ann.wait_reply(timeout=20)
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
