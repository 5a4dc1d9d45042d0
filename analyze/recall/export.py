"""`python -m analyze export --claude-md PATH`: a project's memories as a CLAUDE.md section.

The section sits between two marker lines:

    <!-- glass:memories:start -->
    ## What Glass remembers about this project
    ...
    <!-- glass:memories:end -->

`replace_section()` is pure bytes in, bytes out: a file with the markers gets
everything from the start marker to the end marker replaced; a file without
them gets the section appended (after a blank line). Every byte outside the
markers stays as it was: line endings (the section uses CRLF when the file
does), a missing final newline, any encoding. `write_claude_md()` writes the
result atomically (a temporary file in the same folder, fsynced, then
renamed over), keeping an existing file's mode, 0600 for a new one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path

from analyze.store import Memory
from glass.contract import MEMORY_KINDS

START = b"<!-- glass:memories:start -->"
END = b"<!-- glass:memories:end -->"

HEADINGS = {
    "preference": "Preferences",
    "decision": "Decisions",
    "convention": "Conventions",
    "error_fix": "Error fixes",
    "fact": "Facts",
}


class ExportError(Exception):
    """A CLAUDE.md that cannot be updated safely; the message is for the user."""


def render(memories: Sequence[Memory], *, newline: bytes = b"\n") -> bytes:
    """The section, markers included, memories grouped by kind in recall order."""
    lines = [
        START.decode(),
        "## What Glass remembers about this project",
        "",
        "Written by `python -m analyze export`; rerunning it replaces everything between",
        "these markers (`python -m analyze forget ID` removes a memory).",
    ]
    order = {kind: n for n, kind in enumerate(MEMORY_KINDS)}
    for kind in sorted({m.kind for m in memories}, key=lambda k: (order.get(k, len(order)), k)):
        lines += ["", f"### {HEADINGS.get(kind, kind)}", ""]
        lines += [f"- {' '.join(m.text.split())} ({m.id})" for m in memories if m.kind == kind]
    if not memories:
        lines += ["", "(no memories yet)"]
    lines.append(END.decode())
    return newline.join(line.encode() for line in lines)


def replace_section(current: bytes, memories: Sequence[Memory]) -> bytes:
    """`current` with its Glass section replaced, or one appended."""
    newline = b"\r\n" if b"\r\n" in current else b"\n"
    section = render(memories, newline=newline)
    start = current.find(START)
    if start < 0:
        if current.find(END) >= 0:
            raise ExportError(f"it has {END.decode()} but no {START.decode()} before it")
        if not current:
            return section + newline
        gap = newline if current.endswith(b"\n") else newline * 2
        return current + gap + section + newline
    end = current.find(END, start)
    if end < 0:
        raise ExportError(f"it has {START.decode()} but no {END.decode()} after it")
    if current.find(START, end) >= 0:
        raise ExportError("it has more than one Glass section")
    return current[:start] + section + current[end + len(END) :]


def write_claude_md(path: Path, *, memories: Sequence[Memory]) -> None:
    """Update (or create) the Glass section of the CLAUDE.md at `path`, atomically."""
    target = path.resolve()  # through a symlink: update the file it points to
    try:
        current = target.read_bytes()
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        current, mode = b"", 0o600
    except OSError as e:
        raise ExportError(f"{path}: cannot read: {e.strerror}") from None
    try:
        data = replace_section(current, memories)
    except ExportError as e:
        raise ExportError(f"{path}: {e}; left untouched") from None
    tmp = target.with_name(f".{target.name}.glass.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise ExportError(f"{path}: cannot write: {e.strerror}") from None
