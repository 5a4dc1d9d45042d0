"""Compaction of old capture days: gzip file by file in place, durably.

`python -m capture compact [--dry-run]` (and the running proxy, daily, see
capture/addon.py) compresses every capture in the day folders older than
`capture.compress_after_days`: `NNN_HHMMSS_x.json` becomes
`NNN_HHMMSS_x.json.gz`, the same bytes gzipped (level GZIP_LEVEL), with the
plain file's mtime. README.md ("Capture file format", "Compaction") is the
contract the readers follow.

Step by step (each a crash point, capture/crashpoints.py):
1. read a plain file and check that it parses (one that does not is left
   as it is and reported);
2. write the gzip to a dot-temp `.<name>.gz.tmp`, fsync it    [compact-temp]
3. hard-link it to `<name>.gz`, remove the temp               [compact-link]
4. after a batch of such files, fsync the folder              [compact-dirsync]
5. only then remove the batch's plain files                   [compact-unlink]
   and fsync the folder again.
A kill at any instant leaves each capture readable as `.json` or `.json.gz`
(both, complete, between 3 and 5: readers count it once). The next run
removes leftover temps and, for a plain file whose `.gz` twin holds the same
bytes, the plain file. Only one compaction runs on a folder at a time (a
flock on the folder itself: no lock file among the captures).

Never compressed: the current day (nor any later one), a file modified in
the last hour (an exchange may still be in flight), a file that does not
parse. A full disk (ENOSPC) removes the temp, leaves the plain file, logs one
error and ends the run. Retention (`delete_after_days`) is in
capture/retention.py; this module applies it.
"""

from __future__ import annotations

import errno
import fcntl
import gzip
import logging
import os
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from capture.crashpoints import crash_point
from capture.files import fsync_dir, unlink_quietly
from glass import jsonio
from glass.contract import CAPTURE_NAME, COMPRESSED_SUFFIX, DAY_FOLDER

logger = logging.getLogger("glass.compact")

GZIP_LEVEL = 6
"""gzip's own default. On the corpus sessions: level 1 leaves 0.346 of the bytes, 3 0.322,
6 0.295, 9 0.294 (bench/compact_bench.py); 6 is where more time stops buying size."""

SETTLE_S = 3600.0
"""A file modified this recently may belong to an exchange in flight: never compressed."""

TEMP_SUFFIX = ".gz.tmp"


class DiskFull(Exception):
    """ENOSPC while writing a compressed file: the run stops, nothing is lost."""


@dataclass(kw_only=True)
class Summary:
    """What one run did (or, with dry_run, would do)."""

    files: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    seconds: float = 0.0
    unparsable: list[str] = field(default_factory=list)
    cleaned: int = 0
    disk_full: bool = False
    deleted_days: list[str] = field(default_factory=list)
    deleted_bytes: int = 0
    kept_days: list[str] = field(default_factory=list)
    dry_run: bool = False

    def line(self) -> str:
        verb = "would compress" if self.dry_run else "compressed"
        ratio = f" ({self.bytes_after / self.bytes_before:.2f})" if self.bytes_after else ""
        after = f" -> {_mb(self.bytes_after)}{ratio}" if not self.dry_run else ""
        out = (
            f"compact: {verb} {self.files} file{_s(self.files)}, "
            f"{_mb(self.bytes_before)}{after}, {self.seconds:.1f} s"
        )
        if self.deleted_days:
            gone = "would delete" if self.dry_run else "deleted"
            out += f"; {gone} {len(self.deleted_days)} day{_s(len(self.deleted_days))}"
            out += f" ({_mb(self.deleted_bytes)})"
        if self.kept_days:
            out += f"; kept {len(self.kept_days)} old day{_s(len(self.kept_days))} with memories"
        if self.unparsable:
            out += f"; left {len(self.unparsable)} that do not parse"
        if self.cleaned:
            out += f"; cleaned {self.cleaned} leftover{_s(self.cleaned)}"
        if self.disk_full:
            out += "; stopped: disk full"
        return out


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def days_older_than(root: Path, *, today: date, days: int) -> list[str]:
    """Day folders under `root` more than `days` days before `today`, oldest first."""
    cutoff = (today - timedelta(days=days)).isoformat()
    try:
        names = [e.name for e in os.scandir(root) if DAY_FOLDER.match(e.name) and e.is_dir()]
    except FileNotFoundError:
        return []
    return sorted(d for d in names if d < cutoff and d < today.isoformat())


