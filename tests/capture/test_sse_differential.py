"""capture/sse.py against the anthropic SDK's own accumulator, stream by stream.

Every stream (the real ones of the corpus and 1,200 seeded generated ones,
tests/sse_streams.py) is read twice: by `sse.reassemble`, and the way the
SDK's stream reads it (`sse_streams.sdk_accumulate`: its `SSEDecoder`, each
event's JSON built into the SDK's event type with `construct_type`, folded by
`accumulate_event`), for the beta accumulator (Claude Code calls
`/v1/messages?beta=true`) and the plain one. The two
Messages must be equal once nulls are treated as absent, except for these
deliberate differences (DELIBERATE below), each checked for what Glass does
instead:

1. `trailing_event`: a cut stream's last event without its blank line is
   applied by Glass (a capture keeps what arrived) and dropped by the SDK; the
   reference is the SDK fed the same stream with the blank line restored. Such
   a `message_stop` does not make the stream `complete`.
2. `delta_usage_extra`: usage keys of a `message_delta` the SDK does not
   track (the `cache_creation` breakdown) replace Glass's value; the SDK keeps
   the `message_start` value.
3. `context_management`: the plain accumulator drops it (and
   `input_transformations`, the fallback relabelling of `model`, compaction
   deltas); Glass keeps them as the beta accumulator does.
4. `cut_tool_input`: a tool input cut mid-JSON is `{}` plus the raw text in
   `partial_input_json` in Glass; the SDK keeps its partial parse, which must
   be the partial parse of that raw text.
5. `junk_tool_input`: tool input fragments that are not JSON make the SDK
   raise; Glass keeps them as `partial_input_json` and lists a problem.
6. `error_event`: an `error` event makes the SDK raise; Glass records it in
   `error` and keeps the message up to there.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from capture import sse
from tests import corpus
from tests.sse_streams import (
    SDKRaised,
    corpus_streams,
    event_text,
    generated_stream,
    sdk_accumulate,
    sdk_saw_stop,
)

GENERATED = 1200
SEED = 20261201

DELIBERATE = (
    "trailing_event",
    "delta_usage_extra",
    "context_management",
    "cut_tool_input",
    "junk_tool_input",
    "error_event",
)
SDK_USAGE = {
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "server_tool_use",
    "output_tokens_details",
    "iterations",
    "fallback_credit",
}
"""The usage keys the SDK's accumulators copy from a message_delta."""
BETA_ONLY = ("context_management", "input_transformations")


# --- the comparison ------------------------------------------------------------------------


