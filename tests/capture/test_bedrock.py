"""capture/bedrock.py: a Bedrock event stream reassembled into the Message SSE would give."""

import base64
import json

import pytest

from capture import bedrock, sse
from tests import eventstream_frames as frames
from tests.sse_streams import corpus_streams, generated_stream


def terminated_json_stream(text: str) -> bool:
    """An SSE stream whose every event is a whole JSON object (what Bedrock chunks carry)."""
    events = list(sse._framed(text))
    return all(t for *_, t in events) and all(_is_object(d) for _, d, _ in events)


def _is_object(data: str) -> bool:
    try:
        return isinstance(json.loads(data), dict)
    except ValueError:
        return False


STREAMS = corpus_streams() + [
    s for s in (generated_stream(seed) for seed in range(300)) if terminated_json_stream(s)
]


def test_enough_streams_to_compare():
    assert len(STREAMS) >= 50


@pytest.mark.parametrize("index", range(len(STREAMS)))
def test_the_same_message_as_the_same_events_over_sse(index):
    text = STREAMS[index]
    expected = sse.reassemble(text)
    got = bedrock.reassemble(frames.from_sse(text))
    assert got.result.message == expected.message
    assert got.result.complete == expected.complete
    assert got.result.error == expected.error
    assert got.result.problems == expected.problems
    assert got.metrics is None


def test_the_invocation_metrics_of_the_last_chunk_are_kept():
    got = bedrock.reassemble(frames.from_sse(corpus_streams()[0], metrics=frames.METRICS))
    assert got.metrics == frames.METRICS and got.result.complete
    assert bedrock.METRICS_KEY not in got.result.message  # the Message stays the API's shape


def test_an_exception_frame_becomes_the_stream_error():
    body = frames.from_sse(corpus_streams()[0])
    cut_before_stop = body[: -len(frames.chunk_frame({"type": "message_stop"}))]
    got = bedrock.reassemble(
        cut_before_stop + frames.exception_frame("throttlingException", "Too many requests")
    )
    assert got.result.error == {"type": "throttlingException", "message": "Too many requests"}
    assert got.result.message is not None and got.result.complete is False
    assert got.result.problems == []


def test_an_error_frame_becomes_the_stream_error():
    error = frames.frame(
        b"",
        headers={
            ":message-type": "error",
            ":error-code": "InternalFailure",
            ":error-message": "boom",
        },
    )
    got = bedrock.reassemble(error)
    assert got.result.error == {"type": "InternalFailure", "message": "boom"}
    assert got.result.message is None


def test_a_stream_cut_mid_frame_keeps_what_arrived():
    text = corpus_streams()[0]
    body = frames.from_sse(text)
    last = frames.chunk_frame({"type": "message_stop"})
    got = bedrock.reassemble(body[: len(body) - len(last) + 5])
    assert got.result.message is not None and got.result.complete is False
    assert got.result.problems == [
        f"byte {len(body) - len(last)}: stream cut mid-frame: 5 bytes of a frame's prelude"
    ]


def test_a_bad_crc_is_a_problem_not_a_crash():
    body = bytearray(frames.from_sse(corpus_streams()[0]))
    body[-1] ^= 0xFF  # the message_stop frame's CRC
    got = bedrock.reassemble(bytes(body))
    assert got.result.complete is False
    last = len(body) - len(frames.chunk_frame({"type": "message_stop"}))
    assert got.result.problems == [f"byte {last}: message CRC mismatch: frame skipped"]


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (b"not json", "chunk does not decode to an event (JSONDecodeError"),
        (b'{"no": "bytes"}', "chunk does not decode to an event (KeyError"),
        (b'{"bytes": "!!!"}', "chunk does not decode to an event (Error"),
        (b'{"bytes": "' + base64.b64encode(b"[1]") + b'"}', "chunk event is not an object"),
    ],
)
def test_a_chunk_that_does_not_decode_is_listed(payload, problem):
    bad = frames.frame(payload, headers={":message-type": "event", ":event-type": "chunk"})
    got = bedrock.reassemble(bad)
    assert got.result.problems[0].startswith("byte 0: " + problem)
    assert got.payloads == [payload.decode()]


def test_other_frames_are_skipped_with_a_problem():
    other = frames.frame(b"{}", headers={":message-type": "event", ":event-type": "metadata"})
    got = bedrock.reassemble(other)
    assert got.result.problems == ["byte 0: 'event' frame 'metadata' skipped"]


def test_garbage_is_a_problem():
    got = bedrock.reassemble(b"<html>502 Bad Gateway</html>")
    assert got.result.message is None
    assert got.result.problems and "not decoded" in got.result.problems[0]


def test_a_chunk_nested_deeper_than_json_can_read_is_a_problem_not_a_crash():
    deep = b"[" * 100_000 + b"]" * 100_000
    payload = json.dumps({"bytes": base64.b64encode(deep).decode()}).encode()
    data = frames.frame(
        payload,
        headers={
            ":event-type": "chunk",
            ":message-type": "event",
            ":content-type": "application/json",
        },
    )
    result = bedrock.reassemble(data)
    assert not result.result.complete
    assert any("does not decode to an event" in p for p in result.result.problems)
