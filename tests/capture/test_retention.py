"""capture/retention.py: old day folders deleted, days cited by current memories kept."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from capture import compact, retention
from tests.capture.test_compact import names, old_day

TODAY = date(2026, 12, 1)


def memory(mid: str, *sources: str, supersedes: tuple[str, ...] = ()) -> dict:
    out = {"id": mid, "text": f"memory {mid}", "kind": "fact", "created_at": "2026-11-01T10:00"}
    out["sources"] = [f"{s}/001_100000_messages.json" for s in sources]
    if supersedes:
        out["supersedes"] = list(supersedes)
    return out


def write_store(path: Path, *records: dict) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def days(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir())


def run(root: Path, store: Path, *, dry_run=False, keep=True, after=30) -> compact.Summary:
    def retain(summary: compact.Summary) -> None:
        retention.apply(
            root,
            summary=summary,
            today=TODAY,
            delete_after_days=after,
            keep_days_with_memories=keep,
            store=store,
            dry_run=dry_run,
        )

    return compact.run(
        root,
        compress_after_days=7,
        today=TODAY,
        now=2e9,  # every file is older than an hour
        dry_run=dry_run,
        progress=False,
        retention=retain,
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "captures"
    for day in ("2026-09-01", "2026-09-02", "2026-09-03", "2026-09-04", "2026-11-05", "2026-11-30"):
        old_day(root, day, 2)
    return root


def test_old_days_go_and_a_current_memory_keeps_its_day(root, tmp_path):
    store = write_store(
        tmp_path / "memories.jsonl",
        memory("m_a", "2026-09-01"),  # current: keeps its day
        memory("m_b", "2026-09-02"),  # forgotten
        {"op": "forget", "id": "m_b", "at": "x"},
        memory("m_c", "2026-09-03"),  # superseded by m_d
        memory("m_d", "2026-11-05", supersedes=("m_c",)),
        memory("m_e", "2026-09-04"),  # forgotten, then restored: current
        {"op": "forget", "id": "m_e", "at": "x"},
        {"op": "restore", "id": "m_e", "at": "y"},
    )
    summary = run(root, store)
    assert summary.deleted_days == ["2026-09-02", "2026-09-03"]
    assert summary.kept_days == ["2026-09-01", "2026-09-04"]
    assert days(root) == ["2026-09-01", "2026-09-04", "2026-11-05", "2026-11-30"]
    assert "deleted 2 days" in summary.line() and "kept 2 old days with memories" in summary.line()
    assert store.read_text().count("\n") == 8  # memories are never deleted
    # the kept old days are compressed; the last week stays plain
    assert all(n.endswith(".gz") for n in names(root) if not n.startswith("2026-11-30"))
    assert all(n.endswith(".json") for n in names(root) if n.startswith("2026-11-30"))


def test_a_forgotten_superseder_brings_back_the_citation_of_what_it_replaced(tmp_path):
    lines = [
        json.dumps(memory("m_old", "2026-01-01")),
        json.dumps(memory("m_new", "2026-02-02", supersedes=("m_old",))),
        json.dumps({"op": "forget", "id": "m_new", "at": "x"}),
    ]
    assert retention.current_sources(lines) == {"2026-01-01/001_100000_messages.json"}


def test_without_keep_every_old_day_goes_and_null_keeps_everything(root, tmp_path):
    store = write_store(tmp_path / "memories.jsonl", memory("m_a", "2026-09-01"))
    assert run(root, store, after=None).deleted_days == []
    assert len(days(root)) == 6
    summary = run(root, store, keep=False)
    assert summary.deleted_days == ["2026-09-01", "2026-09-02", "2026-09-03", "2026-09-04"]
    assert days(root) == ["2026-11-05", "2026-11-30"]


def test_dry_run_lists_what_would_go_and_deletes_nothing(root, tmp_path, caplog):
    before = names(root)
    with caplog.at_level(logging.WARNING, logger="glass.compact"):
        summary = run(root, tmp_path / "missing.jsonl", dry_run=True)
    assert names(root) == before
    assert "would delete 4 days" in summary.line()
    assert "would delete 4 day folders: 2026-09-01, 2026-09-02, 2026-09-03, 2026-09-04" in (
        caplog.text
    )


def test_an_unreadable_store_deletes_nothing(root, tmp_path, caplog):
    store = tmp_path / "memories.jsonl"
    store.write_text(json.dumps(memory("m_a", "2026-09-01")) + "\n{torn", encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="glass.compact"):
        summary = run(root, store)
    assert summary.deleted_days == [] and len(days(root)) == 6
    assert "retention skipped" in caplog.text and "line 2 is not JSON" in caplog.text


def test_a_half_deleted_day_of_a_killed_run_is_removed(root, tmp_path):
    (root / "2026-09-01").rename(root / ".deleting-2026-09-01")
    run(root, tmp_path / "none.jsonl", after=None)
    assert not (root / ".deleting-2026-09-01").exists()


def test_the_command_applies_retention_from_the_config(root, tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"capture:\n  dir: {json.dumps(str(root))}\n  delete_after_days: 60\n"
        "  compress_after_days: null\n"
    )
    argv = [sys.executable, "-m", "capture", "--config", str(cfg), "compact"]
    dry = subprocess.run([*argv, "--dry-run"], capture_output=True, text=True, check=True)
    assert "would delete 4 days" in dry.stdout and "2026-09-01, 2026-09-02" in dry.stderr
    assert len(days(root)) == 6
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    assert "deleted 4 days" in done.stdout
    assert days(root) == ["2026-11-05", "2026-11-30"]
