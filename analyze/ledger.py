"""The analyzer's ledger: what it has done, in one SQLite file.

SQLite rather than JSON files: one transaction moves a group of captures to
`processed` *and* records the message blocks their session has now seen, so
the two can never disagree after a crash; lookups stay cheap at 100,000
captures without loading a whole state file; and it ships with Python.

Durability: the database runs in WAL mode. Every committed transaction
survives kill -9 (the WAL is written before COMMIT returns). Against power
loss, only the pending commit must be on disk before memories are appended
to the store, so `begin_commit` alone is fsynced (`synchronous=FULL`); losing
any other recent transaction to a power cut only means redoing work, never
duplicating a memory.

Tables:
  captures        one row per capture the analyzer has finished with:
                  processed | quarantined | failed, with the reason
  seen            (session, block hash) pairs already sent to the model
  calls           every extraction call: model, tokens, cost, error
  pending_commit  at most one row: memories about to be appended to the
                  store (see `analyze.store` for the exactly-once protocol)
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType

from analyze.digest import HASH_BYTES
from glass.tokens import ZERO, Tokens

SCHEMA = """
CREATE TABLE IF NOT EXISTS captures (
    rel        TEXT PRIMARY KEY,
    state      TEXT NOT NULL CHECK (state IN ('processed', 'quarantined', 'failed')),
    reason     TEXT,
    session_id TEXT,
    at         TEXT NOT NULL,
    unended_mtime REAL  -- analysed before its response: the file's mtime then
);
CREATE TABLE IF NOT EXISTS seen (
    session_id TEXT NOT NULL,
    hash       BLOB NOT NULL,
    PRIMARY KEY (session_id, hash)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS calls (
    id                          INTEGER PRIMARY KEY,
    at                          TEXT NOT NULL,
    backend                     TEXT NOT NULL,
    model                       TEXT NOT NULL,
    ok                          INTEGER NOT NULL,
    input_tokens                INTEGER NOT NULL DEFAULT 0,
    cache_creation_input_tokens INTEGER NOT NULL DEFAULT 0,
    cache_read_input_tokens     INTEGER NOT NULL DEFAULT 0,
    output_tokens               INTEGER NOT NULL DEFAULT 0,
    cost_usd                    REAL,
    error                       TEXT,
    cache_write_1h_tokens       INTEGER NOT NULL DEFAULT 0  -- of cache_creation_input_tokens
);
CREATE TABLE IF NOT EXISTS pending_commit (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    offset    INTEGER NOT NULL,
    data      BLOB NOT NULL,
    rels      TEXT NOT NULL,
    session_id TEXT NOT NULL,
    hashes    BLOB NOT NULL,
    unended   TEXT NOT NULL DEFAULT '{}'
);
"""

CALLS_1H_COLUMN = "cache_write_1h_tokens"
"""Added after the first release: ledgers from before lack it (their 1-hour writes count as 0)."""


@dataclass(frozen=True, kw_only=True)
class Call:
    """One extraction call, successful or not."""

    at: str
    backend: str
    model: str
    ok: bool
    tokens: Tokens = ZERO
    cost_usd: float | None = None
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class PendingCommit:
    offset: int
    data: bytes
    rels: list[str]
    session_id: str
    hashes: list[bytes]
    unended: dict[str, float] = field(default_factory=dict)
    """Captures among `rels` analysed before their response: their file mtime."""


def now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


class AlreadyRunning(Exception):
    """Another analyzer holds the state folder."""


class Ledger:
    FILE = "ledger.sqlite3"
    LOCK = "analyzer.lock"

    def __init__(self, state_dir: Path, *, readonly: bool = False) -> None:
        self.path = state_dir / self.FILE
        self._lock_fd: int | None = None
        if readonly:
            self.db = sqlite3.connect(
                f"{self.path.as_uri()}?mode=ro", uri=True, isolation_level=None
            )
            return
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.path.chmod(0o600)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        if not self._has_1h_column():
            self.db.execute(
                f"ALTER TABLE calls ADD COLUMN {CALLS_1H_COLUMN} INTEGER NOT NULL DEFAULT 0"
            )

    def _has_1h_column(self) -> bool:
        columns = self.db.execute("PRAGMA table_info(calls)").fetchall()
        return any(name == CALLS_1H_COLUMN for _, name, *_ in columns)

    @classmethod
    def open_readonly(cls, state_dir: Path) -> Ledger | None:
        """The ledger for reporting, or None when the analyzer never ran."""
        if not (state_dir / cls.FILE).exists():
            return None
        return cls(state_dir, readonly=True)

    def lock(self) -> None:
        """Hold the state folder for this process: two analyzers would both call the model."""
        fd = os.open(self.path.parent / self.LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise AlreadyRunning(
                f"another analyzer (pid {other}) is using {self.path.parent}; stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    def close(self) -> None:
        self.db.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    def _transaction(self) -> _Transaction:
        return _Transaction(self.db)

    # -- captures ------------------------------------------------------------------

    def finished(self, *, include_failed: bool = True) -> set[str]:
        """Captures not to process again (failed ones only retry at the next start)."""
        states = (
            ("processed", "quarantined", "failed")
            if include_failed
            else ("processed", "quarantined")
        )
        marks = ",".join("?" * len(states))
        rows = self.db.execute(f"SELECT rel FROM captures WHERE state IN ({marks})", states)
        return {rel for (rel,) in rows}

    def revisable(self) -> dict[str, float]:
        """Captures processed without their response, by the file mtime they had."""
        rows = self.db.execute(
            "SELECT rel, unended_mtime FROM captures WHERE unended_mtime IS NOT NULL"
        )
        return dict(rows)

    def state_of(self, rel: str) -> str | None:
        row = self.db.execute("SELECT state FROM captures WHERE rel = ?", (rel,)).fetchone()
        return row[0] if row else None

    def mark(
        self,
        rels: Iterable[str],
        state: str,
        *,
        reason: str | None = None,
        session_id: str | None = None,
    ) -> None:
        with self._transaction():
            self._mark(rels, state, reason=reason, session_id=session_id)

    def _mark(
        self, rels: Iterable[str], state: str, *, reason: str | None, session_id: str | None
    ) -> None:
        at = now()
        self.db.executemany(
            "INSERT OR REPLACE INTO captures (rel, state, reason, session_id, at) VALUES (?, ?, ?, ?, ?)",
            [(rel, state, reason, session_id, at) for rel in rels],
        )

    def counts(self) -> dict[str, int]:
        out = {"processed": 0, "quarantined": 0, "failed": 0}
        for state, n in self.db.execute("SELECT state, COUNT(*) FROM captures GROUP BY state"):
            out[state] = n
        return out

    def problems(self, state: str, limit: int = 20) -> list[tuple[str, str]]:
        """(capture, reason) of quarantined or failed captures, newest first."""
        rows = self.db.execute(
            "SELECT rel, reason FROM captures WHERE state = ? ORDER BY at DESC, rel DESC LIMIT ?",
            (state, limit),
        )
        return [(rel, reason or "") for rel, reason in rows]

    # -- seen blocks -------------------------------------------------------------

    def seen_hashes(self, session_id: str) -> set[bytes]:
        rows = self.db.execute("SELECT hash FROM seen WHERE session_id = ?", (session_id,))
        return {h for (h,) in rows}

    def commit_processed(
        self,
        rels: list[str],
        *,
        session_id: str,
        hashes: Iterable[bytes],
        unended: dict[str, float] | None = None,
        call: Call | None = None,
    ) -> None:
        """Captures done, their blocks seen, and the call that read them: one transaction."""
        self.commit_processed_many([(rels, session_id, hashes, unended or {})], call=call)

    def commit_processed_many(
        self,
        groups: Iterable[tuple[list[str], str, Iterable[bytes], dict[str, float]]],
        *,
        call: Call | None = None,
    ) -> None:
        """Several groups of captures that produced no memories, in one transaction."""
        with self._transaction():
            for rels, session_id, hashes, unended in groups:
                self._commit_processed(rels, session_id=session_id, hashes=hashes, unended=unended)
            if call is not None:
                self._insert_call(call)

    def _commit_processed(
        self,
        rels: list[str],
        *,
        session_id: str,
        hashes: Iterable[bytes],
        unended: dict[str, float],
    ) -> None:
        self.db.executemany(
            "INSERT OR IGNORE INTO seen (session_id, hash) VALUES (?, ?)",
            [(session_id, h) for h in hashes],
        )
        self._mark(rels, "processed", reason=None, session_id=session_id)
        self.db.executemany(
            "UPDATE captures SET unended_mtime = ? WHERE rel = ?",
            [(mtime, rel) for rel, mtime in unended.items()],
        )

    # -- the exactly-once commit (driven by analyze.store) ------------------------------

    def begin_commit(self, pending: PendingCommit, *, call: Call | None = None) -> None:
        """Record the commit about to happen, fsynced before this returns."""
        self.db.execute("PRAGMA synchronous=FULL")
        try:
            with self._transaction():
                if call is not None:
                    self._insert_call(call)
                self.db.execute(
                    "INSERT INTO pending_commit (id, offset, data, rels, session_id, hashes, unended)"
                    " VALUES (1, ?, ?, ?, ?, ?, ?)",
                    (
                        pending.offset,
                        pending.data,
                        json.dumps(pending.rels),
                        pending.session_id,
                        b"".join(pending.hashes),
                        json.dumps(pending.unended),
                    ),
                )
        finally:
            self.db.execute("PRAGMA synchronous=NORMAL")

    def pending_commit(self) -> PendingCommit | None:
        row = self.db.execute(
            "SELECT offset, data, rels, session_id, hashes, unended FROM pending_commit WHERE id = 1"
        ).fetchone()
        if row is None:
            return None
        offset, data, rels, session, hashes, unended = row
        return PendingCommit(
            offset=offset,
            data=bytes(data),
            rels=json.loads(rels),
            session_id=session,
            hashes=[bytes(hashes[i : i + HASH_BYTES]) for i in range(0, len(hashes), HASH_BYTES)],
            unended=json.loads(unended),
        )

    def finish_commit(self, pending: PendingCommit) -> None:
        with self._transaction():
            self._commit_processed(
                pending.rels,
                session_id=pending.session_id,
                hashes=pending.hashes,
                unended=pending.unended,
            )
            self.db.execute("DELETE FROM pending_commit WHERE id = 1")

    # -- spend -------------------------------------------------------------------

    def record_call(self, call: Call) -> None:
        with self._transaction():
            self._insert_call(call)

    def _insert_call(self, call: Call) -> None:
        self.db.execute(
            "INSERT INTO calls (at, backend, model, ok, input_tokens, cache_creation_input_tokens,"
            f" cache_read_input_tokens, output_tokens, cost_usd, error, {CALLS_1H_COLUMN})"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                call.at,
                call.backend,
                call.model,
                int(call.ok),
                call.tokens.input,
                call.tokens.cache_write,
                call.tokens.cache_read,
                call.tokens.output,
                call.cost_usd,
                call.error,
                call.tokens.cache_write_1h,
            ),
        )

    def calls(self) -> Iterator[Call]:
        write_1h = CALLS_1H_COLUMN if self._has_1h_column() else "0"
        rows = self.db.execute(
            "SELECT at, backend, model, ok, input_tokens, cache_creation_input_tokens,"
            f" cache_read_input_tokens, output_tokens, cost_usd, error, {write_1h}"
            " FROM calls ORDER BY id"
        )
        for at, backend, model, ok, i, cw, cr, o, cost, error, cw1h in rows:
            yield Call(
                at=at,
                backend=backend,
                model=model,
                ok=bool(ok),
                tokens=Tokens(
                    input=i, cache_write_5m=cw - cw1h, cache_write_1h=cw1h, cache_read=cr, output=o
                ),
                cost_usd=cost,
                error=error,
            )


class _Transaction:
    """`with` block: BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on an exception."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
