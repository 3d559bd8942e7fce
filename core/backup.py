"""`timebank db backup` and `timebank db restore`: a consistent copy while the bot runs.

SQLite is copied with its online backup API: one read transaction copies every page, so
the copy is the database as of one moment, and in WAL mode the bot's writers go on
meanwhile. PostgreSQL is copied by `pg_dump`, which reads in one snapshot too, to its
custom format. Every copy is checked with the ledger's own verification before it is
called good: on SQLite the copy file itself; on PostgreSQL the dump restored into a
scratch database, which also proves the dump restores.

A restore refuses to overwrite a database that holds any row unless forced: restoring
over live data is the one mistake a backup tool must not make easy.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sqlalchemy import exists, select, text
from sqlalchemy.engine import URL, make_url
from sqlmodel import SQLModel

import core.tables  # noqa: F401  (every table, to tell an empty database)
from core.config import async_database_url
from core.db import create_engine, session_factory
from core.ledger import VerifyReport, verify_ledger

SQLITE_HEADER = b"SQLite format 3\x00"
PG_DUMP_HEADER = b"PGDMP"


class BackupError(Exception):
    """A backup or restore that cannot be done; its message is one line for the operator."""


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: Path
    size: int
    report: VerifyReport


def _url(database_url: str) -> URL:
    return make_url(async_database_url(database_url))


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:" or "mode=memory" in str(url):
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(url.database)


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """The URL as pg_dump and pg_restore take it, its password moved to the environment
    so that it never shows in a process list."""
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(command: list[str], env: dict[str, str]) -> None:
    tool = command[0]
    _require(tool)
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout or "no output").strip().splitlines()
        raise BackupError(f"{tool} failed: {lines[-1] if lines else done.returncode}")


async def _verify(database_url: str) -> VerifyReport:
    engine = create_engine(database_url)
    try:
        return await verify_ledger(session_factory(engine))
    finally:
        await engine.dispose()


async def is_empty(database_url: str) -> bool:
    """No row in any of the time bank's tables (a new or freshly migrated database)."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            present = await connection.run_sync(
                lambda sync: set(sync.dialect.get_table_names(sync))
            )
            for table in SQLModel.metadata.sorted_tables:
                if table.name in present and await connection.scalar(
                    select(exists().select_from(table))
                ):
                    return False
        return True
    finally:
        await engine.dispose()


def _read_only(path: Path) -> str:
    return f"{path.resolve().as_uri()}?mode=ro"


def _copy_sqlite(source: Path, target: Path) -> None:
    """Page by page in one step (SQLite's online backup API), as of one read snapshot."""
    with (
        sqlite3.connect(_read_only(source), uri=True, timeout=30) as origin,
        sqlite3.connect(target) as copy,
    ):
        origin.backup(copy)
    # A copy meant to be moved around: one self-contained file, no WAL beside it.
    with sqlite3.connect(target) as copy:
        copy.execute("PRAGMA journal_mode=DELETE")


@contextmanager
def _scratch_database(url: URL) -> Iterator[str]:
    """A new database beside `url`'s on the same server, dropped afterwards."""
    name = f"{url.database}_backup_check_{uuid.uuid4().hex[:8]}"

    async def admin(statement: str) -> None:
        engine = create_engine(
            url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
        )
        try:
            async with engine.connect() as connection:
                await connection.execute(text(statement))
        finally:
            await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# pg_restore empties search_path for its session, but earthdistance's ll_to_earth (which
# matching's spatial index is built on) calls earth() and cube() unqualified, so building
# that index fails there. The script pg_restore writes goes through psql instead, with the
# schema the extensions live in; every object in it is schema-qualified anyway.
EMPTY_SEARCH_PATH = b"SELECT pg_catalog.set_config('search_path', '', false);"
EXTENSIONS_SEARCH_PATH = b"SELECT pg_catalog.set_config('search_path', 'public', false);\n"


