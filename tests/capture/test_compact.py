"""capture/compact.py: old days gzipped in place, durably, never the current day.

Real files on a real disk: the corpus sessions (tests/corpus.py, byte for byte
what the proxy writes) and synthetic days; `python -m capture compact` as a
process killed with SIGKILL at each step (capture/crashpoints.py) and at
random moments; `zgrep` as the user runs it.
"""

from __future__ import annotations

import errno
import gzip
import json
import logging
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from capture import compact
from tests import corpus

TODAY = date(2026, 12, 1)
HOUR_AGO = time.time() - 2 * 3600


def tree(root: Path) -> dict[str, bytes]:
    """Every capture under `root` by identity, its JSON bytes; fails on a capture present twice
    with different content or unreadable."""
    out: dict[str, bytes] = {}
    for path in sorted(root.glob("*/*")):
        name = path.name
        if name.startswith("."):
            continue
        ident = f"{path.parent.name}/{name.removesuffix('.gz')}"
        data = gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()
        json.loads(data)
        assert out.setdefault(ident, data) == data, f"{ident} twice, differently"
        out[ident] = data
    return out


def names(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.glob("*/*"))


def old_day(root: Path, day: str, count: int, *, text: str = "hello") -> list[Path]:
    folder = root / day
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for n in range(1, count + 1):
        path = folder / f"{n:03d}_100000_messages.json"
        doc = {"captured_at": f"{day}T10:00:00.000+00:00", "url": "u", "request": {"t": text}}
        path.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        os.utime(path, (HOUR_AGO, HOUR_AGO))
        written.append(path)
    return written


def run(root: Path, **kw) -> compact.Summary:
    kw.setdefault("compress_after_days", 7)
    return compact.run(root, today=TODAY, now=time.time(), progress=False, **kw)


def test_corpus_days_are_compressed_in_place_with_the_same_bytes_mode_and_mtime(tmp_path):
    root = tmp_path / "captures"
    paths = corpus.write_sessions(root)
    before = tree(root)
    mtimes = {p.name: p.stat().st_mtime_ns for p in paths}
    summary = run(root)
    assert tree(root) == before
    on_disk = names(root)
    assert on_disk and all(n.endswith(".json.gz") for n in on_disk)
    assert summary.files == len(paths) and summary.bytes_before == sum(map(len, before.values()))
    assert summary.bytes_after == sum(p.stat().st_size for p in root.glob("*/*.gz"))
    for p in root.glob("*/*.gz"):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
        assert p.stat().st_mtime_ns == mtimes[p.name.removesuffix(".gz")]
    line = summary.line()
    assert line.startswith(f"compact: compressed {len(paths)} files, ") and " -> " in line


def test_never_the_current_day_nor_a_recent_file_and_idempotent(tmp_path):
    root = tmp_path / "captures"
    old_day(root, "2026-12-01", 2)  # today
    old_day(root, "2026-12-02", 1)  # a clock that went back
    old_day(root, "2026-11-30", 2)  # yesterday: not older than 1 day
    (fresh, _settled) = old_day(root, "2026-11-29", 2)
    os.utime(fresh, None)  # modified just now: an exchange may be in flight
    summary = run(root, compress_after_days=1)
    assert summary.files == 1
    assert names(root) == [
        "2026-11-29/001_100000_messages.json",
        "2026-11-29/002_100000_messages.json.gz",
        "2026-11-30/001_100000_messages.json",
        "2026-11-30/002_100000_messages.json",
        "2026-12-01/001_100000_messages.json",
        "2026-12-01/002_100000_messages.json",
        "2026-12-02/001_100000_messages.json",
    ]
    snapshot = {p: p.stat().st_mtime_ns for p in root.glob("*/*")}
    again = run(root, compress_after_days=1)
    assert again.files == 0 and again.cleaned == 0
    assert {p: p.stat().st_mtime_ns for p in root.glob("*/*")} == snapshot


def test_null_turns_compression_off(tmp_path):
    root = tmp_path / "captures"
    old_day(root, "2020-01-01", 2)
    assert run(root, compress_after_days=None).files == 0
    assert all(n.endswith(".json") for n in names(root))


def test_a_file_that_does_not_parse_is_left_and_reported(tmp_path, caplog):
    root = tmp_path / "captures"
    _good, bad = old_day(root, "2026-11-01", 2)
    bad.write_bytes(b'{"captured_at": "x", "url": ')
    os.utime(bad, (HOUR_AGO, HOUR_AGO))
    with caplog.at_level(logging.WARNING, logger="glass.compact"):
        summary = run(root)
    assert summary.unparsable == ["2026-11-01/002_100000_messages.json"]
    assert names(root) == ["2026-11-01/001_100000_messages.json.gz", f"2026-11-01/{bad.name}"]
    assert "left 2026-11-01/002_100000_messages.json as it is" in caplog.text
    assert "left 1 that do not parse" in summary.line()


def test_leftovers_of_a_dead_run_are_cleaned(tmp_path):
    root = tmp_path / "captures"
    a, b, c = old_day(root, "2026-11-01", 3)
    (root / "2026-11-01" / f".{a.name}.gz.tmp").write_bytes(b"\x1f\x8b half")
    b.with_name(b.name + ".gz").write_bytes(gzip.compress(b.read_bytes()))  # a complete twin
    c.with_name(c.name + ".gz").write_bytes(gzip.compress(b"{}"))  # a twin that differs
    before = tree_plain_first(root)
    summary = run(root)
    assert summary.cleaned == 2
    assert names(root) == [
        f"2026-11-01/{a.name}.gz",
        f"2026-11-01/{b.name}.gz",
        f"2026-11-01/{c.name}",  # left plain: its twin is not its content
        f"2026-11-01/{c.name}.gz",
    ]
    assert gzip.decompress((root / "2026-11-01" / f"{a.name}.gz").read_bytes()) == before[a.name]


