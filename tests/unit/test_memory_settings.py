"""Settings that bound a worker's memory (issue 17), read back from a live connection or
process: each costs megabytes per worker if lost."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sqlite3
import subprocess
import sys
import textwrap

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
    `sqlite3 *` CPython keeps right after the object's header."""
    lib = ctypes.CDLL(ctypes.util.find_library("sqlite3"))
    lib.sqlite3_next_stmt.restype = ctypes.c_void_p
    lib.sqlite3_next_stmt.argtypes = (ctypes.c_void_p, ctypes.c_void_p)
    handle = ctypes.c_void_p.from_address(id(db) + object.__basicsize__).value
    count, statement = 0, lib.sqlite3_next_stmt(handle, None)
    while statement:
        count += 1
        statement = lib.sqlite3_next_stmt(handle, statement)
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
    environment = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"} | env
    out = subprocess.run(
        [sys.executable, "-c", _ARENAS, mode],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None,
    reason="glibc's malloc only",
)
def test_the_runner_keeps_malloc_to_two_arenas_unless_the_operator_chose() -> None:
    assert _arenas("limit") == ("True", 2)
    assert _arenas("none")[1] > 4  # what the limit prevents: an arena per thread
    assert _arenas("limit", MALLOC_ARENA_MAX="4") == ("False", 4)
