"""Benchmark of Bedrock streaming through the capturing proxy (goal <= 0.05, as for SSE).

The time to the first body byte ÷ the time to the last one, for a stand-in AWS
event stream (`POST /model/<id>/invoke-with-response-stream`, one binary frame per
Messages event, spread over ~2 s: `python -m tests.standin --stream-seconds 2`), asked
for as `https://bedrock-runtime.us-east-1.amazonaws.com` through the capturing proxy,
which `--map-remote`s that host to the stand-in. The same through plain mitmdump
without the addon (it buffers whole responses: ≈ 1.0) and directly against the
stand-in, for reference. The raw socket client of `bench/capture_bench.py`
timestamps the first body byte; median of several runs, the three set-ups
interleaved. The figure counts only if the proxy really captured every stream:
afterwards each one must be a complete capture with `provider: bedrock`.

    python -m bench [--quick] bedrock
    python -m bench.bedrock_bench [--quick]
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from bench import Result, standalone
from bench.capture_bench import Plan, first_byte, standin_process, stream_results
from tests.proxy import CapturingProxy, capture_files, load_capture, ssl_context

GOAL = "<= 0.05"
HOST = "bedrock-runtime.us-east-1.amazonaws.com"
MODEL_PATH = "/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0"
STREAM_PATH = MODEL_PATH + "/invoke-with-response-stream"
BODY = json.dumps(
    {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
    },
    separators=(",", ":"),
).encode()
"""What Claude Code sends to Bedrock: no `model`, no `stream` (the path says both)."""


def event_stream_complete(body: bytes, answer: bytes) -> bool:
    """An event-stream answer whose chunked body ended (the last chunk arrived)."""
    return b"application/vnd.amazon.eventstream" in answer and answer.endswith(b"0\r\n\r\n")


def captured_streams(proxy: CapturingProxy, expected: int, *, timeout: float = 60.0) -> int:
    """Wait for `expected` complete Bedrock captures; the number found (raises if short)."""
    deadline = time.monotonic() + timeout
    while True:
        docs = []
        for path in capture_files(proxy.capture_dir):
            try:
                docs.append(load_capture(path))
            except (OSError, ValueError):
                continue  # a file being replaced right now: read it next time
        done = [
            d
            for d in docs
            if d.get("provider") == "bedrock"
            and str(d.get("url", "")).endswith(STREAM_PATH)
            and d.get("response", {}).get("complete") is True
        ]
        if len(done) >= expected:
            return len(done)
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the capturing proxy captured {len(done)} of {expected} Bedrock streams "
                f"completely ({len(docs)} capture files): the figure would not be about capturing"
            )
        time.sleep(0.1)


def run(quick: bool = False) -> list[Result]:
    plan = Plan.of(quick)
    work = Path(tempfile.mkdtemp(prefix="glass-bedrock-bench-"))
    try:
        with ExitStack() as stack:
            return _measure(plan, stack, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _measure(plan: Plan, stack: ExitStack, work: Path) -> list[Result]:
    upstream = stack.enter_context(
        standin_process("--stream-seconds", str(plan.stream_seconds), "--delta-pieces", "20")
    )
    mapping = ["--map-remote", f"|https://{HOST}|http://127.0.0.1:{upstream}"]
    confdir = work / "mitmproxy"
    capturing = stack.enter_context(
        CapturingProxy(
            upstream_port=upstream,
            capture_dir=work / "captures",
            confdir=confdir,
            extra_args=mapping,
        )
    )
    plain = stack.enter_context(
        CapturingProxy(
            upstream_port=upstream,
            capture_dir=work / "unused",
            confdir=confdir,
            addon=False,
            extra_args=mapping,
        )
    )
    context = ssl_context(capturing)
    setups = {"capturing proxy": capturing, "plain mitmdump": plain, "direct": None}

    def once(proxy: CapturingProxy | None, path: str) -> tuple[float, float]:
        return first_byte(
            proxy=proxy,
            upstream_port=upstream,
            context=context,
            body=BODY,
            host=HOST,
            path=path,
            complete=event_stream_complete if path == STREAM_PATH else lambda body, answer: True,
        )

    for warming in (capturing, plain):  # warm up: leaf certificate, connections, imports
        once(warming, MODEL_PATH + "/invoke")
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in setups}
    for _ in range(plan.stream_runs):
        for name, proxy in setups.items():
            runs[name].append(once(proxy, STREAM_PATH))
    captured = captured_streams(capturing, plan.stream_runs)

    return stream_results(
        runs,
        [
            ("capturing proxy", GOAL, "capture: Bedrock event stream first byte ÷ stream length"),
            ("plain mitmdump", None, "  reference: Bedrock through plain mitmdump (buffers)"),
            ("direct", None, "  reference: Bedrock direct, no proxy"),
        ],
        notes={"capturing proxy": f", {captured} streams captured complete"},
    )


def main(argv: list[str] | None = None) -> int:
    return standalone(run, prog="python -m bench.bedrock_bench", doc=__doc__ or "", argv=argv)


if __name__ == "__main__":
    sys.exit(main())
