"""The analyzer's core: captures in, batches out, memories committed exactly once.

    offer(capture)   read it; quarantine what cannot be parsed; park what is
                     not ready; reduce the rest to their new blocks (digest)
                     and add them to the current batch
    flush()          per conversation in the batch: cut the new blocks into
                     calls that fit `max_input_tokens`, ask the backend,
                     commit the memories and the captures (store.commit)

Both `--once` and the watch mode drive these two methods; only the source of
captures differs (a directory listing, or watchdog events).

A capture is *ready* when it holds a `response` or an `error`, or when its
file is older than `incomplete_after_s`. The batch is *due* when it holds
`batch_size` captures with something to send, or when the oldest of them
has waited `max_wait_s`.
"""

from __future__ import annotations

import logging
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from analyze import crashpoints, digest, store
from analyze.backends.base import INSTRUCTIONS, Backend, BackendError, Extraction, user_message
from analyze.captures import BadCapture, CaptureRef, has_ended, iter_captures, read_capture_stat
from analyze.ledger import Call, Ledger, now
from glass.config import Config

logger = logging.getLogger("glass.analyze")

SETTLE_S = 10.0
"""A capture that does not parse is quarantined only once it has not changed for this long."""
SESSION_CACHE = 64
"""Sessions whose seen-block hashes stay in memory."""
MAX_BATCH_FACTOR = 10
"""Side calls and captures with nothing new may fill a batch up to this many times batch_size."""


@dataclass(kw_only=True)
class Stats:
    files: int = 0
    processed: int = 0
    quarantined: int = 0
    failed: int = 0
    new_messages: int = 0
    calls: int = 0
    input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    output_tokens: int = 0
    memories: int = 0
    input_bytes: int = 0
    """Bytes of everything sent to the model (instructions, known memories, digest)."""

    def summary(self) -> str:
        return (
            f"{self.files} files ({self.processed} processed, {self.quarantined} quarantined, "
            f"{self.failed} failed), {self.new_messages} new messages, {self.calls} calls, "
            f"{self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens:,} "
            f"input tokens, {self.output_tokens:,} output tokens, {self.memories} memories added"
        )


@dataclass(kw_only=True)
class _Known:
    """What a session has seen: block hashes and the known history prefix (digest.SeenSet)."""

    hashes: set[bytes] = field(default_factory=set)
    prefix: tuple[int, bytes] | None = None


class _SessionSeen:
    """digest.SeenSet of a session: committed knowledge plus the batch in progress."""

    def __init__(self, committed: _Known, pending: _Known) -> None:
        self.committed, self.pending = committed, pending

    def __contains__(self, h: object) -> bool:
        return h in self.pending.hashes or h in self.committed.hashes

    def add(self, h: bytes) -> None:
        self.pending.hashes.add(h)

    @property
    def prefix(self) -> tuple[int, bytes] | None:
        return self.pending.prefix or self.committed.prefix

    @prefix.setter
    def prefix(self, value: tuple[int, bytes] | None) -> None:
        self.pending.prefix = value


@dataclass(kw_only=True)
class _Chunk:
    """One extraction call's worth of a conversation."""

    lines: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    tokens: int = 0


