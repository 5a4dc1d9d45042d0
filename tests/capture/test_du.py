"""capture/du.py: bytes on disk per day or session, plain and compressed."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

from capture import du
from tests import corpus


def sessions(root: Path) -> list[Path]:
    paths = corpus.write_session(root, corpus.SESSION_2X)  # 7 captures of one 2.x session
    paths += corpus.write_session(root, corpus.SESSION_1058, start_number=500)
    for p in paths[:3]:  # part of it compressed, as compaction leaves it
        p.with_name(p.name + ".gz").write_bytes(gzip.compress(p.read_bytes()))
        p.unlink()
    (paths[3].parent / "notes.txt").write_text("not a capture")
    return paths


def test_by_day_sums_the_files_plain_and_compressed(tmp_path):
    root = tmp_path / "captures"
    sessions(root)
    rows, total = du.disk_usage(root)
    on_disk = {
        p.parent.name: [q for q in p.parent.iterdir() if q.name[0].isdigit()]
        for p in root.glob("*/*")
    }
    assert [r.key for r in rows] == sorted(on_disk)
    for r in rows:
        files = on_disk[r.key]
        gz = [f for f in files if f.name.endswith(".gz")]
        assert r.compressed_files == len(gz) and r.plain_files == len(files) - len(gz)
        assert r.bytes == sum(f.stat().st_size for f in files)
        assert r.compressed_bytes == sum(f.stat().st_size for f in gz)
    assert total.bytes == sum(r.bytes for r in rows) and total.oldest_day == rows[0].key


def test_by_session_names_each_session_largest_first(tmp_path):
    root = tmp_path / "captures"
    sessions(root)
    (root / "2025-11-24" / "900_000000_messages.json.gz").write_bytes(b"not gzip")
    rows, total = du.disk_usage(root, by="session")
    keys = {r.key: r for r in rows}
    two_x = keys["02892a0f-c3e4-475b-a71a-53023a3f8b6d"]
    assert (two_x.compressed_files, two_x.plain_files) == (3, 4)
    assert keys[du.UNREADABLE].compressed_files == 1
    assert [r.bytes for r in rows] == sorted((r.bytes for r in rows), reverse=True)
    assert total.plain_files + total.compressed_files == 7 + 2 + 1


def test_the_command_prints_a_table_or_json_lines(tmp_path):
    root = tmp_path / "captures"
    sessions(root)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"capture:\n  dir: {json.dumps(str(root))}\n")
    argv = [sys.executable, "-m", "capture", "--config", str(cfg), "du"]
    table = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    assert table.splitlines()[0].split() == ["day", "plain", "MB", "gzip", "MB", "total", "MB"]
    assert table.splitlines()[-2].startswith("total") and "oldest day: " in table
    lines = subprocess.run(
        [*argv, "--json", "--by", "session"], capture_output=True, text=True, check=True
    )
    rows = [json.loads(line) for line in lines.stdout.splitlines()]
    assert rows[-1]["key"] == "total" and rows[-1]["bytes"] == sum(r["bytes"] for r in rows[:-1])


def test_make_status_shows_the_disk_in_one_line(tmp_path):
    root = tmp_path / "captures"
    paths = sessions(root)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"capture:\n  dir: {json.dumps(str(root))}\n")
    argv = [sys.executable, "-m", "capture", "--config", str(cfg), "du", "--summary"]
    line = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    files = [p for p in root.glob("*/*") if p.name[0].isdigit()]
    gz = [p for p in files if p.name.endswith(".gz")]
    assert len(line.splitlines()) == 1
    assert f"{len(files) - len(gz):,} plain" in line and f"{len(gz):,} gzipped" in line
    assert f"oldest day {min(p.parent.name for p in paths)}" in line
    assert str(root) in line
    (tmp_path / "empty").mkdir()
    cfg.write_text(f"capture:\n  dir: {json.dumps(str(tmp_path / 'empty'))}\n")
    empty = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    assert "no captures yet" in empty
