"""glass/logpipe.py as the real process: what is piped in lands in the log, rotated by size."""

from __future__ import annotations

import subprocess
import sys

from glass.logpipe import rotate


def test_output_is_copied_and_rotated_by_size(tmp_path):
    log = tmp_path / "x.log"
    lines = b"".join(b"line %03d of the output\n" % n for n in range(200))  # 4,800 bytes
    done = subprocess.run(
        [sys.executable, "-m", "glass.logpipe", str(log), "--max-bytes", "1000", "--backups", "2"],
        input=lines,
        check=False,
        timeout=30,
    )
    assert done.returncode == 0
    assert log.stat().st_mode & 0o777 == 0o600
    kept = [tmp_path / "x.log.2", tmp_path / "x.log.1", log]
    assert all(p.stat().st_size <= 1000 for p in kept)
    assert not (tmp_path / "x.log.3").exists(), "only --backups old logs are kept"
    text = b"".join(p.read_bytes() for p in kept)
    assert lines.endswith(text), "the newest output, in order, nothing lost inside what is kept"


def test_rotate_shifts_the_old_logs(tmp_path):
    log = tmp_path / "x.log"
    for n, name in enumerate(("x.log", "x.log.1", "x.log.2")):
        (tmp_path / name).write_text(str(n))
    rotate(log, backups=3)
    assert not log.exists()
    assert [(tmp_path / f"x.log.{i}").read_text() for i in (1, 2, 3)] == ["0", "1", "2"]
