"""Concurrency: many tasks and two processes against one ledger lose and invent nothing."""

from __future__ import annotations

import asyncio
import os
import sys
from asyncio.subprocess import PIPE
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.config import PROJECT_ROOT
from core.ledger import (
    Actor,
    InsufficientCredit,
    PostingKind,
    balance_of,
    place_hold,
    set_member_overdraft_limit,
    transfer,
    verify_ledger,
)
from core.ledger.tables import LedgerTransaction

WORKER = Path(__file__).with_name("ledger_worker.py")


async def balance(world, account: int) -> int:
    return (await world.read(lambda s: balance_of(s, account))).balance


async def test_fifty_concurrent_transfers_never_overdraw(world):
    branch = await world.branch()
    coordinator = Actor(is_coordinator=True)
    await world.run(lambda s: set_member_overdraft_limit(s, branch, 20, actor=coordinator))
    payer = await world.account(branch, granted=100)
    payees = [await world.account(branch) for _ in range(5)]

    async def pay(n: int) -> bool:
        try:
            await world.run(
                lambda s: transfer(
                    s, payer, payees[n % 5], 7, kind=PostingKind.GIFT, key=f"drain:{n}"
                )
            )
        except InsufficientCredit:
            return False
        return True

    done = await asyncio.gather(*(pay(n) for n in range(50)))
    assert sum(done) == (100 + 20) // 7  # 17 fit within the limit, the rest are refused
    assert await balance(world, payer) == 100 - 7 * sum(done) >= -20
    assert sum([await balance(world, payee) for payee in payees]) == 7 * sum(done)
    assert (await verify_ledger(world.sessions)).ok


async def test_fifty_concurrent_holds_and_transfers_never_overdraw(world):
    branch = await world.branch()
    payer = await world.account(branch, granted=100)
    payee = await world.account(branch)

    async def take(n: int) -> int:
        try:
            if n % 2:
                await world.run(lambda s: place_hold(s, payer, payee, 9, key=f"hold:{n}"))
            else:
                await world.run(
                    lambda s: transfer(s, payer, payee, 9, kind=PostingKind.GIFT, key=f"pay:{n}")
                )
        except InsufficientCredit:
            return 0
        return 9

    taken = sum(await asyncio.gather(*(take(n) for n in range(50))))
    assert taken == 99
    current = await world.read(lambda s: balance_of(s, payer))
    assert current.available == 100 - taken == 1
    assert (await verify_ledger(world.sessions)).ok


async def test_the_same_key_fifty_times_at_once_posts_once(world):
    branch = await world.branch()
    alice = await world.account(branch, granted=100)
    bob = await world.account(branch)
    postings = await asyncio.gather(
        *(
            world.run(lambda s: transfer(s, alice, bob, 30, kind=PostingKind.GIFT, key="tap"))
            for _ in range(50)
        )
    )
    assert len({posting.id for posting in postings}) == 1
    assert sum(not posting.replayed for posting in postings) == 1
    assert (await balance(world, alice), await balance(world, bob)) == (70, 30)


@pytest.mark.slow
async def test_two_processes_posting_at_once_lose_nothing(world, engine, tmp_path):
    branch = await world.branch()
    alice = await world.account(branch, granted=100_000)
    bob = await world.account(branch, granted=100_000)
    url = engine.url.render_as_string(hide_password=False)
    count, shared = 150, 40
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    jobs = (("a", alice, bob, 1), ("b", bob, alice, 2))
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable, str(WORKER), url, tag, str(source), str(destination), str(minutes),
            str(count), str(shared), str(barrier),
            cwd=PROJECT_ROOT, env=env, stdout=PIPE, stderr=PIPE,
        )
        for tag, source, destination, minutes in jobs
    ]  # fmt: skip
    results = []
    for worker in workers:
        out, err = await asyncio.wait_for(worker.communicate(), timeout=120)
        assert worker.returncode == 0, err.decode()
        results.append(int(out))
    # Each posted its own transfers; the shared ones were posted once between the two.
    assert sum(results) == 2 * count + shared
    assert results[0] >= count and results[1] >= count
    transactions = await world.read(
        lambda s: s.scalar(select(func.count()).select_from(LedgerTransaction))
    )
    assert transactions == 2 + 2 * count + shared
    # Alice nets 2 − 1 minutes per own transfer; each shared transfer moves 3 minutes, once,
    # from the lower account id to the higher.
    shared_to_alice = 3 * shared if bob < alice else -3 * shared
    assert await balance(world, alice) == 100_000 + count + shared_to_alice
    assert await balance(world, alice) + await balance(world, bob) == 200_000
    assert (await verify_ledger(world.sessions)).ok
