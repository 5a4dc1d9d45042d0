"""bench/backlog.py: byte-identical to what the real addon writes, and a new conversation per cycle."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from bench import backlog
from tests import corpus


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*.json")}


def test_backlog_files_are_what_the_addon_writes_for_the_same_exchanges(tmp_path):
    session = list(corpus.trace_pairs(corpus.SESSION_64))
    count = len(session) + 6  # into the second cycle
    paths = backlog.build_backlog(tmp_path / "backlog", count)
    assert len(paths) == count

    exchanges = []
    for n in range(count):
        cycle, index = divmod(n, len(session))
        pair = backlog._variant(
            session[index], cycle=cycle, stream_id=backlog._stream_id(session[index])
        )
        day = date(2025, 1, 1) + timedelta(days=cycle)
        exchanges.append((pair, backlog._on_day(pair["request"]["timestamp"], day)))
    corpus.replay_through_addon(exchanges, tmp_path / "addon")
    assert tree(tmp_path / "backlog") == tree(tmp_path / "addon")


def test_each_cycle_is_a_conversation_of_its_own_on_a_day_of_its_own(tmp_path):
    size = len(list(corpus.trace_pairs(corpus.SESSION_64)))
    paths = backlog.build_backlog(tmp_path, 2 * size)
    docs = [json.loads(p.read_bytes()) for p in paths]
    first, second = docs[:size], docs[size:]
    assert {p.parent.name for p in paths[:size]} == {"2025-01-01"}
    assert {p.parent.name for p in paths[size:]} == {"2025-01-02"}
    assert [d["captured_at"][11:] for d in first] == [d["captured_at"][11:] for d in second]

    def ids(cycle):
        return {((d.get("response") or {}).get("body") or {}).get("id") for d in cycle} - {None}

    assert ids(first) and not ids(first) & ids(second)  # the usage report counts both
    assert all(json.dumps(d["request"]["messages"][0]).count("[cycle 0]") == 1 for d in first)
    assert all(json.dumps(d["request"]["messages"][0]).count("[cycle 1]") == 1 for d in second)


def test_long_session_is_one_growing_conversation_of_the_size_asked(tmp_path):
    from analyze.conversation import scope, session_id

    paths = backlog.build_long_session(tmp_path, requests=25, megabytes=2.0)
    assert len(paths) == 25
    total = sum(p.stat().st_size for p in paths)
    assert 1_900_000 <= total <= 2_100_000
    docs = [json.loads(p.read_bytes()) for p in paths]
    assert {session_id(d) for d in docs} == {backlog.LONG_SESSION_ID}
    assert {scope(d, "messages") for d in docs} == {"main"}
    sizes = [p.stat().st_size for p in paths]
    assert sizes == sorted(sizes)  # every request resends the history so far
    for n, doc in enumerate(docs):
        messages = doc["request"]["messages"]
        assert len(messages) == 2 + 2 * n
        answer = doc["response"]["body"]
        assert answer["id"] == f"msg_long_{n:04d}"
        if n + 1 < len(docs):  # the next request carries this answer's tool call and its result
            tool_use = answer["content"][1]
            sent = docs[n + 1]["request"]["messages"][-2:]
            assert sent[0]["content"][1] == tool_use
            assert sent[1]["content"][0]["tool_use_id"] == tool_use["id"]
    assert docs[-1]["response"]["body"]["stop_reason"] == "end_turn"
    names = [b["name"] for d in docs[:-1] for b in d["response"]["body"]["content"][1:]]
    assert names.count("Edit") == 4 and names.count("Read") == 20
