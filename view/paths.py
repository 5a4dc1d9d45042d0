"""Path parameters checked before any file is opened: only capture files, only under the
captures folder.

A `day` must be a day folder's name and a `name` a capture file's name (glass.contract), so
`..`, slashes, NUL bytes and any other file are refused; the result, symlinks resolved, must
still lie inside the captures folder.
"""

from __future__ import annotations

from pathlib import Path

from glass.contract import CAPTURE_NAME, COMPRESSED_SUFFIX, DAY_FOLDER, capture_identity


def capture_file(root: Path, day: str, name: str) -> Path | None:
    """The capture file `day/name` under `root` (plain, else its `.gz`), or None."""
    if not DAY_FOLDER.match(day) or not CAPTURE_NAME.match(name) or "/" in name or "\\" in name:
        return None
    base = root.resolve()
    identity = capture_identity(name)
    for candidate in (identity, identity + COMPRESSED_SUFFIX):
        path = (root / day / candidate).resolve()
        if not path.is_relative_to(base) or path.parent.parent != base:
            return None
        if path.is_file():
            return path
    return None


def rel_of(day: str, name: str) -> str:
    """A capture's identity from its URL parts (after `capture_file` accepted them)."""
    return f"{day}/{capture_identity(name)}"
