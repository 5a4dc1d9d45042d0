"""The /memories page's data: the store's memories, filtered, each with its status.

The store is read with `analyze.store.MemoryStore` (read-only: it only reads the
file), so "current", "superseded" and "forgotten" mean what they mean to
`make memories`. The search is a plain case-insensitive match of every word of
the query in the memory's text (the page says so); ranking is `make search`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass

from analyze.store import Memory, MemoryStore
from glass.contract import MEMORY_KINDS


@dataclass(frozen=True, kw_only=True)
class Item:
    memory: Memory
    status: str
    """`current`, `superseded` or `forgotten`."""


@dataclass(frozen=True, kw_only=True)
class MemoriesView:
    items: list[Item]
    total_current: int
    hidden: int
    """Superseded and forgotten memories left out (shown with `all`)."""
    kinds: tuple[str, ...]
    projects: list[str]
    query: str
    kind: str | None
    project: str | None
    show_all: bool
    found: bool
    """Whether a store exists at all."""
    problems: list[str]


def status_of(store: MemoryStore, memory: Memory) -> str:
    if memory.id in store.forgotten:
        return "forgotten"
    if memory.id in store.superseded:
        return "superseded"
    return "current"


def build(
    store: MemoryStore | None,
    *,
    query: str = "",
    kind: str | None = None,
    project: str | None = None,
    show_all: bool = False,
) -> MemoriesView:
    memories = list(store.memories) if store is not None else []
    seen: set[str] = set()
    items = []
    for memory in reversed(memories):  # newest first; a re-stored id once
        if memory.id in seen:
            continue
        seen.add(memory.id)
        items.append(Item(memory=memory, status=status_of(store, memory) if store else "current"))
    current = sum(1 for i in items if i.status == "current")
    words = query.lower().split()
    shown = [
        i
        for i in items
        if (show_all or i.status == "current")
        and (kind is None or i.memory.kind == kind)
        and (project is None or i.memory.project == project)
        and all(w in i.memory.text.lower() for w in words)
    ]
    return MemoriesView(
        items=shown,
        total_current=current,
        hidden=0 if show_all else len(items) - current,
        kinds=MEMORY_KINDS,
        projects=sorted({i.memory.project for i in items if i.memory.project}),
        query=query,
        kind=kind,
        project=project,
        show_all=show_all,
        found=store is not None,
        problems=list(store.problems[:5]) if store is not None else [],
    )