def without_nulls(value: Any) -> Any:
    """The normalisation: a null is the same as an absent key."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def _restore_blank_line(text: str) -> tuple[str, bool]:
    """The stream with its trailing event terminated, and whether Glass applies that event.

    A trailing event cut inside its data is not JSON: Glass lists it as a problem, and the
    SDK, fed the stream as it is, drops it too.
    """
    events = list(sse._framed(text))
    if not events or events[-1][2]:
        return text, False
    try:
        json.loads(events[-1][1])
    except ValueError:
        return text, False
    return text + "\n\n", True


def _last_delta_usage(text: str) -> dict[str, Any]:
    usage: dict[str, Any] = {}
    for _, data, _ in sse._framed(text):
        try:
            payload = json.loads(data)
        except ValueError:
            continue
        if isinstance(payload, dict) and payload.get("type") == "message_delta":
            usage.update({k: v for k, v in payload["usage"].items() if v is not None})
    return usage


def compare(text: str, *, beta: bool, seen: Counter[str]) -> None:
    """Assert that Glass and the SDK agree on `text`, up to the deliberate differences."""
    glass = sse.reassemble(text)
    reference_text, trailing = _restore_blank_line(text)
    if trailing:
        seen["trailing_event"] += 1
    assert glass.complete == sdk_saw_stop(text), "complete must mean a terminated message_stop"
    try:
        expected = sdk_accumulate(reference_text, beta=beta)
    except SDKRaised as e:
        if "error event" in str(e):
            seen["error_event"] += 1
            assert glass.error is not None
            expected = sdk_accumulate(reference_text.split("event: error")[0], beta=beta)
        else:
            seen["junk_tool_input"] += 1
            assert glass.message is not None
            assert any("partial_input_json" in b for b in glass.message["content"])
            assert any("tool input is not complete JSON" in p for p in glass.problems)
            return
    if expected is None:
        assert glass.message is None
        return
    assert glass.message is not None, glass.problems
    got = without_nulls(json.loads(json.dumps(glass.message)))
    want = without_nulls(expected)
    _deliberate(text, got, want, beta=beta, seen=seen)
    assert got == want


def _deliberate(
    text: str, got: dict[str, Any], want: dict[str, Any], *, beta: bool, seen: Counter[str]
) -> None:
    """Apply the listed differences, after checking that Glass does what the list says."""
    delta_usage = _last_delta_usage(text)
    for key in set(delta_usage) - SDK_USAGE:
        seen["delta_usage_extra"] += 1
        assert got["usage"][key] == delta_usage[key]
        got["usage"].pop(key)
        want["usage"].pop(key, None)
    if not beta:
        for key in BETA_ONLY:
            if key in got and key not in want:
                seen["context_management"] += 1
                got.pop(key)
    for block, ref in zip(got["content"], want["content"], strict=False):
        raw = block.pop("partial_input_json", None)
        if raw is None:
            continue
        seen["cut_tool_input"] += 1
        assert block["input"] == {}
        assert _sdk_partial_parse(raw, beta=beta) == ref["input"]
        block["input"] = ref["input"]


def _sdk_partial_parse(raw: str, *, beta: bool) -> Any:
    """The SDK's own partial parse of a tool input's text (one `input_json_delta`)."""
    shell = {"id": "m", "type": "message", "role": "assistant", "model": "x", "content": []}
    shell["usage"] = {"input_tokens": 1, "output_tokens": 1}
    tool = {"type": "tool_use", "id": "t", "name": "n", "input": {}}
    delta = {"type": "input_json_delta", "partial_json": raw}
    text = "".join(
        event_text(e)
        for e in [
            {"type": "message_start", "message": shell},
            {"type": "content_block_start", "index": 0, "content_block": tool},
            {"type": "content_block_delta", "index": 0, "delta": delta},
        ]
    )
    message = sdk_accumulate(text, beta=beta)
    assert message is not None
    return message["content"][0]["input"]


# --- the tests -----------------------------------------------------------------------------


def run_all(streams: list[str], *, beta: bool) -> Counter[str]:
    seen: Counter[str] = Counter()
    for number, text in enumerate(streams):
        try:
            compare(text, beta=beta, seen=seen)
        except AssertionError as e:
            raise AssertionError(f"stream {number} differs: {e}\n{text[:2000]}") from e
    return seen


@pytest.mark.parametrize("beta", [True, False], ids=["beta", "plain"])
def test_corpus_streams_agree_with_the_sdk(beta: bool) -> None:
    streams = corpus_streams()
    assert len(streams) >= 45
    seen = run_all(streams, beta=beta)
    assert set(seen) <= set(DELIBERATE), seen


@pytest.mark.parametrize("beta", [True, False], ids=["beta", "plain"])
def test_generated_streams_agree_with_the_sdk(beta: bool) -> None:
    streams = [generated_stream(SEED + n) for n in range(GENERATED)]
    seen = run_all(streams, beta=beta)
    assert set(seen) <= set(DELIBERATE), seen
    # the generator reaches every listed difference the SDK path allows (else the test proves less)
    expected = set(DELIBERATE) - ({"context_management"} if beta else set())
    assert expected <= set(seen), seen


def test_the_two_fixed_bugs_are_covered() -> None:
    """Citations after `"citations": null` and a null usage count in message_delta."""
    start = {
        "type": "message_start",
        "message": {
            "id": "m",
            "type": "message",
            "role": "assistant",
            "model": "x",
            "content": [],
            "usage": {"input_tokens": 7, "output_tokens": 1, "cache_read_input_tokens": 5},
            "container": {"id": "c1", "expires_at": "2026-12-01T22:00:00Z"},
        },
    }
    citation = {"type": "char_location", "cited_text": "a", "document_index": 0}
    text = "".join(
        event_text(e)
        for e in [
            start,
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": "", "citations": None},
            },
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "citations_delta", "citation": citation},
            },
            {"type": "content_block_stop", "index": 0},
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "container": None},
                "usage": {
                    "output_tokens": 9,
                    "input_tokens": None,
                    "cache_read_input_tokens": None,
                },
            },
            {"type": "message_stop"},
        ]
    )
    result = sse.reassemble(text)
    assert not result.problems and result.complete
    assert result.message["content"][0]["citations"] == [citation]
    assert result.message["usage"] == {
        "input_tokens": 7,
        "output_tokens": 9,
        "cache_read_input_tokens": 5,
    }
    assert result.message["container"]["id"] == "c1"
    compare(text, beta=True, seen=Counter())


@pytest.mark.parametrize("tail", ["", "\n", "\r\n"], ids=["no-line-end", "LF", "CRLF"])
def test_an_unterminated_message_stop_is_not_complete(tail: str) -> None:
    raw = corpus.MAIN_TURN_SSE.read_text().rstrip("\n")
    assert raw.rsplit("\n", 1)[-1].startswith('data: {"type":"message_stop"')
    result = sse.reassemble(raw + tail)
    assert not result.complete
    assert result.message is not None and result.message["stop_reason"] == "tool_use"
    assert sse.reassemble(raw + "\n\n").complete
