"""view/memories.py: the memories page's data, statuses as `make memories` has them."""

from __future__ import annotations

import json

from analyze.store import Memory, MemoryStore
from view.memories import build


def write_store(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return MemoryStore(path).load()


def mem(mid, text, *, kind="preference", project="/p", **kw):
    return Memory(
        id=mid,
        text=text,
        kind=kind,
        created_at="2026-11-21T14:00:00+01:00",
        session_id="s",
        sources=("2026-11-21/001_140000_messages.json",),
        model="m",
        project=project,
        **kw,
    ).to_json()


def test_current_by_default_and_everything_with_all(tmp_path):
    store = write_store(
        tmp_path / "memories.jsonl",
        [
            mem("m_a", "Use tabs."),
            mem("m_b", "Use spaces.", supersedes=("m_a",)),
            mem("m_c", "Deploy with make ship.", kind="decision", project="/q"),
            {"op": "forget", "id": "m_c", "at": "2026-11-22T00:00:00+01:00"},
        ],
    )
    view = build(store)
    assert [i.memory.id for i in view.items] == ["m_b"]
    assert (view.total_current, view.hidden) == (1, 2)
    every = build(store, show_all=True)
    assert {i.memory.id: i.status for i in every.items} == {
        "m_a": "superseded",
        "m_b": "current",
        "m_c": "forgotten",
    }
    assert [i.memory.id for i in build(store, show_all=True, kind="decision").items] == ["m_c"]
    assert [i.memory.id for i in build(store, show_all=True, project="/q").items] == ["m_c"]
    assert [i.memory.id for i in build(store, show_all=True, query="USE tabs").items] == ["m_a"]
    assert view.projects == ["/p", "/q"]


def test_no_store_yet():
    view = build(None)
    assert not view.found and view.items == []