def tree_plain_first(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in root.glob("*/*.json")}


def test_a_full_disk_leaves_the_plain_file_removes_the_temp_and_logs_one_error(tmp_path, caplog):
    root = tmp_path / "captures"
    old_day(root, "2026-11-01", 3)
    old_day(root, "2026-11-02", 2)

    def full_at_the_third(tmp: Path, data: bytes, mtime_ns: int) -> None:
        # The real write, but the disk fills up in the middle of the third file.
        if tmp.name.startswith(".003_"):
            tmp.write_bytes(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        compact._write_temp(tmp, data, mtime_ns)

    with caplog.at_level(logging.WARNING, logger="glass.compact"):
        summary = run(root, write_temp=full_at_the_third)
    assert summary.disk_full and summary.files == 2 and "stopped: disk full" in summary.line()
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    assert "disk full" in caplog.records[0].getMessage()
    assert names(root) == [
        "2026-11-01/001_100000_messages.json.gz",
        "2026-11-01/002_100000_messages.json.gz",
        "2026-11-01/003_100000_messages.json",
        "2026-11-02/001_100000_messages.json",
        "2026-11-02/002_100000_messages.json",
    ]
    assert not list(root.glob("*/.*"))
    assert len(tree(root)) == 5


def test_dry_run_changes_nothing_and_says_what_it_would_do(tmp_path):
    root = tmp_path / "captures"
    old_day(root, "2026-11-01", 3)
    before = names(root)
    summary = run(root, dry_run=True)
    assert names(root) == before
    assert summary.line().startswith("compact: would compress 3 files, ")


def test_a_second_compaction_on_the_same_folder_waits_its_turn(tmp_path):
    root = tmp_path / "captures"
    old_day(root, "2026-11-01", 1)
    fd = compact.lock(root)
    try:
        with pytest.raises(compact.Locked):
            run(root)
    finally:
        os.close(fd)
    assert run(root).files == 1


def test_zgrep_finds_a_non_ascii_string_in_a_compressed_capture(tmp_path):
    root = tmp_path / "captures"
    old_day(root, "2026-11-01", 2, text="Viele Grüße aus Köln")
    run(root)
    found = subprocess.run(
        ["zgrep", "-l", "Grüße", *sorted(map(str, root.glob("*/*.gz")))],
        capture_output=True,
        text=True,
        check=True,
    )
    assert found.stdout.splitlines() == sorted(map(str, root.glob("*/*.gz")))
    zcat = subprocess.run(
        ["zcat", str(next(root.glob("*/001_*.gz")))], capture_output=True, check=True
    )
    assert "Viele Grüße aus Köln".encode() in zcat.stdout


# -- kill -9 ---------------------------------------------------------------------------


STEPS = ["compact-temp", "compact-link", "compact-dirsync", "compact-unlink"]


def write_cfg(tmp_path: Path, root: Path) -> Path:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"capture:\n  dir: {json.dumps(str(root))}\n  compress_after_days: 7\n")
    return cfg


def compact_proc(cfg: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "capture", "--config", str(cfg), "compact"],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("step", STEPS)
def test_kill_9_at_each_step_loses_and_duplicates_nothing(tmp_path, step):
    root = tmp_path / "captures"
    corpus.write_sessions(root)
    before = tree(root)
    cfg = write_cfg(tmp_path, root)
    proc = compact_proc(cfg, GLASS_CRASH_AT=step)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert tree(root) == before  # every capture once, readable as .json or .json.gz
    done = compact_proc(cfg)
    out, err = done.communicate(timeout=60)
    assert done.returncode == 0, err
    assert tree(root) == before
    assert all(n.endswith(".json.gz") for n in names(root))
    assert not [p for p in root.rglob(".*")]  # no temp, no lock file
    assert "compact: compressed" in out


def test_kill_9_at_random_moments_loses_and_duplicates_nothing(tmp_path):
    root = tmp_path / "captures"
    corpus.write_sessions(root)
    for day in [f"2026-10-{d:02d}" for d in range(1, 11)]:
        shutil.copytree(root / "2025-05-29", root / day)  # copy2 keeps the old mtimes
    before = tree(root)
    cfg = write_cfg(tmp_path, root)
    rng = random.Random(12)
    interrupted = mixed = 0
    for _ in range(6):
        # Kill once a random share of what is left has been compressed: a moment chosen by
        # progress, not by time, so a fast machine cannot finish before the kill.
        gz_at_start = len([n for n in names(root) if n.endswith(".gz")])
        left = len([n for n in names(root) if n.endswith(".json")])
        target = gz_at_start + rng.randint(1, max(1, left // 2))
        proc = compact_proc(cfg)
        while proc.poll() is None and len([n for n in names(root) if n.endswith(".gz")]) < target:
            time.sleep(0.001)
        interrupted += proc.poll() is None
        proc.kill()
        proc.communicate(timeout=60)
        assert tree(root) == before
        kinds = {n.endswith(".gz") for n in names(root)}
        mixed += kinds == {True, False}
    assert interrupted >= 2 and mixed >= 1  # the kills did land mid-run
    done = compact_proc(cfg)
    done.communicate(timeout=60)
    assert tree(root) == before and all(n.endswith(".gz") for n in names(root))
