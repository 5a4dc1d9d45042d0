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
