"""A short chaos day (bench.chaos with a small seed): the bot is SIGKILLed and restarted, the
sandbox injects 429s, 5xx, dropped connections and latency; nothing is lost, nothing is paid
twice, the ledger stays sound."""

from __future__ import annotations

import os

import pytest

from bench.chaos import main, parser

pytestmark = [pytest.mark.slow, pytest.mark.database]


async def test_a_short_chaos_day_loses_nothing() -> None:
    database = (
        "postgresql"
        if os.environ.get("TIMEBANK_DATABASE_URL", "").startswith("postgres")
        else "sqlite"
    )
    args = parser().parse_args(
        [
            "--minutes",
            "0.5",
            "--seed",
            "7",
            "--database",
            database,
            "--residents",
            "2",
            "--volunteers",
            "3",
        ]
    )
    day = await main(args)
    figures = day.figures
    assert figures.kills >= 1, "the bot was never killed"
    assert figures.faults >= 1
    assert not figures.problems, figures.problems  # ledger, double credits, impossible orders
    # By long polling an update is confirmed only after its replies went out
    # (bot.middlewares.UnitOfWorkMiddleware): a /help killed midway comes back and is answered.
    assert figures.lost == 0, f"{figures.lost} /help lost"
