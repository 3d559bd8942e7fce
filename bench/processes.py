"""Child processes of the benchmarks, and the sandbox Bot API server as one of them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench import procstats

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 120.0  # importing aiohttp and the sandbox took over 10 s at load 17 on 2 cores


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Child:
    """A child process with its output in a log file and its CPU time readable from /proc."""

    def __init__(
        self, name: str, args: list[str], env: dict[str, str], log_dir: Path, cwd: Path = ROOT
    ) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.cwd = cwd
        self.log_path = log_dir / f"{name}.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> Child:
        with self.log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                *self.args,
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=log,
                stdin=asyncio.subprocess.DEVNULL,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def check(self) -> None:
        if self.process is not None and self.process.returncode is not None:
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.tail()}")

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def cpu(self) -> float:
        """User + system CPU seconds used so far (0 when /proc is not there)."""
        return procstats.cpu(self.pid)

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), 15)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


@dataclass(frozen=True)
class SandboxChild:
    base_url: str
    child: Child


@contextlib.asynccontextmanager
async def sandbox_process(
    token: str, *, rate_limits: bool = True, log_dir: Path | None = None
) -> AsyncIterator[SandboxChild]:
    """`python -m sandbox` in a child process (Telegram's limits, or none), once it answers
    /sandbox/health. Its output goes to `sandbox.log` in `log_dir` (else a scratch folder)
    and is shown if it exits before it answers."""
    with contextlib.ExitStack() as scratch:
        if log_dir is None:
            log_dir = Path(scratch.enter_context(tempfile.TemporaryDirectory(prefix="sandbox-")))
        port = free_port()
        args = [sys.executable, "-m", "sandbox", "--port", str(port), "--token", token]
        if not rate_limits:
            args.append("--no-rate-limits")
        child = Child("sandbox", args, dict(os.environ), log_dir)
        await child.start()
        try:
            base_url = f"http://127.0.0.1:{port}"
            await _healthy(base_url, child)
            yield SandboxChild(base_url, child)
        finally:
            await child.stop()


async def _healthy(base_url: str, child: Child) -> None:
    deadline = asyncio.get_running_loop().time() + START_TIMEOUT
    async with aiohttp.ClientSession() as http:
        while asyncio.get_running_loop().time() < deadline:
            child.check()
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{base_url}/sandbox/health") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.05)
    raise RuntimeError(f"the sandbox did not answer within {START_TIMEOUT:g} s:\n{child.tail()}")


@contextlib.asynccontextmanager
async def running_sandbox(token: str, *, rate_limits: bool, in_process: bool) -> AsyncIterator[str]:
    """The base URL of a sandbox in a child process, or in this one (sharing its core)."""
    if not in_process:
        async with sandbox_process(token, rate_limits=rate_limits) as running:
            yield running.base_url
        return
    from sandbox import RateLimits, SandboxServer

    limits = RateLimits() if rate_limits else RateLimits.relaxed()
    server = SandboxServer(port=0, bots=[token], rate_limits=limits, web_page=False)
    await server.start()
    try:
        yield server.base_url
    finally:
        await server.stop()
