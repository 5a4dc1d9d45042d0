"""`python -m bench [--quick] [--strict] [names...]`: run the benchmarks, print a table,
write bench/results/latest.json.

To add a benchmark, write a module with `run(quick: bool) -> list[Result]` and
add one line to BENCHMARKS below.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
import traceback
from datetime import datetime
from pathlib import Path

from bench import Result

BENCHMARKS: dict[str, str] = {
    "capture": "bench.capture_bench",  # proxy: streaming first byte, throughput vs plain mitmdump
    "bedrock": "bench.bedrock_bench",  # proxy: Bedrock event-stream first byte ÷ stream length
    "analyze": "bench.analyze_bench",  # analyzer: input bytes, preprocessing speed, memory
    "usage": "bench.usage_bench",  # usage report vs json.loads
    "sse": "bench.sse_bench",  # stream reassembly vs the anthropic SDK's accumulator
    "backlog": "bench.backlog_bench",  # analyze --once over many short sessions vs json.loads
    "recall": "bench.recall_bench",  # hooks and search start-up vs python -c pass; recall quality
    "hooks": "bench.hooks_bench",  # recall hooks: analyzer bytes with/without, hook start-up
    "compact": "bench.compact_bench",  # compaction: disk after/before, reading .gz, vs gzip -6
    "view": "bench.view_bench",  # viewer: session page cold/warm, session list, RSS vs plain reads
}
"""name -> module exposing `run(quick: bool) -> list[Result]`, in running order."""

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "names",
        nargs="*",
        metavar="name",
        help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small and fast: a smoke test, not a measurement"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    parser.add_argument(
        "--output", type=Path, default=RESULTS, help=f"JSON results (default: {RESULTS})"
    )
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    names = args.names or list(BENCHMARKS)

    results: list[Result] = []
    failures: list[str] = []
    runs = []
    for name in names:
        print(
            f"bench: running {name}{' (quick)' if args.quick else ''} ...",
            file=sys.stderr,
            flush=True,
        )
        t0 = time.monotonic()
        try:
            module = importlib.import_module(BENCHMARKS[name])
            got = [Result.coerce(r) for r in module.run(quick=args.quick)]
        except Exception as e:  # noqa: BLE001 - one failed benchmark: traceback, FAILED row, exit 2
            traceback.print_exc()
            failures.append(f"{name}: {type(e).__name__}: {e}")
            got = [
                Result(
                    name=f"{name}: FAILED",
                    ratio=None,
                    goal="n/a",
                    detail=f"{type(e).__name__}: {e}",
                )
            ]
        runs.append({"benchmark": name, "seconds": round(time.monotonic() - t0, 1)})
        results.extend(got)

    print(table(results))
    write_json(args.output, results, runs=runs, quick=args.quick)
    print(f"\nresults: {args.output}", file=sys.stderr)
    if failures:
        print("bench: failed: " + "; ".join(failures), file=sys.stderr)
        return 2
    if args.strict and any(r.met is False for r in results):
        return 1
    return 0


def table(results: list[Result]) -> str:
    rows = [("benchmark", "ratio", "goal", "", "detail")]
    for r in results:
        ratio = "-" if r.ratio is None else f"{r.ratio:.3f}"
        verdict = {True: "ok", False: "MISSED", None: ""}[r.met] if r.goal != "n/a" else "ERROR"
        rows.append((r.name, ratio, r.goal_text, verdict, r.detail))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for row in rows:
        cells = [
            row[0].ljust(widths[0]),
            row[1].rjust(widths[1]),
            row[2].ljust(widths[2]),
            row[3].ljust(widths[3]),
            row[4],
        ]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "-" * min(120, max(len(line) for line in lines)))
    return "\n".join(lines)


def write_json(path: Path, results: list[Result], *, runs: list[dict], quick: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "finished_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "quick": quick,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "runs": runs,
        "results": [r.to_json() for r in results],
    }
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
