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
            first["content"] = [{"type": "text", "text": f"[cycle {cycle}]"}] + content
    return out


def build_sessions(root: Path, *, sessions: int, turns: int) -> list[Path]:
    """`sessions` conversations of `turns` main-loop captures each, ten conversations a day.

    The turns are the first `turns` main-loop requests of the 64-request
    session (each resends the growing history, as Claude Code does); every
    conversation gets its own session id header and first prompt, so each
    one is new to the analyzer and costs it one extraction call per batch.
    """
    import uuid

    from analyze.conversation import scope
    from capture import files
    from tests import corpus

    main = [
        doc
        for doc in (corpus.to_capture(pair) for pair in corpus.trace_pairs(corpus.SESSION_64))
        if scope(doc, "messages") == "main"
    ][:turns]
    if len(main) < turns:
        raise ValueError(f"the corpus session has only {len(main)} main-loop turns")
    first = date(2025, 1, 1)
    written = []
    for s in range(sessions):
        day = (first + timedelta(days=s // 10)).isoformat()
        folder = root / day
        folder.mkdir(parents=True, exist_ok=True)
        session_id = str(uuid.UUID(int=s + 1))
        for t, template in enumerate(main):
            doc = _variant(template, day=day, cycle=s)
            doc["headers"] = {**doc.get("headers", {}), "X-Claude-Code-Session-Id": session_id}
            number = (s % 10) * turns + t + 1
            path = (
                folder / f"{number:03d}_{doc['captured_at'][11:19].replace(':', '')}_messages.json"
            )
            path.write_bytes(files.dumps(doc))
            written.append(path)
    return written
