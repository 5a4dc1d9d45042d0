"""Memories for the recall tests, as the analyzer writes them."""

from __future__ import annotations

from collections.abc import Iterable

from analyze import store


def memory(
    text: str,
    kind: str = "fact",
    project: str | None = None,
    *,
    created_at: str = "2026-11-21T10:00:00+01:00",
    supersedes: Iterable[str] = (),
) -> store.Memory:
    return store.Memory(
        id=store.memory_id(text),
        text=text,
        kind=kind,
        created_at=created_at,
        session_id="s1",
        sources=("2026-11-21/001_100000_messages.json",),
        model="claude-haiku-5-5",
        project=project,
        supersedes=tuple(supersedes),
    )
