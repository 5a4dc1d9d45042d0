"""Benchmark of recall (issue 8): how fast the hooks and search start, and what `hook prompt` injects.

Speed, each ÷ a bare `python -c pass` of the same interpreter (the floor of
any hook Claude Code runs), real subprocesses, alternating in one run:

1. `python -m analyze hook session-start` (the SessionStart JSON on stdin,
   cwd inside a project) over a 10,000-memory store: the labelled set below
   scaled up (`scaled()`: the 509 memories again and again in the same five
   projects, each copy with its own text and id, so one project holds about
   2,000). The index is built once before timing, as it is after the first
   hook of a day; every timed run still opens it and checks it is up to date.
2. `python -m analyze search QUERY` over the same store.

Each round times bare, hook and search back to back; a figure is the median
of the per-round ratios. Each run's output is checked (the block and a
known id), so a hook that fails silently cannot look fast.

Quality, on the labelled set in tests/data/recall (README.txt there):
509 memories over five projects and 106 prompts, each labelled with the
memories it should bring back, or none. For every prompt,
`analyze.recall.select.prompt_block()` runs in-process with the default
`RecallConfig` (`already` empty: the prompt hook on its own) and the ids in
the block are compared with the labels:

- recall@k: of the expected memories, the share the block holds
  (k = `recall.prompt_limit`);
- unrelated: of the prompts that expect nothing, the share that inject
  anything;
- other project: of the injected memories, the share that belong to a
  project other than the prompt's (memories without a project are
  cross-project and count as the prompt's).

The prompts are split into a tuning half and a held-out half by a hash of
their text (`half()`); the goals are read on the held-out half, which the
defaults were not tuned on. Reference figures: the tuning half, and the
whole loop (memories given at session start count as recalled, and the
prompt hook leaves them out, as in a real session). A few prompts also go
through the real `hook prompt` subprocess, which must inject the same ids.

    python -m bench recall [--quick]
    python -m bench.recall_bench [--quick]
    python -m bench.recall_bench --sweep     # the tuning table (see `sweep()`)
    python -m bench.recall_bench --growth    # the defaults as the store grows (`growth()`)
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyze.recall import block, select
from analyze.recall.index import MemoryIndex, project_for
from analyze.store import memory_id
from bench import Result
from glass.config import RecallConfig

ROOT = Path(__file__).resolve().parent.parent
SET = ROOT / "tests" / "data" / "recall"
MEMORIES = 10_000
QUICK_MEMORIES = 1_000
START_GOAL = "<= 6"
RECALL_GOAL = ">= 0.9"
UNRELATED_GOAL = "<= 0.1"
OTHER_PROJECT_GOAL = "<= 0"
HOOK_PROJECT = "/home/dev/shop-api"
SEARCH_QUERY = "alembic migration downgrade"


@dataclass(frozen=True, kw_only=True)
class Prompt:
    prompt: str
    cwd: str
    expected: tuple[str, ...]
    case: str


@dataclass(frozen=True, kw_only=True)
class Quality:
    recall: float
    """Of the expected memories, the share injected."""
    found: int
    expected: int
    unrelated: float
    """Of the prompts expecting nothing, the share that injected something."""
    unrelated_injecting: int
    unrelated_prompts: int
    other_project: float
    """Of the injected memories, the share from another project."""
    injected: int
    precision: float
    """Of the injected memories, the share expected (a reference)."""


# -- the labelled set ---------------------------------------------------------------------


def load_memories(path: Path = SET / "memories.jsonl") -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def load_prompts(path: Path = SET / "prompts.jsonl") -> list[Prompt]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        out.append(
            Prompt(prompt=d["prompt"], cwd=d["cwd"], expected=tuple(d["expected"]), case=d["case"])
        )
    return out


def half(prompt: Prompt) -> str:
    """`tuning` or `held-out`, fixed by a hash of the prompt's text."""
    return ("tuning", "held-out")[hashlib.sha256(prompt.prompt.encode()).digest()[0] % 2]


def scaled(memories: Sequence[dict], n: int) -> list[dict]:
    """n memories: copies of `memories` in the same projects, each copy's texts and ids its own."""
    out: list[dict] = []
    copy = 0
    while len(out) < n:
        ids: dict[str, str] = {}
        for m in memories:
            text = m["text"] if copy == 0 else f"{m['text']} (again, {copy})"
            ids[m["id"]] = memory_id(text)
            row = {**m, "id": ids[m["id"]], "text": text}
            if m.get("supersedes"):
                row["supersedes"] = [ids[s] for s in m["supersedes"]]
            out.append(row)
            if len(out) == n:
                break
        copy += 1
    return out


