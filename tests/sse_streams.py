"""Event streams for the reassembly tests and benchmark, and the SDK reading them.

`generated_stream(seed)` is one seeded random Messages API event stream (text
with citations, tool_use with `input_json_delta` split anywhere, thinking with
signatures, server tools, redacted thinking, pings, one to three cumulative
`message_delta`s with null counts, an `error` event, junk tool input, CRLF
framing, and streams cut anywhere). `corpus_streams()` are the real recorded
ones (tests/data/corpus). `sdk_accumulate(text, beta=...)` is the Message the
anthropic SDK builds from a stream body, read the way its `MessageStream`
reads one: its `SSEDecoder`, each event built into the SDK's own event type
with `construct_type`, folded by `accumulate_event` (the beta one, or the
plain one).
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from typing import Any

import httpx2
from anthropic._models import construct_type
from anthropic._streaming import SSEDecoder
from anthropic.lib.streaming import _beta_messages, _messages
from anthropic.types import RawMessageStreamEvent
from anthropic.types.beta import BetaRawMessageStreamEvent

from tests import corpus

# --- the generator -------------------------------------------------------------------------


def event_text(payload: dict[str, Any]) -> str:
    return f"event: {payload['type']}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n"


def _words(rng: random.Random, n: int) -> str:
    pool = ["the", "weather", "in", "Graz", "ünïcode", "naïve", '"quoted"', "a\\b", "\n", "🙂"]
    return " ".join(rng.choice(pool) for _ in range(n))


def _split(rng: random.Random, text: str) -> list[str]:
    """`text` in pieces cut at arbitrary points (empty pieces included)."""
    cuts = sorted(rng.randint(0, len(text)) for _ in range(rng.randint(0, 6)))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def _tool_input(rng: random.Random) -> dict[str, Any]:
    return {
        "command": _words(rng, rng.randint(1, 6)),
        "n": rng.choice([0, -3, 2.5, 10**12]),
        "flags": [rng.choice([True, False, None]) for _ in range(rng.randint(0, 3))],
        "nested": {"path": "/tmp/x y", "empty": {}},
    }


def _usage(rng: random.Random, *, start: bool) -> dict[str, Any]:
    usage: dict[str, Any] = {"output_tokens": rng.randint(1, 900)}
    for key in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"):
        roll = rng.random()
        if roll < 0.4:
            usage[key] = rng.randint(0, 20000)
        elif roll < 0.7 and not (start and key == "input_tokens"):
            usage[key] = None
    if start:
        usage.setdefault("input_tokens", rng.randint(1, 50))
        usage["service_tier"] = "standard"
    if rng.random() < 0.4:
        usage["cache_creation"] = {
            "ephemeral_5m_input_tokens": rng.randint(0, 500),
            "ephemeral_1h_input_tokens": rng.randint(0, 500),
        }
    if not start and rng.random() < 0.3:
        usage["server_tool_use"] = rng.choice([None, {"web_search_requests": rng.randint(0, 3)}])
    return usage


def _blocks(rng: random.Random, *, junk: bool) -> Iterator[tuple[dict, list[dict]]]:
    """(content_block, its deltas) for one to four blocks."""
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(["text", "text", "tool_use", "thinking", "server_tool", "redacted"])
        if kind == "text":
            block: dict[str, Any] = {"type": "text", "text": ""}
            if rng.random() < 0.5:
                block["citations"] = None
            deltas: list[dict] = [
                {"type": "text_delta", "text": part}
                for part in _split(rng, _words(rng, rng.randint(1, 12)))
            ]
            for _ in range(rng.choice([0, 0, 1, 3])):
                cited = _words(rng, 2)
                deltas.insert(
                    rng.randint(0, len(deltas)),
                    {
                        "type": "citations_delta",
                        "citation": {
                            "type": "char_location",
                            "cited_text": cited,
                            "document_index": 0,
                            "document_title": rng.choice([None, "Doc"]),
                            "start_char_index": 0,
                            "end_char_index": len(cited),
                        },
                    },
                )
            yield block, deltas
        elif kind == "tool_use":
            raw = json.dumps(_tool_input(rng), ensure_ascii=rng.random() < 0.5)
            if junk:
                raw = rng.choice(["{]", "not json", '{"a": tru}', '{"a" 1}'])
            block = {"type": "tool_use", "id": f"toolu_{rng.randrange(10**6)}", "name": "Bash"}
            block["input"] = {}
            yield block, [{"type": "input_json_delta", "partial_json": p} for p in _split(rng, raw)]
        elif kind == "thinking":
            block = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [
                {"type": "thinking_delta", "thinking": p}
                for p in _split(rng, _words(rng, rng.randint(1, 20)))
            ]
            deltas.append({"type": "signature_delta", "signature": f"Eq{rng.randrange(10**9)}=="})
            yield block, deltas
        elif kind == "server_tool":
            tool_id = f"srvtoolu_{rng.randrange(10**6)}"
            query = json.dumps({"query": _words(rng, 3)})
            block = {"type": "server_tool_use", "id": tool_id, "name": "web_search", "input": {}}
            yield (
                block,
                [{"type": "input_json_delta", "partial_json": p} for p in _split(rng, query)],
            )
            result = {
                "type": "web_search_tool_result",
                "tool_use_id": tool_id,
                "content": [
                    {
                        "type": "web_search_result",
                        "url": "https://example.org/a",
                        "title": _words(rng, 2),
                        "encrypted_content": "enc",
                        "page_age": rng.choice([None, "1 day"]),
                    }
                ],
            }
            yield result, []
        else:
            yield {"type": "redacted_thinking", "data": f"r{rng.randrange(10**6)}"}, []


def generated_stream(seed: int) -> str:
    rng = random.Random(seed)
    message: dict[str, Any] = {
        "id": f"msg_{seed}",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _usage(rng, start=True),
    }
    if rng.random() < 0.2:
        message["container"] = {"id": f"container_{seed}", "expires_at": "2026-12-01T22:00:00Z"}
    parts = [event_text({"type": "message_start", "message": message})]
    junk = rng.random() < 0.03
    for index, (block, deltas) in enumerate(_blocks(rng, junk=junk)):
        parts.append(
            event_text({"type": "content_block_start", "index": index, "content_block": block})
        )
        for delta in deltas:
            if rng.random() < 0.05:
                parts.append(event_text({"type": "ping"}))
            parts.append(
                event_text({"type": "content_block_delta", "index": index, "delta": delta})
            )
        parts.append(event_text({"type": "content_block_stop", "index": index}))
    if rng.random() < 0.03:
        error = {"type": "overloaded_error", "message": "Overloaded"}
        parts.append(event_text({"type": "error", "error": error}))
        return "".join(parts)
    for _ in range(rng.choice([1, 1, 2, 3])):  # cumulative: each one replaces the last
        stop: dict[str, Any] = {
            "stop_reason": rng.choice(["end_turn", "tool_use", "max_tokens"]),
            "stop_sequence": None,
        }
        if rng.random() < 0.3:
            stop["container"] = None
        event: dict[str, Any] = {
            "type": "message_delta",
            "delta": stop,
            "usage": _usage(rng, start=False),
        }
        if rng.random() < 0.3:
            event["context_management"] = rng.choice([None, {"applied_edits": []}])
        parts.append(event_text(event))
    parts.append(event_text({"type": "message_stop"}))
    text = "".join(parts)
    if rng.random() < 0.15:  # a cut stream: anywhere, also inside an event or before its blank line
        text = text[: rng.randint(0, len(text))]
    if rng.random() < 0.1:
        text = text.replace("\n", "\r\n")
    return text


# --- the SDK, as its stream reads a body ---------------------------------------------------


class SDKRaised(Exception):
    """The SDK's stream or accumulator refused the stream (what it raised is the cause)."""


