"""Accept taps from several OS processes at the same moment, as several bot workers behind
a load balancer would get them: exactly one wins, the payer's credit is held once."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from asyncio.subprocess import PIPE
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core import ledger, nudges
from core.config import PROJECT_ROOT
from core.db import transaction
from core.ledger.tables import LedgerHold
from core.models import Nudge, NudgeStatus, Order, OrderStatus
from tests.unit.test_matching import NOW, _setup

WORKER = Path(__file__).with_name("accept_worker.py")
PROCESSES = 4
TAPS_EACH = 5


@pytest.mark.slow
async def test_accepts_from_several_processes_have_one_winner(sessions, engine, tmp_path) -> None:
    volunteers = PROCESSES * TAPS_EACH
    ctx = await _setup(sessions, [(0.0001 * n, 0) for n in range(1, volunteers + 1)])
    async with transaction(sessions, write=True) as s:
        await nudges.sweep(s, now=NOW, rules=nudges.Rules(wave_size=volunteers))
        taps = [f"{n.id}:{n.member_id}" for n in await s.scalars(select(Nudge).order_by(Nudge.id))]
    assert len(taps) == volunteers
    url = engine.url.render_as_string(hide_password=False)
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable, str(WORKER), url, str(barrier), str(PROCESSES),
            *taps[n::PROCESSES],
            cwd=PROJECT_ROOT, env=env, stdout=PIPE, stderr=PIPE,
        )
        for n in range(PROCESSES)
    ]  # fmt: skip
    results: dict[int, str] = {}
    for worker in workers:
        out, err = await asyncio.wait_for(worker.communicate(), timeout=120)
        assert worker.returncode == 0, err.decode()
        results |= {int(nudge): result for nudge, result in json.loads(out).items()}

    assert len(results) == volunteers
    [won] = [nudge for nudge, result in results.items() if result == "won"]
    async with sessions() as s:
        order = await s.get(Order, ctx["order"])
        winner = await s.get(Nudge, won)
        holds = list(await s.scalars(select(LedgerHold).where(LedgerHold.order_id == order.id)))
        payer = await ledger.find_member_account(s, ctx["resident"])
        statuses = dict(
            (await s.execute(select(Nudge.status, func.count()).group_by(Nudge.status))).all()
        )
    assert (order.status, order.volunteer_id) == (OrderStatus.ACCEPTED, winner.member_id)
    assert statuses == {NudgeStatus.ACCEPTED: 1, NudgeStatus.TAKEN: volunteers - 1}
    assert [(h.account_id, h.amount, h.status) for h in holds] == [
        (payer.id, order.estimated_minutes, ledger.HoldStatus.PENDING)
    ]
    assert (await ledger.verify_ledger(sessions)).ok
