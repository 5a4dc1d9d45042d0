"""Capture backlogs for the benchmarks, built from the real recorded session.

`build_backlog(root, count)` writes `count` capture files: the 64-request
Claude Code session of tests/data/corpus cycled over consecutive days, each
cycle a conversation of its own (its first prompt names the cycle) with
message ids of its own, so that neither the analyzer's block dedupe nor the
usage report's response dedupe can skip a cycle.
"""

from __future__ import annotations

import copy
from datetime import date, timedelta
from pathlib import Path
from typing import Any


def build_backlog(root: Path, count: int) -> list[Path]:
    from capture import files  # the capture stage's own serializer: byte-identical files
    from tests import corpus

    session = [corpus.to_capture(pair) for pair in corpus.trace_pairs(corpus.SESSION_64)]
    first = date(2025, 1, 1)
    written = []
    for n in range(count):
        cycle, index = divmod(n, len(session))
        day = (first + timedelta(days=cycle)).isoformat()
        doc = _variant(session[index], day=day, cycle=cycle)
        folder = root / day
        folder.mkdir(parents=True, exist_ok=True)
        path = (
            folder / f"{index + 1:03d}_{doc['captured_at'][11:19].replace(':', '')}_messages.json"
        )
        path.write_bytes(files.dumps(doc))
        written.append(path)
    return written


def _variant(doc: dict[str, Any], *, day: str, cycle: int) -> dict[str, Any]:
    """`doc` moved to `day`, its conversation and message id made cycle `cycle`'s own."""
    out = copy.deepcopy(doc)
    out["captured_at"] = day + doc["captured_at"][10:]
    body = (out.get("response") or {}).get("body")
    if isinstance(body, dict) and isinstance(body.get("id"), str):
        body["id"] = f"{body['id']}_{cycle}"
    messages = (out.get("request") or {}).get("messages") or []
    if messages:
        first = messages[0]
        content = first.get("content")
        if isinstance(content, str):
            first["content"] = f"[cycle {cycle}] {content}"
        elif isinstance(content, list):
            first["content"] = [{"type": "text", "text": f"[cycle {cycle}]"}, *content]
    return out
