"""End to end: the anthropic SDK -> the real capturing proxy -> a stand-in that
reports known usage; then `python -m analyze usage` must add up to exactly the
scripted numbers, main loop and side calls apart, incomplete exchanges flagged.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest

from tests.proxy import CapturingProxy, sdk_client, wait_for_captures
from tests.standin import Reply, Scripted, StandIn

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
MAIN_MODEL = "claude-e2e-main-20260101"  # priced as claude-e2e-main
SIDE_MODEL = "claude-e2e-side-20260101"
TOOLS = [
    {
        "name": "Read",
        "description": "read a file",
        "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}}},
    }
]
TOKEN_KEYS = (
    "input_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
)

MAIN_STREAMED = {
    "input_tokens": 11,
    "cache_creation_input_tokens": 2000,
    "cache_read_input_tokens": 30000,
    "output_tokens": 345,
    "cache_creation": {"ephemeral_5m_input_tokens": 500, "ephemeral_1h_input_tokens": 1500},
}
MAIN_JSON = {
    "input_tokens": 7,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 31000,
    "output_tokens": 12,
}
MAIN_CUT = {
    "input_tokens": 5,
    "cache_creation_input_tokens": 100,
    "cache_read_input_tokens": 0,
    "output_tokens": 999,
}  # cut before message_delta: only message_start's output (1) arrives
SIDE_STREAMED = {
    "input_tokens": 50,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 0,
    "output_tokens": 6,
}
SIDE_PROBE = {
    "input_tokens": 8,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 0,
    "output_tokens": 1,
}

EXPECTED = {
    "main": {
        "requests": 3,
        "incomplete": 1,
        "input_tokens": 11 + 7 + 5,
        "cache_creation_input_tokens": 2000 + 0 + 100,
        "cache_read_input_tokens": 30000 + 31000,
        "output_tokens": 345 + 12 + 1,
    },
    # the side: a streamed title, a quota probe, count_tokens (no tokens billed), a 529
    "side": {
        "requests": 4,
        "incomplete": 1,
        "input_tokens": 50 + 8,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 6 + 1,
    },
}
EXPECTED_COST = {
    "main": (
        11 * 3
        + 500 * 3.75
        + 1500 * 6
        + 30000 * 0.3
        + 345 * 15
        + 7 * 3
        + 31000 * 0.3
        + 12 * 15
        + 5 * 3
        + 100 * 3.75
        + 1 * 15
    )
    / 1e6,
    "side": (50 * 0.8 + 6 * 4 + 8 * 0.8 + 1 * 4) / 1e6,
}
PRICES = """\
usage:
  prices:
    claude-e2e-main: {input: 3.0, output: 15.0, cache_write_5m: 3.75, cache_write_1h: 6.0, cache_read: 0.3}
    claude-e2e-side: {input: 0.8, output: 4.0, cache_write_5m: 1.0, cache_write_1h: 1.6, cache_read: 0.08}
"""


def usage_rows(config: Path, *args: str) -> tuple[list[dict[str, Any]], str]:
    """`python -m analyze usage --json [args]` as a subprocess: its rows and its stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "analyze", "usage", "--json", "--config", str(config), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()], done.stderr


def per_scope(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    out: dict[str, Counter] = {}
    for row in rows:
        totals = out.setdefault(row["scope"], Counter())
        for key in ("requests", "incomplete", *TOKEN_KEYS):
            totals[key] += row[key]
    return {scope: dict(totals) for scope, totals in out.items()}


def drive(client) -> None:
    """The calls of a small session, in the order the stand-in's script expects."""
    user = [{"role": "user", "content": "Grüße, what is in README.md?"}]
    with client.messages.stream(
        model=MAIN_MODEL, max_tokens=32000, messages=user, tools=TOOLS
    ) as s:
        s.get_final_message()
    client.messages.create(model=MAIN_MODEL, max_tokens=32000, messages=user, tools=TOOLS)
    with client.messages.stream(model=SIDE_MODEL, max_tokens=512, messages=user) as s:
        s.get_final_message()
    client.messages.create(
        model=SIDE_MODEL, max_tokens=1, messages=[{"role": "user", "content": "quota"}]
    )
    client.messages.count_tokens(model=MAIN_MODEL, messages=user, tools=TOOLS)
    # the stand-in resets the stream mid-way
    with (
        pytest.raises((anthropic.APIConnectionError, httpx2.TransportError)),
        client.messages.stream(model=MAIN_MODEL, max_tokens=32000, messages=user, tools=TOOLS) as s,
    ):
        s.get_final_message()
    with pytest.raises(anthropic.APIStatusError):  # 529 overloaded
        client.messages.create(model=SIDE_MODEL, max_tokens=512, messages=user)


def test_usage_report_equals_the_scripted_usage(
    standin: StandIn, proxy: CapturingProxy, capture_dir: Path, tmp_path: Path
):
    standin.responder = Scripted(
        [
            Reply.text("Here it is.", usage=MAIN_STREAMED),
            Reply.text("Done.", usage=MAIN_JSON),
            Reply.text('{"title": "README"}', usage=SIDE_STREAMED),
            Reply.text("ok", usage=SIDE_PROBE),
            Reply.text("This stream is cut.", usage=MAIN_CUT, abort_after_events=4),
            Reply.overloaded(),
        ]
    )
    with sdk_client(proxy) as client:
        drive(client)
    files = wait_for_captures(capture_dir, 7)
    assert len(files) == 7

    rows, stderr = usage_rows(proxy.config_path)  # exactly the config the proxy runs with
    assert per_scope(rows) == EXPECTED
    assert all(r["cost_usd"] is None for r in rows)  # that config prices nothing ...
    assert (
        f"warning: no price for {MAIN_MODEL}, {SIDE_MODEL} in usage.prices" in stderr
    )  # ... and says so
    # the cut stream: the proxy saw the upstream reset, so the capture holds an `error`
    assert "incomplete: 2 requests (1 failed exchange, 1 HTTP error status)" in stderr

    priced = tmp_path / "priced.yaml"
    priced.write_text(proxy.config_path.read_text(encoding="utf-8") + PRICES, encoding="utf-8")
    rows, stderr = usage_rows(priced)
    assert per_scope(rows) == EXPECTED
    for scope, cost in EXPECTED_COST.items():
        assert sum(r["cost_usd"] for r in rows if r["scope"] == scope) == pytest.approx(
            cost, rel=1e-9
        )
    assert "no price" not in stderr
