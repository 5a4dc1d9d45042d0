"""The test-side event-stream encoder (tests/eventstream_frames.py) against the format's facts."""

from __future__ import annotations

import base64
import json
import struct
import zlib

from tests.eventstream_frames import chunk_frame, event_stream, exception_frame, frame


def test_empty_frame_is_the_aws_test_vector() -> None:
    # "empty_message" of the AWS event-stream test suite (awslabs/aws-c-event-stream)
    assert base64.b64encode(frame(b"", headers={})) == b"AAAAEAAAAAAFwkjrfZjI/w=="


def test_lengths_and_crcs_cover_the_frame() -> None:
    data = frame(b"payload", headers={":message-type": "event"})
    total, header_len, prelude_crc = struct.unpack(">III", data[:12])
    assert total == len(data)
    assert prelude_crc == zlib.crc32(data[:8])
    assert struct.unpack(">I", data[-4:])[0] == zlib.crc32(data[:-4])
    headers = data[12 : 12 + header_len]
    assert headers == b"\x0d:message-type\x07\x00\x05event"
    assert data[12 + header_len : -4] == b"payload"


def test_chunk_frame_carries_the_event_as_base64_json() -> None:
    event = {"type": "content_block_delta", "delta": {"text": "Grüße"}}
    data = chunk_frame(event)
    header_len = struct.unpack(">I", data[4:8])[0]
    body = json.loads(data[12 + header_len : -4])
    assert json.loads(base64.b64decode(body["bytes"])) == event
    assert b":event-type\x07\x00\x05chunk" in data[12 : 12 + header_len]


def test_exception_frame_names_its_kind() -> None:
    data = exception_frame("throttlingException", "slow down")
    assert b":exception-type\x07\x00\x13throttlingException" in data
    assert b":message-type\x07\x00\x09exception" in data
    assert data.endswith(struct.pack(">I", zlib.crc32(data[:-4])))


def test_event_stream_is_the_frames_in_order() -> None:
    events = [{"type": "ping"}, {"type": "message_stop"}]
    assert event_stream(events) == chunk_frame(events[0]) + chunk_frame(events[1])