BATCH = 32
"""Files in flight, and linked per folder fsync: the folder is fsynced once per batch, not twice per file."""
WRITERS = 8
"""Threads gzipping, writing and fsyncing temps side by side: the file system commits their
fsyncs together, about 3x faster than one after another (bench/compact_bench.py)."""


@dataclass(kw_only=True)
class _Pending:
    path: Path
    size: int
    written: Future[int]
    """The gzipped size, once the temp is written and fsynced."""


def _pack(
    tmp: Path, data: bytes, st: os.stat_result, write: Callable[[Path, bytes, int], None]
) -> int:
    """Step 2, on a pool thread (zlib and fsync release the GIL): gzip `data` into `tmp`."""
    packed = gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=int(st.st_mtime))
    write(tmp, packed, st.st_mtime_ns)
    return len(packed)


def compress_day(
    folder: Path,
    *,
    now: float,
    summary: Summary,
    dry_run: bool = False,
    on_file: Callable[[], None] = lambda: None,
    write_temp: Callable[[Path, bytes, int], None] | None = None,
    pool: ThreadPoolExecutor | None = None,
) -> None:
    """Compress the plain captures of one day folder in place (the module docstring's steps).

    Files go in batches of BATCH: this thread reads and checks them, `pool`
    gzips them into their temps and fsyncs those; each temp is linked to its `.gz`
    name once its fsync is done; one fsync of the folder then makes the
    batch's `.gz` names durable; only then are the batch's plain files
    removed, and the folder fsynced again.
    """
    if not dry_run:
        summary.cleaned += clean_leftovers(folder)
    own_pool = pool is None and not dry_run
    workers = ThreadPoolExecutor(WRITERS) if own_pool else pool
    batch: list[_Pending] = []
    try:
        for name in sorted(_plain_captures(folder)):
            path = folder / name
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            if now - st.st_mtime < SETTLE_S:
                continue
            data = path.read_bytes()
            if not _parses(data):
                summary.unparsable.append(f"{folder.name}/{name}")
                logger.warning("left %s/%s as it is: it does not parse as JSON", folder.name, name)
                continue
            if dry_run or workers is None:
                summary.files += 1
                summary.bytes_before += len(data)
                on_file()
                continue
            written = workers.submit(_pack, _temp(path), data, st, write_temp or _write_temp)
            batch.append(_Pending(path=path, size=len(data), written=written))
            if len(batch) >= BATCH:
                _finish_batch(folder, batch, summary=summary, on_file=on_file)
        _finish_batch(folder, batch, summary=summary, on_file=on_file)
    finally:
        if own_pool and workers is not None:
            workers.shutdown(wait=True)


def _temp(path: Path) -> Path:
    return path.with_name(f".{path.name}{COMPRESSED_SUFFIX}.tmp")


def _finish_batch(
    folder: Path, batch: list[_Pending], *, summary: Summary, on_file: Callable[[], None]
) -> None:
    """Steps 3-5 for a batch whose temps are being written; DiskFull once it is tidy."""
    full: DiskFull | None = None
    linked: list[Path] = []
    for item in batch:
        tmp = _temp(item.path)
        try:
            packed = item.written.result()
        except OSError as e:
            unlink_quietly(tmp)
            if e.errno != errno.ENOSPC:
                raise
            full = full or DiskFull(f"disk full writing {tmp}; {item.path.name} is left plain")
            continue
        crash_point("compact-temp")
        if _link(item.path, tmp):
            linked.append(item.path)
            summary.files += 1
            summary.bytes_before += item.size
            summary.bytes_after += packed
        on_file()
    batch.clear()
    if linked:
        fsync_dir(folder)
        crash_point("compact-dirsync")
        for path in linked:
            os.unlink(path)
            crash_point("compact-unlink")
        fsync_dir(folder)
    if full is not None:
        raise full


