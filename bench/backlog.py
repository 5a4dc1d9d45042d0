"""Capture backlogs for the benchmarks, built from the real recorded session.

`build_backlog(root, count)` writes `count` capture files: the 64-request
Claude Code session of tests/data/corpus cycled over consecutive days, each
cycle a conversation of its own (its first prompt names the cycle) with
message ids of its own, so that neither the analyzer's block dedupe nor the
usage report's response dedupe can skip a cycle.

Each cycle is varied on the recorded exchange itself (its prompt, its answer's
message id, its time), and the file is then made by the capture stage's own
serializer from the snapshots the addon would have taken (`tests.corpus`):
byte-identical to what the proxy writes for that exchange.
"""

from __future__ import annotations

import copy
import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any


def build_backlog(root: Path, count: int) -> list[Path]:
    from capture import files
    from tests import corpus

    session = list(corpus.trace_pairs(corpus.SESSION_64))
    stream_ids = [_stream_id(pair) for pair in session]
    first = date(2025, 1, 1)
    written = []
    for n in range(count):
        cycle, index = divmod(n, len(session))
        pair = _variant(session[index], cycle=cycle, stream_id=stream_ids[index])
        started = _on_day(pair["request"]["timestamp"], first + timedelta(days=cycle))
        path = corpus.capture_path(root, pair, number=index + 1, started=started)
        files.ensure_dir(path.parent)
        path.write_bytes(corpus.capture_bytes(pair, started=started))
        written.append(path)
    return written


def _on_day(timestamp: float, day: date) -> float:
    """`timestamp`'s local time of day, on `day`."""
    return datetime.combine(day, datetime.fromtimestamp(timestamp).time()).timestamp()


def _stream_id(pair: dict[str, Any]) -> str | None:
    """The message id in a recorded stream (None: not a stream, or none in it)."""
    from capture import sse

    raw = (pair.get("response") or {}).get("body_raw")
    message = sse.reassemble(raw).message if isinstance(raw, str) else None
    found = (message or {}).get("id")
    return found if isinstance(found, str) else None


def _variant(pair: dict[str, Any], *, cycle: int, stream_id: str | None) -> dict[str, Any]:
    """The recorded exchange `pair` with the conversation and message id of cycle `cycle`."""
    out = copy.deepcopy(pair)
    messages = out["request"]["body"].get("messages") or []
    if messages:
        first = messages[0]
        content = first.get("content")
        if isinstance(content, str):
            first["content"] = f"[cycle {cycle}] {content}"
        elif isinstance(content, list):
            first["content"] = [{"type": "text", "text": f"[cycle {cycle}]"}, *content]
    response = out.get("response") or {}
    if stream_id is not None:  # a stream: the file's body is reassembled from it
        new_id = json.dumps(f"{stream_id}_{cycle}")
        response["body_raw"] = response["body_raw"].replace(json.dumps(stream_id), new_id, 1)
    elif isinstance(body := response.get("body"), dict) and isinstance(body.get("id"), str):
        body["id"] = f"{body['id']}_{cycle}"
    return out


def build_sessions(root: Path, *, sessions: int, turns: int) -> list[Path]:
    """`sessions` conversations of `turns` main-loop captures each, ten conversations a day.

    The turns are the first `turns` main-loop requests of the 64-request
    session (each resends the growing history, as Claude Code does); every
    conversation gets its own session id header and first prompt, so each
    one is new to the analyzer and costs it one extraction call per batch.
    Files are made by the capture stage's serializer, as in `build_backlog`.
    """
    import uuid

    from analyze.conversation import scope
    from capture import files
    from tests import corpus

    session = list(corpus.trace_pairs(corpus.SESSION_64))
    main = [
        (pair, _stream_id(pair))
        for pair in session
        if scope(corpus.to_capture(pair), "messages") == "main"
    ][:turns]
    if len(main) < turns:
        raise ValueError(f"the corpus session has only {len(main)} main-loop turns")
    first = date(2025, 1, 1)
    written = []
    for s in range(sessions):
        day = first + timedelta(days=s // 10)
        session_id = str(uuid.UUID(int=s + 1))
        for t, (template, stream_id) in enumerate(main):
            pair = _variant(template, cycle=s, stream_id=stream_id)
            pair["request"]["headers"]["X-Claude-Code-Session-Id"] = session_id
            started = _on_day(pair["request"]["timestamp"], day)
            number = (s % 10) * turns + t + 1
            path = corpus.capture_path(root, pair, number=number, started=started)
            files.ensure_dir(path.parent)
            path.write_bytes(corpus.capture_bytes(pair, started=started))
            written.append(path)
    return written


def build_days(root: Path, *, days: int, sessions_per_day: int = 1) -> list[Path]:
    """`days` consecutive days of traffic shaped like Claude Code 2.x, for the compaction bench.

    Each session is the recorded 64-request 1.x session (its real, growing
    conversation and answers) with every main-loop request given the 2.x
    session's system prompt and tool definitions (about 50 KB before the first
    message, as 2.x sends) and a session id header of its own; side calls stay
    as recorded. Files are made by the capture stage's serializer, as in
    `build_backlog`.
    """
    import uuid

    from capture import files
    from tests import corpus

    template = next(corpus.trace_pairs(corpus.SESSION_2X))["request"]["body"]
    session = list(corpus.trace_pairs(corpus.SESSION_64))
    stream_ids = [_stream_id(pair) for pair in session]
    first = date(2025, 1, 1)
    written = []
    for d in range(days):
        for s in range(sessions_per_day):
            cycle = d * sessions_per_day + s
            session_id = str(uuid.UUID(int=cycle + 1))
            for index, template_pair in enumerate(session):
                pair = _variant(template_pair, cycle=cycle, stream_id=stream_ids[index])
                body = pair["request"]["body"]
                if body.get("tools"):
                    body["tools"], body["system"] = template["tools"], template["system"]
                pair["request"]["headers"]["X-Claude-Code-Session-Id"] = session_id
                started = _on_day(pair["request"]["timestamp"], first + timedelta(days=d))
                number = s * len(session) + index + 1
                path = corpus.capture_path(root, pair, number=number, started=started)
                files.ensure_dir(path.parent)
                path.write_bytes(corpus.capture_bytes(pair, started=started))
                written.append(path)
    return written
