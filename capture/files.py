"""Where capture files go, and how they reach the disk atomically.

Naming: `<root>/YYYY-MM-DD/NNN_HHMMSS_<endpoint>.json`, in the local date and
time of the request. NNN counts per day from 001 (more digits past 999),
continues after the highest number already in the folder when the proxy
restarts, and is claimed with a hard link, so two writers (threads or
processes) can never get the same number.

Atomicity: every write goes to a dot-file with a `.tmp` suffix (no reader
pattern matches it), is fsynced, and then appears under its final name in one
step: `os.link` for a new file, `os.replace` for a rewrite. Readers see the
old content or the new one, never a part.

Permissions: folders 0700, files 0600; captures hold the user's prompts.
"""

from __future__ import annotations

import errno
import itertools
import json
import math
import os
import re
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from glass import jsonio
from glass.contract import CAPTURE_NAME

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_tmp_counter = itertools.count()


def endpoint_of(path: str) -> str:
    """`/v1/messages?beta=true` -> `messages`; `/v1/messages/count_tokens` -> `count_tokens`."""
    segment = path.split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return _UNSAFE.sub("_", segment).strip("._") or "request"


def day_folder(root: Path, when: datetime) -> Path:
    """The folder of `when`'s local day under `root` (matches contract.DAY_FOLDER)."""
    return root / f"{when:%Y-%m-%d}"


def capture_name(number: int, when: datetime, endpoint: str) -> str:
    """`NNN_HHMMSS_<endpoint>.json` (matches contract.CAPTURE_NAME)."""
    return f"{number:03d}_{when:%H%M%S}_{endpoint}.json"


def dumps(record: dict[str, Any]) -> bytes:
    """Pretty JSON as UTF-8, non-ASCII kept readable for grep.

    A lone surrogate (possible in JSON from the wire) is written back as its
    \\uXXXX escape, so the file stays valid UTF-8 and parses to the same string.

    The bytes are the json module's (`indent=2, ensure_ascii=False`); orjson
    writes them ~25x faster where it spells everything the same, which is
    checked first (floats) or makes it raise (integers beyond 64 bits, lone
    surrogates, keys that are not strings).
    """
    if _orjson_spells_alike(record):
        try:
            return orjson.dumps(record, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
        except TypeError:  # orjson.JSONEncodeError: what it cannot write, json does below
            pass
    text = json.dumps(record, indent=2, ensure_ascii=False) + "\n"
    return text.encode("utf-8", errors="backslashreplace")


def _orjson_spells_alike(value: Any) -> bool:
    """No float orjson writes otherwise than json: NaN and infinities (orjson: null) and
    non-zero magnitudes below 1e-4 (orjson: 0.00001 for json's 1e-05)."""
    return all(math.isfinite(f) and (f == 0 or abs(f) >= 1e-4) for f in jsonio.floats(value))


def dumps_more(data: bytes, extra: dict[str, Any]) -> bytes:
    """`data` (made by `dumps`) with the keys of `extra` appended, as `dumps` of the merged dict.

    The final write of a capture adds `response`/`error` to a record whose
    request part (the bulk) was serialized already; this reuses those bytes.
    """
    if not extra:
        return data
    tail = dumps(extra)  # b'{\n  "response": ...\n}\n'
    return data[: -len(b"\n}\n")] + b",\n" + tail[len(b"{\n") :]


class CaptureFolder:
    """Creates and rewrites the capture files under one root folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._next: dict[Path, int] = {}
        self._lock = threading.Lock()
        self._unsynced: set[Path] = set()
        """Day folders with new names not yet fsynced (`create(..., sync_dir=False)`)."""

    def reserve(self, when: datetime) -> int:
        """Take the next number of the day now, for a file `create` will write later."""
        day = day_folder(self.root, when)
        with self._lock:
            n = self._next.get(day) or self._first_free(day)
            self._next[day] = n + 1
            return n

    def create(
        self,
        when: datetime,
        endpoint: str,
        data: bytes,
        *,
        number: int | None = None,
        on_claim: Callable[[Path], None] | None = None,
        sync_dir: bool = True,
    ) -> Path:
        """Write a new capture file with the next free number of its day (or `number`, if free).

        `on_claim` is told every name just before the file may appear under it (the
        writer child announces it, so that a restart after a kill finds the file).
        `sync_dir=False` leaves the folder's fsync (which makes the new name durable; the
        content is fsynced before the name appears either way) to `sync_dirs`, so that a
        batch of files costs one.
        """
        day = day_folder(self.root, when)
        ensure_dir(day)
        tmp = _write_temp(day, data)
        try:
            with self._lock:
                n = number or self._next.get(day) or self._first_free(day)
                while True:
                    final = day / capture_name(n, when, endpoint)
                    if on_claim is not None:
                        on_claim(final)
                    if _claim(tmp, final):
                        self._next[day] = max(n + 1, self._next.get(day, 0))
                        break
                    n += 1
        finally:
            unlink_quietly(tmp)
        if sync_dir:
            fsync_dir(day)
        else:
            self._unsynced.add(day)
        return final

    def sync_dirs(self) -> None:
        """fsync the folders that `create(..., sync_dir=False)` left unsynced."""
        while self._unsynced:
            fsync_dir(self._unsynced.pop())

    def replace(self, path: Path, data: bytes) -> None:
        """Atomically rewrite an existing capture file."""
        ensure_dir(path.parent)
        tmp = _write_temp(path.parent, data)
        try:
            os.replace(tmp, path)
        except BaseException:
            unlink_quietly(tmp)
            raise

    @staticmethod
    def _first_free(day: Path) -> int:
        """First use of a day folder in this process: sweep dead writers' temp files, then count."""
        _sweep_temp_files(day)
        return highest_number(day) + 1


