"""The search index of the memory store: SQLite FTS5 in `<state_dir>/recall.sqlite3`.

`memories.jsonl` stays the one source of truth; this file is a cache of it
that can be deleted at any time. `MemoryIndex.open()` brings it up to date:

- it remembers how many bytes of the store it has read (`offset`) and a
  `fingerprint` of them (`analyze.store.fingerprint`: the first and last
  4 KiB before the offset); when the store has only grown, it reads just the
  lines appended since (`analyze.store.read_records`, the store's own parser);
- when the index is missing, of another schema version, or the store shrank
  or its bytes before the offset changed (rewritten, replaced), it is rebuilt
  from the whole store;
- when the file is corrupt (`sqlite3.DatabaseError` on open or on a query),
  it is deleted and rebuilt; when it cannot be written (a read-only state
  folder, a lock held too long), the index is built in memory for this
  process: a caller always gets correct answers, never an exception from a
  broken cache.

Sync and rebuild run in one `BEGIN IMMEDIATE` transaction that reads the
offset first, so two processes opening the index at once (the two hooks,
the MCP server) never apply the same lines twice.

Tokenizer: `porter unicode61 remove_diacritics 2`. Memories are English
sentences and queries are words or whole prompts, so stemming is what
matters: "migrations" finds "migration", "configured" finds "configure";
unicode61 folds case and diacritics ("Grüße" = "grusse" ~ "Gruße"). trigram
would find substrings instead (`npm` inside `pnpm`, a false hit here), cannot
stem, ignores tokens under three characters, and makes the index several
times larger. A query word of two or more characters ending in `*` is a prefix query
(`migra*`).

Ranking: FTS5's `bm25()` over the one indexed column (the text; kind and
project are filters, not words to match, so there are no column weights to
tune), negated so that higher is better. IDF is taken over every stored
memory, superseded and forgotten ones included. Query words are matched with
OR, so a long prompt still finds a memory that shares a few rare words with
it, and a memory with more of them ranks higher; a short list of English
stopwords is dropped from the query unless it is nothing else.

Relevance (`Hit.relevance`, what `recall.prompt_min_score` thresholds): BM25
scores are not comparable between stores (FTS5's IDF, ln((N − n + 0.5) /
(n + 0.5)) clamped to ~1e-6, is ~0 for every word of a store of two or three
memories), so each hit also gets a score of its own: the IDF-weighted count
of the distinct terms the query and the memory share, in units of a word
only one memory has,

    relevance = Σ idf(t) over the shared terms t / idf(1),
    idf(n) = ln(1 + (N − n + 0.5) / (n + 0.5))  (smoothed, never negative)

where N is the number of indexed memories and n those holding t. A word
unique to the memory counts 1, a word every memory has ~0; the same
prompt/memory pair scores about the same in a store of 2 or of 500. Terms
are the index's own: the texts (stopwords dropped, as from a query) go
through a TEMP FTS5 table with the same tokenizer and are read back from
its fts5vocab; n comes from an fts5vocab table over `memories_fts`. A prefix
word (`migra*`) counts only where a memory has it whole.

User text never reaches FTS5 syntax: every word becomes a quoted string
(`"word"`), joined by OR; quotes, `-`, `:`, `^`, parentheses, `NEAR`, `AND`
or SQL are just word separators or words. A query with no word matches
nothing.

Tables: `meta` (offset, fingerprint, version), `memories` (one row per id:
kind, project, text, the JSON line, and a `current` flag recomputed for
the memories each sync touches), `supersedes` (new -> old), `forgotten` (ids whose last
curation record is a forget), `memories_fts` (FTS5, external content).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyze.store import FORGET, Memory, Record, fingerprint, read_records

FILE = "recall.sqlite3"
VERSION = 2  # of the schema: another version is rebuilt
MAX_QUERY_WORDS = 64
MIN_PREFIX = 2  # `a*` would match half the index
BUSY_TIMEOUT_S = 2.0
TOKENIZE = "porter unicode61 remove_diacritics 2"

SCHEMA = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE memories (
    rowid   INTEGER PRIMARY KEY,
    id      TEXT NOT NULL UNIQUE,
    kind    TEXT NOT NULL,
    project TEXT,
    text    TEXT NOT NULL,
    json    TEXT NOT NULL,
    current INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX memories_project ON memories (project, current);
CREATE TABLE supersedes (new TEXT NOT NULL, old TEXT NOT NULL, PRIMARY KEY (old, new))
    WITHOUT ROWID;
CREATE INDEX supersedes_new ON supersedes (new);
CREATE TABLE forgotten (id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE VIRTUAL TABLE memories_fts USING fts5(
    text, content='memories', content_rowid='rowid',
    tokenize='{TOKENIZE}'
);
"""

