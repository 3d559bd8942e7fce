"""CPU and memory of a process and its descendants, from /proc (Linux; empty elsewhere).

Memory is read from /proc/PID/smaps_rollup: RSS counts every resident page the process
maps, shared or not; PSS divides each shared page among the processes sharing it (the sum
over processes is the machine's real use); USS is the process's private pages, what
ending it would give back. Workers forked from one supervisor share its pages copy-on-write,
so their RSS overstates what each costs: PSS and USS say it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Memory:
    rss: float  # MB
    pss: float
    uss: float
    peak_rss: float  # VmHWM

    def __str__(self) -> str:
        return f"{self.rss:.0f}/{self.pss:.0f}/{self.uss:.1f}"


def tree(pid: int) -> list[int]:
    """`pid` and its living descendants, parents first."""
    found: list[int] = []
    pending = [pid]
    while pending:
        current = pending.pop(0)
        found.append(current)
        try:
            tasks = list(Path(f"/proc/{current}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                pending += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (state first), or none."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def cpu(pid: int, *, reaped: bool = False) -> float:
    """User + system CPU seconds of one process (0 once it is gone); with `reaped`, its
    children's that have ended too."""
    fields = _stat(pid)
    if not fields:
        return 0.0
    used = int(fields[11]) + int(fields[12])
    if reaped:
        used += int(fields[13]) + int(fields[14])
    return used / TICK


def tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of `pid` and of each living descendant, by pid."""
    return {p: cpu(p) for p in tree(pid)}


def named_cpu(name: str) -> float:
    """CPU seconds of the processes called `name` (e.g. postgres, redis-server), theirs so
    far and their ended children's (a connection's backend that came and went)."""
    names: dict[int, str] = {}
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            names[int(entry.name)] = (entry / "comm").read_text().strip()
        except OSError:
            continue
        fields = _stat(int(entry.name))
        parents[int(entry.name)] = int(fields[1]) if fields else 0
    roots = [p for p, n in names.items() if n == name and names.get(parents[p]) != name]
    return sum(cpu(root, reaped=True) + sum(cpu(p) for p in tree(root)[1:]) for root in roots)


def memory(pid: int) -> Memory | None:
    """RSS, PSS, USS and peak RSS of one process in MB (None once it is gone)."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    kb = {}
    for line in (rollup + status).splitlines():
        name, _, value = line.partition(":")
        if value.strip().endswith("kB"):
            kb[name] = int(value.split()[0])
    uss = kb.get("Private_Clean", 0) + kb.get("Private_Dirty", 0)
    return Memory(
        kb.get("Rss", 0) / 1024, kb.get("Pss", 0) / 1024, uss / 1024, kb.get("VmHWM", 0) / 1024
    )


def tree_memory(pid: int) -> dict[int, Memory]:
    """Memory of `pid` and of each living descendant, by pid, parents first."""
    found = {p: memory(p) for p in tree(pid)}
    return {p: m for p, m in found.items() if m is not None}
