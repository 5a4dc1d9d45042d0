"""The memory store (`memories.jsonl`) and the exactly-once commit protocol.

The store is append-only JSON Lines. Most lines are memories:

    {"id": "m_3f2a…", "text": "…", "kind": "decision", "created_at": "…",
     "session_id": "…", "project": "/home/me/app", "sources": ["2026-11-21/004_101500_messages.json"],
     "model": "claude-haiku-5-5", "supersedes": ["m_…"]}

`id` is a hash of the normalized text (case, whitespace and punctuation
ignored), so the same memory is never stored twice. The other lines are
curation records, written by `python -m analyze forget|restore`:

    {"op": "forget", "id": "m_3f2a…", "at": "…"}     a tombstone: the memory is left out
    {"op": "restore", "id": "m_3f2a…", "at": "…"}    undoes the tombstones before it

A memory is *current* when it is not forgotten and no memory that is not
forgotten supersedes it (so forgetting a wrong correction brings back what it
replaced). `read_records()` is the one parser of the file; `MemoryStore` and
the search index (`analyze.recall.index`) both build on it.

Exactly once (`commit()`, `curate()` and `recover()`), for memories, curation
records and captures alike:

1. the ledger records a *pending commit*: the store offset and the exact
   bytes to append, plus the captures and block hashes they account for;
2. the bytes are written at that offset (truncating whatever a crash may
   have left beyond it) and fsynced;
3. one ledger transaction marks the captures processed, records the hashes
   as seen, and drops the pending commit.

A kill at any instant leaves either no pending commit (nothing or all of it
happened) or one that `recover()` completes by redoing steps 2 and 3, which
are idempotent. The model is never asked twice for a committed batch, and a
line is never written twice. The analyzer and a `forget` run at the same
time take turns: every append holds `store.lock` in the state folder, first
completes a pending commit the other left, and reads what the other appended.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from analyze import crashpoints
from analyze.ledger import Call, Ledger, PendingCommit, now

if TYPE_CHECKING:  # the backends pull in more than the hooks and the search index may import
    from analyze.backends.base import Candidate, KnownMemory

logger = logging.getLogger("glass.analyze")

_NOT_WORD = re.compile(r"[^\w\s]+")
_SPACE = re.compile(r"\s+")

FORGET: Literal["forget"] = "forget"
RESTORE: Literal["restore"] = "restore"
LOCK_FILE = "store.lock"


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
        for key in ("id", "text", "kind"):
            if not isinstance(d[key], str):
                raise TypeError(f"{key} is not a string")
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


@dataclass(frozen=True, kw_only=True)
class Curation:
    """A forget (tombstone) or restore record."""

    op: Literal["forget", "restore"]
    id: str
    at: str

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, "id": self.id, "at": self.at}


Record = Memory | Curation


def parse_record(line: bytes | str) -> Record:
    """One store line; ValueError, KeyError or TypeError when it is not a record."""
    d = json.loads(line)
    if not isinstance(d, dict):
        raise TypeError("not a JSON object")
    if "op" not in d:
        return Memory.from_json(d)
    op, mid = d["op"], d["id"]
    if op not in (FORGET, RESTORE) or not isinstance(mid, str):
        raise ValueError(f"unknown curation record {op!r}")
    return Curation(op=op, id=mid, at=str(d.get("at", "")))


@dataclass(frozen=True, kw_only=True)
class Chunk:
    """What `read_records` found from some offset on."""

    records: list[Record]
    problems: list[str]
    end: int
    """Offset just past the last line consumed (a torn last line is left for later)."""
    lines: int
    """Lines consumed."""


def read_records(path: Path, *, start: int = 0, first_line: int = 1) -> Chunk:
    """Records of the lines from byte `start` on; a missing file has none.

    A last line without its newline is consumed only when it parses (a line
    someone left unfinished, as by hand); otherwise it may be a write still
    in progress, and is left for the next read.
    """
    try:
        f = path.open("rb")
    except FileNotFoundError:
        return Chunk(records=[], problems=[], end=0, lines=0)
    with f:
        f.seek(start)
        data = f.read()
    records: list[Record] = []
    problems: list[str] = []
    pos = n = 0
    for line in _lines(data):
        last = not line.endswith(b"\n")
        try:
            record = parse_record(line) if line.strip() else None
        except (ValueError, KeyError, TypeError) as e:
            if last:
                break
            problems.append(f"{path}:{first_line + n}: unreadable line skipped ({e})")
            record = None
        if record is not None:
            records.append(record)
        pos += len(line)
        n += 1
    return Chunk(records=records, problems=problems, end=start + pos, lines=n)


def _lines(data: bytes) -> Iterator[bytes]:
    """The lines of `data`, each with its b"\\n" (only \\n ends a JSON Lines line)."""
    pos = 0
    while pos < len(data):
        cut = data.find(b"\n", pos)
        end = len(data) if cut < 0 else cut + 1
        yield data[pos:end]
        pos = end


def fingerprint(path: Path, end: int, *, span: int = 4096) -> str:
    """A hash of the first and last `span` bytes before `end`: it changes when the store is
    rewritten rather than appended to."""
    digest = hashlib.sha256(str(end).encode())
    try:
        with path.open("rb") as f:
            digest.update(f.read(min(end, span)))
            f.seek(max(0, end - span))
            digest.update(f.read(end - max(0, end - span)))
    except FileNotFoundError:
        pass
    return digest.hexdigest()


class UnknownMemory(Exception):
    """Ids that name no memory in the store; the message is for the user."""


class MemoryStore:
    def __init__(self, path: Path, *, near_duplicate_threshold: float | None = None) -> None:
        self.path = path
        self.near_duplicate_threshold = near_duplicate_threshold
        """None: only exact duplicates (after normalization) are dropped."""
        self._reset()

    def _reset(self) -> None:
        self.memories: list[Memory] = []
        self.ids: set[str] = set()
        self.superseded: set[str] = set()
        self.forgotten: set[str] = set()
        self.problems: list[str] = []
        self._by_id: dict[str, Memory] = {}
        self._superseders: dict[str, set[str]] = {}
        self._loaded = 0  # bytes of the file read so far
        self._lines = 0

    def load(self) -> MemoryStore:
        """Read the store (call `recover()` first, so no torn commit is read)."""
        self.refresh()
        for problem in self.problems[:5]:
            logger.warning("%s", problem)
        return self

    def refresh(self) -> None:
        """Read what was appended since the last read (another process's forget, say)."""
        size = self.size()
        if size < self._loaded:  # rewritten under us: start over
            self._reset()
        if size == self._loaded:
            return
        chunk = read_records(self.path, start=self._loaded, first_line=self._lines + 1)
        for record in chunk.records:
            self._apply(record)
        self.problems.extend(chunk.problems)
        self._loaded, self._lines = chunk.end, self._lines + chunk.lines

    def _apply(self, record: Record) -> None:
        if isinstance(record, Memory):
            self._remember(record)
        elif record.op == FORGET:
            self._forget(record.id)
        else:
            self._restore(record.id)

    def _remember(self, memory: Memory) -> None:
        self.memories.append(memory)
        self.ids.add(memory.id)
        self._by_id.setdefault(memory.id, memory)
        for old in memory.supersedes:
            self._superseders.setdefault(old, set()).add(memory.id)
        if memory.id not in self.forgotten:
            self.superseded.update(memory.supersedes)

    def _forget(self, mid: str) -> None:
        if mid in self.forgotten:
            return
        self.forgotten.add(mid)
        memory = self._by_id.get(mid)
        for old in memory.supersedes if memory else ():
            if not self._superseders.get(old, set()) - self.forgotten:
                self.superseded.discard(old)

    def _restore(self, mid: str) -> None:
        if mid not in self.forgotten:
            return
        self.forgotten.discard(mid)
        memory = self._by_id.get(mid)
        self.superseded.update(memory.supersedes if memory else ())

    def is_current(self, mid: str) -> bool:
        return mid not in self.superseded and mid not in self.forgotten

    def current(self) -> list[Memory]:
        """Memories neither forgotten nor superseded, oldest first."""
        return [m for m in self.memories if self.is_current(m.id)]

    def known_for(self, *, project: str | None, session_id: str, limit: int) -> list[KnownMemory]:
        """Current memories of the same project (else session), most recent first."""
        from analyze.backends.base import KnownMemory

        self.refresh()
        out: list[KnownMemory] = []
        for m in reversed(self.memories):
            if len(out) >= limit:
                break
            if not self.is_current(m.id):
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
        """Scrubbed, deduplicated memories for candidates the model proposed.

        With a `near_duplicate_threshold`, a candidate as similar as that to a
        current memory of the same project (else session), an earlier candidate
        of this batch included, supersedes it: the newer wording wins, whether
        batches fall one way or another. One as similar to a forgotten memory is
        dropped: what the user forgot stays forgotten, reworded or not.
        """
        from analyze.scrub import scrub  # the analyzer's: the index and the hooks never write

        self.refresh()
        out: list[Memory] = []
        taken = set(self.ids)
        created = now()
        near = self._near_duplicates(project=project, session_id=session_id)
        for c in candidates:
            text = scrub(c.text)
            mid = memory_id(text)
            if mid in taken or not normalize(text):
                continue
            supersedes = [s for s in c.supersedes if s in self.ids and s != mid]
            if near is not None:
                similar = near(normalize(text))
                if any(i in self.forgotten for i in similar):
                    continue
                supersedes += [i for i in similar if i not in supersedes]
                near.drop(similar)
            taken.add(mid)
            memory = Memory(
                id=mid,
                text=text,
                kind=c.kind,
                created_at=created,
                session_id=session_id,
                project=project,
                sources=tuple(sources),
                model=model,
                supersedes=tuple(supersedes),
            )
            out.append(memory)
            if near is not None:
                near.add(memory)
        return out

    def _near_duplicates(self, *, project: str | None, session_id: str) -> _NearDuplicates | None:
        if self.near_duplicate_threshold is None:
            return None
        peers = [
            m
            for m in self.memories
            if (m.project == project if project else m.session_id == session_id)
            and (m.id in self.forgotten or self.is_current(m.id))
        ]
        return _NearDuplicates(peers, threshold=self.near_duplicate_threshold)

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


class _NearDuplicates:
    """The memories a text is a near-duplicate of: rapidfuzz's token_set_ratio of the
    normalized texts, as a fraction, at least `threshold`."""

    def __init__(self, memories: Iterable[Memory], *, threshold: float) -> None:
        self.cutoff = threshold * 100
        self.ids: list[str] = []
        self.texts: list[str] = []
        for m in memories:
            self.add(m)

    def add(self, memory: Memory) -> None:
        self.ids.append(memory.id)
        self.texts.append(normalize(memory.text))

    def drop(self, ids: Iterable[str]) -> None:
        """Superseded now: no longer near-duplicates of anything."""
        gone = set(ids)
        kept = [(i, t) for i, t in zip(self.ids, self.texts, strict=True) if i not in gone]
        self.ids, self.texts = [i for i, _ in kept], [t for _, t in kept]

    def __call__(self, text: str) -> list[str]:
        from rapidfuzz import fuzz, process  # the analyzer's, not the hooks' import

        hits = process.extract(
            text, self.texts, scorer=fuzz.token_set_ratio, score_cutoff=self.cutoff, limit=None
        )
        return [self.ids[n] for _, _, n in sorted(hits, key=lambda h: h[2])]


def encode(records: Iterable[Record]) -> bytes:
    return b"".join(
        json.dumps(r.to_json(), ensure_ascii=False).encode("utf-8", "backslashreplace") + b"\n"
        for r in records
    )


@contextmanager
def _append_lock(ledger: Ledger) -> Iterator[None]:
    """Hold the store for one append: the analyzer and a `forget` may run at the same time."""
    fd = os.open(ledger.path.parent / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the flock


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
    with _append_lock(ledger):
        _recover(ledger, store)
        store.refresh()
        _append_locked(
            ledger,
            store,
            records=memories,
            rels=rels,
            session_id=session_id,
            hashes=hashes,
            unended=unended or {},
            call=call,
        )


def curate(
    ledger: Ledger, store: MemoryStore, *, op: Literal["forget", "restore"], ids: Sequence[str]
) -> list[str]:
    """Forget or restore memories, exactly once; the ids whose state changed.

    Raises UnknownMemory when an id names no memory. Forgetting a forgotten
    memory (or restoring one that is not) changes nothing and writes nothing.
    """
    with _append_lock(ledger):
        _recover(ledger, store)
        store.refresh()
        unknown = [i for i in ids if i not in store.ids]
        if unknown:
            raise UnknownMemory(f"no memory with id {', '.join(unknown)} in {store.path}")
        changing = [i for i in dict.fromkeys(ids) if (i in store.forgotten) == (op == RESTORE)]
        if changing:
            at = now()
            records = [Curation(op=op, id=i, at=at) for i in changing]
            _append_locked(ledger, store, records=records, rels=[], session_id="", hashes=[])
    return changing


def _append_locked(
    ledger: Ledger,
    store: MemoryStore,
    *,
    records: Sequence[Record],
    rels: list[str],
    session_id: str,
    hashes: list[bytes],
    unended: dict[str, float] | None = None,
    call: Call | None = None,
) -> None:
    data = encode(records)
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
    store.refresh()


def recover(ledger: Ledger, store: MemoryStore) -> bool:
    """Complete a commit a crash interrupted, before the store is loaded."""
    with _append_lock(ledger):
        return _recover(ledger, store)


def _recover(ledger: Ledger, store: MemoryStore) -> bool:
    pending = ledger.pending_commit()
    if pending is None:
        return False
    store.write_at(pending.offset, pending.data)
    ledger.finish_commit(pending)
    logger.info("completed a commit interrupted by a crash (%d captures)", len(pending.rels))
    return True
