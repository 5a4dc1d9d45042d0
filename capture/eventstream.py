"""Decode the AWS event-stream framing (`application/vnd.amazon.eventstream`), fed in chunks.

Bedrock's `invoke-with-response-stream` answers with binary frames:

    prelude  total_length:u32  headers_length:u32  prelude_crc:u32   (big-endian; CRC32 of the 8)
    headers  name_length:u8 name value_type:u8 value   (repeated; types below)
    payload  total_length - headers_length - 16 bytes
    crc      CRC32 of everything before it

`FrameDecoder.feed(chunk)` returns the frames a chunk completes, split anywhere;
`FrameDecoder.close()` says what was left over (a frame the stream cut). A frame whose message
CRC is wrong is reported and skipped (its length is trusted, its prelude CRC being right); a
prelude whose CRC is wrong, or lengths that cannot be, stop the decoding, since no later frame
boundary can be trusted. Nothing here raises on what the bytes hold: problems are `Problem`s.

Why not botocore's `EventStreamBuffer`: it is the only well-kept Python decoder, but it comes
with botocore (about 30 MB installed, with jmespath and python-dateutil, for one 600-line
module), raises on the first bad CRC without a way to go on or to tell a cut frame from one
still arriving, and caps payloads at 24 MiB. This decoder is checked byte by byte against the format in
tests/capture/test_eventstream.py, with frames written by tests/eventstream_frames.py.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Final

PRELUDE: Final = struct.Struct(">III")
CRC: Final = struct.Struct(">I")
MIN_FRAME: Final = PRELUDE.size + CRC.size
MAX_FRAME: Final = 64 * 1024 * 1024
"""Longer frames are taken for garbage: AWS limits a message to 16 MiB of payload."""

HeaderValue = bool | int | bytes | str
_FIXED: Final = {
    2: struct.Struct(">b"),
    3: struct.Struct(">h"),
    4: struct.Struct(">i"),
    5: struct.Struct(">q"),
    8: struct.Struct(">q"),  # a timestamp, milliseconds since the epoch
}
_LENGTH: Final = struct.Struct(">H")


@dataclass(frozen=True, kw_only=True)
class Frame:
    headers: dict[str, HeaderValue]
    payload: bytes
    offset: int
    """Where in the stream the frame began."""


@dataclass(frozen=True, kw_only=True)
class Problem:
    offset: int
    message: str


@dataclass(kw_only=True)
class FrameDecoder:
    _buf: bytearray = field(default_factory=bytearray)
    _offset: int = 0
    """The stream offset of `_buf[0]`."""
    stopped: Problem | None = None
    """Set when the framing broke: the rest of the stream is not decoded."""
    problems: list[Problem] = field(default_factory=list)

    def feed(self, chunk: bytes) -> list[Frame]:
        """The frames completed by `chunk`; problems go to `problems`."""
        if self.stopped is not None:
            self._offset += len(chunk)
            return []
        self._buf += chunk
        frames: list[Frame] = []
        pos = 0
        while len(self._buf) - pos >= PRELUDE.size:
            total, header_len, prelude_crc = PRELUDE.unpack_from(self._buf, pos)
            at = self._offset + pos
            if zlib.crc32(self._buf[pos : pos + 8]) != prelude_crc:
                self._stop(at, "prelude CRC mismatch", pos)
                return frames
            if not MIN_FRAME + header_len <= total <= MAX_FRAME:
                self._stop(at, f"impossible lengths (frame {total}, headers {header_len})", pos)
                return frames
            if len(self._buf) - pos < total:
                break
            frame = self._frame(bytes(self._buf[pos : pos + total]), header_len, at)
            if frame is not None:
                frames.append(frame)
            pos += total
        del self._buf[:pos]
        self._offset += pos
        return frames

    def close(self) -> Problem | None:
        """At the end of the stream: a frame it cut, or the problem that stopped decoding."""
        if self.stopped is not None:
            return self.stopped
        if not self._buf:
            return None
        have = len(self._buf)
        expected = PRELUDE.unpack_from(self._buf)[0] if have >= PRELUDE.size else None
        of = f"of a {expected}-byte frame" if expected else "of a frame's prelude"
        return Problem(offset=self._offset, message=f"stream cut mid-frame: {have} bytes {of}")

    def _stop(self, at: int, why: str, pos: int) -> None:
        rest = len(self._buf) - pos
        self.stopped = Problem(offset=at, message=f"{why}; the rest ({rest}+ bytes) not decoded")
        self._offset += len(self._buf)
        self._buf.clear()

    def _frame(self, data: bytes, header_len: int, at: int) -> Frame | None:
        (message_crc,) = CRC.unpack_from(data, len(data) - CRC.size)
        if zlib.crc32(data[: -CRC.size]) != message_crc:
            self.problems.append(Problem(offset=at, message="message CRC mismatch: frame skipped"))
            return None
        try:
            headers = parse_headers(data[PRELUDE.size : PRELUDE.size + header_len])
        except ValueError as e:
            self.problems.append(Problem(offset=at, message=f"bad headers: {e}: frame skipped"))
            return None
        payload = data[PRELUDE.size + header_len : -CRC.size]
        return Frame(headers=headers, payload=payload, offset=at)


def parse_headers(data: bytes) -> dict[str, HeaderValue]:
    """The header block; ValueError when it does not parse to its very end."""
    out: dict[str, HeaderValue] = {}
    pos = 0
    try:
        while pos < len(data):
            name_len = data[pos]
            name = data[pos + 1 : pos + 1 + name_len].decode("utf-8")
            pos += 1 + name_len
            kind = data[pos]
            pos += 1
            value: HeaderValue
            if kind in (0, 1):
                value = kind == 0
            elif kind in _FIXED:
                (value,) = _FIXED[kind].unpack_from(data, pos)
                pos += _FIXED[kind].size
            elif kind in (6, 7):
                (length,) = _LENGTH.unpack_from(data, pos)
                raw = data[pos + 2 : pos + 2 + length]
                if len(raw) != length:
                    raise ValueError(f"header {name!r} is cut")
                value = raw.decode("utf-8") if kind == 7 else raw
                pos += 2 + length
            elif kind == 9:
                if pos + 16 > len(data):
                    raise ValueError(f"header {name!r} is cut")
                value = str(uuid.UUID(bytes=data[pos : pos + 16]))
                pos += 16
            else:
                raise ValueError(f"header {name!r} has unknown type {kind}")
            out[name] = value
    except (IndexError, struct.error, UnicodeDecodeError) as e:
        raise ValueError(f"cut or not UTF-8 ({e})") from None
    return out


def decode(data: bytes) -> tuple[list[Frame], list[Problem]]:
    """Every frame of a whole stream, and its problems in stream order."""
    decoder = FrameDecoder()
    frames = decoder.feed(data)
    end = decoder.close()
    problems = decoder.problems + ([end] if end else [])
    return frames, problems
