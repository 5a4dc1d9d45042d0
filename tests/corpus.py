"""Real recorded Claude Code traffic (tests/data/corpus), as capture files.

The corpus holds claude-trace records and raw streams (see its README.txt).
`trace_pairs()` reads them; `to_capture()` converts one pair into the capture
file format of README.md, the way the capture addon would have written it;
`write_session()` lays a whole session out as a `captures/` tree, and
`write_sessions()` several, made old enough to count as ended.
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from capture import files, record, sse

CORPUS = Path(__file__).resolve().parent / "data" / "corpus"
SESSION_64 = CORPUS / "cc-1.0.6_session_64pairs.claude-trace.jsonl"
SESSION_2X = CORPUS / "cc-2.1.197_session_7requests.jsonl"
SESSION_1058 = CORPUS / "cc-1.0.58_quota_probe_userid_account_session.claude-trace.jsonl"
MAIN_TURN_SSE = CORPUS / "cc-1.0.6_03_main_turn1.response.sse"
THINKING_SSE = CORPUS / "vercel-ai_sonnet-4.5_thinking_stream.sse"


def trace_pairs(path: Path = SESSION_64) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def to_capture(pair: dict[str, Any], *, started: float | None = None) -> dict[str, Any]:
    """One claude-trace pair as a capture record (README.md, "Capture file format")."""
    req = pair["request"]
    started = started if started is not None else req.get("timestamp", 1_764_000_000.0)
    headers = tuple((k, str(v)) for k, v in req["headers"].items())
    out: dict[str, Any] = {
        "captured_at": datetime.fromtimestamp(started)
        .astimezone()
        .isoformat(timespec="milliseconds"),
        "method": req["method"],
        "url": req["url"],
        "headers": record.redact(headers),
        "request": copy.deepcopy(req["body"]),
    }
    resp = pair.get("response")
    if resp:
        resp_headers = tuple((k, str(v)) for k, v in resp["headers"].items())
        body: dict[str, Any] = {
            "status": resp["status_code"],
            "headers": record.redact(resp_headers),
        }
        if "body_raw" in resp:
            result = sse.reassemble(resp["body_raw"])
            body.update(body=result.message, streamed=True, complete=result.complete)
        else:
            body.update(body=copy.deepcopy(resp.get("body")), streamed=False)
        ended = resp.get("timestamp")
        body["ttfb_ms"] = None
        body["duration_ms"] = (
            round((ended - started) * 1000, 1) if isinstance(ended, (int, float)) else None
        )
        out["response"] = body
    return out


def write_session(
    root: Path, path: Path = SESSION_64, *, limit: int | None = None, start_number: int = 1
) -> list[Path]:
    """Write the pairs of a corpus session as capture files under `root`."""
    written = []
    for i, pair in enumerate(trace_pairs(path)):
        if limit is not None and i >= limit:
            break
        rec = to_capture(pair)
        when = datetime.fromisoformat(rec["captured_at"])
        day = root / when.strftime("%Y-%m-%d")
        files.ensure_dir(day)
        endpoint = files.endpoint_of(urlsplit(pair["request"]["url"]).path)
        name = f"{start_number + i:03d}_{when:%H%M%S}_{endpoint}.json"
        target = day / name
        target.write_bytes(files.dumps(rec))
        written.append(target)
    return written


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
