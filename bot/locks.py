"""The per-chat lock in Redis, held through a dropped connection.

aiogram's `RedisEventIsolation` takes a chat's lock with one `SET NX` and gives it back with
one script. redis-py tries a command again on a fresh connection a few times, but a Redis
that restarts, or drops its clients (`CLIENT KILL`, a failover), can outlast those tries:
the update then failed before its handler ran, or after it had committed. Here taking the
lock is tried again, with a growing pause, for as long as `patience` allows, and giving it
back too; a lock that cannot be given back is left to expire (its `timeout`), since the
update's work is done by then.

Each taking uses one token throughout, so a `SET` that went through while its answer was
lost is recognised on the next try as this update's own lock, not waited out as another's.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiogram.fsm.storage.base import BaseEventIsolation, StorageKey
from aiogram.fsm.storage.redis import RedisEventIsolation
from redis.asyncio.lock import Lock
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockNotOwnedError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.logs import log_event

log = logging.getLogger("timebank.locks")
LOST = (RedisConnectionError, RedisTimeoutError, OSError)
FIRST_PAUSE = 0.1
LONGEST_PAUSE = 2.0


class SteadyRedisIsolation(BaseEventIsolation):
    """`RedisEventIsolation` (its key builder and lock settings) that rides out a lost
    connection to Redis while it takes or gives back a chat's lock."""

    def __init__(self, isolation: RedisEventIsolation, patience: float = 60.0) -> None:
        self.isolation = isolation
        self.patience = patience

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncIterator[None]:
        name = self.isolation.key_builder.build(key, "lock")
        lock = self.isolation.redis.lock(name=name, **self.isolation.lock_kwargs, lock_class=Lock)
        token = uuid.uuid4().hex.encode()
        retried = False

        async def take() -> None:
            nonlocal retried
            if retried and await lock.redis.get(name) == token:
                lock.local.token = token  # taken by a try whose answer was lost
                return
            retried = True
            await lock.acquire(token=token)

        await self._steadily(take, "take")
        try:
            yield
        finally:
            try:
                await self._steadily(lambda: _give_back(lock), "give back")
            except LOST as error:
                log_event(
                    log, "chat lock left to expire", logging.WARNING,
                    reason=f"{type(error).__name__}: {error}"[:200],
                )  # fmt: skip

    async def _steadily(self, attempt: Callable[[], Awaitable[None]], what: str) -> None:
        """`attempt` until it runs without losing the connection, or `patience` (counted
        from the first loss, not from a wait for another update's lock) is spent."""
        loop = asyncio.get_running_loop()
        give_up_at: float | None = None
        pause = FIRST_PAUSE
        tries = 0
        while True:
            tries += 1
            try:
                await attempt()
                return
            except LOST as error:
                give_up_at = give_up_at or loop.time() + self.patience
                if loop.time() + pause > give_up_at:
                    raise
                log_event(
                    log, "chat lock: redis connection lost, retrying", logging.WARNING,
                    action=what, attempt=tries, reason=f"{type(error).__name__}: {error}"[:200],
                )  # fmt: skip
            await asyncio.sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE)

    async def close(self) -> None:
        await self.isolation.close()


async def _give_back(lock: Lock) -> None:
    """Release; a lock no longer ours was given back by a try whose answer was lost, or
    expired while the update ran: either way there is nothing left to give back."""
    if lock.local.token is None:
        return
    try:
        await lock.release()
    except LockNotOwnedError:
        pass
