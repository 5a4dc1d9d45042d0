"""Benchmark: stream reassembly (`capture/sse.py`) against the anthropic SDK's own accumulator.

The same streams as the differential test (tests/capture/test_sse_differential.py):
the real ones of the corpus and 1,200 seeded generated ones (tests/sse_streams.py).
Alternating in the same run, each round times back to back

  (a) the reference: the SDK reading every stream body as its `MessageStream`
      does (`SSEDecoder`, `construct_type`, the beta `accumulate_event`);
  (b) Glass: `capture.sse.reassemble()` over the same bodies.

The figure is (b)'s streams per second divided by (a)'s, the median of the
per-round ratios: above 1 Glass reassembles faster than the SDK would.

    python -m bench [--quick] sse
    python -m bench.sse_bench [--quick]
"""

from __future__ import annotations

import statistics
import sys
import time

from bench import Result, standalone
from capture import sse

GENERATED = 1_200
GOAL = ">= 1.0"
"""Reassembly at least as fast as the SDK's accumulator: the writer does it for every stream."""


def _streams(count: int) -> list[str]:
    from tests.sse_streams import corpus_streams, generated_stream

    return corpus_streams() + [generated_stream(20261201 + n) for n in range(count)]


def _time_sdk(streams: list[str]) -> float:
    from tests.sse_streams import SDKRaised, sdk_accumulate

    t0 = time.perf_counter()
    for text in streams:
        try:
            sdk_accumulate(text, beta=True)
        except SDKRaised:
            pass  # junk tool input or an error event: the SDK stops there, as it would
    return time.perf_counter() - t0


def _time_glass(streams: list[str]) -> float:
    t0 = time.perf_counter()
    for text in streams:
        sse.reassemble(text)
    return time.perf_counter() - t0


def run(quick: bool = False) -> list[Result]:
    """One result: reassemble streams/s ÷ the SDK accumulator's streams/s."""
    streams = _streams(200 if quick else GENERATED)
    rounds = [(_time_sdk(streams), _time_glass(streams)) for _ in range(3 if quick else 7)]
    ratio = statistics.median(sdk / glass for sdk, glass in rounds)
    glass_rate = len(streams) / statistics.median(g for _, g in rounds)
    sdk_rate = len(streams) / statistics.median(s for s, _ in rounds)
    size = sum(len(s) for s in streams) / len(streams)
    detail = (
        f"{glass_rate:,.0f} streams/s for sse.reassemble vs {sdk_rate:,.0f}/s for the SDK"
        f" over {len(streams):,} streams ({size / 1024:,.1f} KiB each on average),"
        f" median of {len(rounds)} alternating rounds"
    )
    return [
        Result(
            name="sse: reassembly throughput ÷ the SDK's accumulator",
            ratio=round(ratio, 3),
            goal=GOAL,
            detail=detail,
        )
    ]


def main(argv: list[str] | None = None) -> int:
    return standalone(run, prog="python -m bench.sse_bench", doc=__doc__ or "", argv=argv)


if __name__ == "__main__":
    sys.exit(main())