class Analyzer:
    def __init__(
        self, cfg: Config, *, backend: Backend | None, clock: Callable[[], float] = time.time
    ) -> None:
        self.cfg = cfg.analyze
        self.root = cfg.capture.dir
        self.backend = backend
        self.clock = clock
        self.ledger = Ledger(self.cfg.state_dir)
        try:
            self.ledger.lock()
        except BaseException:
            self.ledger.close()
            raise
        self.store = store.MemoryStore(
            self.cfg.store, near_duplicate_threshold=cfg.recall.near_duplicate_threshold
        )
        store.recover(self.ledger, self.store)
        self.store.load()
        # Failed captures are retried once per start: only now are they pending again.
        self.done: set[str] = self.ledger.finished(include_failed=False)
        self.batch: list[digest.Reduced] = []
        self.batch_rels: set[str] = set()
        self.sendable_count = 0
        """Captures in the batch with something to send."""
        self.batch_since: float | None = None
        self.batch_pending: dict[str, _Known] = {}
        self.parked: dict[str, tuple[CaptureRef, float]] = {}
        """Captures to look at again later, with when: in flight, or still being written."""
        self.revisable: dict[str, float] = self.ledger.revisable()
        """Captures analysed before their response came, by the file mtime they had then."""
        self.stats = Stats()
        self._seen: OrderedDict[str, _Known] = OrderedDict()

    def close(self) -> None:
        self.ledger.close()

    # -- finding captures --------------------------------------------------------------

    def pending(self) -> Iterator[CaptureRef]:
        """Message captures not yet finished with, oldest first."""
        for ref in iter_captures(self.root, endpoint="messages"):
            if ref.rel not in self.done or self._changed_since_analysed(ref):
                yield ref

    def _changed_since_analysed(self, ref: CaptureRef) -> bool:
        """A capture analysed without its response has been rewritten since (its response came)."""
        before = self.revisable.get(ref.rel)
        if before is None:
            return False
        try:
            return os.stat(ref.fspath).st_mtime != before
        except OSError:
            return False

    # -- offer: one capture into the batch ------------------------------------------------

    def offer(self, ref: CaptureRef) -> None:
        if ref.rel in self.batch_rels:
            return
        if ref.rel in self.done and not self._changed_since_analysed(ref):
            return
        now = self.clock()
        try:
            doc, st = read_capture_stat(ref.fspath)
            mtime = st.st_mtime
        except FileNotFoundError:
            self.parked.pop(ref.rel, None)
            return
        except BadCapture as e:
            mtime = _mtime(ref.fspath)
            if now - mtime < SETTLE_S:  # maybe still being written in place (cp, rsync)
                self.parked[ref.rel] = (ref, mtime + SETTLE_S)
                return
            self._finish([ref.rel], "quarantined", reason=str(e))
            logger.warning("quarantined %s: %s", ref.rel, e)
            return
        except OSError as e:
            self._finish([ref.rel], "quarantined", reason=f"unreadable: {e}")
            return
        ended = has_ended(doc)
        if not ended and now - mtime < self.cfg.incomplete_after_s:
            self.parked[ref.rel] = (ref, mtime + self.cfg.incomplete_after_s)  # wait for its end
            return
        self.parked.pop(ref.rel, None)
        try:
            reduced = digest.reduce(
                ref, doc, seen_for=self._seen_view, max_chars=self.cfg.max_tool_result_chars
            )
        except (AttributeError, TypeError, KeyError, ValueError) as e:  # odd types deep inside
            self._finish([ref.rel], "quarantined", reason=f"wrong shape: {type(e).__name__}: {e}")
            logger.warning("quarantined %s: wrong shape: %s", ref.rel, e)
            return
        reduced.unended_mtime = None if ended else mtime
        self.batch.append(reduced)
        self.batch_rels.add(ref.rel)
        if reduced.sendable:
            self.sendable_count += 1
            if self.batch_since is None:
                self.batch_since = now

    def recheck_parked(self) -> None:
        """Offer parked captures whose wait is over.

        One in flight waits `incomplete_after_s` for its end (an end rewrites
        the file, which brings it back sooner: an event in watch mode, the next
        listing with --once); one that did not parse waits SETTLE_S, in case
        it was still being written.
        """
        now = self.clock()
        for ref, until in list(self.parked.values()):
            if until <= now:
                self.offer(ref)

    def _seen_view(self, session_id: str) -> _SessionSeen:
        return _SessionSeen(
            self._committed_seen(session_id), self.batch_pending.setdefault(session_id, _Known())
        )

    def _committed_seen(self, session_id: str) -> _Known:
        seen = self._seen.get(session_id)
        if seen is None:
            seen = _Known(hashes=self.ledger.seen_hashes(session_id))
            self._seen[session_id] = seen
            while len(self._seen) > SESSION_CACHE:
                self._seen.popitem(last=False)
        self._seen.move_to_end(session_id)
        return seen

    # -- when to flush -------------------------------------------------------------

    def batch_full(self) -> bool:
        return (
            self.sendable_count >= self.cfg.batch_size
            or len(self.batch) >= self.cfg.batch_size * MAX_BATCH_FACTOR
        )

    def batch_due(self) -> bool:
        if not self.batch:
            return False
        if self.batch_full():
            return True
        if self.batch_since is None:  # nothing to send: commit side calls promptly
            return True
        return self.clock() - self.batch_since >= self.cfg.max_wait_s

    def seconds_until_due(self) -> float | None:
        if not self.batch:
            return None
        if self.batch_since is None or self.batch_full():
            return 0.0
        return max(0.0, self.batch_since + self.cfg.max_wait_s - self.clock())

    # -- flush: the batch to the model and into the store ------------------------------------

    def flush(self) -> None:
        batch, self.batch = self.batch, []
        pending, self.batch_pending = self.batch_pending, {}
        self.batch_rels, self.batch_since, self.sendable_count = set(), None, 0
        groups: dict[str, list[digest.Reduced]] = {}
        for reduced in batch:
            groups.setdefault(reduced.session_id, []).append(reduced)
        quiet = {sid: g for sid, g in groups.items() if not any(r.sendable for r in g)}
        self._commit_quiet(quiet)
        for session_id, group in groups.items():
            if session_id in quiet or self._flush_session(session_id, group):
                # The whole conversation is committed: its history prefix is known now.
                if session_id in pending and pending[session_id].prefix:
                    self._committed_seen(session_id).prefix = pending[session_id].prefix
        self._remember_unended(batch)

    def _remember_unended(self, batch: list[digest.Reduced]) -> None:
        """Captures analysed without a response are looked at again if their file changes.

        (The ledger recorded that with their commit; this is the in-memory copy.)
        """
        for r in batch:
            self.revisable.pop(r.ref.rel, None)
            if r.unended_mtime is not None and r.ref.rel in self.done:
                self.revisable[r.ref.rel] = r.unended_mtime

    def _commit_quiet(self, groups: dict[str, list[digest.Reduced]]) -> None:
        """Conversations with nothing new to send (side calls, repeats): one transaction."""
        if not groups:
            return
        rows = [
            ([r.ref.rel for r in g], sid, [i.hash for r in g for i in r.items], _unended(g))
            for sid, g in groups.items()
        ]
        self.ledger.commit_processed_many(rows)
        for rels, sid, hashes, _ in rows:
            self._committed(sid, rels, hashes, new_messages=0)

    def _flush_session(self, session_id: str, group: list[digest.Reduced]) -> bool:
        """Send one conversation's new blocks and commit; False when a call failed."""
        project = next((r.project for r in group if r.project), None)
        known = self.store.known_for(
            project=project, session_id=session_id, limit=self.cfg.known_memories
        )
        queue = self._chunks(group, known_text=user_message("", known))
        while queue:
            chunk, chunk_rels, chunk_hashes = queue.pop(0)
            try:
                extraction = self._extract(chunk, known)
            except BackendError as e:
                if e.too_large and sum(not line.startswith("### ") for line in chunk.lines) > 1:
                    queue[:0] = self._halves(chunk, chunk_rels, chunk_hashes)
                    continue
                undone = chunk_rels + [rel for _, more, _ in queue for rel in more]
                self._finish(
                    undone, "failed", reason=f"{self.backend.name}: {e}", session_id=session_id
                )
                logger.error(
                    "extraction failed for %d captures of session %s: %s",
                    len(undone),
                    session_id,
                    e,
                )
                return False
            crashpoints.crash_point("after_call")
            memories = self.store.new_memories(
                extraction.memories,
                session_id=session_id,
                project=project,
                sources=chunk.sources,
                model=extraction.model,
            )
            call = self._call(
                ok=True,
                usage=extraction.usage,
                model=extraction.model,
                cost_usd=extraction.cost_usd,
            )
            store.commit(
                self.ledger,
                self.store,
                rels=chunk_rels,
                session_id=session_id,
                hashes=chunk_hashes,
                memories=memories,
                call=call,
                unended={rel: m for rel, m in _unended(group).items() if rel in chunk_rels},
            )
            self.stats.memories += len(memories)
            self._committed(
                session_id,
                chunk_rels,
                chunk_hashes,
                new_messages=sum(1 for line in chunk.lines if not line.startswith("### ")),
            )
        return True

    def _chunks(
        self, group: list[digest.Reduced], *, known_text: str
    ) -> list[tuple[_Chunk, list[str], list[bytes]]]:
        """Cut a conversation's new blocks into calls that fit the token budget.

        A capture is committed with the chunk holding its last block, with all
        of its block hashes.
        """
        budget = self.cfg.max_input_tokens - digest.estimate_tokens(INSTRUCTIONS + known_text)
        budget = max(budget, 1_000)
        out: list[tuple[_Chunk, list[str], list[bytes]]] = []
        chunk, rels, hashes = _Chunk(), [], []
        for reduced in group:
            rel = reduced.ref.rel
            for i, text in enumerate(item.text for item in reduced.sendable):
                header = (
                    None if rel in chunk.sources else f"### {rel}" + (" (continued)" if i else "")
                )
                cost = digest.estimate_tokens(text) + 1
                if header:
                    cost += digest.estimate_tokens(header) + 1
                if chunk.lines and chunk.tokens + cost > budget:
                    out.append((chunk, rels, hashes))
                    chunk, rels, hashes = _Chunk(), [], []
                    header = f"### {rel}" + (" (continued)" if i else "")
                    cost = digest.estimate_tokens(text) + digest.estimate_tokens(header) + 2
                if header:
                    chunk.sources.append(rel)
                    chunk.lines.append(header)
                chunk.lines.append(text)
                chunk.tokens += cost
            rels.append(rel)
            hashes.extend(item.hash for item in reduced.items)
        out.append((chunk, rels, hashes))
        return out

    @staticmethod
    def _halves(
        chunk: _Chunk, rels: list[str], hashes: list[bytes]
    ) -> list[tuple[_Chunk, list[str], list[bytes]]]:
        """Split a chunk the API found too large; its captures commit with the second half.

        Each half holds at least one block (the caller checks there are two);
        a single block that is still too large fails like any other error.
        """
        content = [i for i, line in enumerate(chunk.lines) if not line.startswith("### ")]
        mid = content[len(content) // 2]
        first_lines, second_lines = chunk.lines[:mid], chunk.lines[mid:]
        if not second_lines[0].startswith("### "):  # keep saying which capture it is
            header = next(line for line in reversed(first_lines) if line.startswith("### "))
            second_lines.insert(0, header.removesuffix(" (continued)") + " (continued)")
        return [
            (_Chunk(lines=first_lines, sources=chunk.sources, tokens=chunk.tokens // 2), [], []),
            (
                _Chunk(lines=second_lines, sources=chunk.sources, tokens=chunk.tokens // 2),
                rels,
                hashes,
            ),
        ]

    def _extract(self, chunk: _Chunk, known) -> Extraction:
        text = "\n".join(chunk.lines)
        sent = len(INSTRUCTIONS.encode()) + len(user_message(text, known).encode())
        self.stats.input_bytes += sent
        self.stats.calls += 1
        try:
            return self.backend.extract(digest=text, known=known)
        except BackendError as e:
            self.ledger.record_call(
                self._call(ok=False, usage=e.usage, model=self.backend.model, error=str(e))
            )
            raise

    def _call(
        self,
        *,
        ok: bool,
        usage,
        model: str,
        cost_usd: float | None = None,
        error: str | None = None,
    ) -> Call:
        """The ledger row of an extraction call (a successful one is committed with its results)."""
        self.stats.input_tokens += usage.input_tokens
        self.stats.cache_creation_input_tokens += usage.cache_creation_input_tokens
        self.stats.cache_read_input_tokens += usage.cache_read_input_tokens
        self.stats.output_tokens += usage.output_tokens
        return Call(
            at=now(),
            backend=self.backend.name,
            model=model,
            ok=ok,
            input_tokens=usage.input_tokens,
            cache_creation_input_tokens=usage.cache_creation_input_tokens,
            cache_read_input_tokens=usage.cache_read_input_tokens,
            output_tokens=usage.output_tokens,
            cost_usd=cost_usd,
            error=error,
        )

    # -- bookkeeping ----------------------------------------------------------------

    def _committed(
        self, session_id: str, rels: list[str], hashes: list[bytes], *, new_messages: int
    ) -> None:
        if hashes:
            self._committed_seen(session_id).hashes.update(hashes)
        self.done.update(rels)
        self.stats.files += len(rels)
        self.stats.processed += len(rels)
        self.stats.new_messages += new_messages

    def _finish(
        self, rels: list[str], state: str, *, reason: str, session_id: str | None = None
    ) -> None:
        if not rels:
            return
        self.ledger.mark(rels, state, reason=reason, session_id=session_id)
        self.done.update(rels)
        self.stats.files += len(rels)
        setattr(self.stats, state, getattr(self.stats, state) + len(rels))


def _unended(group: list[digest.Reduced]) -> dict[str, float]:
    return {r.ref.rel: r.unended_mtime for r in group if r.unended_mtime is not None}


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0
