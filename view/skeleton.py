"""A capture's index facts without parsing its conversation: the skeleton of the file.

A main-loop capture is mostly `request.messages`: the whole conversation, resent
on every turn. The index needs none of it but the first message (for the
title and the analyzer's fallback session id) and the count. The contract
(README.md, "Capture file format") says a capture is JSON indented by 2 spaces,
and JSON strings hold no raw newline, so in such a file a line that starts with
exactly four spaces and `"messages": [` is that key of `request`, the array's
items start at lines of exactly six spaces and `{`, and it ends at the next line
of exactly four spaces and `]`. `read_skeleton()` cuts the array out, parses the
rest (headers, system, tools, metadata, response) and the first item alone, and
counts the items by their opening lines.

A file in any other layout (written by hand, by another tool, on one line) is
parsed in full instead, with the same result; so is a file whose cut-out rest
does not parse. Bad files raise `analyze.captures.BadCapture` with the reader's
own reason (`analyze.captures.read_capture`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from analyze.captures import BadCapture, check_shape, parse, read_capture_sized
from glass.contract import COMPRESSED_SUFFIX

_REQUEST = b'\n  "request": {'
_MESSAGES = b'\n    "messages": ['
_MESSAGES_END = b"\n    ]"
_ITEM = b"\n      {"
_ITEM_END = b"\n      }"
_RESPONSE = b'\n  "response": '
_TOP_END = b"\n  }"


@dataclass(frozen=True, kw_only=True)
class Skeleton:
    """What the index reads off one capture."""

    doc: dict[str, Any]
    """The capture with `request.messages` holding only its first message (or none)."""
    message_count: int
    """How many messages the request held."""
    response_offset: int | None
    """Byte offset of the top-level `"response"` key line in the plain file, for reading the
    response alone later (`read_tail`); None for a compressed or differently laid out file."""
    size: int
    mtime_ns: int


def read_skeleton(path: str) -> Skeleton:
    """The skeleton of the capture file at `path`; BadCapture when it is not a usable capture.

    FileNotFoundError passes through (a file that vanished is not bad).
    """
    if path.endswith(COMPRESSED_SUFFIX):
        doc, st, _ = read_capture_sized(path)
        return _from_full(doc, st=st, offset=None)
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        data = f.read()
    cut = _cut(data)
    if cut is not None:
        return Skeleton(
            doc=cut[0],
            message_count=cut[1],
            response_offset=cut[2],
            size=st.st_size,
            mtime_ns=st.st_mtime_ns,
        )
    doc = check_shape(parse(data))
    offset = data.rfind(_RESPONSE)
    return _from_full(doc, st=st, offset=offset if offset > 0 and _tail_ok(data, offset) else None)


def _from_full(doc: dict[str, Any], *, st: os.stat_result, offset: int | None) -> Skeleton:
    request = doc.get("request")
    messages = request.get("messages") if isinstance(request, dict) else None
    count = len(messages) if isinstance(messages, list) else 0
    if isinstance(request, dict) and isinstance(messages, list):
        doc = {**doc, "request": {**request, "messages": messages[:1]}}
    return Skeleton(
        doc=doc,
        message_count=count,
        response_offset=offset,
        size=st.st_size,
        mtime_ns=st.st_mtime_ns,
    )


def _cut(data: bytes) -> tuple[dict[str, Any], int, int | None] | None:
    """(doc with the first message only, message count, response offset), or None when the
    file is not in the indented layout (then the caller parses it whole).

    The messages are walked item by item, each search starting where the last one ended,
    so the conversation is scanned once; everything else is found near the start or the end.
    """
    request_at = data.find(_REQUEST)
    start = data.find(_MESSAGES, request_at) if request_at >= 0 else -1
    if start < 0 or data.find(_TOP_END, request_at, start) >= 0:
        return None  # no request, or the key is not inside it
    pos = start + len(_MESSAGES)
    count = 0
    first: Any = None
    if data[pos : pos + 1] == b"]":  # "messages": [] on one line
        end, end_len = pos, 1
    else:
        while True:
            if not data.startswith(_ITEM + b"\n", pos):
                return None
            item_end = data.find(_ITEM_END, pos + len(_ITEM))
            if item_end < 0:
                return None
            after = item_end + len(_ITEM_END)
            if count == 0:
                try:
                    first = parse(data[pos + 1 : after])
                except BadCapture:
                    return None
            count += 1
            if data.startswith(b",", after):
                pos = after + 1
                continue
            if not data.startswith(_MESSAGES_END, after):
                return None
            end, end_len = after, len(_MESSAGES_END)
            break
    request_end = data.find(_TOP_END, end)
    if request_end < 0:
        return None
    rest = data[:start] + b'\n    "messages": []' + data[end + end_len :]
    try:
        doc = check_shape(parse(rest))
    except BadCapture:
        return None  # e.g. truncated: the full parse gives the reader's own reason
    request = doc.get("request")
    if not isinstance(request, dict) or request.get("messages") != []:
        return None
    request["messages"] = [first] if count else []
    offset = data.find(_RESPONSE, request_end)
    return doc, count, offset if offset >= 0 else None


def _tail_ok(data: bytes, offset: int) -> bool:
    """Whether the top-level object's keys from `offset` on parse on their own."""
    try:
        return isinstance(parse(b"{" + data[offset:]), dict)
    except BadCapture:
        return False


def read_tail(path: str, offset: int) -> dict[str, Any]:
    """The top-level keys from `offset` on (`response`, and `error` when present), read and
    parsed alone; BadCapture when they do not parse (the file changed since it was indexed)."""
    with open(path, "rb") as f:
        f.seek(offset)
        tail = f.read()
    value = parse(b"{" + tail)
    if not isinstance(value, dict):
        raise BadCapture("the response part is not an object")
    return value