def sdk_accumulate(text: str, *, beta: bool) -> dict[str, Any] | None:
    """The Message the SDK builds from `text`, the way `MessageStream` does."""
    event_type: Any = BetaRawMessageStreamEvent if beta else RawMessageStreamEvent
    snapshot: Any = None
    json_bufs: dict[int, bytes] = {}
    for raw in SSEDecoder().iter_bytes(iter([text.encode()])):
        if raw.event in ("ping", None) or not raw.data:
            continue  # as anthropic._streaming.Stream.__stream__ does
        if raw.event == "error":
            raise SDKRaised("error event")
        try:
            event: Any = construct_type(type_=event_type, value=raw.json())
            if beta:
                snapshot = _beta_messages.accumulate_event(
                    event=event,
                    current_snapshot=snapshot,
                    json_bufs=json_bufs,
                    request_headers=httpx2.Headers(),
                )
            else:
                snapshot = _messages.accumulate_event(
                    event=event, current_snapshot=snapshot, json_bufs=json_bufs
                )
        except ValueError as e:  # the SDK's own refusal (bad JSON, bad tool input JSON)
            raise SDKRaised(str(e)) from e
    return None if snapshot is None else snapshot.to_dict(mode="json")


def sdk_saw_stop(text: str) -> bool:
    return any(
        raw.event == "message_stop" for raw in SSEDecoder().iter_bytes(iter([text.encode()]))
    )


def corpus_streams() -> list[str]:
    streams = [corpus.MAIN_TURN_SSE.read_text(), corpus.THINKING_SSE.read_text()]
    for path in (corpus.SESSION_64, corpus.SESSION_1058):
        for pair in corpus.trace_pairs(path):
            raw = (pair.get("response") or {}).get("body_raw")
            if isinstance(raw, str):
                streams.append(raw)
    return streams