def write_store(path: Path, memories: Iterable[dict]) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in memories)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(data)


# -- quality ------------------------------------------------------------------------------


def injected_ids(text: str) -> list[str]:
    """The memory ids in an injected block (or a hook's JSON output), in order."""
    if text.lstrip().startswith("{"):
        text = json.loads(text)["hookSpecificOutput"]["additionalContext"]
    return list(block.ids_in(text))


def quality(
    index: MemoryIndex,
    prompts: Sequence[Prompt],
    *,
    cfg: RecallConfig,
    with_session: bool = False,
) -> Quality:
    """The figures of `prompt_block()` over `prompts` (see the module doc)."""
    projects = {m.id: m.project for m in index.current()}
    known = index.projects()
    found = expected = unrelated = unrelated_injecting = injected = other = hits = 0
    for p in prompts:
        already: set[str] = set()
        if with_session:
            already = set(injected_ids(select.session_block(index, cwd=p.cwd, cfg=cfg)))
        got = injected_ids(
            select.prompt_block(index, cwd=p.cwd, prompt=p.prompt, cfg=cfg, already=already)
        )
        own = project_for(p.cwd, known)
        injected += len(got)
        other += sum(1 for mid in got if projects.get(mid) not in (own, None))
        hits += sum(1 for mid in got if mid in p.expected)
        recalled = set(got) | already
        if p.expected:
            expected += len(p.expected)
            found += len(recalled & set(p.expected))
        else:
            unrelated += 1
            unrelated_injecting += bool(got)
    return Quality(
        recall=found / expected if expected else 1.0,
        found=found,
        expected=expected,
        unrelated=unrelated_injecting / unrelated if unrelated else 0.0,
        unrelated_injecting=unrelated_injecting,
        unrelated_prompts=unrelated,
        other_project=other / injected if injected else 0.0,
        injected=injected,
        precision=hits / injected if injected else 1.0,
    )


def open_set_index(tmp: Path) -> MemoryIndex:
    store = tmp / "set" / "memories.jsonl"
    write_store(store, load_memories())
    return MemoryIndex.open(store=store, state_dir=tmp / "set" / ".analyze")


