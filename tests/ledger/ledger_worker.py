"""A separate process posting to the ledger, for the two-process test.

    python ledger_worker.py URL TAG SOURCE DESTINATION MINUTES COUNT SHARED BARRIER_DIR

Posts COUNT transfers of MINUTES from SOURCE to DESTINATION under keys TAG:<n>, and
SHARED transfers of 3 minutes from the lower account id to the higher that every worker
sends under the same keys; four tasks, started once every worker has written its file in
BARRIER_DIR. Prints how many of its requests made new postings.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from core.db import create_engine, session_factory
from core.ledger import PostingKind, atomically, transfer

TASKS = 4


async def main(
    url: str, tag: str, source: int, destination: int, minutes: int, count: int, shared: int
) -> int:
    engine = create_engine(url)
    sessions = session_factory(engine)
    jobs = [(source, destination, minutes, f"{tag}:{n}") for n in range(count)]
    # The same requests from every worker: each must post once in all.
    low, high = sorted((source, destination))
    jobs += [(low, high, 3, f"shared:{n}") for n in range(shared)]
    pending = iter(jobs)
    posted = 0

    async def worker() -> None:
        nonlocal posted
        for source_id, destination_id, amount, key in pending:
            posting = await atomically(
                sessions,
                lambda s, a=source_id, b=destination_id, m=amount, k=key: transfer(
                    s, a, b, m, kind=PostingKind.GIFT, key=k
                ),
            )
            posted += not posting.replayed

    try:
        await asyncio.gather(*(worker() for _ in range(TASKS)))
    finally:
        await engine.dispose()
    return posted


def wait_for_everyone(barrier: Path, tag: str, workers: int) -> None:
    (barrier / tag).touch()
    deadline = time.monotonic() + 60
    while len(list(barrier.iterdir())) < workers:
        if time.monotonic() > deadline:
            raise TimeoutError("the other worker never started")
        time.sleep(0.01)


if __name__ == "__main__":
    url, tag, source, destination, minutes, count, shared, barrier = sys.argv[1:9]
    wait_for_everyone(Path(barrier), tag, workers=2)
    print(
        asyncio.run(
            main(url, tag, int(source), int(destination), int(minutes), int(count), int(shared))
        )
    )
