"""Finding and reading capture files, per README.md ("Capture file format").

This module is the analyzer's whole knowledge of the capture stage: the
naming rule, the folder layout and the JSON keys. It never imports `capture/`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zlib_ng import zlib_ng

from glass import jsonio
from glass.contract import CAPTURE_NAME, COMPRESSED_SUFFIX, DAY_FOLDER, capture_identity

MAX_CAPTURE_BYTES = 256 * 1024 * 1024
"""Bigger files are quarantined rather than read into memory."""


class BadCapture(Exception):
    """A file that cannot be used as a capture; the message is the reason."""


@dataclass(frozen=True, slots=True)
class CaptureRef:
    """Where a capture file is; `rel` (`YYYY-MM-DD/NNN_HHMMSS_x.json`) is its identity.

    `rel` never ends in `.gz`: a compressed capture is the same capture
    (contract.capture_identity); `fspath` is the file as it is on disk.
    """

    fspath: str
    """The file's path as a string (cheaper than a Path for the many opens and stats)."""
    rel: str
    day: str
    number: int
    endpoint: str

    @property
    def path(self) -> Path:
        return Path(self.fspath)

    @property
    def sort_key(self) -> tuple[str, int, str]:
        return (self.day, self.number, self.rel)


def ref_for(root: Path, path: Path) -> CaptureRef | None:
    """The CaptureRef of `path` if it is a capture file directly in a day folder of `root`."""
    m = CAPTURE_NAME.match(path.name)
    if not m or not DAY_FOLDER.match(path.parent.name):
        return None
    try:
        if path.parent.parent.resolve() != root.resolve():
            return None
    except OSError:
        return None
    return CaptureRef(
        fspath=str(path),
        rel=f"{path.parent.name}/{capture_identity(path.name)}",
        day=path.parent.name,
        number=int(m.group(1)),
        endpoint=m.group(3),
    )


def capture_exists(root: Path, rel: str) -> bool:
    """Is the capture `rel` (its identity, as memories' `sources` name it) still on disk,
    plain or compressed? Retention (capture.delete_after_days) may have removed its day."""
    path = root / rel
    return path.exists() or path.with_name(path.name + ".gz").exists()


