"""Retention: whole day folders older than `capture.delete_after_days` are deleted.

`python -m capture compact` applies it before compressing (capture/compact.py).
With `capture.keep_days_with_memories`, a day that a *current* memory cites in
its `sources` is kept. The memory store is read here as plain JSON lines (the
capture stage does not import the analyzer; README "The memory store" is the
format): a memory is current when it is not forgotten (the last of its
forget/restore records is not a forget) and no memory that is not forgotten
supersedes it. A store that cannot be read stops retention for this run:
nothing is deleted on a guess. Memories are never deleted.

A day goes in two steps: renamed to `.deleting-<day>` (readers never see a
half-deleted day), then removed; a leftover of a killed run is removed next
time.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from capture.compact import Summary, days_older_than
from capture.files import fsync_dir

logger = logging.getLogger("glass.compact")

DELETING = ".deleting-"


class StoreUnreadable(Exception):
    """memories.jsonl has a line that is not a JSON object: which days it cites is unknown."""


def current_sources(lines: Iterable[str]) -> set[str]:
    """The `sources` of the current memories among the store's lines."""
    memories: dict[str, dict] = {}
    forgotten: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise StoreUnreadable(f"line {number} is not JSON") from None
        if not isinstance(record, dict) or not isinstance(record.get("id"), str):
            raise StoreUnreadable(f"line {number} is not a memory or curation record")
        if record.get("op") == "forget":
            forgotten.add(record["id"])
        elif record.get("op") == "restore":
            forgotten.discard(record["id"])
        elif "op" not in record:
            memories.setdefault(record["id"], record)
    superseded = {
        old
        for mid, m in memories.items()
        if mid not in forgotten
        for old in (m.get("supersedes") or ())
    }
    return {
        source
        for mid, m in memories.items()
        if mid not in forgotten and mid not in superseded
        for source in (m.get("sources") or ())
        if isinstance(source, str)
    }


def cited_days(store: Path) -> set[str]:
    """Day folders (`YYYY-MM-DD`) that a current memory in `store` cites."""
    try:
        with open(store, encoding="utf-8") as f:
            sources = current_sources(f)
    except FileNotFoundError:
        return set()
    except UnicodeDecodeError as e:
        raise StoreUnreadable(f"not UTF-8 at byte {e.start}") from None
    return {s.split("/", 1)[0] for s in sources}


def apply(
    root: Path,
    *,
    summary: Summary,
    today: date,
    delete_after_days: int | None,
    keep_days_with_memories: bool,
    store: Path,
    dry_run: bool,
) -> None:
    """Delete (or, with dry_run, list) the day folders retention says go; fills `summary`."""
    if not dry_run:
        _remove_leftovers(root)
    if delete_after_days is None:
        return
    days = days_older_than(root, today=today, days=delete_after_days)
    if not days:
        return
    keep: set[str] = set()
    if keep_days_with_memories:
        try:
            keep = cited_days(store)
        except (StoreUnreadable, OSError) as e:
            logger.error("retention skipped: cannot read %s: %s", store, e)
            return
    summary.kept_days = [d for d in days if d in keep]
    doomed = [d for d in days if d not in keep]
    if not doomed:
        return
    summary.deleted_days = doomed
    summary.deleted_bytes = sum(_size(root / d) for d in doomed)
    verb = "would delete" if dry_run else "deleting"
    logger.warning(
        "retention (capture.delete_after_days: %d) %s %d day folder%s: %s",
        delete_after_days,
        verb,
        len(doomed),
        "" if len(doomed) == 1 else "s",
        ", ".join(doomed),
    )
    if dry_run:
        return
    for day in doomed:
        gone = root / f"{DELETING}{day}"
        os.rename(root / day, gone)
        fsync_dir(root)
        shutil.rmtree(gone)


def _remove_leftovers(root: Path) -> None:
    for entry in os.scandir(root):
        if entry.name.startswith(DELETING) and entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)


def _size(folder: Path) -> int:
    return sum(e.stat().st_size for e in os.scandir(folder) if e.is_file(follow_symlinks=False))