def bench_quality(tmp: Path, *, cfg: RecallConfig, subprocess_prompts: int) -> list[Result]:
    prompts = load_prompts()
    halves = {h: [p for p in prompts if half(p) == h] for h in ("tuning", "held-out")}
    index = open_set_index(tmp)
    try:
        held = quality(index, halves["held-out"], cfg=cfg)
        tuning = quality(index, halves["tuning"], cfg=cfg)
        whole = quality(index, prompts, cfg=cfg)
        loop = quality(index, halves["held-out"], cfg=cfg, with_session=True)
        agree, tried = hook_agrees(index, prompts[:: max(1, len(prompts) // subprocess_prompts)])
    finally:
        index.close()
    k = cfg.prompt_limit
    settings = f"prompt_min_score {cfg.prompt_min_score:g}, prompt_limit {k}"
    return [
        Result(
            name=f"recall: hook prompt recall@{k}, held-out half",
            ratio=round(held.recall, 3),
            goal=RECALL_GOAL,
            detail=f"{held.found} of {held.expected} expected memories ({settings});"
            f" precision {held.precision:.2f}; all prompts {whole.recall:.3f}",
        ),
        Result(
            name="recall: unrelated prompts injecting anything, held-out half",
            ratio=round(held.unrelated, 3),
            goal=UNRELATED_GOAL,
            detail=f"{held.unrelated_injecting} of {held.unrelated_prompts};"
            f" all prompts {whole.unrelated:.3f}",
        ),
        Result(
            name="recall: injected memories from another project, all prompts",
            ratio=round(whole.other_project, 3),
            goal=OTHER_PROJECT_GOAL,
            detail=f"of {whole.injected} injected over {len(prompts)} prompts;"
            f" the real hook subprocess injected the same ids for {agree} of {tried} prompts",
        ),
        Result(
            name=f"reference: recall@{k} / unrelated, tuning half",
            ratio=round(tuning.recall, 3),
            detail=f"{tuning.found} of {tuning.expected}; unrelated {tuning.unrelated:.3f}"
            f" ({tuning.unrelated_injecting} of {tuning.unrelated_prompts})",
        ),
        Result(
            name="reference: recall with session start + prompt, held-out half",
            ratio=round(loop.recall, 3),
            detail=f"{loop.found} of {loop.expected} expected memories given by either hook;"
            f" unrelated prompts adding anything {loop.unrelated:.3f}",
        ),
    ]


def hook_agrees(index: MemoryIndex, prompts: Sequence[Prompt]) -> tuple[int, int]:
    """How many of `prompts` the real `hook prompt` subprocess answers with prompt_block's ids.

    The subprocess reads the same store with the default config, each prompt in a session
    of its own that had no session start (so nothing is `already` given).
    """
    with tempfile.TemporaryDirectory(prefix="glass-recall-hook-") as tmp:
        config = write_config(Path(tmp), store=index.store)
        agree = 0
        for n, p in enumerate(prompts):
            want = injected_ids(
                select.prompt_block(
                    index, cwd=p.cwd, prompt=p.prompt, cfg=RecallConfig(), already=set()
                )
            )
            out = run_hook(config, "prompt", prompt_event(p.cwd, p.prompt, session=f"agree-{n}"))
            agree += injected_ids(out) == want
    return agree, len(prompts)


# -- speed --------------------------------------------------------------------------------


def write_config(tmp: Path, *, store: Path) -> Path:
    """A config whose store is `store` and whose state lives in tmp."""
    path = tmp / "config.yaml"
    path.write_text(
        "analyze:\n"
        f"  store: {json.dumps(str(store))}\n"
        f"  state_dir: {json.dumps(str(tmp / 'state'))}\n",
        encoding="utf-8",
    )
    return path


def session_event(cwd: str, *, session: str) -> str:
    return json.dumps(
        {
            "session_id": session,
            "transcript_path": "/dev/null",
            "cwd": cwd,
            "hook_event_name": "SessionStart",
            "source": "startup",
        }
    )


def prompt_event(cwd: str, prompt: str, *, session: str) -> str:
    return json.dumps(
        {
            "session_id": session,
            "transcript_path": "/dev/null",
            "cwd": cwd,
            "hook_event_name": "UserPromptSubmit",
            "prompt": prompt,
        }
    )


def hook_command(config: Path, event: str) -> list[str]:
    return [sys.executable, "-m", "analyze", "--config", str(config), "hook", event]


def search_command(config: Path, query: str) -> list[str]:
    return [sys.executable, "-m", "analyze", "--config", str(config), "search", query]


def run_hook(config: Path, event: str, stdin: str) -> str:
    done = subprocess.run(
        hook_command(config, event),
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return done.stdout


def _timed(cmd: list[str], *, stdin: str = "", check: Callable[[str], bool]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, cwd=ROOT, check=False)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0 or not check(done.stdout):
        raise RuntimeError(
            f"{' '.join(cmd[1:])}: exit {done.returncode}, unexpected output:\n"
            f"{done.stdout[:500]}\n{done.stderr[-1500:]}"
        )
    return elapsed


def bench_speed(tmp: Path, *, memories: int, rounds: int) -> list[Result]:
    rows = scaled(load_memories(), memories)
    store = tmp / "big" / "memories.jsonl"
    write_store(store, rows)
    config = write_config(tmp / "big", store=store)
    bare = [sys.executable, "-c", "pass"]
    hook = hook_command(config, "session-start")
    search = search_command(config, SEARCH_QUERY)

    def has_block(out: str) -> bool:
        return bool(out.strip()) and bool(injected_ids(out))

    def has_hits(out: str) -> bool:
        return bool(re.search(r"\bm_[0-9a-f]{16}\b", out))

    # the first runs build the index and warm the page cache
    cwd = HOOK_PROJECT + "/app"
    _timed(hook, stdin=session_event(cwd, session="warm-up"), check=has_block)
    _timed(search, check=has_hits)
    _timed(bare, check=lambda out: True)
    timings = []
    for n in range(rounds):
        b = _timed(bare, check=lambda out: True)
        h = _timed(hook, stdin=session_event(cwd, session=f"round-{n}"), check=has_block)
        s = _timed(search, check=has_hits)
        timings.append((b, h, s))
    bare_ms = statistics.median(t[0] for t in timings) * 1000
    hook_ms = statistics.median(t[1] for t in timings) * 1000
    search_ms = statistics.median(t[2] for t in timings) * 1000
    size = store.stat().st_size
    common = f"{len(rows):,} memories ({size / 1e6:.1f} MB), median of {rounds} alternating rounds"
    return [
        Result(
            name="recall: hook session-start ÷ python -c pass",
            ratio=round(statistics.median(t[1] / t[0] for t in timings), 2),
            goal=START_GOAL,
            detail=f"{hook_ms:.0f} ms vs {bare_ms:.0f} ms; {common}",
        ),
        Result(
            name="recall: search ÷ python -c pass",
            ratio=round(statistics.median(t[2] / t[0] for t in timings), 2),
            goal=START_GOAL,
            detail=f"{search_ms:.0f} ms vs {bare_ms:.0f} ms for {SEARCH_QUERY!r}; {common}",
        ),
    ]


# -- tuning -------------------------------------------------------------------------------


def sweep(grid: dict[str, Sequence[Any]], *, base: RecallConfig | None = None) -> list[dict]:
    """Every combination of `grid` (RecallConfig field -> values) on both halves of the set."""
    base = base or RecallConfig()
    prompts = load_prompts()
    halves = {h: [p for p in prompts if half(p) == h] for h in ("tuning", "held-out")}
    rows = []
    with tempfile.TemporaryDirectory(prefix="glass-recall-sweep-") as tmp:
        index = open_set_index(Path(tmp))
        try:
            names = list(grid)
            for combo in itertools.product(*(grid[name] for name in names)):
                cfg = dataclasses.replace(base, **dict(zip(names, combo, strict=True)))
                row: dict = dict(zip(names, combo, strict=True))
                for h, ps in halves.items():
                    q = quality(index, ps, cfg=cfg)
                    row[h] = q
                rows.append(row)
        finally:
            index.close()
    return rows


def best(rows: list[dict], *, on: str = "tuning") -> dict | None:
    """The row with the highest recall on `on` among those meeting the other two goals there."""
    ok = [r for r in rows if r[on].unrelated <= 0.1 and r[on].other_project == 0]
    return max(ok, key=lambda r: (r[on].recall, r[on].precision), default=None)


def print_sweep(rows: list[dict]) -> None:
    names = [k for k in rows[0] if k not in ("tuning", "held-out")]
    head = "  ".join(f"{n:>18}" for n in names)
    print(f"{head}  tuning: recall unrel other   held-out: recall unrel other")
    for row in rows:
        t, h = row["tuning"], row["held-out"]
        cells = "  ".join(f"{row[n]!s:>18}" for n in names)
        print(
            f"{cells}          {t.recall:6.3f} {t.unrelated:5.2f} {t.other_project:5.2f}"
            f"             {h.recall:6.3f} {h.unrelated:5.2f} {h.other_project:5.2f}"
        )


def growth(
    fractions: Sequence[float] = (0.02, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0),
) -> list[tuple[int, Quality]]:
    """Quality as the store grows: the set's oldest memories only, with the prompts whose
    expected memories they hold (IDF depends on N; the relevance threshold should not)."""
    memories, prompts = load_memories(), load_prompts()
    out = []
    for fraction in fractions:
        part = memories[: int(len(memories) * fraction)]
        have = {m["id"] for m in part}
        usable = [p for p in prompts if set(p.expected) <= have]
        with tempfile.TemporaryDirectory(prefix="glass-recall-growth-") as tmp:
            write_store(Path(tmp) / "memories.jsonl", part)
            with MemoryIndex.open(store=Path(tmp) / "memories.jsonl", state_dir=Path(tmp)) as ix:
                out.append((len(part), quality(ix, usable, cfg=RecallConfig())))
    return out


def run(quick: bool = False) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="glass-recall-bench-") as tmp:
        root = Path(tmp)
        speed = bench_speed(
            root,
            memories=QUICK_MEMORIES if quick else MEMORIES,
            rounds=3 if quick else 15,
        )
        good = bench_quality(root, cfg=RecallConfig(), subprocess_prompts=3 if quick else 12)
    return speed + good


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.recall_bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="1,000 memories, 3 rounds")
    parser.add_argument(
        "--sweep", action="store_true", help="print the tuning table instead of the figures"
    )
    parser.add_argument(
        "--growth", action="store_true", help="print recall and unrelated by store size"
    )
    args = parser.parse_args(argv)
    if args.growth:
        for n, q in growth():
            print(f"{n:5} memories: recall {q.recall:.3f}, unrelated {q.unrelated:.3f}")
        return 0
    if args.sweep:
        rows = sweep(
            {"prompt_min_score": [0.0, 0.5, 1.0, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 2.0, 2.5]}
        )
        print_sweep(rows)
        chosen = best(rows)
        names = [k for k in rows[0] if k not in ("tuning", "held-out")]
        print(
            "chosen on the tuning half: "
            + (", ".join(f"{n}={chosen[n]}" for n in names) if chosen else "none meets the goals")
        )
        return 0
    for result in run(quick=args.quick):
        verdict = {True: "ok", False: "MISSED", None: "reference"}[result.met]
        print(f"{result.name}: {result.ratio} (goal {result.goal_text}, {verdict})")
        print(f"  {result.detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
