"""The memory store (`memories.jsonl`) and the exactly-once commit protocol.

The store is append-only JSON Lines, one memory per line:

    {"id": "m_3f2a…", "text": "…", "kind": "decision", "created_at": "…",
     "session_id": "…", "project": "/home/me/app", "sources": ["2026-11-21/004_101500_messages.json"],
     "model": "claude-haiku-5-5", "supersedes": ["m_…"]}

`id` is a hash of the normalized text (case, whitespace and punctuation
ignored), so the same memory is never stored twice.

Exactly once (`commit()` and `recover()`), for memories and captures alike:

1. the ledger records a *pending commit*: the store offset and the exact
   bytes to append, plus the captures and block hashes they account for;
2. the bytes are written at that offset (truncating whatever a crash may
   have left beyond it) and fsynced;
3. one ledger transaction marks the captures processed, records the hashes
   as seen, and drops the pending commit.

A kill at any instant leaves either no pending commit (nothing or all of it
happened) or one that `recover()` completes by redoing steps 2 and 3, which
are idempotent. The model is never asked twice for a committed batch, and a
memory line is never written twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyze import crashpoints
from analyze.backends.base import Candidate, KnownMemory
from analyze.ledger import Call, Ledger, PendingCommit, now
from analyze.scrub import scrub

logger = logging.getLogger("glass.analyze")

_NOT_WORD = re.compile(r"[^\w\s]+")
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return _SPACE.sub(" ", _NOT_WORD.sub(" ", text)).strip()


def memory_id(text: str) -> str:
    return "m_" + hashlib.sha256(normalize(text).encode()).hexdigest()[:16]


@dataclass(frozen=True, kw_only=True)
class Memory:
    id: str
    text: str
    kind: str
    created_at: str
    session_id: str
    sources: tuple[str, ...]
    model: str
    project: str | None = None
    supersedes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "text": self.text,
            "kind": self.kind,
            "created_at": self.created_at,
            "session_id": self.session_id,
            "project": self.project,
            "sources": list(self.sources),
            "model": self.model,
        }
        if self.supersedes:
            out["supersedes"] = list(self.supersedes)
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Memory:
        return cls(
            id=d["id"],
            text=d["text"],
            kind=d["kind"],
            created_at=d.get("created_at", ""),
            session_id=d.get("session_id", ""),
            sources=tuple(d.get("sources") or ()),
            model=d.get("model", ""),
            project=d.get("project"),
            supersedes=tuple(d.get("supersedes") or ()),
        )


class MemoryStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.memories: list[Memory] = []
        self.ids: set[str] = set()
        self.superseded: set[str] = set()
        self.problems: list[str] = []

    def load(self) -> MemoryStore:
        """Read the store (call `recover()` first, so no torn commit is read)."""
        try:
            f = self.path.open("rb")
        except FileNotFoundError:
            return self
        with f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    self._remember(Memory.from_json(json.loads(line)))
                except (ValueError, KeyError, TypeError) as e:
                    self.problems.append(f"{self.path}:{n}: unreadable line skipped ({e})")
        for problem in self.problems[:5]:
            logger.warning("%s", problem)
        return self

    def _remember(self, memory: Memory) -> None:
        self.memories.append(memory)
        self.ids.add(memory.id)
        self.superseded.update(memory.supersedes)

    def current(self) -> list[Memory]:
        """Memories no later memory supersedes, oldest first."""
        return [m for m in self.memories if m.id not in self.superseded]

    def known_for(self, *, project: str | None, session_id: str, limit: int) -> list[KnownMemory]:
        """Current memories of the same project (else session), most recent first."""
        out = []
        for m in reversed(self.memories):
            if len(out) >= limit:
                break
            if m.id in self.superseded:
                continue
            same = m.project == project if project else m.session_id == session_id
            if same:
                out.append(KnownMemory(id=m.id, text=m.text, kind=m.kind))
        return out

    def new_memories(
        self,
        candidates: Sequence[Candidate],
        *,
        session_id: str,
        project: str | None,
        sources: Sequence[str],
        model: str,
    ) -> list[Memory]:
        """Scrubbed, deduplicated memories for candidates the model proposed."""
        out: list[Memory] = []
        taken = set(self.ids)
        created = now()
        for c in candidates:
            text = scrub(c.text)
            mid = memory_id(text)
            if mid in taken or not normalize(text):
                continue
            taken.add(mid)
            out.append(
                Memory(
                    id=mid,
                    text=text,
                    kind=c.kind,
                    created_at=created,
                    session_id=session_id,
                    project=project,
                    sources=tuple(sources),
                    model=model,
                    supersedes=tuple(s for s in c.supersedes if s in self.ids and s != mid),
                )
            )
        return out

    # -- low-level writing (driven by commit/recover) ------------------------------

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def ends_with_newline(self) -> bool:
        size = self.size()
        if size == 0:
            return True
        with self.path.open("rb") as f:
            f.seek(size - 1)
            return f.read(1) == b"\n"

    def write_at(self, offset: int, data: bytes) -> None:
        """Make the file exactly its first `offset` bytes plus `data`, durably."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.ftruncate(fd, offset)
            os.lseek(fd, offset, os.SEEK_SET)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)


def encode(memories: Iterable[Memory]) -> bytes:
    return b"".join(
        json.dumps(m.to_json(), ensure_ascii=False).encode("utf-8", "backslashreplace") + b"\n"
        for m in memories
    )


def commit(
    ledger: Ledger,
    store: MemoryStore,
    *,
    rels: list[str],
    session_id: str,
    hashes: list[bytes],
    memories: list[Memory],
    unended: dict[str, float] | None = None,
    call: Call | None = None,
) -> None:
    """Append `memories` and mark `rels` processed, exactly once (see module doc).

    `call`, the extraction call that produced them, is recorded in the same
    ledger transaction as the pending commit.
    """
    if not memories:
        ledger.commit_processed(
            rels, session_id=session_id, hashes=hashes, unended=unended, call=call
        )
        return
    data = encode(memories)
    if not store.ends_with_newline():  # a line someone else left unfinished
        data = b"\n" + data
    pending = PendingCommit(
        offset=store.size(),
        data=data,
        rels=rels,
        session_id=session_id,
        hashes=hashes,
        unended=unended or {},
    )
    ledger.begin_commit(pending, call=call)
    crashpoints.crash_point("after_begin_commit")
    if crashpoints.armed("torn_append"):  # a kill in the middle of the write
        store.write_at(pending.offset, pending.data[: len(pending.data) // 2])
        crashpoints.crash_point("torn_append")
    store.write_at(pending.offset, pending.data)
    crashpoints.crash_point("after_append")
    ledger.finish_commit(pending)
    for m in memories:
        store._remember(m)


def recover(ledger: Ledger, store: MemoryStore) -> bool:
    """Complete a commit a crash interrupted, before the store is loaded."""
    pending = ledger.pending_commit()
    if pending is None:
        return False
    store.write_at(pending.offset, pending.data)
    ledger.finish_commit(pending)
    logger.info("completed a commit interrupted by a crash (%d captures)", len(pending.rels))
    return True
