"""bench/recall_bench.py: its helpers, its quality figures on a tiny set, and a quick run.

The quick run is a smoke test: its speed figures mean nothing and are not checked.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from analyze.recall.index import MemoryIndex
from analyze.store import memory_id
from bench import recall_bench as rb
from glass.config import RecallConfig

ROOT = Path(__file__).resolve().parents[2]


def _memory(text: str, *, kind: str = "fact", project: str | None = "/p/a", **more) -> dict:
    return {
        "id": memory_id(text),
        "text": text,
        "kind": kind,
        "created_at": "2026-11-21T10:00:00.000+01:00",
        "session_id": "s1",
        "project": project,
        "sources": ["2026-11-21/001_100000_messages.json"],
        "model": "claude-haiku-5-5",
        **more,
    }


def test_scaled_gives_n_distinct_memories_with_their_supersedes_remapped():
    old = _memory("Decided to use Celery for background jobs.", kind="decision")
    new = _memory("Switched background jobs to arq.", kind="decision", supersedes=[old["id"]])
    rows = rb.scaled([old, new, _memory("The API listens on port 8000.")], 10)
    assert len(rows) == 10
    assert len({r["id"] for r in rows}) == 10
    assert all(r["id"] == memory_id(r["text"]) for r in rows)
    by_id = {r["id"]: r for r in rows}
    for r in rows:
        for s in r.get("supersedes", []):
            assert by_id[s]["text"].startswith("Decided to use Celery")
    assert {r["project"] for r in rows} == {"/p/a"}


def test_the_halves_split_the_set_fixed_and_both_hold_unrelated_prompts():
    prompts = rb.load_prompts()
    halves = {h: [p for p in prompts if rb.half(p) == h] for h in ("tuning", "held-out")}
    assert sum(map(len, halves.values())) == len(prompts)
    for part in halves.values():
        assert len(part) >= len(prompts) // 3
        assert sum(1 for p in part if not p.expected) >= 10
    assert [rb.half(p) for p in prompts] == [rb.half(p) for p in rb.load_prompts()]


def test_injected_ids_reads_the_block_lines():
    block = (
        "<glass-memories>\n"
        "- [decision] Decided to use uv (not pip-tools). (m_0123456789abcdef)\n"
        "- [fact] Port 8000 (see m_ffffffffffffffff). (m_fedcba9876543210)\n"
        "</glass-memories>\n"
    )
    assert rb.injected_ids(block) == ["m_0123456789abcdef", "m_fedcba9876543210"]
    assert rb.injected_ids("") == []


def test_quality_counts_recall_unrelated_and_other_projects(tmp_path):
    mine = _memory("Error: alembic cannot locate revision → fix: run alembic stamp head.")
    other = _memory(
        "Error: alembic autogenerate drops partitions → fix: skip them.", project="/p/b"
    )
    rb.write_store(tmp_path / "m.jsonl", [mine, other])
    index = MemoryIndex.open(store=tmp_path / "m.jsonl", state_dir=tmp_path / "state")
    prompts = [
        rb.Prompt(
            prompt="alembic cannot locate revision",
            cwd="/p/a/x",
            expected=(mine["id"],),
            case="direct",
        ),
        rb.Prompt(
            prompt="what is the capital of Australia?", cwd="/p/a", expected=(), case="unrelated"
        ),
    ]
    try:
        q = rb.quality(index, prompts, cfg=RecallConfig())
    finally:
        index.close()
    assert (q.recall, q.found, q.expected) == (1.0, 1, 1)
    assert (q.unrelated, q.unrelated_prompts) == (0.0, 1)
    assert q.other_project == 0.0  # /p/b's alembic memory is never offered in /p/a
    assert q.injected >= 1


@pytest.mark.e2e
def test_quick_recall_bench_prints_its_figures(tmp_path):
    out = tmp_path / "latest.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(out), "recall"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    for name in (
        "recall: hook session-start ÷ python -c pass",
        "recall: search ÷ python -c pass",
        "recall: hook prompt recall@3, held-out half",
        "recall: unrelated prompts injecting anything, held-out half",
        "recall: injected memories from another project, all prompts",
    ):
        assert re.search(re.escape(name) + r"\s+\d+\.\d+\s", done.stdout), done.stdout
    results = json.loads(out.read_text())["results"]
    assert all(isinstance(r["ratio"], float) and r["ratio"] >= 0 for r in results)
    speed = [r for r in results if "python -c pass" in r["name"]]
    assert len(speed) == 2 and all(r["ratio"] > 0 for r in speed)
