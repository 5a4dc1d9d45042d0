"""The viewer's index: per capture its session, turn, usage and title, in SQLite.

`Index.refresh()` brings it up to date with the captures folder, reading only
what changed: a day folder whose mtime is the one recorded (and not within
the last `RECENT_S` seconds, where a file system's coarse timestamps could hide
a change, nor one of the `ALWAYS_LISTED` newest) is not even listed; in a listed folder, only captures whose mtime
and size differ from their row are read again, through `view.skeleton` (never
the whole conversation). So a restart, or a new file, reads nothing else.

The file is `index.sqlite3` in `view.state_dir` (0600, the folder 0700). It is
a cache: a file of another schema version, or one SQLite cannot read, is
deleted and rebuilt; a state folder that cannot be written gives an index in
memory for this process (so does a state folder whose parent is missing: the viewer
never creates the captures folder). Files that are not usable captures get a row with
their `problem` (the reader's reason), and day folders remember the other
files they hold, so pages can show both as notes. A symlink (a capture or a day
folder) that leads out of the captures folder is skipped: nothing outside it is
indexed, so no page reads it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyze import conversation
from analyze.captures import BadCapture
from analyze.usage import models as usage_models
from analyze.usage.scan import incomplete_reason
from glass.contract import CAPTURE_NAME, COMPRESSED_SUFFIX, DAY_FOLDER, capture_identity
from glass.tokens import Tokens
from view.skeleton import read_skeleton

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
INDEX_FILE = "index.sqlite3"
RECENT_S = 2.0
"""A day folder changed this recently is listed again whatever its mtime says."""
ALWAYS_LISTED = 2
"""The newest day folders are listed on every refresh whatever their mtime: a file rewritten
in place there (not Glass's atomic way, which changes the folder's mtime) is still seen."""
TITLE_CHARS = 120

_COLUMNS = (
    "rel",
    "fspath",
    "day",
    "number",
    "endpoint",
    "mtime_ns",
    "size",
    "problem",
    "captured_at",
    "session",
    "project",
    "scope",
    "model",
    "provider",
    "title",
    "first_key",
    "message_count",
    "has_response",
    "status",
    "incomplete",
    "error",
    "stop_reason",
    "ttfb_ms",
    "duration_ms",
    "response_offset",
    "message_id",
    "input",
    "cache_write_5m",
    "cache_write_1h",
    "cache_read",
    "output",
)
_SCHEMA = f"""
CREATE TABLE meta (version INTEGER NOT NULL);
CREATE TABLE captures (
    {", ".join(c + (" TEXT PRIMARY KEY" if c == "rel" else "") for c in _COLUMNS)}
);
CREATE INDEX captures_session ON captures (session, day, number);
CREATE INDEX captures_day ON captures (day, number);
CREATE TABLE days (day TEXT PRIMARY KEY, mtime_ns INTEGER NOT NULL, others TEXT NOT NULL);
INSERT INTO meta VALUES ({SCHEMA_VERSION});
"""


@dataclass(frozen=True, kw_only=True)
class CaptureRow:
    """One capture as the index knows it."""

    rel: str
    """Its identity, `YYYY-MM-DD/NNN_HHMMSS_endpoint.json` (no `.gz`)."""
    fspath: str
    day: str
    number: int
    endpoint: str
    mtime_ns: int
    size: int
    problem: str | None
    """Why it is not a usable capture; then the fields below are empty."""
    captured_at: str = ""
    session: str = ""
    project: str | None = None
    scope: str = "side"
    model: str | None = None
    """The model the usage report prices it as (`analyze.conversation.model`)."""
    provider: str = usage_models.DEFAULT_PROVIDER
    title: str | None = None
    first_key: str | None = None
    """A hash of the first real user prompt: a new one starts a new context window."""
    message_count: int = 0
    has_response: bool = False
    status: int | None = None
    incomplete: str | None = None
    error: str | None = None
    stop_reason: str | None = None
    ttfb_ms: float | None = None
    duration_ms: float | None = None
    response_offset: int | None = None
    message_id: str | None = None
    input: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    cache_read: int = 0
    output: int = 0

    @property
    def tokens(self) -> Tokens:
        return Tokens(
            input=self.input,
            cache_write_5m=self.cache_write_5m,
            cache_write_1h=self.cache_write_1h,
            cache_read=self.cache_read,
            output=self.output,
        )

    @property
    def name(self) -> str:
        return self.rel.split("/", 1)[1]


@dataclass(frozen=True, kw_only=True)
class OtherFile:
    """A file in a day folder that is not a capture."""

    day: str
    name: str


def first_prompt(message: Any) -> str | None:
    """The first real user prompt in `message`: its first text that is neither a system
    reminder nor text Claude Code derives itself (`analyze.conversation`)."""
    if not isinstance(message, dict) or message.get("role") != "user":
        return None
    content = message.get("content")
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, dict) or block.get("type") != "text":
            continue
        text = block.get("text")
        if not isinstance(text, str):
            continue
        text = conversation.strip_reminders(text)
        if not text or text.startswith(conversation.DERIVED_TEXT + conversation.FILE_CONTENT_TEXT):
            continue
        return text
    return None


def shorten(text: str, limit: int = TITLE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def row_of(
    *, rel: str, fspath: str, day: str, number: int, endpoint: str, st: os.stat_result
) -> CaptureRow:
    """Read one capture file into its row (a `problem` row when it is not usable).

    `st` is the entry's stat as listed: a problem row keeps its mtime and size, so the next
    refresh does not read it again. FileNotFoundError passes through: a file that vanished
    is not bad.
    """
    base: dict[str, Any] = dict(rel=rel, fspath=fspath, day=day, number=number, endpoint=endpoint)
    try:
        sk = read_skeleton(fspath)
    except BadCapture as e:
        st = os.stat(fspath)
        return CaptureRow(**base, mtime_ns=st.st_mtime_ns, size=st.st_size, problem=str(e))
    except IsADirectoryError:
        return CaptureRow(
            **base, mtime_ns=st.st_mtime_ns, size=st.st_size, problem="a folder, not a file"
        )
    except FileNotFoundError:
        raise
    except OSError as e:  # unreadable (permissions, I/O error): a note, not a crash
        problem = f"cannot read: {e.strerror or e}"
        return CaptureRow(**base, mtime_ns=st.st_mtime_ns, size=st.st_size, problem=problem)
    doc = sk.doc
    raw_request = doc.get("request")
    request: dict[str, Any] = raw_request if isinstance(raw_request, dict) else {}
    response = doc.get("response")
    body = response.get("body") if isinstance(response, dict) else None
    usage = body.get("usage") if isinstance(body, dict) else None
    tokens = Tokens.from_usage(usage)
    messages = request.get("messages") or []
    prompt = first_prompt(messages[0]) if messages else None
    scope = conversation.scope(doc, endpoint)
    error = doc.get("error")
    message_id = body.get("id") if isinstance(body, dict) else None
    return CaptureRow(
        **base,
        mtime_ns=sk.mtime_ns,
        size=sk.size,
        problem=None,
        captured_at=doc["captured_at"],
        session=conversation.session_id(doc),
        project=conversation.project(doc),
        scope=scope,
        model=conversation.model(doc),
        provider=usage_models.provider_of(doc),
        title=shorten(prompt) if prompt else None,
        first_key=hashlib.sha256(prompt.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        if prompt
        else None,
        message_count=sk.message_count,
        has_response=isinstance(response, dict),
        status=response.get("status") if isinstance(response, dict) else None,
        incomplete=incomplete_reason(doc, response, body, usage, endpoint),
        error=str(error.get("message")) if isinstance(error, dict) else None,
        stop_reason=body.get("stop_reason") if isinstance(body, dict) else None,
        ttfb_ms=_number(response.get("ttfb_ms")) if isinstance(response, dict) else None,
        duration_ms=_number(response.get("duration_ms")) if isinstance(response, dict) else None,
        response_offset=sk.response_offset,
        message_id=message_id if isinstance(message_id, str) else None,
        input=tokens.input,
        cache_write_5m=tokens.cache_write_5m,
        cache_write_1h=tokens.cache_write_1h,
        cache_read=tokens.cache_read,
        output=tokens.output,
    )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class Index:
    """The SQLite index of one captures folder; thread-safe (one connection, one lock)."""

    def __init__(
        self, *, captures_dir: Path, state_dir: Path, clock: Callable[[], float] = time.time
    ) -> None:
        self.captures_dir = captures_dir
        self.state_dir = state_dir
        self.clock = clock
        self.lock = threading.RLock()
        self.db = self._open()
        self._root = captures_dir.resolve()
        self.generation = 0
        """Grows whenever a refresh changed a row: what is computed from the rows may be
        kept until it does."""

    # -- opening -----------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        try:
            # never parents=True: that would make the captures folder, with the umask's mode
            self.state_dir.mkdir(mode=0o700, exist_ok=True)
            path = self.state_dir / INDEX_FILE
            if not path.exists():
                fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
                os.close(fd)
        except OSError as e:
            log.warning(
                "view: cannot write %s (%s); the index is kept in memory", self.state_dir, e
            )
            return self._connect(":memory:")
        try:
            return self._connect(str(path))
        except sqlite3.DatabaseError as e:
            log.warning("view: index %s unusable (%s); rebuilding it", path, e)
            path.unlink(missing_ok=True)
            fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
            return self._connect(str(path))

    @staticmethod
    def _connect(target: str) -> sqlite3.Connection:
        db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            version = db.execute("SELECT version FROM meta").fetchone()
        except sqlite3.OperationalError:
            version = None
        if version is None or version[0] != SCHEMA_VERSION:
            for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type='table'"
            ).fetchall():
                db.execute(f'DROP TABLE IF EXISTS "{name}"')
            db.executescript(_SCHEMA)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # -- refreshing ----------------------------------------------------------

    def refresh(self) -> int:
        """Bring the index up to date; returns how many captures were (re)read."""
        with self.lock:
            return self._refresh()

    def _refresh(self) -> int:
        self._root = self.captures_dir.resolve()
        try:
            days = sorted(
                e.name
                for e in os.scandir(self.captures_dir)
                if DAY_FOLDER.match(e.name) and self._inside(e) and e.is_dir()
            )
        except (FileNotFoundError, NotADirectoryError):
            days = []
        known = {
            r["day"]: (r["mtime_ns"], r["others"])
            for r in self.db.execute("SELECT day, mtime_ns, others FROM days")
        }
        read = 0
        now_ns = int(self.clock() * 1e9)
        self.db.execute("BEGIN")
        try:
            for day in set(known) - set(days):
                self.generation += 1
                self.db.execute("DELETE FROM captures WHERE day = ?", (day,))
                self.db.execute("DELETE FROM days WHERE day = ?", (day,))
            newest = set(days[-ALWAYS_LISTED:])
            for day in days:
                folder = os.path.join(self.captures_dir, day)
                try:
                    mtime_ns = os.stat(folder).st_mtime_ns
                except FileNotFoundError:
                    continue
                before = known.get(day)
                unchanged = before is not None and before[0] == mtime_ns
                if unchanged and now_ns - mtime_ns > RECENT_S * 1e9 and day not in newest:
                    continue
                read += self._refresh_day(day, folder, mtime_ns, before=before)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return read

    def _refresh_day(
        self, day: str, folder: str, mtime_ns: int, *, before: tuple[int, str] | None
    ) -> int:
        found: dict[str, tuple[str, int, str, os.stat_result]] = {}
        others = []
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            return 0
        for entry in entries:
            m = CAPTURE_NAME.match(entry.name)
            if not m:
                if not entry.name.startswith("."):  # dot-temp files are writes in flight
                    others.append(entry.name)
                continue
            if not self._inside(entry):
                continue
            rel = f"{day}/{capture_identity(entry.name)}"
            compressed = entry.name.endswith(COMPRESSED_SUFFIX)
            if compressed and rel in found and not found[rel][0].endswith(COMPRESSED_SUFFIX):
                continue  # both forms for a moment during compaction: the plain one counts
            try:
                st = entry.stat()
            except FileNotFoundError:
                continue
            found[rel] = (entry.path, int(m.group(1)), m.group(3), st)
        stored = {
            r["rel"]: (r["fspath"], r["mtime_ns"], r["size"])
            for r in self.db.execute(
                "SELECT rel, fspath, mtime_ns, size FROM captures WHERE day = ?", (day,)
            )
        }
        for rel in set(stored) - set(found):
            self.generation += 1
            self.db.execute("DELETE FROM captures WHERE rel = ?", (rel,))
        read = 0
        for rel, (fspath, number, endpoint, st) in found.items():
            if stored.get(rel) == (fspath, st.st_mtime_ns, st.st_size):
                continue
            try:
                row = row_of(
                    rel=rel, fspath=fspath, day=day, number=number, endpoint=endpoint, st=st
                )
            except FileNotFoundError:
                continue
            read += 1
            self.generation += 1
            self._put(row)
        record = (mtime_ns, json.dumps(sorted(others)))
        if record != before:
            self.db.execute("INSERT OR REPLACE INTO days VALUES (?, ?, ?)", (day, *record))
        return read

    def _inside(self, entry: os.DirEntry[str]) -> bool:
        """False for a symlink that leads out of the captures folder: nothing outside it is
        ever indexed, nor read by the pages that open a row's `fspath`."""
        if not entry.is_symlink():
            return True  # in a folder already checked (the captures folder, a day folder in it)
        return Path(os.path.realpath(entry.path)).is_relative_to(self._root)

    def _put(self, row: CaptureRow) -> None:
        values = [getattr(row, c) for c in _COLUMNS]
        marks = ", ".join("?" for _ in _COLUMNS)
        self.db.execute(f"INSERT OR REPLACE INTO captures VALUES ({marks})", values)

    # -- reading ------------------------------------------------------------

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[CaptureRow]:
        with self.lock:
            cursor = self.db.execute(sql, args)
            return [_row(r) for r in cursor]

    def all_rows(self) -> list[CaptureRow]:
        """Every capture, oldest first."""
        return self._rows("SELECT * FROM captures ORDER BY day, number")

    def session_rows(self, session: str) -> list[CaptureRow]:
        """The usable captures of one session, oldest first."""
        return self._rows(
            "SELECT * FROM captures WHERE session = ? AND problem IS NULL ORDER BY day, number",
            (session,),
        )

    def capture(self, rel: str) -> CaptureRow | None:
        rows = self._rows("SELECT * FROM captures WHERE rel = ?", (rel,))
        return rows[0] if rows else None

    def problems(self, *, days: set[str] | None = None) -> list[CaptureRow]:
        rows = self._rows("SELECT * FROM captures WHERE problem IS NOT NULL ORDER BY day, number")
        return [r for r in rows if days is None or r.day in days]

    def other_files(self, *, days: set[str] | None = None) -> list[OtherFile]:
        with self.lock:
            found = self.db.execute("SELECT day, others FROM days ORDER BY day").fetchall()
        return [
            OtherFile(day=r["day"], name=name)
            for r in found
            if days is None or r["day"] in days
            for name in json.loads(r["others"])
        ]

    def session_rows_summary(self) -> Iterator[sqlite3.Row]:
        """Per capture, in the shape of a session's sum: its time, counts and tokens (for the list).

        Not summed in SQL: each request is priced on its own, as the usage report does (a price
        can depend on the request's time and prompt size)."""
        with self.lock:
            found = self.db.execute(
                """SELECT session, model, provider,
                    captured_at AS start, captured_at AS last, day AS first_day, day AS last_day,
                    scope = 'main' AS main, scope != 'main' AS side,
                    input, cache_write_5m, cache_write_1h, cache_read, output,
                    COALESCE(duration_ms, 0) AS tail_ms
                FROM captures WHERE problem IS NULL"""
            ).fetchall()
        return iter(found)

    def session_facts(self) -> dict[str, tuple[str | None, str | None]]:
        """Per session: (project, title) of its first main-loop capture that names them."""
        with self.lock:
            found = self.db.execute(
                """SELECT session, project, title FROM captures
                WHERE problem IS NULL AND scope = 'main' ORDER BY day, number"""
            ).fetchall()
        out: dict[str, tuple[str | None, str | None]] = {}
        for r in found:  # oldest first: the first capture that names one wins
            old = out.get(r["session"], (None, None))
            out[r["session"]] = (old[0] or r["project"], old[1] or r["title"])
        return out


def _row(r: sqlite3.Row) -> CaptureRow:
    values = dict(zip(_COLUMNS, r, strict=True))
    values["has_response"] = bool(values["has_response"])
    return CaptureRow(**values)


@contextlib.contextmanager
def opened(*, captures_dir: Path, state_dir: Path) -> Iterator[Index]:
    index = Index(captures_dir=captures_dir, state_dir=state_dir)
    try:
        yield index
    finally:
        index.close()
