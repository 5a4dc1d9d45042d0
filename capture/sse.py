"""Reassemble a Messages API event stream into the Message it describes.

The streaming API sends a message as server-sent events: `message_start`
(the message shell with input and cache usage), per content block a
`content_block_start`, deltas and a `content_block_stop`, then
`message_delta` (stop reason and *cumulative* usage) and `message_stop`.
`reassemble()` folds those events into the same shape a non-streaming call
returns, so a capture file reads the same whichever way Claude Code asked.

It folds them as the anthropic SDK's own accumulator does
(`anthropic.lib.streaming._beta_messages.accumulate_event`, checked stream by
stream in tests/capture/test_sse_differential.py): a `message_delta` sets the
stop fields and `output_tokens`, and overwrites any other value only with a
non-null one, so a null count or a null `container` never erases what
`message_start` gave. The deliberate differences, listed in that test: Glass
also keeps what the SDK's accumulator drops (`context_management` on the
non-beta path, the `cache_creation` breakdown and any other key a
`message_delta` adds), keeps a final event whose blank line never came, and
never raises: a tool input that is not JSON is kept as text, an event that
cannot be applied is listed in `problems`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from glass import jsonio

_DELTA_OWNS = frozenset({"stop_reason", "stop_sequence", "stop_details"})
"""`message_delta` fields set even when null (the SDK does): the stop is the delta's to say."""
_ALWAYS_USAGE = frozenset({"output_tokens"})
"""`message_delta` usage counts set even when null (the SDK does)."""


@dataclass(kw_only=True)
class Reassembled:
    message: dict[str, Any] | None
    """The Message, or None when the stream never started one."""
    complete: bool = False
    """True when `message_stop` arrived as a whole event (its blank line included)."""
    error: dict[str, Any] | None = None
    """The payload of an `error` event, if the API sent one mid-stream."""
    problems: list[str] = field(default_factory=list)
    """Events that could not be applied (bad JSON, unknown block index...)."""


def iter_events(text: str) -> Iterator[tuple[str, str]]:
    """Yield (event name, data) pairs from SSE text.

    The framing follows the WHATWG event-stream rules (multi-line data joined
    with newlines, comments `:` skipped, CRLF, CR or LF line ends), with one
    deliberate exception: a trailing event without its blank line (a cut
    stream) is still yielded, where the WHATWG rules and the SDK drop it, so
    that a capture keeps what arrived. `reassemble()` does not count such an
    event as the end of the stream.
    """
    for name, data, _ in _framed(text):
        yield name, data


def _framed(text: str) -> Iterator[tuple[str, str, bool]]:
    """(event name, data, terminated): terminated is False only for a trailing event."""
    event, data = "", list[str]()  # the current event's name and data lines
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut = lines.pop()  # what follows the last line end: "" or a line the stream cut
    for line in lines:
        if not line:
            if data:
                yield event or "message", "\n".join(data), True
            event, data = "", []
            continue
        event = _field(line, event, data)
    if cut:
        event = _field(cut, event, data)
    if data:
        yield event or "message", "\n".join(data), False


def _field(line: str, event: str, data: list[str]) -> str:
    """Apply one non-blank line: append to `data`, return the event name."""
    if line.startswith(":"):
        return event
    name, _, value = line.partition(":")
    if value.startswith(" "):
        value = value[1:]
    if name == "event":
        return value
    if name == "data":
        data.append(value)
    return event


def reassemble(text: str) -> Reassembled:
    """The Message an SSE body describes."""
    out = Reassembled(message=None)
    return fold(_sse_events(text, out), out=out)


MAX_INDEX_GAP = 64
"""How far past the last block a `content_block_start` may point (gaps are padded with `{}`);
an index beyond is a problem, not millions of empty blocks from one small event."""


@dataclass(frozen=True, kw_only=True)
class Event:
    """One stream event, however it was framed (SSE here, AWS event-stream in capture/bedrock)."""

    name: str
    """The framing's name for it (SSE `event:`), used when the payload has no `type`."""
    payload: dict[str, Any]
    terminated: bool = True
    """False for a trailing event the stream cut (its SSE blank line never came)."""


def _sse_events(text: str, out: Reassembled) -> Iterator[Event]:
    for name, data, terminated in _framed(text):
        try:
            payload = jsonio.loads_exact(data)
        except ValueError:
            out.problems.append(f"event {name!r}: data is not JSON")
            continue
        if not isinstance(payload, dict):
            out.problems.append(f"event {name!r}: data is not an object")
            continue
        yield Event(name=name, payload=payload, terminated=terminated)


