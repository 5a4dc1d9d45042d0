"""capture/schedule.py: compaction now and then every interval, in a low-priority child."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path

from capture import schedule
from glass.config import load_config
from tests.capture.test_compact import old_day


def config_file(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"capture:\n  dir: {json.dumps(str(tmp_path / 'captures'))}\n{extra}")
    return path


def wait(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not condition():
        time.sleep(0.05)
    return condition()


def test_runs_now_then_every_interval_and_stops(tmp_path, caplog):
    cfg = config_file(tmp_path)
    root = tmp_path / "captures"
    old_day(root, "2020-01-01", 2)
    with caplog.at_level(logging.INFO, logger="glass.capture"):
        sched = schedule.Schedule(schedule.compact_command(cfg), interval_s=0.5).start()
        try:
            assert wait(lambda: sched.runs >= 1)
            assert sorted(p.name for p in (root / "2020-01-01").iterdir()) == [
                "001_100000_messages.json.gz",
                "002_100000_messages.json.gz",
            ]
            old_day(root, "2020-01-02", 1)  # a day that became old meanwhile
            assert wait(lambda: (root / "2020-01-02" / "001_100000_messages.json.gz").exists())
        finally:
            sched.stop()
    assert not sched._thread.is_alive()
    assert "Glass: compact: compressed 2 files" in caplog.text


def test_the_child_runs_at_idle_priority(tmp_path):
    marker = tmp_path / "policy"
    code = (
        "import os,sys; open(sys.argv[1],'w').write("
        "f'{os.sched_getscheduler(0)} {os.getpriority(os.PRIO_PROCESS, 0)}')"
    )
    sched = schedule.Schedule([sys.executable, "-c", code, str(marker)], interval_s=60).start()
    try:
        assert wait(lambda: sched.runs >= 1)
    finally:
        sched.stop()
    policy, nice = map(int, marker.read_text().split())
    assert policy == os.SCHED_IDLE or nice == 19


def test_proxy_args_and_the_start_line_say_what_compaction_does(tmp_path):
    config = load_config(config_file(tmp_path))
    assert schedule.proxy_args(config) == [
        "--set",
        f"capture_compact_config={(tmp_path / 'config.yaml').absolute()}",
    ]
    assert schedule.describe(config).startswith(
        "compaction gzips days older than 7 days, now and daily"
    )
    both = load_config(config_file(tmp_path, "  delete_after_days: 90\n"))
    assert "and deletes days older than 90 days (keeping days memories cite)" in (
        schedule.describe(both)
    )
    off = load_config(config_file(tmp_path, "  compress_after_days: null\n"))
    assert schedule.proxy_args(off) == []
    assert schedule.describe(off) == (
        "compaction off (compress_after_days and delete_after_days are null)"
    )
