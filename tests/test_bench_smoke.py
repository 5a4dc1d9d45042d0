"""`python -m bench --quick <name>` runs end to end and prints its ratios.

A smoke test only: the figures of a quick run mean nothing, so they are not checked.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent


def test_quick_capture_bench_prints_its_ratios(tmp_path):
    out = tmp_path / "latest.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(out), "capture"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    ratio = r"\s+\d+\.\d+\s"
    for name in (
        "capture: stream first byte ÷ stream length",
        "reference: plain mitmdump (buffers)",
        "reference: direct, no proxy",
        "capture: throughput ÷ plain mitmdump, JSON replies",
        "capture: throughput ÷ plain mitmdump, SSE replies",
    ):
        assert re.search(re.escape(name) + ratio, done.stdout), (
            f"no ratio for {name!r}:\n{done.stdout}"
        )
    results = json.loads(out.read_text())["results"]
    assert len(results) == (6 if Path("/dev/shm").is_dir() else 5)  # + the tmpfs reference
    assert all(isinstance(r["ratio"], float) and r["ratio"] > 0 for r in results)
    assert {r["goal"] for r in results} == {"<= 0.05", ">= 0.95", None}


@pytest.mark.parametrize(
    "name,figures",
    [
        (
            "analyze",
            [
                "analyze: input bytes / capture bytes",
                "analyze: preprocessing / json.loads",
                "analyze: peak RSS",
            ],
        ),
        ("usage", ["usage: report throughput ÷ json.loads"]),
        (
            "bedrock",
            [
                "capture: Bedrock event stream first byte ÷ stream length",
                "reference: Bedrock through plain mitmdump (buffers)",
                "reference: Bedrock direct, no proxy",
            ],
        ),
        (
            "view",
            [
                "view: session page, index cold ÷ json.load of its 30 files",
                "view: session page, warm ÷ json.load of its last file",
                "view: session list over 640 captures, warm ÷ os.scandir",
                "view: peak RSS after opening the session ÷ RSS at start",
            ],
        ),
        ("sse", ["sse: reassembly throughput ÷ the SDK's accumulator"]),
        ("backlog", ["analyze --once: 100 captures in 10 sessions / json.loads"]),
        (
            "compact",
            [
                "compaction: disk after / before, corpus sessions",
                "compaction: disk after / before, 3-day synthetic 2.x set",
                "analyze --once: 100 compressed captures / the same plain",
                "compaction MB/s / gzip -6 on the command line",
            ],
        ),
    ],
)
def test_quick_analyzer_and_usage_benches_print_their_ratios(tmp_path, name, figures):
    out = tmp_path / "latest.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(out), name],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    for figure in figures:
        assert re.search(re.escape(figure) + r".*?\s+\d+\.\d+\s", done.stdout), done.stdout
    results = json.loads(out.read_text())["results"]
    assert all(isinstance(r["ratio"], float) and r["ratio"] > 0 for r in results)