_CURRENT = """
UPDATE memories SET current = (
    id NOT IN (SELECT id FROM forgotten)
    AND NOT EXISTS (
        SELECT 1 FROM supersedes s
        WHERE s.old = memories.id AND s.new NOT IN (SELECT id FROM forgotten)
    )
)
"""
_CURRENT_ONE = _CURRENT + " WHERE id = ?"

_WORD = re.compile(r"(\w+)(\*?)")

STOPWORDS = frozenset(
    """a about after all also am an and any are as at be because been before being but by
    can could did do does doing done for from had has have having he her here him his
    how i if in into is it its itself just let me more most my no nor not now of off on
    once only or other our out over please same she should so some such than that the
    their them then there these they this those through to too under until up us very
    was we were what when where which while who whom why will with would you your""".split()  # noqa: SIM905  # a word list reads better as text
)


@dataclass(frozen=True, kw_only=True)
class Hit:
    memory: Memory
    score: float
    """Higher is better: the negated FTS5 bm25()."""
    snippet: str
    """The text with the matched terms marked [like this]."""
    relevance: float
    """How well the memory matches, comparable across queries and store sizes (module doc):
    the IDF-weighted count of shared terms, 1 = one word no other memory has; 0 and up."""


def query_words(text: str) -> dict[str, str]:
    """A user's words (each with its `*` or ""), stopwords dropped unless that leaves none."""
    words: dict[str, str] = {}  # FTS5's tokenizer folds case and diacritics itself
    for word, star in _WORD.findall(text.lower()):
        words.setdefault(word, star if len(word) >= MIN_PREFIX else "")
    kept = {w: s for w, s in words.items() if w not in STOPWORDS} or words
    return dict(list(kept.items())[:MAX_QUERY_WORDS])


def fts_query(text: str) -> str | None:
    """The FTS5 query for a user's words (OR of quoted words), None when there are none."""
    words = query_words(text)
    return " OR ".join(f'"{w}"{s}' for w, s in words.items()) if words else None


def informative(text: str) -> str:
    """A memory's words without the stopwords a query would drop, for `relevance`."""
    return " ".join(w for w, _ in _WORD.findall(text.lower()) if w not in STOPWORDS)


def idf(n: int, total: int) -> float:
    """The smoothed IDF of a term n of `total` memories hold (never negative)."""
    return math.log(1 + (total - n + 0.5) / (n + 0.5))


def relevance(shared: Iterable[str], *, df: dict[str, int], total: int) -> float:
    """Σ idf of the shared terms ÷ the idf of a term one memory has (see the module doc)."""
    unit = idf(1, total)
    return sum(idf(df.get(t, 0), total) for t in shared) / unit if unit > 0 else 0.0


def project_for(cwd: str, known: Iterable[str]) -> str | None:
    """The known project that `cwd` is, or is inside (the longest match), else None."""
    here = os.path.normpath(cwd)
    best: str | None = None
    best_len = -1
    for project in known:
        root = os.path.normpath(project)
        inside = here == root or here.startswith(root if root.endswith(os.sep) else root + os.sep)
        if inside and len(root) > best_len:
            best, best_len = project, len(root)
    return best


