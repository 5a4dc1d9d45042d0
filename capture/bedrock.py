"""Reassemble a Bedrock event stream into the Message the first-party API would have sent.

`invoke-with-response-stream` answers with AWS event-stream frames (capture/eventstream.py).
Each `chunk` event carries `{"bytes": "<base64 of one Messages API stream event>"}`: the very
events of an SSE stream, folded here by the same code (`sse.fold`), so `usage` and every block
come out as for the first-party API. The last chunk's `message_stop` also carries Bedrock's
`amazon-bedrock-invocationMetrics` (token counts and latencies), kept as they are.

An exception frame (`throttlingException`, `modelStreamErrorException`…) or an error frame
becomes the stream's `error` ({"type", "message"}); bad CRCs, a frame the stream cut and
chunks that do not decode are listed in `problems` with their byte offset. Never raises.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from capture import eventstream, sse
from glass import jsonio

METRICS_KEY: Final = "amazon-bedrock-invocationMetrics"


@dataclass(frozen=True, kw_only=True)
class BedrockStream:
    result: sse.Reassembled
    metrics: dict[str, Any] | None
    """`amazon-bedrock-invocationMetrics` of the last chunk, when it came."""
    payloads: list[str]
    """Every decoded frame's payload as text: what the file keeps when no Message started."""


def reassemble(data: bytes) -> BedrockStream:
    frames, framing = eventstream.decode(data)
    out = sse.Reassembled(message=None)
    out.problems.extend(f"byte {p.offset}: {p.message}" for p in framing)
    metrics: dict[str, Any] = {}
    events = list(_events(frames, out, metrics))
    sse.fold(events, out=out)
    payloads = [f.payload.decode("utf-8", errors="replace") for f in frames]
    return BedrockStream(result=out, metrics=metrics.get(METRICS_KEY), payloads=payloads)


def _events(
    frames: list[eventstream.Frame], out: sse.Reassembled, metrics: dict[str, Any]
) -> Iterator[sse.Event]:
    for frame in frames:
        kind = frame.headers.get(":message-type")
        if kind == "exception":
            out.error = {
                "type": frame.headers.get(":exception-type"),
                "message": _message(frame.payload),
            }
            continue
        if kind == "error":
            out.error = {
                "type": frame.headers.get(":error-code"),
                "message": frame.headers.get(":error-message"),
            }
            continue
        event_type = frame.headers.get(":event-type")
        if kind != "event" or event_type != "chunk":
            out.problems.append(f"byte {frame.offset}: {kind!r} frame {event_type!r} skipped")
            continue
        event = _chunk_event(frame.payload)
        if isinstance(event, str):
            out.problems.append(f"byte {frame.offset}: chunk {event}")
            continue
        if METRICS_KEY in event:
            metrics[METRICS_KEY] = event[METRICS_KEY]
        yield sse.Event(name=str(event.get("type", "chunk")), payload=event)


def _chunk_event(payload: bytes) -> dict[str, Any] | str:
    """The stream event a chunk carries, or what is wrong with it."""
    try:
        body = jsonio.loads(payload)
        raw = base64.b64decode(body["bytes"], validate=True)
        event = jsonio.loads_exact(raw)
    except (ValueError, KeyError, TypeError, binascii.Error) as e:
        return f"does not decode to an event ({type(e).__name__}: {e})"
    if not isinstance(event, dict):
        return "event is not an object"
    return event


def _message(payload: bytes) -> str:
    """An exception's `message`, else its payload as text."""
    text = payload.decode("utf-8", errors="replace")
    try:
        body = jsonio.loads(text)
    except ValueError:
        return text
    return str(body.get("message", text)) if isinstance(body, dict) else text
