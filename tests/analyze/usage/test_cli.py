"""The usage report (`python -m analyze usage`) over real and crafted captures, end to end.

Expected totals over the corpus are summed here straight from the recorded
traffic (tests/data/corpus): for a stream, input and cache counts from its
`message_start` and the output count from its last `message_delta`; for a JSON
answer, its `usage`. That is independent of the capture stage's reassembly,
which produced the capture files the report reads.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from analyze import cli
from analyze.ledger import Call, Ledger
from analyze.usage import database
from analyze.usage.models import first_party
from glass.tokens import Price, Tokens
from tests import corpus

ROOT = Path(__file__).resolve().parents[3]
SONNET = Price(input=3.0, output=15.0, cache_write_5m=3.75, cache_write_1h=6.0, cache_read=0.3)
HAIKU = Price(input=0.8, output=4.0, cache_write_5m=1.0, cache_write_1h=1.6, cache_read=0.08)
PRICES_YAML = """\
usage:
  prices:
    claude-sonnet-4: {input: 3.0, output: 15.0, cache_write_5m: 3.75, cache_write_1h: 6.0, cache_read: 0.3}
    claude-3-5-haiku: {input: 0.8, output: 4.0, cache_write_5m: 1.0, cache_write_1h: 1.6, cache_read: 0.08}
