"""Real recorded Claude Code traffic (tests/data/corpus), as capture files.

The corpus holds claude-trace records and raw streams (see its README.txt).
`trace_pairs()` reads them; `snapshots()` turns one pair into what the capture
addon copies off a flow, and `capture_bytes()` into the file the capture
stage writes from those snapshots, through its own serializer
(`capture.writer.file_bytes`), byte for byte; `to_capture()` is that file
parsed. `write_session()` lays a whole session out as a `captures/` tree
(names by `capture.files`), and `write_sessions()` several, made old enough
to count as ended.
"""

from __future__ import annotations

import gzip
import json
import os
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from capture import files, record, writer

CORPUS = Path(__file__).resolve().parent / "data" / "corpus"
SESSION_64 = CORPUS / "cc-1.0.6_session_64pairs.claude-trace.jsonl"
SESSION_2X = CORPUS / "cc-2.1.197_session_7requests.jsonl"
SESSION_1058 = CORPUS / "cc-1.0.58_quota_probe_userid_account_session.claude-trace.jsonl"
MAIN_TURN_SSE = CORPUS / "cc-1.0.6_03_main_turn1.response.sse"
THINKING_SSE = CORPUS / "vercel-ai_sonnet-4.5_thinking_stream.sse"
DEFAULT_STARTED = 1_764_000_000.0
"""When a pair without a timestamp (the 2.x session) was sent: 2025-11-24."""


def trace_pairs(path: Path = SESSION_64) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def snapshots(
    pair: dict[str, Any], *, started: float | None = None
) -> tuple[record.RequestSnapshot, record.ResponseSnapshot | None]:
    """One claude-trace pair as what the addon copies off a flow (capture/addon.py).

    claude-trace keeps bodies decoded; a body whose headers name a
    Content-Encoding is encoded again, so the capture stage decodes it as it
    would have off the wire. `started` moves the exchange in time (the
    response keeps its duration).
    """
    req = pair["request"]
    traced = req.get("timestamp", DEFAULT_STARTED)
    started = traced if started is None else started
    headers = _pairs(req["headers"])
    request = record.RequestSnapshot(
        started=started,
        method=req["method"],
        url=req["url"],
        headers=headers,
        raw=_encoded(json.dumps(req["body"]).encode(), headers),
    )
    resp = pair.get("response")
    if not resp:
        return request, None
    resp_headers = _pairs(resp["headers"])
    streamed = "body_raw" in resp
    raw = resp["body_raw"].encode() if streamed else json.dumps(resp.get("body")).encode()
    ended = resp.get("timestamp")
    response = record.ResponseSnapshot(
        status=resp["status_code"],
        headers=resp_headers,
        raw=raw if streamed else _encoded(raw, resp_headers),
        streamed=streamed,
        ttfb_ms=None,  # claude-trace does not record it
        duration_ms=(ended - traced) * 1000 if isinstance(ended, (int, float)) else None,
    )
    return request, response


def capture_bytes(pair: dict[str, Any], *, started: float | None = None) -> bytes:
    """The capture file the capture stage writes for this pair (its own serializer)."""
    request, response = snapshots(pair, started=started)
    return writer.file_bytes(request, response=response, error=None)


def to_capture(pair: dict[str, Any], *, started: float | None = None) -> dict[str, Any]:
    """One claude-trace pair as a capture record (README.md, "Capture file format")."""
    return json.loads(capture_bytes(pair, started=started))


def capture_path(root: Path, pair: dict[str, Any], *, number: int, started: float) -> Path:
    """Where the capture stage puts this pair's file under `root`, as the day's `number`."""
    when = datetime.fromtimestamp(started)
    endpoint = files.endpoint_of(urlsplit(pair["request"]["url"]).path)
    return files.day_folder(root, when) / files.capture_name(number, when, endpoint)


def write_session(
    root: Path, path: Path = SESSION_64, *, limit: int | None = None, start_number: int = 1
) -> list[Path]:
    """Write the pairs of a corpus session as capture files under `root`."""
    written = []
    for i, pair in enumerate(trace_pairs(path)):
        if limit is not None and i >= limit:
            break
        started = pair["request"].get("timestamp", DEFAULT_STARTED)
        target = capture_path(root, pair, number=start_number + i, started=started)
        files.ensure_dir(target.parent)
        target.write_bytes(capture_bytes(pair, started=started))
        written.append(target)
    return written


def _pairs(headers: dict[str, Any]) -> record.Headers:
    return tuple((k, str(v)) for k, v in headers.items())


def _encoded(body: bytes, headers: record.Headers) -> bytes:
    """`body` under the Content-Encoding its headers name (claude-trace stored it decoded)."""
    coding = next((v for k, v in headers if k.lower() == "content-encoding"), "").strip().lower()
    if coding in ("", "identity"):
        return body
    if coding == "gzip":
        return gzip.compress(body, mtime=0)
    raise ValueError(f"the corpus has a body in {coding!r}, which tests/corpus.py cannot encode")


def write_sessions(
    root: Path, sessions: tuple[Path, ...] = (SESSION_64, SESSION_2X), *, age_s: float = 86_400
) -> list[Path]:
    """Several sessions as capture files, their mtimes `age_s` old (so the
    request-only 2.x captures count as ended for the analyzer)."""
    written = []
    for number, path in enumerate(sessions):
        written += write_session(root, path, start_number=1 + 100 * number)
    old = time.time() - age_s
    for p in written:
        os.utime(p, (old, old))
    return written


def replay_through_addon(exchanges: Iterable[tuple[dict[str, Any], float]], root: Path) -> None:
    """Send (pair, started) exchanges through the real capture addon into `root`.

    Drives capture/addon.py with mitmproxy's `taddons`/`tflow`, its real writer
    child included: what the proxy itself writes for these exchanges, to hold
    the files made by `capture_bytes` and `write_session` against.
    """
    from mitmproxy.test import taddons, tflow, tutils

    from capture import addon

    cap = addon.Capture()
    with taddons.context(cap) as tctx:
        tctx.configure(cap, capture_dir=str(root))
        for pair, started in exchanges:
            request, response = snapshots(pair, started=started)
            url = urlsplit(request.url)
            flow = tflow.tflow(
                req=tutils.treq(
                    method=request.method.encode(),
                    scheme=url.scheme.encode(),
                    host=url.hostname or "",
                    port=url.port or 443,
                    authority=b"",
                    path=f"{url.path}?{url.query}".rstrip("?").encode(),
                    headers=_mitm_headers(request.headers),
                    content=request.raw,
                    timestamp_start=started,
                    timestamp_end=started,
                ),
                resp=False,
            )
            cap.request(flow)
            if response is None:
                continue
            flow.response = tutils.tresp(
                status_code=response.status,
                headers=_mitm_headers(response.headers),
                content=None if response.streamed else response.raw,
            )
            # claude-trace has no time of the response headers: the addon writes ttfb_ms null
            flow.response.timestamp_start = None  # type: ignore[assignment]  # typed float, may be unset
            flow.response.timestamp_end = (
                None if response.duration_ms is None else started + response.duration_ms / 1000
            )
            cap.responseheaders(flow)
            if response.streamed:
                tee = flow.response.stream
                assert callable(tee), "the addon did not tee an event stream"
                for i in range(0, len(response.raw), 4096):
                    tee(response.raw[i : i + 4096])
                tee(b"")
            cap.response(flow)
        cap.flush()
        cap.done()


def _mitm_headers(headers: record.Headers) -> Any:
    from mitmproxy import http

    return http.Headers([(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers])
