"""`python -m glass.logpipe PATH`: copy stdin to a log file rotated by size.

A background process (the proxy or the analyzer, started by `glass.procs.spawn`)
writes its output into a pipe; this process reads it and appends it to PATH
(0600). When PATH passes `--max-bytes`, it becomes PATH.1 (PATH.1 becomes
PATH.2, …, up to `--backups`) and a new PATH starts. It exits when every writer
has closed the pipe, i.e. when the process it logs for (and its children) ended.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 3


def rotate(path: Path, *, backups: int) -> None:
    """PATH -> PATH.1 -> … -> PATH.<backups> (the oldest is dropped)."""
    for n in range(backups - 1, 0, -1):
        older = path.with_name(f"{path.name}.{n}")
        if older.exists():
            os.replace(older, path.with_name(f"{path.name}.{n + 1}"))
    if path.exists():
        os.replace(path, path.with_name(f"{path.name}.1"))


def _open(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)


def copy(source: int, path: Path, *, max_bytes: int, backups: int) -> None:
    """Append everything readable from the fd `source` to `path`, rotating by size at a line
    end (a line longer than `max_bytes` is cut)."""
    fd = _open(path)
    size = os.fstat(fd).st_size
    try:
        while chunk := os.read(source, 65536):
            while chunk:
                if size >= max_bytes:
                    os.close(fd)
                    rotate(path, backups=backups)
                    fd, size = _open(path), 0
                piece = chunk[: max_bytes - size]
                if len(piece) < len(chunk):
                    cut = piece.rfind(b"\n")
                    if cut < 0 and size:
                        size = max_bytes  # the line does not fit: a new file first
                        continue
                    piece = piece[: cut + 1] if cut >= 0 else piece
                os.write(fd, piece)
                size += len(piece)
                chunk = chunk[len(piece) :]
    finally:
        os.close(fd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m glass.logpipe", description=__doc__)
    parser.add_argument("path", type=Path)
    parser.add_argument("--max-bytes", type=int, default=MAX_BYTES)
    parser.add_argument("--backups", type=int, default=BACKUPS)
    args = parser.parse_args(argv)
    # The logged process is stopped by SIGTERM/SIGINT; this one ends at the pipe's end,
    # so that the process's last words (its shutdown messages) still reach the log.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    copy(sys.stdin.fileno(), args.path, max_bytes=args.max_bytes, backups=args.backups)
    return 0


if __name__ == "__main__":
    sys.exit(main())
