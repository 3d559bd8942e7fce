"""Broadcast expansion and the outbox's lanes, without Telegram: figures for core's part.

    python -m bench.broadcast_expansion [--recipients 5000] [--postgres URL | --no-postgres]
                                        [--no-sqlite]

A branch of `--recipients` members (languages mixed) gets a three-language broadcast. The
sweep that expands it runs in a child process, which is killed (SIGKILL) once about half of
the deliveries are committed; this process then sweeps to the end. Printed: the child's
expansion rate, deliveries made by each side, duplicates and members missed (both must be
0). Then, with the whole broadcast pending in the outbox, a reply is enqueued and the
read of the next 30 due messages (`outbox.due`, across the lanes) is timed: the reply
must come first.
Delivery at Telegram's pace is the sender's, measured by `bench.outbox`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import time

from sqlalchemy import func, insert, select

from bench import databases
from core import broadcasts, outbox
from core.broadcasts import Audience, Draft
from core.db import create_engine, session_factory, transaction, utcnow
from core.models import Branch, Identity, Member, OutboxMessage

TEXTS = {
    "zh_Hans": "友邻集市本周六开市",
    "ko": "이번 토요일에 이웃 장터가 열려요",
    "en": "Market day",
}
LANGUAGES = ("zh_Hans", "ko", "en")


async def _seed(url: str, recipients: int) -> None:
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        async with transaction(sessions, write=True) as session:
            branch = Branch(
                code="bench", names={"en": "Bench"}, time_zone="Asia/Shanghai",
                default_language="zh_Hans",
            )  # fmt: skip
            session.add(branch)
            await session.flush()
            coordinator = Member(name="C", branch_id=branch.id, is_coordinator=True)
            session.add(coordinator)
            await session.flush()
            first = coordinator.id + 1
            now = utcnow()
            await session.execute(
                insert(Member),
                [
                    {
                        "name": f"M{n}",
                        "branch_id": branch.id,
                        "is_resident": True,
                        "language": LANGUAGES[n % 3],
                        "created_at": now,
                    }
                    for n in range(recipients)
                ],
            )
            ids = list(await session.scalars(select(Member.id).where(Member.id >= first)))
            await session.execute(
                insert(Identity),
                [
                    {
                        "platform": "telegram",
                        "external_id": str(i),
                        "member_id": i,
                        "created_at": now,
                    }
                    for i in ids
                ],
            )
            broadcast_id = await broadcasts.create(
                session,
                coordinator.id,
                Draft(TEXTS, Audience(branch_ids=(branch.id,), roles=("resident",))),
                key="bench",
            )
            await broadcasts.send(session, broadcast_id, coordinator.id)
    finally:
        await engine.dispose()


async def _deliveries(sessions) -> int:
    async with sessions() as session:
        return (
            await session.scalar(select(func.count()).select_from(broadcasts.BroadcastDelivery))
            or 0
        )


async def _child(url: str) -> None:
    engine = create_engine(url)
    try:
        await broadcasts.sweep(session_factory(engine))
    finally:
        await engine.dispose()


async def bench(url: str, recipients: int) -> list[str]:
    await _seed(url, recipients)
    engine = create_engine(url)
    sessions = session_factory(engine)
    lines = []
    try:
        started = time.perf_counter()
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.broadcast_expansion", "--child", url,
        )  # fmt: skip
        while (made := await _deliveries(sessions)) < recipients // 2:
            if child.returncode is not None:
                break
            await asyncio.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        await child.wait()
        child_seconds = time.perf_counter() - started
        made = await _deliveries(sessions)
        resumed = time.perf_counter()
        await broadcasts.sweep(sessions)
        resume_seconds = time.perf_counter() - resumed
        async with sessions() as session:
            total = await session.scalar(
                select(func.count()).select_from(broadcasts.BroadcastDelivery)
            )
            distinct = await session.scalar(
                select(func.count(func.distinct(OutboxMessage.member_id))).where(
                    OutboxMessage.kind == "broadcast"
                )
            )
            rows = await session.scalar(
                select(func.count()).where(OutboxMessage.kind == "broadcast")
            )
        lines.append(
            f"  expansion of {recipients}: child killed (SIGKILL) after {made} deliveries "
            f"in {child_seconds:.2f} s (with process start); resumed {total - made} in "
            f"{resume_seconds:.2f} s ({(total - made) / resume_seconds:,.0f}/s)"
        )
        lines.append(
            f"  deliveries {total}, outbox rows {rows}, members {distinct}: "
            f"duplicates {rows - distinct}, missed {recipients - distinct}"
        )
        member = await _any_member(sessions)
        timings, first_kinds = [], []
        for n in range(20):
            async with transaction(sessions, write=True) as session:
                await outbox.enqueue(session, key=f"reply:{n}", member_id=member, kind="reply")
                began = time.perf_counter()
                claimed = await outbox.due(session, limit=30)
                timings.append(time.perf_counter() - began)
                first_kinds.append(claimed[0].kind)
                await session.rollback()
        lines.append(
            f"  the next 30 due read with {rows} broadcast rows pending: p50 "
            f"{statistics.median(timings) * 1000:.1f} ms, max {max(timings) * 1000:.1f} ms; "
            f"reply first in {first_kinds.count('reply')}/20"
        )
    finally:
        await engine.dispose()
    return lines


async def _any_member(sessions) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.min(Member.id)).where(Member.is_resident)) or 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=5000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    databases.add_arguments(parser)
    args = parser.parse_args()
    if args.child:
        asyncio.run(_child(args.child))
        return
    print(f"broadcast expansion, {args.recipients} recipients, {utcnow():%Y-%m-%d %H:%M} UTC")
    databases.run_on_each(args, "broadcast", lambda url: bench(url, args.recipients))


if __name__ == "__main__":
    main()
