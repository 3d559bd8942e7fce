"""The sender's member and branch from a small per-process cache, checked on every update.

Each entry keeps a row's column values as they were read, with the row's `version`. The
database bumps the version on every UPDATE of the row (a trigger, migration 0014), so any
write invalidates it, whichever process or tool made it. The check costs no statement of
its own: the update's one read (`bot.update_context`) returns the member's id and version
and the version of the branch the entry names, and an entry is used only if they match.
A miss (a new process, a changed row, a member seen for the first time in a while) reads
the row again. The cache holds the most recently seen entries only, so a worker's memory
does not grow with the size of the city.

Each update gets its own instance, attached to its session as if just loaded: a handler
that changes the member writes the change, and a rollback leaves the cached values alone.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.instrumentation import manager_of_class

from core.coordinators import coordinator_branches
from core.models import Branch, Member

Row = TypeVar("Row", Member, Branch)
# Column values a row can share with the cache's entry (the others, JSON, are copied).
_IMMUTABLE = frozenset({int, str, bool, float, type(None), datetime, date, time, Decimal})


@dataclass(frozen=True, slots=True)
class Entry:
    row_id: int
    version: int
    values: tuple[Any, ...]
    branch_id: int | None  # a member's: the branch they work in now


class RowCache(Generic[Row]):
    """The last `size` rows of one table seen by this process, by a key of the caller's."""

    def __init__(self, model: type[Row], size: int) -> None:
        self.model = model
        self.size = size
        self.columns = tuple(c.key for c in inspect(model).column_attrs)
        self.manager = manager_of_class(model)
        self.entries: OrderedDict[Any, Entry] = OrderedDict()

    def get(self, key: Any) -> Entry | None:
        entry = self.entries.get(key)
        if entry is not None:
            self.entries.move_to_end(key)
        return entry

    def keep(self, key: Any, row: Row, branch_id: int | None = None) -> Entry:
        values = tuple(copy.deepcopy(getattr(row, name)) for name in self.columns)
        entry = Entry(int(row.id or 0), row.version, values, branch_id)
        self.entries[key] = entry
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)
        return entry

    def forget(self, key: Any) -> None:
        self.entries.pop(key, None)

    def attach(self, session: AsyncSession, entry: Entry) -> Row:
        """A fresh instance with the entry's values, in the session as if just loaded."""
        found = session.identity_map.get((self.model, (entry.row_id,), None))
        if found is not None:
            return found  # type: ignore[return-value]
        # Made as SQLAlchemy makes a row it loads (the class's `__new__`, then the values put
        # in place), not through the model's constructor: that sets each column through
        # SQLModel's and SQLAlchemy's attribute events, several times the cost of the rest.
        row = self.manager.new_instance()
        row.__dict__.update(
            (name, value if type(value) in _IMMUTABLE else copy.deepcopy(value))
            for name, value in zip(self.columns, entry.values, strict=True)
        )
        make_transient_to_detached(row)
        session.add(row)
        return row


def working_branch_id(member: Member) -> int | None:
    """The branch an update of this member is for: a coordinator's working branch (`/branch`),
    else their home."""
    return (coordinator_branches(member) or (member.branch_id,))[0]


class Lookups:
    """Members by platform identity and branches by id, for the update path."""

    def __init__(self, members: int = 10_000, branches: int = 1_000) -> None:
        self.members: RowCache[Member] = RowCache(Member, members)
        self.branches: RowCache[Branch] = RowCache(Branch, branches)

    def cached_branch_id(self, identity: tuple[str, str]) -> int | None:
        """The branch the cached entry for this identity names, to check with the read."""
        entry = self.members.entries.get(identity)
        return entry.branch_id if entry is not None else None

    async def member(
        self,
        session: AsyncSession,
        identity: tuple[str, str],
        member_id: int | None,
        version: int | None,
    ) -> Member | None:
        """The member behind `identity` as the update's read found them (id and version)."""
        if member_id is None:
            self.members.forget(identity)
            return None
        entry = self.members.get(identity)
        if entry is not None and entry.row_id == member_id and entry.version == version:
            return self.members.attach(session, entry)
        member = await session.get(Member, member_id, populate_existing=True)
        if member is None:
            self.members.forget(identity)
            return None
        self.members.keep(identity, member, working_branch_id(member))
        return member

    async def branch(
        self, session: AsyncSession, branch_id: int | None, version: int | None
    ) -> Branch | None:
        """The branch `branch_id`; `version` is its version as the update's read found it,
        or None when the read checked another branch."""
        if branch_id is None:
            return None
        entry = self.branches.get(branch_id)
        if entry is not None and version is not None and entry.version == version:
            return self.branches.attach(session, entry)
        branch = await session.get(Branch, branch_id, populate_existing=True)
        if branch is None:
            self.branches.forget(branch_id)
            return None
        self.branches.keep(branch_id, branch)
        return branch
