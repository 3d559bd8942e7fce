"""Several webhook workers on one port: `timebank run --webhook --workers N`.

Each worker is a process of its own with the whole bot (its event loop, its connections),
listening on the same port with SO_REUSEPORT, so the kernel spreads the Bot API's
connections over them. They share PostgreSQL (the records of handled updates, the
conversation state, the outbox whose rows a conditional update claims for one sender, one
scheduler leader: `bot.leader`) and Redis (the per-chat lock, so one chat's updates are
handled one at a time whichever worker gets them). A worker that dies is started again;
its updates in flight are not answered, so the Bot API delivers them again, to whichever
worker.

The workers are forked from the supervisor, which has already imported the bot (aiogram,
SQLAlchemy, the handlers), built the Telegram types an update holds, and frozen those objects
out of the cycle collector (`runner.freeze_start_up_heap`), so the workers share those
pages copy-on-write instead of each holding its own copy. A supervisor that has threads
is not forked (a thread's locks would be copied mid-use): the workers are spawned, each
importing the bot anew.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from multiprocessing.connection import wait
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess

from bot import runner
from core.config import Settings
from core.logs import log_event, setup_logging

log = logging.getLogger("timebank.workers")
RESTART_DELAY = 1.0
REFUSED = 2  # a worker's exit code when the Bot API refused the token: no restart helps


def _worker(settings: Settings, number: int) -> None:
    # A forked worker inherits the supervisor's handlers, which would keep it from stopping.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    setup_logging(settings.log_level)
    log_event(log, "worker started", worker=number, pid=os.getpid())
    try:
        asyncio.run(runner.serve(settings, webhook=True, reuse_port=True))
    except runner.ApiRefused as error:
        log_event(log, "bot api refused the token", logging.ERROR, reason=str(error)[:200])
        raise SystemExit(REFUSED) from None


def start_method() -> str:
    """Fork when this process has one thread (and the platform forks), else spawn."""
    forks = "fork" in multiprocessing.get_all_start_methods()
    return "fork" if forks and threading.active_count() == 1 else "spawn"


def _context() -> BaseContext:
    method = start_method()
    if method == "fork":
        runner.freeze_start_up_heap()
    log_event(log, "workers start", method=method)
    return multiprocessing.get_context(method)


def run_workers(settings: Settings, count: int) -> int:
    """Start `count` workers, keep them running until SIGTERM/SIGINT; the exit code."""
    context = _context()
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def start(number: int) -> BaseProcess:
        process = context.Process(target=_worker, args=(settings, number), daemon=False)
        process.start()
        log_event(log, "worker process", worker=number, pid=process.pid)
        return process

    workers = {number: start(number) for number in range(1, count + 1)}
    code = 0
    while not stopping:
        wait([p.sentinel for p in workers.values()], timeout=0.5)
        for number, process in list(workers.items()):
            if process.exitcode is None or stopping:
                continue
            if process.exitcode == REFUSED:
                stopping, code = True, REFUSED
                break
            log_event(
                log, "worker died, starting again", logging.WARNING,
                worker=number, exitcode=process.exitcode,
            )  # fmt: skip
            time.sleep(RESTART_DELAY)
            workers[number] = start(number)
    for process in workers.values():
        if process.exitcode is None:
            process.terminate()
    for process in workers.values():
        process.join(timeout=20)
        if process.exitcode is None:
            process.kill()
    return code
