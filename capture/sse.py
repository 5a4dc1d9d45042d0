"""Reassemble a Messages API event stream into the Message it describes.

The streaming API sends a message as server-sent events: `message_start`
(the message shell with input and cache usage), per content block a
`content_block_start`, deltas and a `content_block_stop`, then
`message_delta` (stop reason and *cumulative* usage) and `message_stop`.
`reassemble()` folds those events into the same shape a non-streaming call
returns, so a capture file reads the same whichever way Claude Code asked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(kw_only=True)
class Reassembled:
    message: dict[str, Any] | None
    """The Message, or None when the stream never started one."""
    complete: bool = False
    """True when `message_stop` arrived."""
    error: dict[str, Any] | None = None
    """The payload of an `error` event, if the API sent one mid-stream."""
    problems: list[str] = field(default_factory=list)
    """Events that could not be applied (bad JSON, unknown block index...)."""


def iter_events(text: str) -> Iterator[tuple[str, str]]:
    """Yield (event name, data) pairs from SSE text, per the WHATWG rules.

    Multi-line data is joined with newlines, comments (`:`) are skipped, and
    CRLF or CR line ends are accepted. A trailing event without its blank
    line (a cut stream) is still yielded.
    """
    event, data = "", list[str]()  # the current event's name and data lines
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line:
            if data:
                yield event or "message", "\n".join(data)
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    if data:
        yield event or "message", "\n".join(data)


def reassemble(text: str) -> Reassembled:
    out = Reassembled(message=None)
    partial_json: dict[int, list[str]] = {}
    for name, data in iter_events(text):
        try:
            payload = json.loads(data)
        except ValueError:
            out.problems.append(f"event {name!r}: data is not JSON")
            continue
        if not isinstance(payload, dict):
            out.problems.append(f"event {name!r}: data is not an object")
            continue
        kind = payload.get("type", name)
        try:
            _apply(out, kind, payload, partial_json)
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
        while len(content) <= index:
            content.append({})
        content[index] = dict(ev["content_block"])
    elif kind == "content_block_delta":
        index, delta = ev["index"], ev["delta"]
        block = content[index]
        match delta.get("type"):
            case "text_delta":
                block["text"] = block.get("text", "") + delta["text"]
            case "input_json_delta":
                partial_json.setdefault(index, []).append(delta["partial_json"])
            case "thinking_delta":
                block["thinking"] = block.get("thinking", "") + delta["thinking"]
            case "signature_delta":
                block["signature"] = delta["signature"]
            case "citations_delta":
                block.setdefault("citations", []).append(delta["citation"])
            case other:
                out.problems.append(f"unknown delta type {other!r}")
    elif kind == "content_block_stop":
        pass
    elif kind == "message_delta":
        msg.update(ev.get("delta") or {})
        # message_delta usage counts are cumulative: they replace, never add.
        msg["usage"].update(ev.get("usage") or {})
        for key, value in ev.items():
            if key not in ("type", "delta", "usage"):
                msg[key] = value
    else:
        out.problems.append(f"unknown event type {kind!r}")


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
            content[index]["input"] = json.loads(raw)
        except ValueError:
            # A cut stream: keep what arrived rather than pretend it parsed.
            content[index]["input"] = {}
            content[index]["partial_input_json"] = raw
            out.problems.append(f"content block {index}: tool input is not complete JSON")
