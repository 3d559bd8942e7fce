"""``python -m sandbox``: starts, answers, saves its state file and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait_ready(http: aiohttp.ClientSession, url: str) -> None:
    for _ in range(200):
        try:
            async with http.get(url) as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("the sandbox did not start")


async def test_command_line_server(tmp_path: Path) -> None:
    port = _free_port()
    state_file = tmp_path / "chats.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox",
        "--port",
        str(port),
        "--token",
        "555:CLI-token",
        "--username",
        "cli_bot",
        "--state-file",
        str(state_file),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            await _wait_ready(http, f"{base}/sandbox/health")
            async with http.get(f"{base}/bot555:CLI-token/getMe") as response:
                assert (await response.json())["result"]["username"] == "cli_bot"
            async with http.post(f"{base}/sandbox/users", json={"first_name": "Mei"}) as response:
                assert (await response.json())["ok"]
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, _stderr = await asyncio.wait_for(process.communicate(), 10)
    assert process.returncode == 0
    assert f"sandbox Bot API server on {base}" in stdout.decode()
    saved = json.loads(state_file.read_text("utf-8"))
    assert [u["first_name"] for u in saved["users"]] == ["Mei"]


async def test_bad_token_is_one_clear_line() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox",
        "--port",
        str(_free_port()),
        "--token",
        "no-colon",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _stdout, stderr = await asyncio.wait_for(process.communicate(), 10)
    assert process.returncode == 2
    assert stderr.decode().strip().splitlines() == [
        "sandbox: a bot token looks like '<digits>:<secret>'"
    ]