def _require(tool: str) -> None:
    if shutil.which(tool) is None:
        raise BackupError(
            f"{tool} is not installed: install the PostgreSQL client of the server's "
            "version (Debian: apt-get install postgresql-client)"
        )


def _last_line(output: IO[bytes], fallback: str) -> str:
    output.seek(0)
    lines = output.read().decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else fallback


def _pg_restore(database_url: str, source: Path) -> None:
    dsn, env = _libpq(_url(database_url))
    _require("pg_restore")
    _require("psql")
    env["PGOPTIONS"] = "-c client_min_messages=warning"
    script_command = [
        "pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges",
        "--single-transaction", "--file=-", str(source),
    ]  # fmt: skip
    load_command = ["psql", "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", f"--dbname={dsn}"]
    with tempfile.TemporaryFile() as script_errors, tempfile.TemporaryFile() as load_errors:
        script = subprocess.Popen(
            script_command, stdout=subprocess.PIPE, stderr=script_errors, env=env
        )
        load = subprocess.Popen(
            load_command,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=load_errors,
            env=env,
        )
        assert script.stdout is not None and load.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            for line in script.stdout:
                load.stdin.write(
                    EXTENSIONS_SEARCH_PATH if line.strip() == EMPTY_SEARCH_PATH else line
                )
        with contextlib.suppress(BrokenPipeError):
            load.stdin.close()
        script.stdout.close()
        if script.wait() != 0:
            load.wait()
            raise BackupError(f"pg_restore failed: {_last_line(script_errors, 'no output')}")
        if load.wait() != 0:
            raise BackupError(f"restoring failed: {_last_line(load_errors, 'no output')}")


def backup(database_url: str, target: Path) -> BackupResult:
    """Copy the database to `target` (written beside it first, moved in place when checked)."""
    url = _url(database_url)
    target = target.resolve()
    if not target.parent.is_dir():
        raise BackupError(f"no such folder: {target.parent}")
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        if url.get_backend_name() == "sqlite":
            source = _sqlite_path(url)
            if not source.exists():
                raise BackupError(f"no database file at {source}")
            _copy_sqlite(source, partial)
            report = asyncio.run(_verify(async_database_url(f"sqlite:///{partial}")))
        else:
            dsn, env = _libpq(url)
            _run(["pg_dump", "--format=custom", f"--file={partial}", dsn], env)
            with _scratch_database(url) as scratch:
                _pg_restore(scratch, partial)
                report = asyncio.run(_verify(scratch))
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(target, target.stat().st_size, report)


def _kind_of(source: Path) -> str:
    with source.open("rb") as file:
        head = file.read(len(SQLITE_HEADER))
    if head.startswith(SQLITE_HEADER):
        return "sqlite"
    if head.startswith(PG_DUMP_HEADER):
        return "postgresql"
    raise BackupError(f"{source} is neither a SQLite backup nor a pg_dump archive")


def restore(database_url: str, source: Path, *, force: bool = False) -> VerifyReport:
    """Replace the database's contents with the backup's; refuses a non-empty database
    unless `force`. The bot should be stopped meanwhile. Returns the restored ledger's check."""
    url = _url(database_url)
    if not source.is_file():
        raise BackupError(f"no backup file at {source}")
    kind = _kind_of(source)
    backend = url.get_backend_name()
    if kind != backend:
        raise BackupError(f"{source} is a {kind} backup; the database is {backend}")
    target = _sqlite_path(url) if backend == "sqlite" else None
    if target is not None and not target.parent.is_dir():
        raise BackupError(f"no such folder: {target.parent}")
    exists_now = target is None or target.exists()
    rendered = url.render_as_string(hide_password=False)
    if exists_now and not force and not asyncio.run(is_empty(rendered)):
        raise BackupError(
            "the database is not empty: stop the bot and add --force to replace its contents"
        )
    if target is not None:
        with (
            sqlite3.connect(_read_only(source), uri=True) as origin,
            sqlite3.connect(target, timeout=30) as database,
        ):
            origin.backup(database)
    else:
        _pg_restore(rendered, source)
    return asyncio.run(_verify(rendered))