def _link(path: Path, tmp: Path) -> bool:
    """Step 3: the fsynced temp under `<name>.gz`. False when a different twin is in the way."""
    gz = path.with_name(path.name + COMPRESSED_SUFFIX)
    try:
        os.link(tmp, gz)
    except FileExistsError:  # a twin that clean_leftovers found different: keep both
        unlink_quietly(tmp)
        logger.error("left %s plain: %s exists and differs", path.name, gz.name)
        return False
    crash_point("compact-link")
    os.unlink(tmp)
    return True


def _write_temp(tmp: Path, data: bytes, mtime_ns: int) -> None:
    """`data` into a new file `tmp` (0600), fsynced, with the plain file's mtime."""
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.utime(fd, ns=(mtime_ns, mtime_ns))
        os.fsync(fd)
    finally:
        os.close(fd)


def clean_leftovers(folder: Path) -> int:
    """Remove compaction's temps and plain files whose `.gz` twin holds the same JSON.

    Called with the lock held, so every temp here is a dead run's.
    """
    cleaned = 0
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return 0
    present = set(names)
    for name in names:
        if name.startswith(".") and name.endswith(TEMP_SUFFIX):
            unlink_quietly(folder / name)
            cleaned += 1
            continue
        m = CAPTURE_NAME.match(name)
        if not m or m.group(4) or name + COMPRESSED_SUFFIX not in present:
            continue
        if _same(folder / name, folder / (name + COMPRESSED_SUFFIX)):
            unlink_quietly(folder / name)
            cleaned += 1
    if cleaned:
        fsync_dir(folder)
    return cleaned


def _same(plain: Path, gz: Path) -> bool:
    try:
        with gzip.open(gz, "rb") as f:
            return f.read() == plain.read_bytes()
    except (OSError, EOFError, zlib.error):
        return False


def _plain_captures(folder: Path) -> Iterator[str]:
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return
    for name in names:
        m = CAPTURE_NAME.match(name)
        if m and not m.group(4):
            yield name


def _parses(data: bytes) -> bool:
    try:  # as the analyzer reads it (glass.jsonio: orjson, the json module deciding the rest)
        jsonio.loads(data)
        return True
    except ValueError:
        return False


class Locked(Exception):
    """Another compaction holds the folder's lock."""


def lock(root: Path) -> int:
    """Lock the folder `root` itself (flock on its fd, held until the fd is closed; no lock
    file is left among the captures), or raise Locked."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise Locked(f"another compaction is running on {root}") from None
    return fd


def run(
    root: Path,
    *,
    compress_after_days: int | None,
    today: date,
    now: float,
    dry_run: bool = False,
    progress: bool | None = None,
    retention: Callable[[Summary], None] = lambda summary: None,
    write_temp: Callable[[Path, bytes, int], None] | None = None,
) -> Summary:
    """One compaction of `root`: retention first (nothing compressed only to be deleted),
    then compression of the old days."""
    started = time.monotonic()
    summary = Summary(dry_run=dry_run)
    if not root.is_dir():
        return summary
    fd = lock(root)
    try:
        retention(summary)
        days = []
        if compress_after_days is not None:
            gone = set(summary.deleted_days)
            days = [
                d
                for d in days_older_than(root, today=today, days=compress_after_days)
                if d not in gone
            ]
        total = sum(1 for d in days for _ in _plain_captures(root / d))
        enabled = sys.stderr.isatty() if progress is None else progress
        with _Bar(total, enabled=enabled) as bar, ThreadPoolExecutor(WRITERS) as pool:
            for day in days:
                try:
                    compress_day(
                        root / day,
                        now=now,
                        summary=summary,
                        dry_run=dry_run,
                        on_file=bar.advance,
                        write_temp=write_temp,
                        pool=pool,
                    )
                except DiskFull as e:
                    logger.error("%s", e)
                    summary.disk_full = True
                    break
    finally:
        os.close(fd)
    summary.seconds = time.monotonic() - started
    return summary


class _Bar:
    """A one-line progress bar on stderr (capture may not import analyze's)."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        self.total, self.done, self.enabled = total, 0, enabled and total > 0
        self.shown = 0.0

    def __enter__(self) -> _Bar:
        return self

    def advance(self) -> None:
        self.done += 1
        if not self.enabled or time.monotonic() - self.shown < 0.1:
            return
        self.shown = time.monotonic()
        width = 30
        filled = width * self.done // self.total
        sys.stderr.write(
            f"\rcompacting [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}"
        )
        sys.stderr.flush()

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
