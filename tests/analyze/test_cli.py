"""analyze/cli.py: exit codes, the run summary and the hints, through the real process."""

from __future__ import annotations

import dataclasses
import gzip
import json
import time
from pathlib import Path

import pytest

from analyze import cli
from tests.analyzer_harness import (
    MemoryModel,
    analyze,
    ledger_states,
    simple_capture,
    status,
    write_capture,
    write_config,
)
from tests.standin import Reply, StandIn

DAY = "2026-11-21"


def test_once_exits_1_when_captures_failed_and_0_once_they_succeed(tmp_path: Path) -> None:
    captures = tmp_path / "captures"
    for n in range(1, 4):
        write_capture(captures, f"{DAY}/{n:03d}_100000_messages.json", simple_capture(f"Fact {n}."))
    down = {"on": True}
    model = MemoryModel(fault=lambda i, r: Reply.api_error(message="down") if down["on"] else None)
    with StandIn(model) as api:
        config = write_config(tmp_path, base_url=api.url, batch_size=1, max_retries=0)
        done = analyze(config, "--once")
        assert done.returncode == 1, done.stderr
        summary = done.stderr.strip().splitlines()[-1]
        assert "3 files (0 processed, 0 quarantined, 3 failed)" in summary, done.stderr
        assert {s for s, _ in ledger_states(captures / ".analyze").values()} == {"failed"}
        down["on"] = False
        again = analyze(config, "--once")
        assert again.returncode == 0, again.stderr
        assert "3 files (3 processed, 0 quarantined, 0 failed)" in again.stderr
        # Nothing left to do is a success too.
        assert analyze(config, "--once").returncode == 0


def test_help_documents_the_exit_codes(capsys) -> None:
    try:
        cli.main(["--help"])
    except SystemExit as e:
        assert e.code == 0
    out = capsys.readouterr().out
    assert "exit codes:" in out
    for code in ("0", "1", "2"):
        assert f"\n  {code}  " in out


def test_once_waits_out_a_file_still_being_written_and_says_so(tmp_path: Path) -> None:
    captures = tmp_path / "captures"
    good = simple_capture("The port is 8042.")
    write_capture(captures, f"{DAY}/001_100000_messages.json", good)
    partial = json.dumps(simple_capture("Half written."))[:40]  # a copy in progress
    # Changed "just now" as the analyzer sees it: 5 s ahead, so that its start-up (slow on
    # a loaded machine) cannot outlast the 10 s settle time before it reads the file.
    written = time.time() + 5
    write_capture(captures, f"{DAY}/002_100000_messages.json", partial.encode(), mtime=written)
    with StandIn(MemoryModel()) as api:
        config = write_config(tmp_path, base_url=api.url, batch_size=1)
        started = time.monotonic()
        done = analyze(config, "--once")
        took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert "1 unreadable file, checked again in " in done.stderr
    assert time.time() >= written + 10, "the run should have waited for the file to settle"
    assert took >= 5
    # It ends explained: the file is quarantined, nothing is left pending or in flight.
    summary = done.stderr.strip().splitlines()[-1]
    assert "2 files (1 processed, 1 quarantined, 0 failed)" in summary, done.stderr
    assert "left pending" not in summary and "in flight" not in summary
    report = status(config)
    assert report["pending"] == 0
    (quarantined,) = report["quarantined_files"]
    assert quarantined["capture"] == f"{DAY}/002_100000_messages.json"
    assert "truncated or invalid JSON" in quarantined["reason"]


def test_the_no_memories_hint_names_the_config_in_use(tmp_path: Path) -> None:
    config = write_config(tmp_path, base_url=None, name="other.yaml")
    done = analyze(config, "list")
    assert done.returncode == 0
    assert done.stderr.strip() == f"no memories yet: run `make analyze CONFIG={config}`"


def test_list_marks_the_sources_retention_deleted_as_gone(tmp_path: Path) -> None:
    captures = tmp_path / "captures"
    kept, dropped = f"{DAY}/001_100000_messages.json", "2026-11-22/001_100000_messages.json"
    write_capture(captures, kept, simple_capture("Fact kept."))
    write_capture(captures, dropped, simple_capture("Fact dropped."))
    with StandIn(MemoryModel()) as api:
        config = write_config(tmp_path, base_url=api.url, batch_size=1)
        assert analyze(config, "--once").returncode == 0
    gz = captures / f"{kept}.gz"  # compacted: still there, under its .gz name
    gz.write_bytes(gzip.compress((captures / kept).read_bytes()))
    (captures / kept).unlink()
    (captures / dropped).unlink()  # its day deleted by retention
    out = analyze(config, "list", "--all").stdout  # --all: the two may be near-duplicates
    assert f"from {kept}\n" in out
    assert f"from {dropped} (gone)\n" in out


def test_status_prices_the_analyzer_like_the_usage_report(tmp_path: Path, capsys) -> None:
    from analyze.ledger import Call, Ledger
    from analyze.usage import database
    from glass.tokens import Tokens

    config = write_config(tmp_path, base_url=None)
    ledger = Ledger(tmp_path / "captures" / ".analyze")
    tokens = Tokens(input=20_000, cache_write_5m=1_000, cache_write_1h=4_000, output=900)
    for n in range(3):
        at = f"{DAY}T1{n}:00:00+00:00"
        ledger.record_call(
            Call(at=at, backend="anthropic", model="claude-haiku-5-5", ok=True, tokens=tokens)
        )
    ledger.close()

    assert cli.main(["status", "--config", str(config), "--json"]) == 0
    spend = json.loads(capsys.readouterr().out)
    assert cli.main(["usage", "--config", str(config), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (analyzer,) = rows
    assert analyzer["scope"] == "analyzer" and analyzer["priced_by"] == {
        "claude-haiku-5-5": "genai-prices"
    }
    # anthropic.com/pricing, Haiku 5.5 per MTok: input $0.10, 5-minute write $0.125,
    # 1-hour write $0.20, output $0.50
    one = (20_000 * 0.10 + 1_000 * 0.125 + 4_000 * 0.20 + 900 * 0.50) / 1e6
    assert spend["cost_usd"] == pytest.approx(3 * one) == analyzer["cost_usd"]
    assert spend["unpriced_models"] == []

    ledger = Ledger(tmp_path / "captures" / ".analyze")
    unknown = Call(at=f"{DAY}T13:00:00+00:00", backend="anthropic", model="claude-x", ok=True)
    ledger.record_call(dataclasses.replace(unknown, tokens=tokens))
    ledger.close()
    assert cli.main(["status", "--config", str(config)]) == 0
    (line,) = [x for x in capsys.readouterr().out.splitlines() if x.startswith("spend")]
    assert line.endswith(f"cost ? (no price for claude-x in usage.prices nor in {database.NAME})")