def day_folders(root: Path, *, since: str | None = None, until: str | None = None) -> list[str]:
    """Names of the day folders under `root` within [since, until], oldest first."""
    try:
        names = [e.name for e in os.scandir(root) if DAY_FOLDER.match(e.name) and e.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(
        d for d in names if (since is None or d >= since) and (until is None or d <= until)
    )


def iter_captures(
    root: Path, *, endpoint: str | None = None, since: str | None = None, until: str | None = None
) -> Iterator[CaptureRef]:
    """Every capture file under `root`, oldest first (day folder, then NNN).

    Lists one day folder at a time, so memory follows the largest day, not
    the whole history; folders outside [since, until] are never opened.
    A capture present both plain and compressed (compaction was interrupted
    between linking the `.gz` and removing the plain file; both are complete)
    is listed once, as its plain file.
    """
    for day in day_folders(root, since=since, until=until):
        refs: dict[str, CaptureRef] = {}
        folder = os.path.join(root, day)
        try:
            entries = os.listdir(folder)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for name in entries:
            m = CAPTURE_NAME.match(name)
            if not m or (endpoint is not None and m.group(3) != endpoint):
                continue
            rel = f"{day}/{capture_identity(name)}"
            if m.group(4) and rel in refs:
                continue
            refs[rel] = CaptureRef(
                fspath=os.path.join(folder, name),
                rel=rel,
                day=day,
                number=int(m.group(1)),
                endpoint=m.group(3),
            )
        yield from sorted(refs.values(), key=lambda r: r.sort_key)


def read_capture(path: str | Path, *, max_bytes: int = MAX_CAPTURE_BYTES) -> dict[str, Any]:
    """Parse one capture file, or raise BadCapture saying why it is unusable.

    FileNotFoundError passes through: a file that vanished is not bad.
    """
    return read_capture_stat(path, max_bytes=max_bytes)[0]


def read_capture_stat(
    path: str | Path, *, max_bytes: int = MAX_CAPTURE_BYTES
) -> tuple[dict[str, Any], os.stat_result]:
    """`read_capture`, and the file's stat (size, mtime) from the same open."""
    doc, st, _ = read_capture_sized(path, max_bytes=max_bytes)
    return doc, st


def read_capture_sized(
    path: str | Path, *, max_bytes: int = MAX_CAPTURE_BYTES
) -> tuple[dict[str, Any], os.stat_result, int]:
    """`read_capture_stat`, and the size of the JSON document (uncompressed).

    A good file costs one open, one read and one parse; only a bad one is
    looked at more closely, to say why. A `.json.gz` is decompressed first
    (`max_bytes` bounds the JSON, not the gzip). A plain file that is gone
    is looked for as its `.gz` twin: compaction may have swapped it since
    the listing.
    """
    path = os.fspath(path)
    if not path.endswith(COMPRESSED_SUFFIX) and not os.path.exists(path):
        path += COMPRESSED_SUFFIX  # gone since the listing: look for its compressed twin
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        if path.endswith(COMPRESSED_SUFFIX):
            data = _gunzip(f, max_bytes=max_bytes)
        elif st.st_size > max_bytes:
            raise BadCapture(f"too large ({st.st_size:,} bytes; limit {max_bytes:,})")
        else:
            data = f.read()
    return check_shape(parse(data)), st, len(data)


def _gunzip(f: Any, *, max_bytes: int) -> bytes:
    """The content of the gzip file `f`, or BadCapture (not gzip, truncated, too large).

    One pass of zlib-ng (inflates about 2.4x faster than the standard zlib,
    same format) over the whole file; it checks the trailer's CRC and length.
    """
    raw = f.read()
    if raw[:2] != b"\x1f\x8b":
        raise BadCapture("empty file" if not raw else "not gzip: no gzip header")
    z = zlib_ng.decompressobj(wbits=31)
    try:
        data = z.decompress(raw, max_bytes + 1)
    except zlib_ng.error as e:  # type: ignore[misc]  # its stub types `error` as an instance
        raise BadCapture(f"corrupt gzip data: {e}") from None
    if len(data) > max_bytes:
        raise BadCapture(f"too large (over {max_bytes:,} bytes uncompressed; limit {max_bytes:,})")
    if not z.eof:
        raise BadCapture("truncated gzip file")
    return data


def parse(data: bytes) -> Any:
    """The JSON document in `data`, or BadCapture saying why there is none.

    orjson parses a capture several times faster than the json module. It is
    stricter, though (lone surrogates, NaN, UTF-16): what it refuses, the
    json module decides, so the files accepted are the same as with
    json.loads alone, and so are the values, except integers beyond 64 bits,
    which orjson reads as floats (no count in a capture comes near that).
    """
    try:
        return jsonio.loads(data)
    except ValueError as e:
        raise BadCapture(_why_not_json(data, e)) from None


def _why_not_json(data: bytes, error: Exception) -> str:
    if not data.strip():
        return "empty file"
    if b"\x00" in data[:8192]:
        return "binary file (contains NUL bytes)"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        return f"not UTF-8 text: {e.reason} at byte {e.start}"
    if isinstance(error, jsonio.TooDeep):
        return "JSON nested too deeply"
    return f"truncated or invalid JSON: {error}"


def check_shape(doc: Any) -> dict[str, Any]:
    """`doc` if it has the shape README.md's "Content" table gives a capture, else BadCapture.

    Beyond the top-level keys, the parts of a Messages API exchange that the
    analyzer and the usage report read are checked too (`request.messages`,
    `request.system`, `request.metadata`, the headers and the response's
    content blocks), so that code past this check may rely on their types:
    an exception there is a bug, never a bad file.
    """
    if not isinstance(doc, dict):
        raise BadCapture(f"wrong shape: top level is {type(doc).__name__}, not an object")
    for key in ("captured_at", "url"):
        if not isinstance(doc.get(key), str):
            raise BadCapture(f"wrong shape: '{key}' is missing or not a string")
    if "request" in doc:
        if not isinstance(doc["request"], dict):
            raise BadCapture("wrong shape: 'request' is not an object")
        _check_request(doc["request"])
    elif not isinstance(doc.get("request_text"), str):
        raise BadCapture("wrong shape: neither 'request' nor 'request_text'")
    for key in ("headers", "response", "error"):
        if key in doc and not isinstance(doc[key], dict):
            raise BadCapture(f"wrong shape: '{key}' is not an object")
    _check_headers(doc.get("headers"), "headers")
    response = doc.get("response")
    if response is not None:
        _check_headers(response.get("headers"), "response.headers")
        body = response.get("body")
        if body is not None and not isinstance(body, dict):
            raise BadCapture("wrong shape: 'response.body' is neither an object nor null")
        if body is not None:
            _check_content(body.get("content"), "response.body.content")
    return doc


MAX_BLOCK_DEPTH = 64
"""Deeper content blocks are a wrong shape: the digest walks blocks recursively."""


def _deeper_than(value: dict[str, Any] | list[Any], levels: int) -> bool:
    """`value` has objects or lists nested more than `levels` deep (itself counts as one)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        container, depth = stack.pop()
        if depth > levels:
            return True
        for inner in container.values() if type(container) is dict else container:
            if type(inner) is dict or type(inner) is list:
                stack.append((inner, depth + 1))
    return False


def _wrong(where: str, what: str) -> BadCapture:
    return BadCapture(f"wrong shape: '{where}' is {what}")


def _check_headers(headers: Any, where: str) -> None:
    if headers is None:
        return
    if not isinstance(headers, dict):
        raise _wrong(where, "not an object")
    for name, value in headers.items():
        if not isinstance(value, str):
            raise _wrong(f"{where}.{name}", "not a string")


def _check_request(request: dict[str, Any]) -> None:
    """The Messages API request fields the analyzer reads: messages, system, metadata."""
    metadata = request.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise _wrong("request.metadata", "not an object")
    system = request.get("system")
    if isinstance(system, list):
        _check_blocks(system, "request.system")
    elif system is not None and not isinstance(system, str):
        raise _wrong("request.system", "neither a string nor a list of blocks")
    messages = request.get("messages")
    if messages is None:
        return
    if not isinstance(messages, list):
        raise _wrong("request.messages", "not a list")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise _wrong(f"request.messages[{i}]", "not an object")
        _check_content(message.get("content"), f"request.messages[{i}].content")


def _check_content(content: Any, where: str) -> None:
    """A message's content: absent, a string, or a list of blocks."""
    if content is None or isinstance(content, str):
        return
    if not isinstance(content, list):
        raise _wrong(where, "neither a string nor a list of blocks")
    _check_blocks(content, where)


def _check_blocks(blocks: list[Any], where: str) -> None:
    for i, block in enumerate(blocks):
        if isinstance(block, str):
            continue
        if not isinstance(block, dict):
            raise _wrong(f"{where}[{i}]", "neither a block object nor a string")
        # Text blocks are read for their (string) text alone: only other kinds are walked.
        if block.get("type") != "text" and _deeper_than(block, MAX_BLOCK_DEPTH):
            raise _wrong(f"{where}[{i}]", f"nested deeper than {MAX_BLOCK_DEPTH} levels")
        if "text" in block and not isinstance(block["text"], str):
            raise _wrong(f"{where}[{i}].text", "not a string")
        source = block.get("source")
        if source is not None and not isinstance(source, dict):
            raise _wrong(f"{where}[{i}].source", "not an object")
        inner = block.get("content")
        if isinstance(inner, list) and block.get("type") == "tool_result":
            _check_blocks(inner, f"{where}[{i}].content")


def has_ended(doc: dict[str, Any]) -> bool:
    """The exchange is over: the capture holds a `response` or an `error`."""
    return "response" in doc or "error" in doc


def response_message(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The answer as a Messages API Message, when the capture holds one."""
    body = (doc.get("response") or {}).get("body")
    if isinstance(body, dict) and body.get("type", "message") == "message" and "content" in body:
        return body
    return None


def header(doc: dict[str, Any], name: str) -> str | None:
    name = name.lower()
    for key, value in (doc.get("headers") or {}).items():
        if key.lower() == name:
            return value
    return None
