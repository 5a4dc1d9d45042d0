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


LONG_SESSION_ID = "5e551077-0000-4000-8000-000000000300"
"""The session id of `build_long_session`'s conversation."""


def build_long_session(root: Path, *, requests: int, megabytes: float) -> list[Path]:
    """One conversation of `requests` main-loop captures, about `megabytes` MB of files in all.

    Shaped like a long Claude Code 2.x session: every request carries the recorded 2.x
    session's system prompt, tool definitions and first prompt, then the whole history so far,
    each turn an assistant `tool_use` (a Read, every fifth an Edit) and the user's `tool_result`
    (a file's numbered lines, sized so the files add up to `megabytes`); every response is a
    streamed answer calling the next tool (the last one ends the turn in text). The files are
    made by the capture stage's serializer (`tests.corpus.capture_bytes`), one day folder,
    twenty seconds apart.
    """
    from capture import files
    from tests import corpus

    template = next(corpus.trace_pairs(corpus.SESSION_2X))
    headers = _stream_headers()
    started0 = datetime.combine(date(2025, 3, 3), datetime.min.time()).timestamp() + 9 * 3600

    def pair(n: int, result_chars: int) -> dict[str, Any]:
        started = started0 + 20 * n
        return {
            "request": {
                "timestamp": started,
                "method": "POST",
                "url": template["request"]["url"],
                "headers": {
                    **template["request"]["headers"],
                    "X-Claude-Code-Session-Id": LONG_SESSION_ID,
                },
                "body": _long_request(template, turns=n, result_chars=result_chars),
            },
            "response": {
                "timestamp": started + 4.5,
                "status_code": 200,
                "headers": headers,
                "body_raw": _long_answer(n, last=n == requests - 1, context=n * result_chars),
            },
        }

    # file n = first + n * turn + per_char * result_chars * (Reads before n): solve for result_chars
    def size(n: int, result_chars: int) -> int:
        return len(corpus.capture_bytes(pair(n, result_chars)))

    first, turn = size(0, 0), size(1, 0) - size(0, 0)
    per_char = (size(1, 10_000) - size(1, 0)) / 10_000
    turn_pairs = requests * (requests - 1) / 2
    read_pairs = sum(requests - 1 - t for t in range(requests) if _long_tool(t)[0] == "Read")
    budget = megabytes * 1_000_000 - requests * first - turn * turn_pairs
    result_chars = max(200, int(budget / (per_char * read_pairs)))
    written = []
    for n in range(requests):
        exchange = pair(n, result_chars)
        started = exchange["request"]["timestamp"]
        path = corpus.capture_path(root, exchange, number=n + 1, started=started)
        files.ensure_dir(path.parent)
        path.write_bytes(corpus.capture_bytes(exchange, started=started))
        written.append(path)
    return written


def _stream_headers() -> dict[str, str]:
    """The response headers of the recorded 1.x session's first streamed main-loop answer."""
    from tests import corpus

    for pair in corpus.trace_pairs(corpus.SESSION_64):
        response = pair.get("response") or {}
        if "body_raw" in response:
            return dict(response["headers"])
    raise ValueError("the corpus session has no streamed response")


def _long_tool(turn: int) -> tuple[str, dict[str, Any]]:
    """The tool call of `turn`: a Read, every fifth turn an Edit of the file read before."""
    path = f"/home/user/project/src/module_{turn // 5:03d}.py"
    if turn % 5 == 4:
        return "Edit", {
            "file_path": path,
            "old_string": f"def step_{turn}(x):\n    return x + {turn}\n",
            "new_string": f"def step_{turn}(x: int) -> int:\n    return x + {turn} * 2\n",
        }
    return "Read", {"file_path": path}


def _long_result(turn: int, chars: int) -> str:
    """What the tool of `turn` answered: about `chars` characters of numbered source lines."""
    if turn % 5 == 4:
        return "The file has been updated."
    lines, size, n = [], 0, 0
    while size < chars:
        n += 1
        line = f"{n:6d}\tdef step_{turn}_{n}(x):  # turn {turn}, line {n}\n{n + 1:6d}\t    return x + {n}\n"
        lines.append(line)
        size += len(line)
    return "".join(lines)[:chars]


def _long_request(template: dict[str, Any], *, turns: int, result_chars: int) -> dict[str, Any]:
    """The 2.x template's request body with `turns` tool turns of history after its prompt."""
    body = copy.deepcopy(template["request"]["body"])
    body["metadata"] = {
        "user_id": json.dumps(
            {"device_id": "bench", "account_uuid": "", "session_id": LONG_SESSION_ID}
        )
    }
    messages = body["messages"][:2]
    for turn in range(turns):
        name, tool_input = _long_tool(turn)
        tool_id = f"toolu_long_{turn:04d}"
        messages.append(
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "text",
                        "text": f"Step {turn}: I use **{name}** on `{tool_input['file_path']}`.",
                    },
                    {"type": "tool_use", "id": tool_id, "name": name, "input": tool_input},
                ],
            }
        )
        messages.append(
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": tool_id,
                        "content": _long_result(turn, result_chars),
                    }
                ],
            }
        )
    body["messages"] = messages
    return body


def _long_answer(turn: int, *, last: bool, context: int) -> str:
    """The event stream answering request `turn`: text, then the next tool call (or the end)."""
    from tests.sse_streams import event_text

    name, tool_input = _long_tool(turn)
    text = (
        "All steps are done."
        if last
        else f"Step {turn}: I use **{name}** on `{tool_input['file_path']}`."
    )
    usage = {
        "input_tokens": 3,
        "cache_creation_input_tokens": 900 + context // 40,
        "cache_read_input_tokens": 12_000 + (context * 3) // 4,
        "output_tokens": 1,
    }
    events: list[dict[str, Any]] = [
        {
            "type": "message_start",
            "message": {
                "id": f"msg_long_{turn:04d}",
                "type": "message",
                "role": "assistant",
                "model": "claude-opus-4-8",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": usage,
            },
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
        {"type": "content_block_stop", "index": 0},
    ]
    if not last:
        events += [
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {
                    "type": "tool_use",
                    "id": f"toolu_long_{turn:04d}",
                    "name": name,
                    "input": {},
                },
            },
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": json.dumps(tool_input)},
            },
            {"type": "content_block_stop", "index": 1},
        ]
    events += [
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn" if last else "tool_use", "stop_sequence": None},
            "usage": {"output_tokens": 40 + turn % 17},
        },
        {"type": "message_stop"},
    ]
    return "".join(event_text(e) for e in events)
