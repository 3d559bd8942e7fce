"""The operator's side: clear one-line errors with exit code 2, never a traceback.

The commands run in this process (`bot.cli.main`, as the console script calls it), with the
environment and working directory a shell would give them; one test runs the installed
`timebank` script itself."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import broken_upgrade


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMEBANK_")}
    env["TIMEBANK_DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.db'}"
    return env


@pytest.fixture
def timebank(monkeypatch, capsys):
    """`timebank(*args, env=..., cwd=...)` → what the command returned and printed."""

    def run(*args: str, env: dict[str, str], cwd: Path) -> Result:
        with monkeypatch.context() as scoped:
            for name in [n for n in os.environ if n.startswith("TIMEBANK_")]:
                scoped.delenv(name)
            for name, value in env.items():
                scoped.setenv(name, value)
            scoped.chdir(cwd)
            capsys.readouterr()
            try:
                code = main(list(args))
            except SystemExit as exit_:  # argparse's usage errors
                code = exit_.code if isinstance(exit_.code, int) else 2
            out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def test_the_console_script_runs_the_cli(clean_env, tmp_path) -> None:
    script = Path(sys.executable).with_name("timebank")
    result = subprocess.run(
        [str(script), "run"], capture_output=True, text=True, env=clean_env, cwd=tmp_path,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "timebank: no Telegram token: set TIMEBANK_TELEGRAM_TOKEN (from @BotFather), "
        "or try the bot locally with `timebank demo`"
    )


def test_help_lists_the_commands(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("run", "db", "demo", "seed-demo", "ledger"):
        assert command in out


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "no Telegram token"),
        ({"TIMEBANK_TELEGRAM_API_URL": "not a url"}, "TIMEBANK_TELEGRAM_API_URL"),
        ({"TIMEBANK_DEFAULT_LANGUAGE": "fr"}, "TIMEBANK_DEFAULT_LANGUAGE"),
        ({"TIMEBANK_DATABASE_URL": "mysql://x/y"}, "SQLite or PostgreSQL"),
    ],
)
def test_bad_configuration_is_one_line_and_exit_2(
    timebank, clean_env, tmp_path, env, expected
) -> None:
    result = timebank("run", env={**clean_env, **env}, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_db_upgrade_without_a_database_is_one_line_and_exit_2(
    timebank, clean_env, tmp_path
) -> None:
    """`db upgrade` stops at once; `run` waits for the database (tests/bot/test_run.py)."""
    env = {**clean_env, "TIMEBANK_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    result = timebank("db", "upgrade", env=env, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the database" in lines[0], result.stderr


def test_a_failing_migration_is_one_line_and_exit_2(timebank, clean_env, tmp_path) -> None:
    url = broken_upgrade(tmp_path / "broken.db")
    result = timebank(
        "db", "upgrade", env={**clean_env, "TIMEBANK_DATABASE_URL": url}, cwd=tmp_path
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "the migrations of the database" in lines[0] and "nothing was changed" in lines[0]


def test_db_upgrade_creates_every_table(timebank, clean_env, tmp_path) -> None:
    result = timebank("db", "upgrade", env=clean_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    tables = {
        row[0]
        for row in sqlite3.connect(tmp_path / "cli.db").execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        )
    }
    assert {"members", "identities", "branches", "categories", "orders"} <= tables


def test_ledger_verify_on_a_fresh_database(timebank, clean_env, tmp_path) -> None:
    assert timebank("db", "upgrade", env=clean_env, cwd=tmp_path).returncode == 0
    result = timebank("ledger", "verify", env=clean_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ledger ok")


def test_fund_pool_records_a_repeated_command_once(timebank, clean_env, tmp_path) -> None:
    assert timebank("seed-demo", env=clean_env, cwd=tmp_path).returncode == 0
    fund = ("ledger", "fund-pool", "luoshan", "600", "--reason", "street office, November")
    first = timebank(*fund, env=clean_env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert (
        first.stdout.strip() == "pool of luoshan: 600 minutes added; it can now cover 1800 minutes"
    )
    again = timebank(*fund, env=clean_env, cwd=tmp_path)
    assert (
        again.stdout.strip() == "pool of luoshan: already recorded; it can now cover 1800 minutes"
    )
    for bad, says in (
        (("ledger", "fund-pool", "nowhere", "60", "--reason", "x"), "nowhere"),
        (("ledger", "fund-pool", "luoshan", "0", "--reason", "x"), "luoshan"),
        (("ledger", "fund-pool", "luoshan", "60"), "--reason"),
    ):
        result = timebank(*bad, env=clean_env, cwd=tmp_path)
        assert result.returncode == 2 and says in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert timebank("ledger", "verify", env=clean_env, cwd=tmp_path).returncode == 0


def test_ledger_policy_shows_and_sets_a_branchs_policy(timebank, clean_env, tmp_path) -> None:
    assert timebank("seed-demo", env=clean_env, cwd=tmp_path).returncode == 0
    shown = timebank("ledger", "policy", "luoshan", env=clean_env, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == (
        "policy of luoshan: 60 welcome minutes on joining; "
        "members may go 0 minutes below zero, residents 120"
    )
    changed = timebank(
        "ledger", "policy", "luoshan", "--welcome", "90", "--resident-overdraft", "30",
        env=clean_env, cwd=tmp_path,
    )  # fmt: skip
    assert changed.returncode == 0, changed.stderr
    assert "90 welcome minutes" in changed.stdout and "residents 30" in changed.stdout
    for bad, says in (
        (("ledger", "policy", "nowhere"), "nowhere"),
        (("ledger", "policy", "luoshan", "--welcome", "-5"), "luoshan"),
        (("ledger", "policy"), "branch code"),
    ):
        result = timebank(*bad, env=clean_env, cwd=tmp_path)
        assert result.returncode == 2 and says in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    again = timebank("ledger", "policy", "luoshan", env=clean_env, cwd=tmp_path)
    assert "90 welcome minutes" in again.stdout
    assert timebank("ledger", "verify", env=clean_env, cwd=tmp_path).returncode == 0
