"""Facts of the file contract between the stages, in code, each stated once.

README.md ("Capture file format") is the contract; this module is its
machine-readable part. `capture/` writes by these facts and `analyze/` (and
the viewer, and the tests) read by them, without importing each other.
"""

from __future__ import annotations

import re
from typing import Any, Final

DAY_FOLDER: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
"""A day folder under the captures folder: the local date of the requests in it."""

CAPTURE_NAME: Final = re.compile(r"^(\d{3,})_(\d{6})_([A-Za-z0-9_.-]+?)\.json(\.gz)?$")
"""A capture file's name: NNN (the day's counter), HHMMSS (local time), the endpoint,
and `.gz` when compaction has compressed it (group 4)."""

COMPRESSED_SUFFIX: Final = ".gz"
"""What compaction appends to a capture's name: the file is then gzip of the same JSON."""


def capture_identity(name: str) -> str:
    """A capture's identity: its name (or day-relative path) without `.gz`.

    `001_142233_messages.json` and `001_142233_messages.json.gz` are the same
    capture, before and after compaction; ledgers and dedup key by this.
    """
    return name.removesuffix(COMPRESSED_SUFFIX)


ANALYZER_HEADER: Final = "x-glass-analyzer"
"""Request header of Glass's own analyzer calls: the capture proxy never records them."""

REDACTED: Final = "[REDACTED]"
"""What a credential header's value is replaced by in a capture file."""

MEMORIES_FILE: Final = "memories.jsonl"
"""The memory store's default name, inside the captures folder."""

STATE_DIR: Final = ".analyze"
"""The analyzer's default state folder, inside the captures folder."""

MEMORY_KINDS: Final = ("preference", "decision", "convention", "error_fix", "fact")
"""The kinds a memory can have, in the order recall ranks them."""

PROXY_READY = "Glass: capturing POST"
"""The start of the line the capture addon logs once it is configured; what a proxy started
in the background (glass/procs.py) and the tests' proxy (tests/proxy.py) wait for."""


def without_cache_control(value: Any) -> Any:
    """`value` (a request's blocks, messages, system or tools) without its `cache_control` keys.

    Claude Code moves its prompt-cache markers from block to block between requests, so the
    same content carries them in one request and not in the next: comparisons of content
    (the analyzer's block hashes, the viewer's diff) ignore them.
    """
    if isinstance(value, dict):
        return {k: without_cache_control(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [without_cache_control(v) for v in value]
    return value
