"""`python -m capture du`: the captures' bytes on disk, per day or per session.

Per day costs one stat per file. Per session reads every capture (a `.gz`
decompressed) for the session it names (glass.session: the header, else
`metadata.user_id`); captures that name none, or do not parse, are summed
under "(no session id)" and "(unreadable)". Sizes are bytes on disk: a `.gz`
counts its compressed size.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from glass import jsonio
from glass.contract import CAPTURE_NAME, DAY_FOLDER
from glass.session import declared_session_id

By = Literal["day", "session"]
NO_SESSION = "(no session id)"
UNREADABLE = "(unreadable)"


@dataclass(kw_only=True)
class Row:
    key: str
    plain_files: int = 0
    plain_bytes: int = 0
    compressed_files: int = 0
    compressed_bytes: int = 0
    oldest_day: str = ""

    @property
    def bytes(self) -> int:
        return self.plain_bytes + self.compressed_bytes

    def add(self, *, day: str, size: int, compressed: bool) -> None:
        if compressed:
            self.compressed_files += 1
            self.compressed_bytes += size
        else:
            self.plain_files += 1
            self.plain_bytes += size
        if not self.oldest_day or day < self.oldest_day:
            self.oldest_day = day


def _captures(root: Path) -> Iterator[tuple[str, Path, bool, int]]:
    """(day, path, compressed, bytes on disk) of every capture, oldest day first."""
    try:
        days = sorted(e.name for e in os.scandir(root) if DAY_FOLDER.match(e.name) and e.is_dir())
    except FileNotFoundError:
        return
    for day in days:
        for entry in sorted(os.scandir(root / day), key=lambda e: e.name):
            m = CAPTURE_NAME.match(entry.name)
            if m and entry.is_file(follow_symlinks=False):
                yield day, Path(entry.path), bool(m.group(4)), entry.stat().st_size


def _session_of(path: Path, compressed: bool) -> str:
    try:
        data = gzip.decompress(path.read_bytes()) if compressed else path.read_bytes()
        doc = jsonio.loads(data)
    except ValueError:
        return UNREADABLE
    except (OSError, EOFError, zlib.error):
        return UNREADABLE
    if not isinstance(doc, dict):
        return UNREADABLE
    return declared_session_id(doc) or NO_SESSION


def disk_usage(root: Path, *, by: By = "day") -> tuple[list[Row], Row]:
    """The rows (days oldest first, or sessions largest first) and the total."""
    rows: dict[str, Row] = {}
    total = Row(key="total")
    for day, path, compressed, size in _captures(root):
        key = day if by == "day" else _session_of(path, compressed)
        rows.setdefault(key, Row(key=key)).add(day=day, size=size, compressed=compressed)
        total.add(day=day, size=size, compressed=compressed)
    ordered = list(rows.values())
    if by == "session":
        ordered.sort(key=lambda r: (-r.bytes, r.key))
    return ordered, total


def summary_line(total: Row, *, root: Path) -> str:
    """The one line `make status` shows: files and bytes, plain and compressed, oldest day."""
    if not total.plain_files and not total.compressed_files:
        return f"disk       no captures yet  ({root})"
    return (
        f"disk       {total.bytes / 1e6:,.1f} MB: {total.plain_files:,} plain"
        f" ({total.plain_bytes / 1e6:,.1f} MB), {total.compressed_files:,} gzipped"
        f" ({total.compressed_bytes / 1e6:,.1f} MB); oldest day {total.oldest_day}  ({root})"
    )


def render(rows: list[Row], total: Row, *, by: By, as_json: bool) -> str:
    if as_json:
        return "".join(
            json.dumps({**asdict(r), "bytes": r.bytes}, ensure_ascii=False) + "\n"
            for r in [*rows, total]
        )
    width = max([len(by), 5, *(len(r.key) for r in rows)])
    head = f"{by:<{width}}  {'plain':>7} {'MB':>9}  {'gzip':>7} {'MB':>9}  {'total MB':>9}"
    lines = [head]
    for r in [*rows, total]:
        lines.append(
            f"{r.key:<{width}}  {r.plain_files:>7,} {r.plain_bytes / 1e6:>9,.1f}  "
            f"{r.compressed_files:>7,} {r.compressed_bytes / 1e6:>9,.1f}  {r.bytes / 1e6:>9,.1f}"
        )
    if total.oldest_day:
        lines.append(f"oldest day: {total.oldest_day}")
    return "\n".join(lines) + "\n"
