"""The labelled recall set in tests/data/recall/ is what make_set.py writes, and sound."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from analyze.store import Memory, memory_id, normalize

SET = Path(__file__).resolve().parent / "data" / "recall"
KINDS = {"preference", "decision", "convention", "error_fix", "fact"}


def _lines(name: str) -> list[dict]:
    return [json.loads(line) for line in (SET / name).read_text(encoding="utf-8").splitlines()]


def test_the_files_are_what_the_generator_writes():
    done = subprocess.run(
        [sys.executable, str(SET / "make_set.py"), "--check"],
        check=False,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def test_memories_are_store_lines():
    rows = _lines("memories.jsonl")
    assert len(rows) >= 500
    for row in rows:
        memory = Memory.from_json(row)
        assert memory.to_json() == row  # exactly the store's line format
        assert memory.id == memory_id(memory.text)
        assert memory.kind in KINDS
    assert len({normalize(r["text"]) for r in rows}) == len(rows)
    projects = {r["project"] for r in rows} - {None}
    assert len(projects) >= 5
    assert any(r.get("supersedes") for r in rows)


def test_every_label_points_at_a_current_memory_of_the_prompts_project():
    memories = {r["id"]: Memory.from_json(r) for r in _lines("memories.jsonl")}
    superseded = {s for m in memories.values() for s in m.supersedes}
    prompts = _lines("prompts.jsonl")
    assert len(prompts) >= 60
    unrelated = [p for p in prompts if not p["expected"]]
    assert len(unrelated) >= len(prompts) / 3 - 1
    for p in prompts:
        for mid in p["expected"]:
            m = memories[mid]
            assert mid not in superseded, p
            assert m.project is None or (p["cwd"] + "/").startswith(m.project + "/"), p
    assert any(p["cwd"] not in {m.project for m in memories.values()} for p in prompts)