"""
TOKEN_KEYS = (
    "input_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
)
ROW_KEYS = {"key", "scope", "requests", *TOKEN_KEYS, "cost_usd", "incomplete", "priced_by"}


# -- helpers ---------------------------------------------------------------------------


def write_config(tmp_path: Path, *, prices: str = PRICES_YAML) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"capture:\n  dir: captures\nanalyze:\n  state_dir: state\n{prices}", encoding="utf-8"
    )
    return path


def report(capsys, config: Path, *args: str) -> tuple[int, str, str]:
    code = cli.main(["usage", "--config", str(config), *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def json_rows(capsys, config: Path, *args: str) -> list[dict[str, Any]]:
    code, out, err = report(capsys, config, "--json", *args)
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    for row in rows:
        assert set(row) == ROW_KEYS
    return rows


def by_scope(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    out: dict[str, Counter] = {}
    for row in rows:
        totals = out.setdefault(row["scope"], Counter())
        for key in ("requests", *TOKEN_KEYS, "incomplete"):
            totals[key] += row[key]
    return {scope: dict(totals) for scope, totals in out.items()}


def hand_sums(*sessions: Path) -> dict[str, dict[str, int]]:
    """Per scope (main = requests with tools, not the max_tokens 1 probe): requests and tokens."""
    out: dict[str, Counter] = {}
    for session in sessions:
        for pair in corpus.trace_pairs(session):
            body = pair["request"]["body"]
            scope = "main" if body.get("tools") and body.get("max_tokens") != 1 else "side"
            totals = out.setdefault(scope, Counter())
            totals["requests"] += 1
            totals["incomplete"] += 0
            for key, value in raw_usage(pair["response"]).items():
                totals[key] += value
    return {scope: dict(totals) for scope, totals in out.items()}


def raw_usage(response: dict[str, Any]) -> dict[str, int]:
    if "body_raw" not in response:
        return {k: response["body"]["usage"][k] for k in TOKEN_KEYS}
    found: dict[str, int] = {}
    for line in response["body_raw"].splitlines():
        if not line.startswith("data:"):
            continue
        event = json.loads(line[5:])
        if event["type"] == "message_start":
            start = event["message"]["usage"]
            found.update({k: start[k] for k in TOKEN_KEYS[:3]})
        elif event["type"] == "message_delta":
            found["output_tokens"] = event["usage"]["output_tokens"]  # cumulative: the last wins
    return found


def hand_cost(totals: dict[str, int], price: Price) -> float:
    return (
        totals["input_tokens"] * price.input
        + totals["cache_creation_input_tokens"] * price.cache_write_5m
        + totals["cache_read_input_tokens"] * price.cache_read
        + totals["output_tokens"] * price.output
    ) / 1e6


def exchange(
    *,
    model: str = "claude-sonnet-4-20250514",
    tools: bool = True,
    usage_: dict[str, Any] | None = None,
    message_id: str | None = "msg_1",
    streamed: bool = True,
    complete: bool = True,
    stop_reason: str | None = "end_turn",
    status: int = 200,
    captured_at: str = "2026-11-21T10:00:00.000+00:00",
    session: str = "sess-1",
    response: bool = True,
    error: str | None = None,
) -> dict[str, Any]:
    """A capture document (README.md, "Capture file format") for one Messages call."""
    request: dict[str, Any] = {
        "model": model,
        "max_tokens": 32000,
        "messages": [{"role": "user", "content": "hi"}],
    }
    if tools:
        request["tools"] = [{"name": "Read", "input_schema": {"type": "object"}}]
    doc: dict[str, Any] = {
        "captured_at": captured_at,
        "method": "POST",
        "url": "https://api.anthropic.com/v1/messages?beta=true",
        "headers": {"x-api-key": "[REDACTED]", "X-Claude-Code-Session-Id": session},
        "request": request,
    }
    if response:
        body: dict[str, Any] = {
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": stop_reason,
            "usage": usage_ if usage_ is not None else {"input_tokens": 10, "output_tokens": 5},
        }
        if message_id:
            body["id"] = message_id
        resp: dict[str, Any] = {"status": status, "headers": {}, "body": body, "streamed": streamed}
        if status != 200:
            resp["body"] = {"type": "error", "error": {"type": "overloaded_error", "message": "x"}}
        if streamed:
            resp["complete"] = complete
        doc["response"] = resp
    if error:
        doc["error"] = {"message": error}
    return doc


def on_provider(provider: str, model: str, **kwargs: Any) -> dict[str, Any]:
    """`exchange()` as Bedrock or Vertex carry it: no `model` in the body, the URL's id as `model`.

    The answer names the first-party id, as Bedrock's and Vertex's do.
    """
    doc = exchange(model=first_party(model), **kwargs)
    del doc["request"]["model"]
    doc["request"]["anthropic_version"] = f"{provider}-2023-05-31"
    doc["url"] = f"https://{provider}.example/model/{model}/invoke"
    return {**doc, "provider": provider, "model": model}


def put(root: Path, day: str, number: int, doc: Any, *, endpoint: str = "messages") -> Path:
    folder = root / day
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{number:03d}_100000_{endpoint}.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc, indent=2), encoding="utf-8")
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path)


@pytest.fixture
def captures(config: Path) -> Path:
    return config.parent / "captures"


# -- the corpus: real recorded traffic ---------------------------------------------------


def test_corpus_totals_equal_hand_sums_main_and_side(capsys, config, captures):
    corpus.write_session(captures, corpus.SESSION_64)
    corpus.write_session(captures, corpus.SESSION_1058, start_number=500)
    rows = json_rows(capsys, config)
    expected = hand_sums(corpus.SESSION_64, corpus.SESSION_1058)
    assert by_scope(rows) == expected
    assert expected["main"]["requests"] == 17 and expected["side"]["requests"] == 49
    main_cost = sum(r["cost_usd"] for r in rows if r["scope"] == "main")
    side_cost = sum(r["cost_usd"] for r in rows if r["scope"] == "side")
    assert main_cost == pytest.approx(hand_cost(expected["main"], SONNET))
    assert side_cost == pytest.approx(hand_cost(expected["side"], HAIKU))


def test_corpus_table(capsys, config, captures):
    paths = corpus.write_session(captures, corpus.SESSION_64)
    code, out, err = report(capsys, config)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[-1] == (  # the footnote: which source priced which model
        "prices: usage.prices for claude-3-5-haiku-20241022, claude-sonnet-4-20250514"
    )
    lines = lines[:-1]
    assert lines[0].split() == [
        "day",
        "scope",
        "requests",
        "input",
        "cache",
        "write",
        "cache",
        "read",
        "output",
        "cost",
        "incomplete",
    ]
    day = paths[0].parent.name
    main = next(line for line in lines if line.startswith(f"{day}  main"))
    expected = hand_sums(corpus.SESSION_64)["main"]
    assert f"{expected['cache_read_input_tokens']:,}" in main
    total = lines[-1].split()
    assert total[0] == "TOTAL" and total[1] == "64"


def test_in_flight_session_is_incomplete_and_needs_no_price(capsys, config, captures):
    corpus.write_session(captures, corpus.SESSION_2X)  # requests only: no responses recorded
    code, out, err = report(capsys, config)
    assert code == 0 and err == ""  # claude-opus-4-8 has no price, but nothing to bill
    assert "incomplete: 7 requests (7 no response yet)" in out
    (row,) = json_rows(capsys, config)
    assert row["scope"] == "main" and row["requests"] == 7 and row["incomplete"] == 7
    assert all(row[k] == 0 for k in TOKEN_KEYS) and row["cost_usd"] == 0


def test_by_model_and_by_session(capsys, config, captures):
    corpus.write_session(captures, corpus.SESSION_64)
    corpus.write_session(captures, corpus.SESSION_1058, start_number=500)
    rows = json_rows(capsys, config, "--by", "model")
    assert [(r["key"], r["scope"], r["requests"]) for r in rows] == [
        ("claude-sonnet-4-20250514", "main", 17),
        ("claude-3-5-haiku-20241022", "side", 49),
    ]
    rows = json_rows(capsys, config, "--by", "session")
    sessions = {(r["key"], r["scope"]): r["requests"] for r in rows}
    assert sessions[("f7be5b5a-d521-41cd-a9ff-98731024e7a2", "side")] == 2
    assert sum(sessions.values()) == 66
    assert by_scope(rows) == hand_sums(corpus.SESSION_64, corpus.SESSION_1058)
    costs = [r["cost_usd"] for r in rows]
    assert costs.index(max(costs)) == 0  # most expensive session first


# -- prices ----------------------------------------------------------------------------


def test_unknown_model_shows_tokens_and_null_cost_with_one_warning(capsys, tmp_path):
    config = write_config(
        tmp_path,
        prices=PRICES_YAML.replace("claude-3-5-haiku", "claude-x") + "  genai_prices: false\n",
    )
    corpus.write_session(tmp_path / "captures", corpus.SESSION_64)
    rows = json_rows(capsys, config)
    side = next(r for r in rows if r["scope"] == "side")
    assert side["cost_usd"] is None and side["input_tokens"] > 0
    assert side["priced_by"] == {"claude-3-5-haiku-20241022": None}
    _code, out, err = report(capsys, config)
    assert err.splitlines() == [
        f"warning: no price for claude-3-5-haiku-20241022 in usage.prices ({config})"
        f" nor in {database.NAME}; their cost shows as ?"
    ]
    side_line = next(line for line in out.splitlines() if " side " in line)
    assert side_line.split()[-1] == "?"
    total = next(line for line in out.splitlines() if line.startswith("TOTAL"))
    assert total.split()[-1].endswith("+?")  # TOTAL: priced part + unknown
    assert out.splitlines()[-1] == "prices: usage.prices for claude-sonnet-4-20250514"


BOTH_CACHE_WRITES = {
    "input_tokens": 1,
    "cache_creation_input_tokens": 3000,
    "cache_read_input_tokens": 0,
    "output_tokens": 0,
    "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000},
}
"""One response with both kinds of cache write."""


def test_cache_writes_priced_5m_and_1h_apart(capsys, config, captures):
    put(captures, "2026-11-21", 1, exchange(usage_=BOTH_CACHE_WRITES, message_id="a"))
    plain = {"input_tokens": 0, "cache_creation_input_tokens": 1000, "output_tokens": 0}
    put(captures, "2026-11-21", 2, exchange(usage_=plain, message_id="b"))
    (row,) = json_rows(capsys, config)
    assert row["cache_creation_input_tokens"] == 4000
    expected = (1 * 3.0 + 1000 * 3.75 + 2000 * 6.0 + 1000 * 3.75) / 1e6
    assert row["cost_usd"] == pytest.approx(expected)


def test_one_hour_and_five_minute_writes_in_one_response_out_of_the_box(capsys, tmp_path):
    """No usage.prices: genai-prices prices both kinds of cache write, each at its own rate."""
    config = write_config(tmp_path, prices="")
    doc = exchange(model="claude-opus-4-8", usage_=BOTH_CACHE_WRITES)
    put(tmp_path / "captures", "2026-11-21", 1, doc)
    (row,) = json_rows(capsys, config)
    assert row["cache_creation_input_tokens"] == 3000
    # anthropic.com/pricing, Opus 4.8 per MTok: input $5, 5-minute write $6.25, 1-hour write $10
    assert row["cost_usd"] == pytest.approx((1 * 5 + 1000 * 6.25 + 2000 * 10) / 1e6)
    assert row["cost_usd"] != pytest.approx((1 * 5 + 3000 * 6.25) / 1e6)  # all at 5 minutes
    assert row["priced_by"] == {"claude-opus-4-8": "genai-prices"}


def test_one_hour_writes_where_the_database_has_no_one_hour_rate_are_unpriced(capsys, tmp_path):
    """genai-prices lists no 1-hour rate for Sonnet 4 on Vertex: never the 5-minute one instead."""
    config = write_config(tmp_path, prices="")
    only_5m = {"input_tokens": 1, "cache_creation_input_tokens": 1000, "output_tokens": 0}
    docs = [
        on_provider("vertex", "claude-sonnet-4@20250514", usage_=BOTH_CACHE_WRITES, message_id="a"),
        on_provider("vertex", "claude-sonnet-4@20250514", usage_=only_5m, message_id="b"),
    ]
    for number, doc in enumerate(docs, start=1):
        put(tmp_path / "captures", f"2026-11-2{number}", 1, doc)
    code, out, err = report(capsys, config, "--json")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["cost_usd"] for r in rows] == [None, pytest.approx((1 * 3 + 1000 * 3.75) / 1e6)]
    assert "claude-sonnet-4@20250514 (vertex, 1-hour cache writes)" in err


# -- providers -------------------------------------------------------------------------

SONNET_45 = "claude-sonnet-4-5-20250929"
ON_PROVIDERS = [  # (provider, model id as sent, $ per MTok input: anthropic.com and the clouds)
    ("anthropic", SONNET_45, 3.0),
    ("bedrock", f"us.anthropic.{SONNET_45}-v1:0", 3.3),  # a regional endpoint: +10%
    ("bedrock", f"global.anthropic.{SONNET_45}-v1:0", 3.0),
    ("vertex", "claude-sonnet-4-5@20250929", 3.0),
]


def put_on_providers(captures: Path) -> None:
    for number, (provider, model, _) in enumerate(ON_PROVIDERS, start=1):
        usage_ = {"input_tokens": 100_000, "output_tokens": 0}
        doc = on_provider(provider, model, usage_=usage_, message_id=f"msg_{number}")
        if provider == "anthropic":
            doc = exchange(model=model, usage_=usage_, message_id=f"msg_{number}")
        put(captures, "2026-11-21", number, doc)


def test_bedrock_and_vertex_ids_count_as_their_first_party_model_at_their_own_price(
    capsys, tmp_path
):
    config = write_config(tmp_path, prices="")
    put_on_providers(tmp_path / "captures")
    (row,) = json_rows(capsys, config, "--by", "model")
    assert (row["key"], row["requests"], row["input_tokens"]) == (SONNET_45, 4, 400_000)
    assert row["cost_usd"] == pytest.approx(sum(0.1 * price for *_, price in ON_PROVIDERS))
    assert row["priced_by"] == {model: "genai-prices" for _, model, _ in ON_PROVIDERS}
    _code, out, err = report(capsys, config, "--by", "model")
    assert err == ""
    assert out.splitlines()[-1] == (
        f"prices: {database.NAME} for {SONNET_45},"
        f" claude-sonnet-4-5@20250929 (vertex),"
        f" global.anthropic.{SONNET_45}-v1:0 (bedrock),"
        f" us.anthropic.{SONNET_45}-v1:0 (bedrock)"
        f" as regional.anthropic.{SONNET_45}-v1:0"
    )


def test_by_provider(capsys, tmp_path):
    config = write_config(tmp_path, prices="")
    captures = tmp_path / "captures"
    put_on_providers(captures)
    side = on_provider("vertex", "claude-haiku-5-5@20261001", tools=False, message_id="msg_side")
    put(captures, "2026-11-21", 9, side)
    old = exchange(model="claude-opus-4-8", message_id="msg_old")  # no provider key: anthropic
    put(captures, "2026-11-20", 1, old)
    ledger = Ledger(tmp_path / "state")
    call = Call(
        at="2026-11-21T12:00:00+00:00",
        backend="anthropic",
        model="claude-haiku-5-5",
        ok=True,
        tokens=Tokens(input=1000),
    )
    ledger.record_call(call)
    ledger.close()
    rows = json_rows(capsys, config, "--by", "provider")
    assert [(r["key"], r["scope"], r["requests"]) for r in rows] == [
        ("bedrock", "main", 2),  # the most expensive first, as for models and sessions
        ("anthropic", "main", 2),
        ("anthropic", "analyzer", 1),
        ("vertex", "main", 1),
        ("vertex", "side", 1),
    ]
    assert all(r["cost_usd"] is not None for r in rows)
    bedrock = next(r for r in rows if r["key"] == "bedrock")
    assert bedrock["cost_usd"] == pytest.approx(0.1 * 3.3 + 0.1 * 3.0)
    _code, out, err = report(capsys, config, "--by", "provider")
    assert err == "" and out.splitlines()[0].split()[:2] == ["provider", "scope"]


def test_a_config_price_overrides_every_provider(capsys, tmp_path):
    config = write_config(
        tmp_path,
        prices="usage:\n  prices:\n    claude-sonnet-4-5: {input: 1, output: 1,"
        " cache_write_5m: 1, cache_write_1h: 1, cache_read: 1}\n",
    )
    put_on_providers(tmp_path / "captures")
    (row,) = json_rows(capsys, config, "--by", "model")
    assert row["cost_usd"] == pytest.approx(4 * 0.1)
    assert set(row["priced_by"].values()) == {"usage.prices"}


def test_a_model_no_source_knows_is_named_with_its_provider(capsys, tmp_path):
    config = write_config(tmp_path, prices="")
    captures = tmp_path / "captures"
    put(captures, "2026-11-21", 1, on_provider("bedrock", "us.anthropic.claude-nonesuch-9-v1:0"))
    put(captures, "2026-11-21", 2, exchange(model="claude-opus-4-8", message_id="msg_2"))
    rows = json_rows(capsys, config, "--by", "provider")
    assert {r["key"]: r["cost_usd"] is None for r in rows} == {"anthropic": False, "bedrock": True}
    _code, out, err = report(capsys, config)
    assert err.splitlines() == [
        "warning: no price for us.anthropic.claude-nonesuch-9-v1:0 (bedrock) in usage.prices"
        f" ({config}) nor in {database.NAME}; their cost shows as ?"
    ]
    assert out.splitlines()[-1] == f"prices: {database.NAME} for claude-opus-4-8"


# -- date range ------------------------------------------------------------------------


def test_since_until_pick_day_folders(capsys, config, captures):
    day64 = corpus.write_session(captures, corpus.SESSION_64)[0].parent.name
    day58 = corpus.write_session(captures, corpus.SESSION_1058)[0].parent.name
    assert day64 < day58
    assert {r["key"] for r in json_rows(capsys, config)} == {day64, day58}
    assert {r["key"] for r in json_rows(capsys, config, "--since", day58)} == {day58}
    assert {r["key"] for r in json_rows(capsys, config, "--until", day64)} == {day64}
    rows = json_rows(capsys, config, "--since", day64, "--until", day64)
    assert by_scope(rows) == hand_sums(corpus.SESSION_64)
    assert json_rows(capsys, config, "--since", "2030-01-01") == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["--since", "2025-13-01"], "error: --since '2025-13-01' is not a date like 2026-11-21"),
        (["--until", "yesterday"], "error: --until 'yesterday' is not a date like 2026-11-21"),
        (
            ["--since", "2025-06-02", "--until", "2025-06-01"],
            "error: --since 2025-06-02 is after --until 2025-06-01",
        ),
    ],
)
def test_bad_dates_are_one_line_errors(capsys, config, args, message):
    code, out, err = report(capsys, config, *args)
    assert code == 2 and out == "" and err.splitlines() == [message]


# -- deduplication ---------------------------------------------------------------------


def test_a_copied_capture_is_counted_once(capsys, config, captures):
    paths = corpus.write_session(captures, corpus.SESSION_64)
    before = json_rows(capsys, config)
    shutil.copy(paths[5], paths[5].with_name("900_235959_messages.json"))
    other_day = captures / "2030-01-01"
    other_day.mkdir()
    shutil.copy(paths[0], other_day / "001_000000_messages.json")
    assert json_rows(capsys, config) == before
    _code, out, _err = report(capsys, config)
    assert "duplicates: 2 capture(s) of a response already counted, skipped" in out


def test_a_copied_capture_without_message_id_is_counted_once(capsys, config, captures):
    path = put(captures, "2026-11-21", 1, exchange(response=False))
    shutil.copy(path, path.with_name("002_100001_messages.json"))
    (row,) = json_rows(capsys, config)
    assert row["requests"] == 1 and row["incomplete"] == 1


def test_a_capture_rewritten_in_place_is_counted_once(capsys, config, captures):
    path = put(captures, "2026-11-21", 1, exchange(response=False))
    (row,) = json_rows(capsys, config)
    assert (row["requests"], row["incomplete"], row["input_tokens"]) == (1, 1, 0)
    tmp = path.with_name(".001_100000_messages.json.tmp")
    tmp.write_text(json.dumps(exchange()), encoding="utf-8")  # the writer's atomic rewrite
    os.replace(tmp, path)
    (row,) = json_rows(capsys, config)
    assert (row["requests"], row["incomplete"], row["input_tokens"]) == (1, 0, 10)


# -- incomplete exchanges ----------------------------------------------------------------


def test_incomplete_exchanges_are_counted_and_flagged(capsys, config, captures):
    start_usage = {
        "input_tokens": 7,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 100,
        "output_tokens": 1,
    }
    docs = [
        exchange(message_id="ok"),
        exchange(message_id="cut", complete=False, stop_reason=None, usage_=start_usage),
        exchange(
            message_id="cut2",
            complete=False,
            stop_reason=None,
            usage_=start_usage,
            error="connection reset by peer",
        ),
        exchange(
            response=False, error="client disconnected", captured_at="2026-11-21T10:00:01.000+00:00"
        ),
        exchange(response=False, captured_at="2026-11-21T10:00:02.000+00:00"),
        exchange(status=529, message_id=None, captured_at="2026-11-21T10:00:03.000+00:00"),
    ]
    stream_error = exchange(message_id="se", stop_reason=None, complete=False, usage_=start_usage)
    stream_error["response"]["stream_error"] = {"type": "overloaded_error", "message": "Overloaded"}
    docs.append(stream_error)
    for number, doc in enumerate(docs, 1):
        put(captures, "2026-11-21", number, doc)
    (row,) = json_rows(capsys, config)
    assert row["requests"] == 7 and row["incomplete"] == 6
    assert row["input_tokens"] == 10 + 3 * 7  # what arrived is counted
    assert row["cache_read_input_tokens"] == 300 and row["output_tokens"] == 5 + 3
    code, out, _err = report(capsys, config)
    assert code == 0
    footer = next(line for line in out.splitlines() if line.startswith("incomplete:"))
    for part in (
        "6 requests",
        "2 failed exchange",
        "1 cut stream",
        "1 stream error event",
        "1 HTTP error status",
        "1 no response yet",
    ):
        assert part in footer
    assert out.splitlines()[2].split()[-1] == "6"  # the incomplete column


def test_count_tokens_is_a_side_request_without_tokens(capsys, config, captures):
    doc = exchange(message_id=None, streamed=False)
    doc["url"] = "https://api.anthropic.com/v1/messages/count_tokens?beta=true"
    doc["response"]["body"] = {"input_tokens": 12345}
    put(captures, "2026-11-21", 1, doc, endpoint="count_tokens")
    (row,) = json_rows(capsys, config)
    assert row["scope"] == "side" and row["requests"] == 1 and row["incomplete"] == 0
    assert all(row[k] == 0 for k in TOKEN_KEYS) and row["cost_usd"] == 0


# -- bad input -------------------------------------------------------------------------


def test_bad_files_are_reported_in_one_line_and_skipped(capsys, config, captures):
    corpus.write_session(captures, corpus.SESSION_1058)
    day = "2026-11-21"
    good = json.dumps(exchange(), indent=2)
    put(captures, day, 1, good[: len(good) // 2])  # truncated
    (captures / day / "002_100000_messages.json").write_bytes(b"\x00\x01\x02binary\xff")
    put(captures, day, 3, "[1, 2, 3]")  # wrong shape
    put(captures, day, 4, json.dumps({"url": "x"}))  # wrong shape: no captured_at
    put(captures, day, 5, "")  # empty
    put(captures, day, 6, json.dumps(exchange(message_id="fine")))
    (captures / day / "008_100000_messages.json").mkdir()  # a folder named like a capture
    (captures / day / ".007_100000_messages.json.tmp").write_text("{", encoding="utf-8")
    (captures / day / "notes.txt").write_text("not a capture", encoding="utf-8")
    (captures / "memories.jsonl").write_text("{}\n", encoding="utf-8")
    code, _out, err = report(capsys, config)
    assert code == 0
    (line,) = [line for line in err.splitlines() if "unreadable" in line]
    assert line.startswith("warning: skipped 6 unreadable capture files in ")
    assert f"{day}/001_100000_messages.json (truncated or invalid JSON" in line
    assert f"{day}/002_100000_messages.json (binary file" in line
    assert line.endswith("; ...")
    rows = json_rows(capsys, config)
    assert sum(r["requests"] for r in rows) == 3


def test_odd_types_inside_a_capture_are_a_bad_file(capsys, config, captures):
    doc = exchange(message_id="odd")
    del doc["headers"]["X-Claude-Code-Session-Id"]
    doc["request"]["metadata"] = ["not", "an", "object"]
    put(captures, "2026-11-21", 1, doc)
    put(captures, "2026-11-21", 2, exchange(message_id="fine"))
    code, out, err = report(capsys, config, "--by", "session")
    assert code == 0
    assert err.startswith("warning: skipped 1 unreadable capture file in ")
    assert "2026-11-21/001_100000_messages.json (wrong shape:" in err
    assert out.splitlines()[2].split()[:3] == ["sess-1", "main", "1"]


def test_missing_captures_folder_gives_an_empty_report_with_a_hint(capsys, config):
    code, out, err = report(capsys, config, "--json")
    assert code == 0 and out == ""
    assert "note: no captures folder at" in err and "make capture" in err
    code, out, err = report(capsys, config)
    assert out.splitlines()[-1].split()[:2] == ["TOTAL", "0"]


# -- the analyzer's own spend --------------------------------------------------------------


def test_analyzer_spend_is_its_own_row(capsys, config, captures):
    paths = corpus.write_session(captures, corpus.SESSION_1058)
    day = paths[0].parent.name
    ledger = Ledger(config.parent / "state")
    at = f"{day}T12:00:00+00:00"
    ledger.record_call(
        Call(
            at=at,
            backend="anthropic",
            model="claude-3-5-haiku-20241022",
            ok=True,
            tokens=Tokens(input=1000, cache_write_5m=100, cache_read=50, output=200),
        )
    )
    ledger.record_call(
        Call(
            at=at,
            backend="claude-cli",
            model="claude-haiku-4-5",
            ok=True,
            tokens=Tokens(input=10, output=20),
            cost_usd=0.5,
        )
    )
    ledger.record_call(
        Call(
            at="2099-01-01T00:00:00+00:00",
            backend="anthropic",
            model="m",
            ok=False,
            error="timeout",
        )
    )
    ledger.close()

    rows = json_rows(capsys, config, "--until", day)
    (analyzer,) = [r for r in rows if r["scope"] == "analyzer"]
    assert analyzer["key"] == day and analyzer["requests"] == 2 and analyzer["incomplete"] == 0
    assert analyzer["input_tokens"] == 1010 and analyzer["output_tokens"] == 220
    assert analyzer["cost_usd"] == pytest.approx(
        0.5 + (1000 * 0.8 + 100 * 1.0 + 50 * 0.08 + 200 * 4.0) / 1e6
    )

    rows = json_rows(capsys, config, "--by", "session")
    assert rows[-1]["key"] == "analyzer" and rows[-1]["scope"] == "analyzer"
    assert rows[-1]["requests"] == 3 and rows[-1]["incomplete"] == 1
    rows = json_rows(capsys, config, "--by", "model")
    assert {r["key"] for r in rows if r["scope"] == "analyzer"} == {
        "claude-3-5-haiku-20241022",
        "claude-haiku-4-5",
        "m",
    }
    _code, out, _err = report(capsys, config)
    assert "1 failed analyzer call" in out
    assert any(line.startswith(f"{day}  analyzer") for line in out.splitlines())


def test_an_unreadable_ledger_is_one_warning(capsys, config, captures):
    corpus.write_session(captures, corpus.SESSION_1058)
    (config.parent / "state").mkdir()
    (config.parent / "state" / Ledger.FILE).write_bytes(b"this is not a database" * 100)
    code, out, err = report(capsys, config)
    assert code == 0 and "TOTAL" in out
    (line,) = err.splitlines()
    assert line.startswith("warning: cannot read the analyzer's ledger in ")


# -- the rest ----------------------------------------------------------------------------


def test_the_cli_runs_as_a_subprocess(tmp_path, config, captures):
    corpus.write_session(captures, corpus.SESSION_64)
    done = subprocess.run(
        [sys.executable, "-m", "analyze", "usage", "--config", str(config), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "prices: usage.prices for claude-3-5-haiku-20241022, claude-sonnet-4-20250514"
    ]
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert by_scope(rows) == hand_sums(corpus.SESSION_64)


def test_totals_are_the_same_after_compaction(capsys, config, captures):
    import gzip

    paths = corpus.write_session(captures, corpus.SESSION_64)
    paths += corpus.write_session(captures, corpus.SESSION_1058, start_number=500)
    before = {by: json_rows(capsys, config, "--by", by) for by in ("day", "session", "model")}
    for i, path in enumerate(paths):
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(path.read_bytes()))
        if i % 3:  # every third keeps its plain twin, as a crash mid-compaction leaves it
            path.unlink()
    after = {by: json_rows(capsys, config, "--by", by) for by in ("day", "session", "model")}
    assert after == before and before["day"][0]["requests"] > 0
    _code, out, _err = report(capsys, config)
    assert "duplicates" not in out


def test_a_truncated_gz_is_skipped_with_a_warning(capsys, config, captures):
    import gzip

    path = put(captures, "2026-11-21", 1, exchange())
    gz = path.with_name(path.name + ".gz")
    gz.write_bytes(gzip.compress(path.read_bytes())[:30])
    path.unlink()
    _code, out, err = report(capsys, config)
    assert "truncated gzip file" in out + err
