"""capture/eventstream.py: AWS event-stream frames decoded from chunks split anywhere."""

import itertools
import os
import struct
import uuid
import zlib

import pytest

from capture import eventstream
from tests.eventstream_frames import chunk_frame, exception_frame, frame

EVENTS = [
    {"type": "message_start", "message": {"id": "msg_1", "content": [], "usage": {}}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Grüße"}},
    {"type": "message_stop"},
]
STREAM = b"".join(chunk_frame(e) for e in EVENTS) + exception_frame("throttlingException", "slow")


def summary(frames: list[eventstream.Frame]) -> list[tuple[dict, bytes, int]]:
    return [(f.headers, f.payload, f.offset) for f in frames]


def whole() -> list[tuple[dict, bytes, int]]:
    frames, problems = eventstream.decode(STREAM)
    assert problems == [] and len(frames) == 4
    return summary(frames)


def test_a_whole_stream_decodes_to_its_frames_with_offsets():
    (first, *_, last) = whole()
    assert first[0] == {
        ":event-type": "chunk",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert first[2] == 0 and last[0][":exception-type"] == "throttlingException"
    assert last[1] == b'{"message": "slow"}'
    assert last[2] == len(STREAM) - len(exception_frame("throttlingException", "slow"))


def test_split_at_every_byte_boundary_gives_the_same_frames():
    expected = whole()
    for cut in range(len(STREAM) + 1):
        decoder = eventstream.FrameDecoder()
        got = decoder.feed(STREAM[:cut]) + decoder.feed(STREAM[cut:])
        assert summary(got) == expected, cut
        assert decoder.close() is None and decoder.problems == []


def test_fed_one_byte_at_a_time_and_in_uneven_pieces():
    expected = whole()
    decoder = eventstream.FrameDecoder()
    got = [f for byte in itertools.batched(STREAM, 1) for f in decoder.feed(bytes(byte))]
    assert summary(got) == expected
    decoder = eventstream.FrameDecoder()
    sizes = itertools.cycle([1, 7, 13, 64, 3])
    pos, got = 0, []
    while pos < len(STREAM):
        size = next(sizes)
        got += decoder.feed(STREAM[pos : pos + size])
        pos += size
    assert summary(got) == expected and decoder.close() is None


def test_a_message_crc_mismatch_skips_that_frame_only():
    second = len(chunk_frame(EVENTS[0]))
    broken = bytearray(STREAM)
    broken[second + 20] ^= 0xFF  # inside the second frame's headers: its message CRC fails
    frames, problems = eventstream.decode(bytes(broken))
    assert [f.offset for f in frames] == [e[2] for e in whole() if e[2] != second]
    assert [(p.offset, p.message) for p in problems] == [
        (second, "message CRC mismatch: frame skipped")
    ]


def test_a_prelude_crc_mismatch_stops_decoding_there():
    second = len(chunk_frame(EVENTS[0]))
    broken = bytearray(STREAM)
    broken[second + 1] ^= 0x01  # the second frame's total length: nothing after it can be trusted
    frames, problems = eventstream.decode(bytes(broken))
    assert [f.offset for f in frames] == [0]
    (problem,) = problems
    assert problem.offset == second
    assert (
        problem.message
        == f"prelude CRC mismatch; the rest ({len(STREAM) - second}+ bytes) not decoded"
    )


def test_lengths_that_cannot_be_stop_decoding():
    lengths = struct.pack(">II", 15, 0)  # shorter than a prelude and a CRC
    data = lengths + struct.pack(">I", zlib.crc32(lengths)) + b"\0" * 8
    frames, problems = eventstream.decode(data)
    assert frames == [] and "impossible lengths (frame 15, headers 0)" in problems[0].message


@pytest.mark.parametrize("keep", [1, 11, 12, 40])
def test_a_frame_the_stream_cut_is_reported_at_the_end(keep):
    last = exception_frame("throttlingException", "slow")
    data = STREAM[: len(STREAM) - len(last) + keep]
    frames, problems = eventstream.decode(data)
    assert len(frames) == 3
    (problem,) = problems
    assert problem.offset == len(STREAM) - len(last)
    of = f"of a {len(last)}-byte frame" if keep >= 12 else "of a frame's prelude"
    assert problem.message == f"stream cut mid-frame: {keep} bytes {of}"


def test_an_empty_payload_and_no_headers():
    frames, problems = eventstream.decode(frame(b"", headers={}) + frame(b"", headers={"a": ""}))
    assert problems == []
    assert summary(frames) == [({}, b"", 0), ({"a": ""}, b"", 16)]


def test_a_one_megabyte_payload_split_anywhere():
    payload = os.urandom(1024 * 1024)
    data = frame(payload, headers={":message-type": "event"})
    for cut in (1, 12, 13, 500_000, len(data) - 1):
        decoder = eventstream.FrameDecoder()
        frames = decoder.feed(data[:cut]) + decoder.feed(data[cut:])
        assert [f.payload for f in frames] == [payload] and decoder.close() is None


def test_every_header_value_type():
    name = lambda n: bytes([len(n)]) + n  # noqa: E731 - a local shorthand for the table below
    block = (
        name(b"t") + b"\x00"
        + name(b"f") + b"\x01"
        + name(b"b") + b"\x02" + struct.pack(">b", -2)
        + name(b"s") + b"\x03" + struct.pack(">h", -300)
        + name(b"i") + b"\x04" + struct.pack(">i", 70_000)
        + name(b"l") + b"\x05" + struct.pack(">q", 2**40)
        + name(b"y") + b"\x06" + struct.pack(">H", 3) + b"\x00\xff\x01"
        + name(b"w") + b"\x07" + struct.pack(">H", 2) + "ü".encode()
        + name(b"ts") + b"\x08" + struct.pack(">q", 1_700_000_000_000)
        + name(b"u") + b"\x09" + uuid.UUID(int=1).bytes
    )  # fmt: skip
    assert eventstream.parse_headers(block) == {
        "t": True, "f": False, "b": -2, "s": -300, "i": 70_000, "l": 2**40,
        "y": b"\x00\xff\x01", "w": "ü", "ts": 1_700_000_000_000, "u": str(uuid.UUID(int=1)),
    }  # fmt: skip


@pytest.mark.parametrize(
    "block", [b"\x01a\x0a", b"\x01a\x07\x00\x05ab", b"\x05ab", b"\x01a\x09\x00", b"\x01\xff\x00"]
)
def test_bad_headers_raise_value_error_and_skip_the_frame(block):
    with pytest.raises(ValueError):
        eventstream.parse_headers(block)


def test_a_frame_with_bad_headers_is_skipped_with_a_problem():
    good = frame(b"x", headers={"a": "b"})
    header_len = struct.unpack(">I", good[4:8])[0]
    bad_block = b"\x01a\x0a" + b"\0" * (header_len - 3)  # type 10 does not exist
    body = good[:12] + bad_block + good[12 + header_len : -4]
    bad = body + struct.pack(">I", zlib.crc32(body))
    frames, problems = eventstream.decode(bad + good)
    assert [f.offset for f in frames] == [len(bad)]
    assert problems[0].message.startswith("bad headers: header 'a' has unknown type 10")


def test_after_a_stop_more_chunks_are_ignored():
    decoder = eventstream.FrameDecoder()
    assert decoder.feed(b"\xff" * 12) == []
    assert decoder.stopped is not None
    assert decoder.feed(STREAM) == [] and decoder.close() is decoder.stopped