class MemoryIndex:
    def __init__(self, db: sqlite3.Connection, *, store: Path, path: Path | None) -> None:
        self.db = db
        self.store = store
        self.path = path
        """The index file; None when this process keeps it in memory."""

    @classmethod
    def open(cls, *, store: Path, state_dir: Path) -> MemoryIndex:
        """Open state_dir/recall.sqlite3, bring it up to date with the store incrementally
        (only lines appended since the last sync), rebuild it from the JSONL when it is missing,
        stale (the store shrank or its first bytes changed) or corrupt. Read-only callers that
        cannot write the index still get correct answers (rebuild in memory)."""
        path = state_dir / FILE
        for attempt in range(2):
            try:
                return cls._open_file(store=store, path=path)
            except sqlite3.DatabaseError as e:
                if _cannot_write(e) or attempt == 1:
                    break
                _remove(path)  # corrupt or foreign: it is only a cache
            except OSError:  # the state folder or the file cannot be written
                break
        return cls._in_memory(store=store)

    @classmethod
    def _open_file(cls, *, store: Path, path: Path) -> MemoryIndex:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
        db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            index = cls(db, store=store, path=path)
            index._sync()
        except BaseException:
            db.close()
            raise
        return index

    @classmethod
    def _in_memory(cls, *, store: Path) -> MemoryIndex:
        index = cls(sqlite3.connect(":memory:", isolation_level=None), store=store, path=None)
        index._sync()
        return index

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> MemoryIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- queries ---------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        projects: Sequence[str | None] | None = None,
        kinds: Sequence[str] | None = None,
        limit: int = 10,
    ) -> list[Hit]:
        """BM25-ranked current memories (not superseded, not forgotten). `projects`: only
        memories whose project is one of these (None in the list = memories with no project);
        None = all projects."""
        match = fts_query(query)
        if match is None or limit <= 0:
            return []
        where, params = _filters(projects=projects, kinds=kinds)
        sql = (
            "SELECT m.json, -bm25(memories_fts), highlight(memories_fts, 0, '[', ']')"
            " FROM memories_fts JOIN memories m ON m.rowid = memories_fts.rowid"
            f" WHERE memories_fts MATCH ? AND m.current = 1{where}"
            " ORDER BY bm25(memories_fts), m.rowid DESC LIMIT ?"
        )
        rows = self._query(sql, [match, *params, limit])
        if not rows:
            return []
        memories = [_memory(raw) for raw, _, _ in rows]
        scores = self._relevance(query, [m.text for m in memories])
        return [
            Hit(memory=m, score=float(score), snippet=snippet, relevance=rel)
            for m, (_, score, snippet), rel in zip(memories, rows, scores, strict=True)
        ]

    def _relevance(self, query: str, texts: Sequence[str]) -> list[float]:
        """`relevance` of each text for `query`, tokenized exactly as the index does."""
        words = " ".join(query_words(query))
        terms = self._terms([words, *map(informative, texts)])
        asked, each = terms[0], terms[1:]
        wanted = sorted(asked)
        marks = ",".join("?" * len(wanted))
        # self.db directly: the search just ran on it (a corrupt file was rebuilt then), and
        # _query's rebuild would lose the TEMP tables _terms made
        df = dict(
            self.db.execute(f"SELECT term, doc FROM temp.glass_df WHERE term IN ({marks})", wanted)
        )
        ((total,),) = self.db.execute("SELECT count(*) FROM memories").fetchall()
        return [relevance(asked & mine, df=df, total=total) for mine in each]

    def _terms(self, texts: Sequence[str]) -> list[set[str]]:
        """The distinct FTS5 terms of each text: through a TEMP table with the index's
        tokenizer (temp: nothing is written to the index file, read-only callers too)."""
        db = self.db
        db.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.glass_terms"
            f" USING fts5(text, tokenize='{TOKENIZE}')"
        )
        db.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.glass_terms_v"
            " USING fts5vocab(temp, glass_terms, instance)"
        )
        db.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.glass_df"
            " USING fts5vocab(main, memories_fts, row)"
        )
        db.execute("DELETE FROM temp.glass_terms")
        db.executemany("INSERT INTO temp.glass_terms (rowid, text) VALUES (?, ?)", enumerate(texts))
        out: list[set[str]] = [set() for _ in texts]
        for doc, term in db.execute("SELECT doc, term FROM temp.glass_terms_v"):
            out[doc].add(term)
        return out

    def current(
        self,
        *,
        projects: Sequence[str | None] | None = None,
        kinds: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[Memory]:
        """Current memories, newest first (at most `limit`)."""
        where, params = _filters(projects=projects, kinds=kinds)
        rows = self._query(
            f"SELECT m.json FROM memories m WHERE m.current = 1{where}"
            " ORDER BY m.rowid DESC LIMIT ?",
            [*params, -1 if limit is None else limit],
        )
        return [_memory(raw) for (raw,) in rows]

    def projects(self) -> list[str]:
        """Every distinct project of the stored memories."""
        rows = self._query(
            "SELECT DISTINCT project FROM memories WHERE project IS NOT NULL ORDER BY project", []
        )
        return [p for (p,) in rows]

    def _query(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run a query; an index found corrupt only now is rebuilt (on disk, else in memory)."""
        try:
            return self.db.execute(sql, params).fetchall()
        except sqlite3.DatabaseError:
            if self.path is None:
                raise  # an in-memory index is not corrupt: a bug in the query
        self.db.close()
        _remove(self.path)
        fresh = MemoryIndex.open(store=self.store, state_dir=self.path.parent)
        self.db, self.path = fresh.db, fresh.path
        return self.db.execute(sql, params).fetchall()

    # -- keeping up with the store ---------------------------------------------------------

    def _sync(self) -> None:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            meta = _meta(db)
            offset = meta.get("offset", 0)
            fresh = meta.get("version") != VERSION
            if fresh:
                _create(db)
            elif offset > _size(self.store) or meta.get("fingerprint") != fingerprint(
                self.store, offset
            ):
                _clear(db)
                fresh = True
            if fresh:
                offset = 0
            chunk = read_records(self.store, start=offset)
            touched = _apply(db, chunk.records)
            if fresh:
                db.execute(_CURRENT)
            else:
                db.executemany(_CURRENT_ONE, [(i,) for i in touched])
            if chunk.end != offset or fresh:
                _set_meta(db, offset=chunk.end, fingerprint=fingerprint(self.store, chunk.end))
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise


def _cannot_write(e: sqlite3.DatabaseError) -> bool:
    code = getattr(e, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PERM,
    )


def _remove(path: Path) -> None:
    for p in (path, path.with_name(path.name + "-journal"), path.with_name(path.name + "-wal")):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _meta(db: sqlite3.Connection) -> dict[str, Any]:
    exists = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    return dict(db.execute("SELECT key, value FROM meta").fetchall()) if exists else {}


def _set_meta(db: sqlite3.Connection, *, offset: int, fingerprint: str) -> None:
    db.executemany(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
        [("version", VERSION), ("offset", offset), ("fingerprint", fingerprint)],
    )


def _create(db: sqlite3.Connection) -> None:
    """A fresh schema, dropping whatever an older version left."""
    tables = db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " AND name NOT LIKE 'memories_fts_%'"
    ).fetchall()
    for (name,) in tables:
        db.execute(f'DROP TABLE IF EXISTS "{name}"')
    for statement in SCHEMA.split(";"):  # not executescript(): it would COMMIT first
        if statement.strip():
            db.execute(statement)


def _clear(db: sqlite3.Connection) -> None:
    db.execute("INSERT INTO memories_fts (memories_fts) VALUES ('delete-all')")
    for table in ("memories", "supersedes", "forgotten"):
        db.execute(f"DELETE FROM {table}")


def _apply(db: sqlite3.Connection, records: Sequence[Record]) -> set[str]:
    """Apply store records in order; the ids whose `current` flag may have changed."""
    touched: set[str] = set()
    for record in records:
        touched.add(record.id)
        if not isinstance(record, Memory):
            if record.op == FORGET:
                db.execute("INSERT OR IGNORE INTO forgotten (id) VALUES (?)", (record.id,))
            else:
                db.execute("DELETE FROM forgotten WHERE id = ?", (record.id,))
            olds = db.execute("SELECT old FROM supersedes WHERE new = ?", (record.id,))
            touched.update(old for (old,) in olds)
            continue
        cursor = db.execute(
            "INSERT OR IGNORE INTO memories (id, kind, project, text, json) VALUES (?, ?, ?, ?, ?)",
            (
                record.id,
                record.kind,
                record.project,
                record.text,
                json.dumps(record.to_json(), ensure_ascii=False),
            ),
        )
        if cursor.rowcount:
            db.execute(
                "INSERT INTO memories_fts (rowid, text) VALUES (?, ?)",
                (cursor.lastrowid, record.text),
            )
        db.executemany(
            "INSERT OR IGNORE INTO supersedes (new, old) VALUES (?, ?)",
            [(record.id, old) for old in record.supersedes],
        )
        touched.update(record.supersedes)
    return touched


def _filters(
    *, projects: Sequence[str | None] | None, kinds: Sequence[str] | None
) -> tuple[str, list[Any]]:
    where, params = "", []
    if projects is not None:
        named = [p for p in projects if p is not None]
        parts = [f"m.project IN ({','.join('?' * len(named))})"] if named else []
        if None in projects:
            parts.append("m.project IS NULL")
        where += f" AND ({' OR '.join(parts) or '0'})"
        params += named
    if kinds is not None:
        where += f" AND m.kind IN ({','.join('?' * len(kinds))})" if kinds else " AND 0"
        params += list(kinds)
    return where, params


def _memory(raw: str) -> Memory:
    return Memory.from_json(json.loads(raw))
