"""Flood protection: how long neighbours wait for an answer while one member floods the bot.

    python -m bench.flood [--seconds 8] [--neighbours 6] [--rate 50] [--no-postgres]

The real bot (`timebank run`, long polling) against the local Bot API server in child
processes. Each neighbour sends /help twice a second and times the answer (the sandbox's
clock, from their message to the bot's reply). Three phases of `--seconds` each: calm;
one member sending `--rate` messages a second with flood protection on (the defaults of
`flood_burst` and `flood_seconds`); the same flood with it off. Printed: the neighbours'
reply times (median, 95th percentile, worst), and what the flood got through.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bench.databases import add_arguments, run_on_each
from bench.e2e import Sandbox, percentile, real_bot, sandbox_with_client, settle
from bench.processes import ROOT, Child
from core.config import Settings

PING_EVERY = 0.5


@contextlib.asynccontextmanager
async def running_bot(
    database_url: str, sandbox: Sandbox, log_dir: Path, *, flood_burst: int
) -> AsyncIterator[Child]:
    child = real_bot(database_url, sandbox.base_url, "polling", log_dir, f"b{flood_burst}", ROOT)
    child.env["TIMEBANK_FLOOD_BURST"] = str(flood_burst)
    child.env["TIMEBANK_SWEEP_SECONDS"] = "0"
    await child.start()
    try:
        yield child
    finally:
        await child.stop()


async def _ready(sandbox: Sandbox, user: int, child: Child) -> None:
    """The bot answers: a /help from `user` got its reply."""
    after = await sandbox.seq()
    await sandbox.command(user, "/help")
    for _ in range(600):
        child.check()
        if any(e.get("by") == "bot" for e in await sandbox.events(after)):
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("the bot never answered")


async def _pings(sandbox: Sandbox, users: list[int], seconds: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds

    async def one(user: int) -> None:
        while loop.time() < deadline:
            await sandbox.command(user, "/help")
            await asyncio.sleep(PING_EVERY)

    await asyncio.gather(*(one(u) for u in users))


async def _flood(sandbox: Sandbox, user: int, rate: float, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    start, sent, pending = loop.time(), 0, set()
    while (now := loop.time()) < start + seconds:
        due = int((now - start) * rate) + 1
        for _ in range(due - sent):
            task = asyncio.create_task(sandbox.command(user, "/help"))
            pending.add(task)
            task.add_done_callback(pending.discard)
        sent = due
        await asyncio.sleep(0.01)
    await asyncio.gather(*pending)


def reply_times(events: list[dict[str, Any]], users: set[int]) -> list[float]:
    """For each message of `users`, the time until the bot's next message in that chat."""
    waiting: dict[int, list[float]] = {u: [] for u in users}
    times = []
    for event in events:
        chat = event.get("chat_id")
        if event.get("type") != "message" or chat not in users:
            continue
        if event.get("by") == "user":
            waiting[chat].append(float(event["time"]))
        elif waiting[chat]:
            times.append(float(event["time"]) - waiting[chat].pop(0))
    return times


def counts(events: list[dict[str, Any]], user: int) -> tuple[int, int]:
    mine = [e for e in events if e.get("type") == "message" and e.get("chat_id") == user]
    return sum(e.get("by") == "user" for e in mine), sum(e.get("by") == "bot" for e in mine)


async def phase(
    sandbox: Sandbox, neighbours: list[int], flooder: int | None, rate: float, seconds: float
) -> tuple[list[float], tuple[int, int]]:
    start = await sandbox.seq()
    jobs = [_pings(sandbox, neighbours, seconds)]
    if flooder is not None:
        jobs.append(_flood(sandbox, flooder, rate, seconds))
    await asyncio.gather(*jobs)
    await settle(sandbox, quiet=1.0)
    events = await sandbox.events(start)
    return reply_times(events, set(neighbours)), counts(events, flooder) if flooder else (0, 0)


def line(name: str, times: list[float], flood: tuple[int, int]) -> str:
    ms = [1000 * percentile(times, q) for q in (0.5, 0.95)] + [1000 * max(times, default=0)]
    figures = (
        f"{name:<24} replies {len(times):>4}  median {ms[0]:6.0f} ms  p95 {ms[1]:6.0f} ms  "
        f"worst {ms[2]:6.0f} ms"
    )
    if flood[0]:
        figures += f"   flood: {flood[0]} sent, {flood[1]} answered"
    return figures


async def bench(database_url: str, args: argparse.Namespace) -> list[str]:
    log_dir = Path(tempfile.mkdtemp(prefix="flood-bench-"))
    defaults = Settings()
    lines = [
        f"  {args.neighbours} neighbours each sending /help every {PING_EVERY:g} s; one member "
        f"flooding at {args.rate:g} messages/s; {args.seconds:g} s per phase; protection: "
        f"burst {defaults.flood_burst}, then {defaults.flood_burst / defaults.flood_seconds:g}/s"
    ]
    async with sandbox_with_client(log_dir, args.neighbours + 2) as sandbox:
        neighbours = [await sandbox.create_user(f"N{i}") for i in range(args.neighbours)]
        flooder = await sandbox.create_user("Flood")
        for name, burst, flooding in (
            ("calm", defaults.flood_burst, False),
            ("flood, protection on", defaults.flood_burst, True),
            ("flood, protection off", 0, True),
        ):
            async with running_bot(database_url, sandbox, log_dir, flood_burst=burst) as child:
                await _ready(sandbox, neighbours[0], child)
                times, flood = await phase(
                    sandbox, neighbours, flooder if flooding else None, args.rate, args.seconds
                )
            lines.append("  " + line(name, times, flood))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--neighbours", type=int, default=6)
    parser.add_argument("--rate", type=float, default=50.0)
    add_arguments(parser)
    args = parser.parse_args()
    run_on_each(args, "flood", lambda url: bench(url, args))


if __name__ == "__main__":
    main()
