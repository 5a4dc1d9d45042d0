"""Recall hooks: what they cost downstream (analyzer bytes) and at start (wall time).

1. **Bytes.** Two side-by-side copies of the recall loop (tests/recall_loop.py),
   each with its own capture proxy, stand-ins and folders: session 1 with the
   real Claude Code CLI, `make analyze-once`, then only in copy A `make hooks`,
   then session 2 (the same prompts in both, `-p` through the proxy) and
   `make analyze-once` again. The figure is the request bytes the analyzer sent
   to the extraction model for session 2 in A (with hooks: every request
   of session 2 carries the recall block) ÷ in B (without). Goal ≤ 1.02: the
   digest drops the block (analyze/recall/block.py), so recall costs nothing
   downstream.
2. **Start-up.** `python -m analyze hook session-start` (a real process, stdin
   as Claude Code sends it) over a store of 10,000 memories in 5 projects
   (index already built, as after the first hook) ÷ a bare `python -c pass` of
   the same interpreter, alternating the two, median of N rounds. Goal ≤ 6.
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import Result

ROOT = Path(__file__).resolve().parent.parent
SESSION_2 = ("How do we deploy with make ship again?", "And which indentation do we use?")
WORDS = [
    "alembic",
    "migration",
    "deploy",
    "branch",
    "pytest",
    "fixture",
    "tabs",
    "spaces",
    "lint",
    "format",
    "docker",
    "compose",
    "staging",
    "cache",
    "redis",
    "queue",
    "worker",
    "timeout",
    "retry",
    "header",
    "token",
    "schema",
    "index",
    "release",
]


def run(quick: bool) -> list[Result]:
    return [bytes_figure(), startup_figure(rounds=3 if quick else 15, memories=10_000)]


def bytes_figure() -> Result:
    from tests.proxy import find_claude

    claude = find_claude()
    name = "hooks: analyzer bytes for session 2 with ÷ without hooks"
    if claude is None:
        return Result(name, None, "<= 1.02", "the Claude Code CLI is missing: make claude-cli")
    with tempfile.TemporaryDirectory(prefix="glass-hooks-bench-") as tmp:
        sent = {
            hooked: _session_2_bytes(Path(tmp) / str(hooked), claude, hooked)
            for hooked in (True, False)
        }
    with_hooks, without = sent[True], sent[False]
    return Result(
        name,
        with_hooks[0] / without[0],
        "<= 1.02",
        f"{with_hooks[0]:,} vs {without[0]:,} B in {with_hooks[1]} vs {without[1]} calls; "
        f"the session-2 captures: {with_hooks[2]:,} vs {without[2]:,} B",
    )


def _session_2_bytes(tmp: Path, claude: str, hooked: bool) -> tuple[int, int, int]:
    """(analyzer request bytes, calls, capture bytes) for session 2 of one loop."""
    from tests.proxy import CapturingProxy, capture_files
    from tests.recall_loop import SESSION_1, Extractor, Loop, claude_model, sent_bytes
    from tests.standin import StandIn

    tmp.mkdir(parents=True)
    extractor = Extractor()
    with (
        StandIn(claude_model) as api,
        StandIn(extractor) as model,
        CapturingProxy(
            upstream_port=api.port, capture_dir=tmp / "captures", confdir=tmp / "mitm"
        ) as proxy,
    ):
        loop = Loop.create(tmp=tmp, claude_bin=claude, proxy=proxy, extractor_url=model.url)
        _check(loop.claude(SESSION_1))
        _check(loop.analyze_once())
        if hooked:
            _check(loop.hooks())
        before = set(capture_files(loop.captures))
        for prompt in SESSION_2:
            _check(loop.claude(prompt))
        time.sleep(1.0)  # the proxy's writer finishes the last files
        captured = sum(p.stat().st_size for p in capture_files(loop.captures) if p not in before)
        asked = len(extractor.requests)
        _check(loop.analyze_once())
        session_2 = extractor.requests[asked:]
        return sent_bytes(session_2), len(session_2), captured


def _check(done: subprocess.CompletedProcess[str]) -> None:
    if done.returncode != 0:
        raise RuntimeError(f"{done.args} failed ({done.returncode}):\n{done.stderr[-2000:]}")


def startup_figure(*, rounds: int, memories: int) -> Result:
    with tempfile.TemporaryDirectory(prefix="glass-hooks-bench-") as tmp:
        config = _big_store(Path(tmp), memories)
        stdin = json.dumps(
            {
                "session_id": "bench-session",
                "cwd": "/w/project-1/src",
                "hook_event_name": "SessionStart",
                "source": "startup",
            }
        ).encode()
        hook = [sys.executable, "-m", "analyze", "--config", str(config), "hook", "session-start"]
        out = subprocess.run(hook, input=stdin, capture_output=True, cwd=ROOT, check=True)
        if b"glass-memories" not in out.stdout:
            raise RuntimeError(f"the hook printed no block: {out.stdout[:300]!r}")
        bare, hooks = [], []
        for _ in range(rounds):
            bare.append(_timed([sys.executable, "-c", "pass"], b""))
            hooks.append(_timed(hook, stdin))
    b, h = statistics.median(bare), statistics.median(hooks)
    return Result(
        f"hooks: `hook session-start`, {memories:,} memories ÷ `python -c pass`",
        h / b,
        "<= 6",
        f"{h * 1000:.0f} vs {b * 1000:.0f} ms, median of {rounds}; block {len(out.stdout):,} B",
    )


def _timed(argv: list[str], stdin: bytes) -> float:
    start = time.perf_counter()
    subprocess.run(argv, input=stdin, capture_output=True, cwd=ROOT, check=True)
    return time.perf_counter() - start


def _big_store(folder: Path, count: int) -> Path:
    from analyze import store

    rng = random.Random(7)
    kinds = ("preference", "decision", "convention", "error_fix", "fact")
    rows = []
    for n in range(count):
        text = f"Memory {n}: " + " ".join(rng.choice(WORDS) for _ in range(12)) + "."
        rows.append(
            store.Memory(
                id=store.memory_id(text),
                text=text,
                kind=kinds[n % 5],
                created_at="2026-11-21T10:00:00+01:00",
                session_id=f"s{n % 50}",
                sources=("2026-11-21/001_100000_messages.json",),
                model="bench",
                project=f"/w/project-{n % 5}",
            )
        )
    captures = folder / "captures"
    captures.mkdir()
    (captures / "memories.jsonl").write_bytes(store.encode(rows))
    config = folder / "config.yaml"
    config.write_text(f"capture:\n  dir: {json.dumps(str(captures))}\n", encoding="utf-8")
    return config
