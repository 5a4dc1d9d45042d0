"""The real proxy and compaction: numbering past compressed captures, compaction after start.

A real `mitmdump` (`python -m capture proxy`, tests/proxy.py) in front of the
stand-in API, driven by curl; compaction as the proxy runs it, in its own
low-priority process (capture/schedule.py).
"""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import pytest

from tests import corpus
from tests.e2e.test_capture_e2e import body, curl, ended
from tests.proxy import capture_files, wait_for_captures

pytestmark = pytest.mark.e2e


def test_numbering_continues_past_compressed_captures_across_a_restart(
    start_proxy, standin, capture_dir
):
    first = start_proxy(capture_dir=capture_dir)
    for _ in range(2):
        assert curl(first, "/v1/messages", data=body())[:2] == (0, 200)
    wait_for_captures(capture_dir, 2)
    first.stop()
    for path in capture_files(capture_dir):  # the day compressed while the proxy was down
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(path.read_bytes()))
        path.unlink()
    second = start_proxy(capture_dir=capture_dir)
    assert curl(second, "/v1/messages?beta=true", data=body("after restart"))[:2] == (0, 200)
    (record,) = ended(second, 1)
    names = sorted(p.name.split("_")[0] for p in capture_dir.glob("*/*_messages.json*"))
    assert names == ["001", "002", "003"]
    assert record["request"]["messages"][0]["content"] == "after restart"


def test_the_proxy_compacts_old_days_after_start_and_says_so(start_proxy, standin, capture_dir):
    old = corpus.write_sessions(capture_dir)
    proxy = start_proxy(capture_dir=capture_dir)
    assert "Glass: compaction gzips days older than 7 days, now and daily" in proxy.output()
    assert curl(proxy, "/v1/messages", data=body())[:2] == (0, 200)  # the day of today
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all(_gz(p).exists() for p in old):
        time.sleep(0.2)
    assert all(_gz(p).exists() and not p.exists() for p in old), proxy.output()
    wait_for_captures(capture_dir, 1)
    (today,) = capture_files(capture_dir)  # the current day stays plain
    assert today.name.endswith(".json")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "Glass: compact: compressed" not in proxy.output():
        time.sleep(0.1)
    assert f"Glass: compact: compressed {len(old)} files" in proxy.output()


def _gz(path: Path) -> Path:
    return path.with_name(path.name + ".gz")
