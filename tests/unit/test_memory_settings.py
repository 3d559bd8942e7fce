"""Settings that bound a worker's memory (issue 17), read back from a live connection or
process: each costs megabytes per worker if lost."""

from __future__ import annotations

import _sqlite3
import ctypes
import os
import platform
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import text

from core.db import SQLITE_CACHE_KIB, SQLITE_CACHED_STATEMENTS, create_engine, in_sqlite_thread


async def test_sqlite_connections_get_a_small_page_cache_and_the_usual_pragmas(tmp_path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'settings.db'}")
    try:
        async with engine.connect() as connection:
            assert await connection.scalar(text("PRAGMA cache_size")) == -SQLITE_CACHE_KIB
            assert SQLITE_CACHE_KIB <= 512  # KiB per connection; SQLite's default is 2000
            assert await connection.scalar(text("PRAGMA journal_mode")) == "wal"
            assert await connection.scalar(text("PRAGMA foreign_keys")) == 1
            assert await connection.scalar(text("PRAGMA busy_timeout")) == 30000
            # Prepared statements kept: what SQLite still holds after many distinct ones.
            await connection.execute(text("CREATE TABLE numbers (n INTEGER)"))

            def prepare_many(db: sqlite3.Connection) -> int:
                for n in range(2 * SQLITE_CACHED_STATEMENTS):
                    db.execute(f"SELECT n + {n} FROM numbers").fetchall()
                return _prepared_statements(db)

            kept = await in_sqlite_thread(connection, prepare_many)
            assert SQLITE_CACHED_STATEMENTS <= 64
            assert SQLITE_CACHED_STATEMENTS <= kept <= SQLITE_CACHED_STATEMENTS + 2
        assert engine.pool.size() == 15
        # The last connection returned is taken first, so the idle ones prepare nothing.
        assert engine.sync_engine.pool._pool.use_lifo  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


def _prepared_statements(db: sqlite3.Connection) -> int:
    """How many statements SQLite holds prepared for `db` (sqlite3_next_stmt), reading the
    `sqlite3 *` CPython keeps right after the object's header.

    The function is looked up through `_sqlite3` itself, so it is the copy of SQLite the
    module runs on (a second, uninitialised copy found by name could crash the process), and
    the handle is checked to be `db`'s before any statement is walked."""
    lib = ctypes.CDLL(_sqlite3.__file__)
    try:
        version, next_stmt, filename = (
            lib.sqlite3_libversion,
            lib.sqlite3_next_stmt,
            lib.sqlite3_db_filename,
        )
    except AttributeError:
        pytest.skip("_sqlite3 does not export SQLite's functions")
    version.restype = ctypes.c_char_p
    if version().decode() != sqlite3.sqlite_version:
        pytest.skip("SQLite found through _sqlite3 is not the one it runs on")
    next_stmt.restype, next_stmt.argtypes = ctypes.c_void_p, (ctypes.c_void_p, ctypes.c_void_p)
    filename.restype, filename.argtypes = ctypes.c_char_p, (ctypes.c_void_p, ctypes.c_char_p)
    handle = ctypes.c_void_p.from_address(id(db) + object.__basicsize__).value
    main = db.execute("PRAGMA database_list").fetchone()[2]
    assert filename(handle, b"main").decode() == main, "not the connection's sqlite3 *"
    count, statement = 0, next_stmt(handle, None)
    while statement:
        count += 1
        statement = next_stmt(handle, statement)
    return count


# Threads alive at once that each allocate, as aiosqlite's do; then glibc's malloc arenas.
_ARENAS = textwrap.dedent(
    """
    import ctypes, re, sys, threading
    from bot.runner import limit_malloc_arenas
    limited = limit_malloc_arenas() if sys.argv[1] == "limit" else False
    kept, together = [], threading.Barrier(8)
    def allocate():
        kept.append(bytearray(20_000))
        together.wait()  # all alive at once, as a pool's connections are
    threads = [threading.Thread(target=allocate) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    libc = ctypes.CDLL(None)
    libc.open_memstream.restype = ctypes.c_void_p
    libc.open_memstream.argtypes = (ctypes.c_void_p, ctypes.c_void_p)
    libc.malloc_info.argtypes = (ctypes.c_int, ctypes.c_void_p)
    libc.fclose.argtypes = (ctypes.c_void_p,)
    buffer, size = ctypes.c_char_p(), ctypes.c_size_t()
    stream = libc.open_memstream(ctypes.byref(buffer), ctypes.byref(size))
    libc.malloc_info(0, stream)
    libc.fclose(stream)
    info = ctypes.string_at(buffer, size.value).decode()
    print(limited, len(re.findall('<heap nr=', info)))
    """
)


def _arenas(mode: str, **env: str) -> tuple[str, int]:
    chosen = ("MALLOC_ARENA_MAX", "GLIBC_TUNABLES")
    environment = {k: v for k, v in os.environ.items() if k not in chosen} | env
    out = subprocess.run(
        [sys.executable, "-c", _ARENAS, mode],
        env=environment,
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="glibc's malloc only",
)
def test_the_runner_keeps_malloc_to_two_arenas_unless_the_operator_chose() -> None:
    assert _arenas("limit") == ("True", 2)
    assert _arenas("none")[1] > 4  # what the limit prevents: an arena per thread
    assert _arenas("limit", MALLOC_ARENA_MAX="4") == ("False", 4)
    assert _arenas("limit", GLIBC_TUNABLES="glibc.malloc.arena_max=4") == ("False", 4)
