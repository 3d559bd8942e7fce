"""A separate process tapping Accept, for the test of accepts from several processes.

    python accept_worker.py URL BARRIER_DIR WORKERS NUDGE:MEMBER [NUDGE:MEMBER ...]

Opens one database connection per nudge, writes its file in BARRIER_DIR and waits until all
WORKERS have; then accepts all its nudges at once, one task each, as the bot would for
taps arriving together. Prints a JSON object: nudge id -> "won" or "taken".
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

from core import helping
from core.db import create_engine, session_factory
from core.ledger import atomically


def wait_for_everyone(barrier: Path, workers: int) -> None:
    (barrier / str(os.getpid())).touch()
    deadline = time.monotonic() + 60
    while len(list(barrier.iterdir())) < workers:
        if time.monotonic() > deadline:
            raise TimeoutError("the other workers never started")
        time.sleep(0.002)


async def main(url: str, barrier: Path, workers: int, taps: list[tuple[int, int]]) -> dict:
    engine = create_engine(url)
    sessions = session_factory(engine)
    for connection in [await engine.connect() for _ in taps]:
        await connection.close()  # back to the pool, still open

    async def tap(nudge_id: int, member_id: int) -> str:
        try:
            await atomically(
                sessions,
                lambda s: helping.accept(s, nudge_id=nudge_id, member_id=member_id),
            )
        except helping.AlreadyTaken:
            return "taken"
        return "won"

    try:
        await asyncio.to_thread(wait_for_everyone, barrier, workers)
        results = await asyncio.gather(*(tap(nudge, member) for nudge, member in taps))
    finally:
        await engine.dispose()
    return {nudge: result for (nudge, _), result in zip(taps, results, strict=True)}


if __name__ == "__main__":
    url, barrier, workers, *pairs = sys.argv[1:]
    taps = [(int(n), int(m)) for n, m in (pair.split(":") for pair in pairs)]
    print(json.dumps(asyncio.run(main(url, Path(barrier), int(workers), taps))))
