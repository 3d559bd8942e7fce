"""How `timebank run --workers N` starts its workers: forked when the supervisor is alone."""

from __future__ import annotations

import threading

import pytest

from bot.workers import start_method


def test_a_supervisor_with_a_thread_spawns_its_workers() -> None:
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        assert start_method() == "spawn"  # a fork would copy the thread's locks mid-use
    finally:
        release.set()
        thread.join()


def test_a_supervisor_alone_forks_its_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threading, "active_count", lambda: 1)  # the test runner may have more
    assert start_method() == "fork"
