"""Benchmarks of the analyzer, each a ratio from one run.

1. Input bytes ÷ raw capture bytes. The corpus sessions (tests/data/corpus:
   the 64-request 1.x session, the 2.x session, the 1.0.58 pair) are written
   as capture files and analysed with the default config through the real
   anthropic backend against a local stand-in; the figure is the bytes of
   every request body the stand-in received ÷ the bytes of the capture
   files. The naive design (every request body sent) is about 1.0. Also
   shown: the same for the digest text alone (without the fixed
   instructions and tool schema, which the API caches).
2. Preprocessing throughput ÷ plain json.loads: a backlog of 2,000 captures
   (the 64-request session cycled, each cycle its own conversation) goes
   through everything but the model call (listing, reading, parsing,
   quarantine checks, session grouping, block dedupe, trimming, batching,
   ledger commits), with a backend that answers at once; versus
   read + `json.loads` of the same files. Rounds alternate; median ratio.
3. Peak RSS of `python -m analyze --once` over a 10,000-capture backlog ÷
   over a 1,000-capture one (real subprocesses, real SDK, stand-in model).

    python -m bench analyze [--quick]
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

from analyze.backends.base import Extraction
from analyze.pipeline import Analyzer
from analyze.watch import run_once
from bench import Result
from bench.backlog import build_backlog
from glass.config import AnalyzeConfig, CaptureConfig, Config
from glass.contract import MEMORIES_FILE, STATE_DIR
from glass.tokens import ZERO

ROOT = Path(__file__).resolve().parent.parent


# -- building capture backlogs ---------------------------------------------------------


def write_corpus_sessions(root: Path) -> int:
    """Every corpus session as capture files, old enough to be ready; their total bytes."""
    from tests import corpus

    paths = corpus.write_sessions(root, (corpus.SESSION_64, corpus.SESSION_2X, corpus.SESSION_1058))
    return sum(p.stat().st_size for p in paths)


def config(tmp: Path, **analyze) -> Config:
    return Config(
        capture=CaptureConfig(dir=tmp / "captures"),
        analyze=AnalyzeConfig(
            store=tmp / "captures" / MEMORIES_FILE,
            state_dir=tmp / "captures" / STATE_DIR,
            **analyze,
        ),
    )


def _two_memories(recorded) -> dict:
    """The stand-in model: two memories per call, named after the first capture in it."""
    text = recorded.body["messages"][0]["content"]
    rels = re.findall(r"^### (\S+)", text, re.M) or ["?"]
    return {
        "memories": [
            {"text": f"Decision recorded while reading {rels[0]}.", "kind": "decision"},
            {"text": f"Fact learned from {rels[-1]} ({len(rels)} captures).", "kind": "fact"},
        ]
    }


# -- 1. input bytes ---------------------------------------------------------------------------


def bench_input_bytes() -> list[Result]:
    from analyze.backends.anthropic_api import AnthropicBackend
    from tests.standin import ForcedToolResponder, StandIn

    with (
        tempfile.TemporaryDirectory(prefix="glass-bench-") as tmp,
        StandIn(ForcedToolResponder(_two_memories)) as api,
    ):
        cfg = config(Path(tmp))
        raw = write_corpus_sessions(cfg.capture.dir)
        a = cfg.analyze
        backend = AnthropicBackend(
            model=a.model,
            api_key="bench",
            base_url=api.url,
            max_output_tokens=a.max_output_tokens,
            timeout_s=30,
            max_retries=0,
        )
        analyzer = Analyzer(cfg, backend=backend)
        run_once(analyzer, stop=threading.Event(), progress=False)
        analyzer.close()
        sent = sum(len(r.raw) for r in api.message_requests)
        digests = sum(len(r.body["messages"][0]["content"].encode()) for r in api.message_requests)
        calls = len(api.message_requests)
        files = analyzer.stats.files
    return [
        Result(
            name="analyze: input bytes / capture bytes",
            ratio=sent / raw,
            goal="<= 0.03",
            detail=f"{sent:,} B in {calls} calls for {files} captures of {raw:,} B "
            f"(naive: every request body, ~1.0)",
        ),
        Result(
            name="analyze: digest bytes / capture bytes",
            ratio=digests / raw,
            goal=None,
            detail="known memories + new blocks only, without the cached instructions and tool",
        ),
    ]


# -- 2. preprocessing throughput ----------------------------------------------------------


class _Instant:
    """A backend that answers at once with nothing: everything but the model call is timed."""

    name = "instant"
    model = "instant"

    def extract(self, *, digest, known):
        return Extraction(memories=[], usage=ZERO, model=self.model)


def bench_preprocessing(*, files: int, rounds: int) -> list[Result]:
    ratios, loads_s, pre_s = [], [], []
    with tempfile.TemporaryDirectory(prefix="glass-bench-") as tmp:
        cfg = config(Path(tmp), incomplete_after_s=0)
        paths = build_backlog(cfg.capture.dir, files)
        size = sum(p.stat().st_size for p in paths)
        for i in range(rounds + 1):  # the first round warms caches and is not counted
            t0 = time.perf_counter()
            for p in paths:
                json.loads(p.read_bytes())
            t_loads = time.perf_counter() - t0
            _reset_state(cfg)
            analyzer = Analyzer(cfg, backend=_Instant())
            t0 = time.perf_counter()
            run_once(analyzer, stop=threading.Event(), progress=False)
            t_pre = time.perf_counter() - t0
            assert analyzer.stats.processed == files, analyzer.stats
            analyzer.close()
            if i:
                ratios.append(t_loads / t_pre)
                loads_s.append(t_loads)
                pre_s.append(t_pre)
    ratio = statistics.median(ratios)
    return [
        Result(
            name="analyze: preprocessing / json.loads",
            ratio=ratio,
            goal=">= 0.5",
            detail=f"{files} captures ({size / 1e6:.0f} MB): analyzer {files / statistics.median(pre_s):,.0f}/s, "
            f"json.loads {files / statistics.median(loads_s):,.0f}/s; median of {rounds} rounds",
        )
    ]


def _reset_state(cfg: Config) -> None:
    import shutil

    state_dir, store = cfg.analyze.state_dir, cfg.analyze.store
    if state_dir is None or store is None:
        raise ValueError("a bench config names its store and state folder (see config())")
    shutil.rmtree(state_dir, ignore_errors=True)
    store.unlink(missing_ok=True)


# -- 3. peak RSS -------------------------------------------------------------------------------


def bench_rss(*, small: int, large: int) -> list[Result]:
    from tests.standin import ForcedToolResponder, StandIn

    peaks = {}
    with StandIn(ForcedToolResponder(_two_memories)) as api:
        for count in (small, large):
            with tempfile.TemporaryDirectory(prefix="glass-bench-") as name:
                tmp = Path(name)
                build_backlog(tmp / "captures", count)
                cfg_path = tmp / "config.yaml"
                cfg_path.write_text(
                    f"capture:\n  dir: captures\nanalyze:\n  base_url: {api.url}\n  incomplete_after_s: 0\n"
                )
                peaks[count] = _peak_rss_kb(
                    [sys.executable, "-m", "analyze", "--config", str(cfg_path), "--once"]
                )
    ratio = peaks[large] / peaks[small]
    return [
        Result(
            name=f"analyze: peak RSS {large:,} / {small:,} backlog",
            ratio=ratio,
            goal="<= 1.2",
            detail=f"{peaks[large] / 1024:.0f} MiB vs {peaks[small] / 1024:.0f} MiB "
            "(python -m analyze --once, real SDK, stand-in model)",
        )
    ]


def _peak_rss_kb(cmd: list[str]) -> int:
    env = {**os.environ, "ANTHROPIC_API_KEY": "bench", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, rusage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = _read_all(proc.stderr).decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {err[-2000:]}")
    return rusage.ru_maxrss


def _read_all(pipe: IO[bytes] | None) -> bytes:
    """Everything left in a child's pipe, then close it (None: it was not piped)."""
    if pipe is None:
        return b""
    with pipe:
        return pipe.read()


def run(quick: bool = False) -> list[Result]:
    results = bench_input_bytes()
    results += bench_preprocessing(files=200 if quick else 2_000, rounds=1 if quick else 5)
    results += bench_rss(small=100 if quick else 1_000, large=300 if quick else 10_000)
    return results


if __name__ == "__main__":
    from bench.__main__ import main

    sys.exit(main(["analyze", *sys.argv[1:]]))
