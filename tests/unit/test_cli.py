"""The operator's side: clear one-line errors with exit code 2, never a traceback."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from bot.cli import main


def _run(*args: str, env: dict[str, str], cwd) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
    )


@pytest.fixture
def clean_env(monkeypatch, tmp_path) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMEBANK_")}
    env["TIMEBANK_DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.db'}"
    env["PYTHONPATH"] = str(__import__("core.config").config.PROJECT_ROOT)
    return env


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
        (
            {
                "TIMEBANK_TELEGRAM_TOKEN": "1:x",
                "TIMEBANK_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
            },
            "cannot reach the database",
        ),
    ],
)
def test_bad_configuration_is_one_line_and_exit_2(clean_env, tmp_path, env, expected) -> None:
    result = _run("run", env={**clean_env, **env}, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_db_upgrade_creates_every_table(clean_env, tmp_path) -> None:
    result = _run("db", "upgrade", env=clean_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    tables = {
        row[0]
        for row in sqlite3.connect(tmp_path / "cli.db").execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        )
    }
    assert {"members", "identities", "branches", "categories", "orders"} <= tables


def test_ledger_verify_on_a_fresh_database(clean_env, tmp_path) -> None:
    assert _run("db", "upgrade", env=clean_env, cwd=tmp_path).returncode == 0
    result = _run("ledger", "verify", env=clean_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ledger ok")


def test_fund_pool_records_a_repeated_command_once(clean_env, tmp_path) -> None:
    assert _run("seed-demo", env=clean_env, cwd=tmp_path).returncode == 0
    fund = ("ledger", "fund-pool", "luoshan", "600", "--reason", "street office, November")
    first = _run(*fund, env=clean_env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert (
        first.stdout.strip() == "pool of luoshan: 600 minutes added; it can now cover 1800 minutes"
    )
    again = _run(*fund, env=clean_env, cwd=tmp_path)
    assert (
        again.stdout.strip() == "pool of luoshan: already recorded; it can now cover 1800 minutes"
    )
    for bad, says in (
        (("ledger", "fund-pool", "nowhere", "60", "--reason", "x"), "nowhere"),
        (("ledger", "fund-pool", "luoshan", "0", "--reason", "x"), "luoshan"),
        (("ledger", "fund-pool", "luoshan", "60"), "--reason"),
    ):
        result = _run(*bad, env=clean_env, cwd=tmp_path)
        assert result.returncode == 2 and says in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert _run("ledger", "verify", env=clean_env, cwd=tmp_path).returncode == 0
