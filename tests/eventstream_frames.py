"""A test-side encoder of AWS event-stream frames (`application/vnd.amazon.eventstream`).

What Bedrock's `invoke-with-response-stream` answers, built byte by byte so the decoder under test
(capture/eventstream.py) and the stand-in API (tests/standin.py) share one writer of the format:

    frame    = prelude headers payload message_crc
    prelude  = total_length:u32 headers_length:u32 prelude_crc:u32     (big-endian)
    header   = name_length:u8 name:utf-8 value_type:u8 value            (type 7: u16 length + utf-8)
    prelude_crc = crc32(total_length, headers_length); message_crc = crc32(all bytes before it)

`frame(payload, headers=...)` is one frame; `chunk_frame(event)` one Bedrock `chunk` event carrying
a Messages API stream event (`{"bytes": base64(json)}`); `exception_frame(kind, message)` one
exception frame (`throttlingException`…); `event_stream(events)` the frames of a whole answer,
`from_sse(sse_body, metrics=...)` the same events as an SSE body (a corpus stream), the last
chunk with Bedrock's `amazon-bedrock-invocationMetrics`.
Nothing here validates: a test that wants a broken frame breaks these bytes itself.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

from capture.sse import iter_events

STRING_TYPE = 7  # the header value type of a UTF-8 string (u16 length, then the bytes)
PRELUDE_LENGTH = 12  # total length, headers length, prelude CRC
CRC_LENGTH = 4
CONTENT_TYPE = "application/vnd.amazon.eventstream"


def _crc(data: bytes) -> bytes:
    return struct.pack(">I", zlib.crc32(data) & 0xFFFFFFFF)


def encode_headers(headers: Mapping[str, str]) -> bytes:
    """The header block: every value as a string (type 7), in the mapping's order."""
    out = bytearray()
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        out += struct.pack(">B", len(raw_name)) + raw_name
        out += struct.pack(">BH", STRING_TYPE, len(raw_value)) + raw_value
    return bytes(out)


def frame(payload: bytes, *, headers: Mapping[str, str]) -> bytes:
    """One complete frame with correct prelude and message CRCs."""
    header_bytes = encode_headers(headers)
    total = PRELUDE_LENGTH + len(header_bytes) + len(payload) + CRC_LENGTH
    lengths = struct.pack(">II", total, len(header_bytes))
    head = lengths + _crc(lengths) + header_bytes + payload
    return head + _crc(head)


def chunk_payload(event: Mapping[str, Any]) -> bytes:
    """Bedrock's chunk body: `{"bytes": "<base64 of the event's JSON>"}`."""
    data = json.dumps(event, ensure_ascii=False).encode()
    return json.dumps({"bytes": base64.b64encode(data).decode("ascii")}).encode()


def chunk_frame(event: Mapping[str, Any]) -> bytes:
    """A `chunk` event frame carrying one Messages API stream event."""
    return frame(
        chunk_payload(event),
        headers={
            ":event-type": "chunk",
            ":content-type": "application/json",
            ":message-type": "event",
        },
    )


def exception_frame(kind: str, message: str) -> bytes:
    """An exception frame as Bedrock sends it mid-stream (`kind`: e.g. `throttlingException`)."""
    return frame(
        json.dumps({"message": message}).encode(),
        headers={
            ":exception-type": kind,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
    )


def event_stream(events: Iterable[Mapping[str, Any]]) -> bytes:
    """The whole body of an `invoke-with-response-stream` answer: one chunk frame per event."""
    return b"".join(chunk_frame(e) for e in events)


METRICS = {
    "inputTokenCount": 3,
    "outputTokenCount": 1,
    "invocationLatency": 1234,
    "firstByteLatency": 456,
}
"""An `amazon-bedrock-invocationMetrics` object as Bedrock puts it into the last chunk."""


def sse_events(sse: bytes | str, *, metrics: Mapping[str, Any] | None = None) -> list[dict]:
    """The events of a Messages API SSE body (e.g. a corpus stream) as Bedrock would send them:
    `metrics`, if given, added to `message_stop` under `amazon-bedrock-invocationMetrics`."""
    text = sse.decode() if isinstance(sse, bytes) else sse
    events = [json.loads(data) for _, data in iter_events(text)]
    if metrics is not None:
        for event in events:
            if event.get("type") == "message_stop":
                event["amazon-bedrock-invocationMetrics"] = dict(metrics)
    return events


def from_sse(sse: bytes | str, *, metrics: Mapping[str, Any] | None = None) -> bytes:
    """A Bedrock event-stream body carrying the same events as an SSE body."""
    return event_stream(sse_events(sse, metrics=metrics))