def highest_number(day: Path) -> int:
    """The highest NNN in `day`, plain or compressed (`.json.gz`) files alike."""
    best = 0
    try:
        names = os.listdir(day)
    except FileNotFoundError:
        return 0
    for name in names:
        m = CAPTURE_NAME.match(name)
        if m:
            best = max(best, int(m.group(1)))
    return best


def ensure_dir(path: Path) -> None:
    """Create a folder (and parents) with mode 0700 if it is missing."""
    if path.is_dir():
        return
    ensure_dir(path.parent)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        return
    os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask


def _write_temp(folder: Path, data: bytes) -> Path:
    tmp = folder / f".glass-{os.getpid()}-{next(_tmp_counter)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        unlink_quietly(tmp)
        raise
    os.close(fd)
    return tmp


def _claim(tmp: Path, final: Path) -> bool:
    """Give `tmp`'s content the name `final` unless that name is taken."""
    try:
        os.link(tmp, final)
        return True
    except FileExistsError:
        return False
    except OSError as e:
        if e.errno not in (
            errno.EPERM,
            errno.ENOTSUP,
            errno.EOPNOTSUPP,
            errno.EXDEV,
            errno.EMLINK,
            errno.ENOSYS,
        ):
            raise
    # No hard links on this filesystem: hold a hidden claim on the name, then
    # move onto it (readers never see an empty or partial capture).
    claim = final.with_name(f".{final.name}.claim")
    try:
        os.close(os.open(claim, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return False
    try:
        if final.exists():
            return False
        os.replace(tmp, final)
        return True
    finally:
        unlink_quietly(claim)


_TEMP_NAME = re.compile(r"^\.glass-(\d+)-\d+\.tmp$")


def _sweep_temp_files(day: Path) -> None:
    """Remove temp files that writers killed mid-write left behind."""
    try:
        names = os.listdir(day)
    except OSError:
        return
    for name in names:
        m = _TEMP_NAME.match(name)
        if m and not _running(int(m.group(1))):
            unlink_quietly(day / name)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fsync_dir(folder: Path) -> None:
    """fsync a folder, so the names created or removed in it are durable (best effort)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
