"""`timebank db backup` during a burst of postings, and `timebank db restore` of the copy."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cli import main
from core.backup import BackupError, backup, restore
from core.db import create_engine, session_factory
from core.ledger import PostingKind, transfer, verify_ledger
from core.ledger.tables import LedgerAccount, LedgerTransaction
from tests.conftest import fresh_database

UNDER_WAY = 20
AFTER_THE_COPY = 10


def _url(engine: AsyncEngine) -> str:
    return engine.url.render_as_string(hide_password=False)


async def _ledger(url: str) -> tuple[int, list[tuple[int, int]]]:
    """Transactions counted, and every account's balance."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            count = await session.scalar(select(func.count()).select_from(LedgerTransaction))
            accounts = LedgerAccount.__table__
            balances = await session.execute(
                select(accounts.c.id, accounts.c.balance).order_by(accounts.c.id)
            )
            return count or 0, [tuple(row) for row in balances]
    finally:
        await engine.dispose()


async def test_a_backup_taken_during_postings_restores_to_a_sound_ledger(
    world, engine: AsyncEngine, tmp_path: Path
) -> None:
    branch = await world.branch()
    alice, bob = await world.account(branch, granted=600), await world.account(branch, granted=600)
    under_way, copied = asyncio.Event(), asyncio.Event()
    posted_after_copy = 0
    keys = itertools.count()

    async def burst() -> None:
        nonlocal posted_after_copy
        while posted_after_copy < AFTER_THE_COPY:
            n = next(keys)
            source, destination = (alice, bob) if n % 2 else (bob, alice)
            await world.run(
                lambda s, n=n, a=source, b=destination: transfer(
                    s, a, b, 1 + n % 7, kind=PostingKind.GIFT, key=f"burst:{n}"
                )
            )
            if copied.is_set():
                posted_after_copy += 1
            elif n == UNDER_WAY:
                under_way.set()

    postings = asyncio.create_task(burst())
    await under_way.wait()
    before, _ = await _ledger(_url(engine))
    copy = tmp_path / "nightly.backup"
    result = await asyncio.to_thread(backup, _url(engine), copy)
    copied.set()
    await postings

    after, _ = await _ledger(_url(engine))
    assert result.report.ok, result.report.summary
    assert before <= result.report.transactions < after
    assert copy.exists() and result.size == copy.stat().st_size
    left = await asyncio.to_thread(lambda: list(tmp_path.glob(".*partial")))
    assert not left, "the partial copy is cleaned up"

    await asyncio.to_thread((tmp_path / "restored").mkdir)
    fresh = fresh_database(tmp_path / "restored")
    url = await asyncio.to_thread(next, fresh)
    try:
        report = await asyncio.to_thread(restore, url, copy)
        assert report.ok and report.transactions == result.report.transactions
        restored, balances = await _ledger(url)
        assert restored == result.report.transactions
        assert sum(balance for _, balance in balances) == 0

        with pytest.raises(BackupError, match="not empty"):
            await asyncio.to_thread(restore, url, copy)
        forced = await asyncio.to_thread(restore, url, copy, force=True)
        assert forced.ok and forced.transactions == restored
    finally:
        await asyncio.to_thread(fresh.close)


async def test_restore_refuses_a_database_with_rows_and_leaves_it_as_it_was(
    world, engine: AsyncEngine, tmp_path: Path
) -> None:
    branch = await world.branch()
    await world.account(branch, granted=60)
    copy = tmp_path / "copy.backup"
    await asyncio.to_thread(backup, _url(engine), copy)
    await world.account(branch, granted=30)
    kept = await _ledger(_url(engine))

    with pytest.raises(BackupError, match="--force"):
        await asyncio.to_thread(restore, _url(engine), copy)
    assert await _ledger(_url(engine)) == kept

    engine_url = _url(engine)
    await engine.dispose()
    report = await asyncio.to_thread(restore, engine_url, copy, force=True)
    assert report.ok
    assert (await _ledger(engine_url))[0] == kept[0] - 1
    verified = await verify_ledger(session_factory(engine))
    assert verified.ok


async def test_a_file_that_is_no_backup_of_this_kind_of_database_is_refused(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database")
    with pytest.raises(BackupError, match="neither"):
        await asyncio.to_thread(restore, _url(engine), junk)
    other_kind = tmp_path / "other.backup"
    if engine.dialect.name == "sqlite":
        other_kind.write_bytes(b"PGDMP" + bytes(100))
        expected = "is a postgresql backup; the database is sqlite"
    else:
        other_kind.write_bytes(b"SQLite format 3\x00" + bytes(100))
        expected = "is a sqlite backup; the database is postgresql"
    with pytest.raises(BackupError, match=expected):
        await asyncio.to_thread(restore, _url(engine), other_kind)


def test_the_command_says_what_it_needs_in_one_line(capsys) -> None:
    assert main(["db", "backup"]) == 2
    assert capsys.readouterr().err.strip() == (
        "timebank: db backup needs a file, e.g. timebank db backup timebank.backup"
    )


async def test_the_commands_back_up_and_refuse_to_restore_over_rows(
    world, engine: AsyncEngine, tmp_path: Path, monkeypatch, capsys
) -> None:
    await world.account(await world.branch(), granted=60)
    monkeypatch.setenv("TIMEBANK_DATABASE_URL", _url(engine))
    copy = str(tmp_path / "copy.backup")
    assert await asyncio.to_thread(main, ["db", "backup", copy]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"backup written to {copy} (") and "ledger ok: 1 transactions" in said
    assert await asyncio.to_thread(main, ["db", "restore", copy]) == 2
    assert "add --force" in capsys.readouterr().err