def fold(events: Iterable[Event], *, out: Reassembled) -> Reassembled:
    """Apply `events` to `out` (which framing problems may already be listed in) and finish
    the tool inputs; never raises on what the events hold."""
    partial_json: dict[int, list[str]] = {}
    for event in events:
        kind = event.payload.get("type", event.name)
        if kind == "message_stop" and not event.terminated:
            out.problems.append("message_stop without its blank line: the stream was cut")
            continue
        try:
            _apply(out, kind, event.payload, partial_json)
        except (KeyError, IndexError, TypeError, AttributeError) as e:
            out.problems.append(f"event {kind!r}: {type(e).__name__}: {e}")
    if out.message is not None:
        _finish_tool_inputs(out, out.message, partial_json)
    return out


def _apply(out: Reassembled, kind: str, ev: dict, partial_json: dict[int, list[str]]) -> None:
    if kind == "message_start":
        out.message = dict(ev["message"])
        out.message["content"] = list(out.message.get("content") or [])
        out.message["usage"] = dict(out.message.get("usage") or {})
        return
    if kind == "error":
        out.error = ev.get("error", ev)
        return
    if kind in ("ping", "message_stop"):
        out.complete = out.complete or kind == "message_stop"
        return
    msg = out.message
    if msg is None:
        out.problems.append(f"event {kind!r} before message_start")
        return
    content: list[dict] = msg["content"]
    if kind == "content_block_start":
        index = ev["index"]
        if not isinstance(index, int) or not 0 <= index <= len(content) + MAX_INDEX_GAP:
            out.problems.append(f"content_block_start: index {index!r} out of range")
            return
        while len(content) <= index:
            content.append({})
        content[index] = dict(ev["content_block"])
        fallback_to = content[index].get("to") if content[index].get("type") == "fallback" else None
        if isinstance(fallback_to, dict) and fallback_to.get("model"):
            # the model that served the rest of the turn (the SDK relabels the message too)
            msg["model"] = fallback_to["model"]
    elif kind == "content_block_delta":
        _apply_delta(out, content[ev["index"]], ev["delta"], ev["index"], partial_json)
    elif kind == "content_block_stop":
        pass
    elif kind == "message_delta":
        _merge(msg, ev.get("delta") or {}, always=_DELTA_OWNS)
        # message_delta usage counts are cumulative: they replace, never add.
        _merge(msg["usage"], ev.get("usage") or {}, always=_ALWAYS_USAGE)
        _merge(msg, {k: v for k, v in ev.items() if k not in ("type", "delta", "usage")})
    else:
        out.problems.append(f"unknown event type {kind!r}")


def _apply_delta(
    out: Reassembled, block: dict, delta: dict, index: int, partial_json: dict[int, list[str]]
) -> None:
    match delta.get("type"):
        case "text_delta":
            block["text"] = (block.get("text") or "") + delta["text"]
        case "input_json_delta":
            partial_json.setdefault(index, []).append(delta["partial_json"])
        case "thinking_delta":
            block["thinking"] = (block.get("thinking") or "") + delta["thinking"]
        case "signature_delta":
            block["signature"] = delta["signature"]
        case "citations_delta":
            # a block may start with "citations": null, and setdefault would keep that None
            citations = block.get("citations")
            if isinstance(citations, list):
                citations.append(delta["citation"])
            else:
                block["citations"] = [delta["citation"]]
        case "compaction_delta":
            block["content"] = delta.get("content")
            block["encrypted_content"] = delta.get("encrypted_content")
        case other:
            out.problems.append(f"unknown delta type {other!r}")


def _merge(into: dict, new: dict, *, always: frozenset[str] = frozenset()) -> None:
    """Copy `new` into `into`; a null replaces a value only for the keys in `always`."""
    for key, value in new.items():
        if value is not None or key in always:
            into[key] = value


def _finish_tool_inputs(
    out: Reassembled, message: dict[str, Any], partial_json: dict[int, list[str]]
) -> None:
    content = message["content"]
    for index, parts in partial_json.items():
        if index >= len(content):
            continue
        raw = "".join(parts)
        if not raw.strip():
            continue
        try:
            content[index]["input"] = jsonio.loads_exact(raw)
        except ValueError:
            # A cut stream: keep what arrived rather than pretend it parsed.
            content[index]["input"] = {}
            content[index]["partial_input_json"] = raw
            out.problems.append(f"content block {index}: tool input is not complete JSON")
