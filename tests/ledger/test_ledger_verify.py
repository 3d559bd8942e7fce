"""verify_ledger finds every kind of damage, and main_verify reports it for the CLI."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import text

from core.ledger import PostingKind, main_verify, place_hold, transfer, verify_ledger

CHECK = "ck_ledger_accounts_within_overdraft_limit"


async def scene(world) -> dict[str, int]:
    """A small ledger: grants, a payment, a pending hold."""
    branch = await world.branch()
    alice = await world.account(branch, granted=100)
    bob = await world.account(branch, granted=50)
    paid = await world.run(lambda s: transfer(s, alice, bob, 30, kind=PostingKind.GIFT, key="p"))
    hold = await world.run(lambda s: place_hold(s, bob, alice, 20, key="h"))
    return {"alice": alice, "bob": bob, "paid": paid.id, "hold": hold.id}


async def execute(engine, *statements: str) -> None:
    async with engine.begin() as connection:
        for statement in statements:
            await connection.execute(text(statement))


@asynccontextmanager
async def without_limit_check(engine):
    """Let a test store a balance below its limit, which the database normally refuses."""
    if engine.dialect.name == "sqlite":
        async with engine.connect() as connection:
            await connection.exec_driver_sql("PRAGMA ignore_check_constraints = ON")
            yield connection
            await connection.commit()
        return
    async with engine.connect() as connection:
        await connection.exec_driver_sql(f"ALTER TABLE ledger_accounts DROP CONSTRAINT {CHECK}")
        await connection.commit()
        try:
            yield connection
            await connection.commit()
        finally:
            # Put the rows right again before the constraint comes back.
            await connection.rollback()
            await connection.exec_driver_sql("UPDATE ledger_accounts SET overdraft_limit = NULL")
            await connection.exec_driver_sql(
                f"ALTER TABLE ledger_accounts ADD CONSTRAINT {CHECK} CHECK "
                "(overdraft_limit IS NULL OR balance - held >= -overdraft_limit)"
            )
            await connection.commit()


async def test_a_sound_ledger_verifies(world):
    await scene(world)
    report = await verify_ledger(world.sessions)
    assert report.ok and report.offending_ids == {}
    assert report.transactions == 3 and report.accounts == 3
    assert report.summary == "ledger ok: 3 transactions, 3 accounts checked"


async def test_an_unbalanced_transaction_is_found(world, engine):
    ids = await scene(world)
    await execute(
        engine,
        "INSERT INTO ledger_entries (transaction_id, account_id, amount, balance_after) "
        f"VALUES ({ids['paid']}, {ids['alice']}, 1, 71)",
    )
    report = await verify_ledger(world.sessions)
    assert not report.ok
    assert report.unbalanced_transactions == (ids["paid"],)
    assert ids["alice"] in report.balance_mismatches


async def test_a_transaction_with_one_entry_is_found(world, engine):
    ids = await scene(world)
    await execute(
        engine,
        f"DELETE FROM ledger_entries WHERE transaction_id = {ids['paid']} "
        f"AND account_id = {ids['bob']}",
    )
    report = await verify_ledger(world.sessions)
    assert report.unbalanced_transactions == (ids["paid"],)
    assert report.balance_mismatches == (ids["bob"],)


async def test_cached_balances_and_holds_that_disagree_are_found(world, engine):
    ids = await scene(world)
    await execute(
        engine,
        f"UPDATE ledger_accounts SET balance = balance + 1 WHERE id = {ids['alice']}",
        f"UPDATE ledger_accounts SET held = held + 5 WHERE id = {ids['bob']}",
    )
    report = await verify_ledger(world.sessions)
    assert report.balance_mismatches == (ids["alice"],)
    assert report.held_mismatches == (ids["bob"],)
    assert report.unbalanced_transactions == ()


async def test_an_account_below_its_limit_is_found(world, engine):
    ids = await scene(world)
    async with without_limit_check(engine) as connection:
        await connection.exec_driver_sql(
            f"UPDATE ledger_accounts SET overdraft_limit = 0, held = held + 500 "
            f"WHERE id = {ids['bob']}"
        )
        await connection.commit()
        report = await verify_ledger(world.sessions)
    assert report.below_limit == (ids["bob"],)


async def test_a_posted_hold_without_its_transaction_is_found(world, engine):
    ids = await scene(world)
    await execute(engine, f"UPDATE ledger_holds SET status = 'posted' WHERE id = {ids['hold']}")
    report = await verify_ledger(world.sessions)
    assert report.orphan_holds == (ids["hold"],)


async def test_a_posting_missing_from_the_middle_of_a_passbook_is_found(world, engine):
    ids = await scene(world)
    later = await world.run(
        lambda s: transfer(s, ids["alice"], ids["bob"], 1, kind=PostingKind.GIFT, key="q")
    )
    # Remove a whole posting and mend the cached balances: every sum agrees again, but the
    # later entries' running balances no longer follow from the ones before them.
    await execute(
        engine,
        f"DELETE FROM ledger_entries WHERE transaction_id = {ids['paid']}",
        f"DELETE FROM ledger_transactions WHERE id = {ids['paid']}",
        f"UPDATE ledger_accounts SET balance = 99 WHERE id = {ids['alice']}",
        f"UPDATE ledger_accounts SET balance = 51 WHERE id = {ids['bob']}",
    )
    report = await verify_ledger(world.sessions)
    assert report.unbalanced_transactions == report.balance_mismatches == ()
    async with engine.connect() as connection:
        later_entries = await connection.scalars(
            text(f"SELECT id FROM ledger_entries WHERE transaction_id = {later.id} ORDER BY id")
        )
        assert report.running_balance_breaks == tuple(later_entries)
    assert not report.ok


def _url(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


async def test_main_verify_prints_the_summary_and_returns_the_exit_code(world, engine, capsys):
    ids = await scene(world)
    assert await asyncio.to_thread(main_verify, _url(engine)) == 0
    assert capsys.readouterr().out.startswith("ledger ok")
    await execute(
        engine, f"UPDATE ledger_accounts SET balance = balance + 1 WHERE id = {ids['alice']}"
    )
    assert await asyncio.to_thread(main_verify, _url(engine)) == 1
    out = capsys.readouterr().out
    assert "NOT ok" in out and f"balance mismatches (1): {ids['alice']}" in out


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////nonexistent/dir/ledger.db",
        "postgresql://nobody@127.0.0.1:1/none",
        "mysql://localhost/x",
        "empty sqlite file",
    ],
)
def test_main_verify_explains_an_unreadable_database_in_one_line(url, tmp_path, capsys):
    if url == "empty sqlite file":
        (tmp_path / "empty.db").touch()
        url = f"sqlite:///{tmp_path / 'empty.db'}"
    assert main_verify(url) == 2
    err = capsys.readouterr().err
    assert err.startswith("ledger verify: cannot read the database:")
    assert err.count("\n") == 1


def test_main_verify_does_not_create_a_missing_sqlite_file(tmp_path, capsys):
    path = tmp_path / "typo.db"
    assert main_verify(f"sqlite:///{path}") == 2
    assert not path.exists()
    assert "no database file at" in capsys.readouterr().err
