"""view/sessions.py: the session list and a session's conversation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from analyze.captures import read_capture
from tests import corpus, viewdata
from view import cost, sessions
from view.index import CaptureRow, Index

SID = "5e55a0e1-0000-4000-8000-000000000001"


@pytest.fixture
def index(config, captures):
    idx = Index(captures_dir=config.capture.dir, state_dir=config.view.state_path)
    yield idx
    idx.close()


def costs_of(config):
    return cost.Costs(config.usage.prices, use_database=config.usage.genai_prices)


def test_one_row_per_session_with_its_figures(config, captures, index):
    viewdata.write_session(captures, steps=viewdata.coding_steps())
    viewdata.write_session(
        captures,
        steps=viewdata.coding_steps()[:1],
        session_id="later-session",
        prompt="Second task",
        start=viewdata.datetime(2026, 11, 21, 15, 0, 0, tzinfo=viewdata.TZ),
        start_number=20,
    )
    index.refresh()
    found = sessions.list_sessions(index, costs_=costs_of(config), memories={SID: 2})
    assert [s.id for s in found] == ["later-session", SID]  # newest first
    s = found[1]
    assert (s.main, s.side, s.memories) == (3, 1, 2)
    assert s.title == "Fix the failing test in shop/cart.py" and s.project == "/home/dev/shop"
    assert s.models == ["claude-haiku-4-5-20251001", "claude-sonnet-4-5-20250929"]
    assert (s.tokens.input, s.tokens.cache_write, s.tokens.cache_read, s.tokens.output) == (
        3 * 10 + 30,
        300,
        3000,
        3 * 50 + 12,
    )
    main_cost = 3 * (10 * 3.0 + 100 * 3.75 + 1000 * 0.3 + 50 * 15.0) / 1e6
    side_cost = (30 * 1.0 + 12 * 5.0) / 1e6
    assert s.cost_usd == pytest.approx(main_cost + side_cost)
    assert s.duration_s == pytest.approx(15.0 + 2.31)  # the last request's own 2,310 ms too


def test_an_unpriced_model_makes_the_cost_unknown(config, captures, index):
    viewdata.write_session(captures, steps=viewdata.coding_steps(), model="claude-new-9")
    index.refresh()
    (s,) = sessions.list_sessions(index, costs_=costs_of(config), memories={})
    assert s.cost_usd is None


def test_the_conversation_is_the_last_request_plus_its_response(
    config, captures, index, monkeypatch
):
    viewdata.write_session(captures, steps=viewdata.coding_steps())
    index.refresh()
    parsed = []
    monkeypatch.setattr(sessions, "read_capture", lambda p: parsed.append(p) or read_capture(p))
    view = sessions.build_session(index, SID, costs_=costs_of(config), memories=0)
    assert view is not None
    assert len(parsed) == 1 and parsed[0].endswith("004_140015_messages.json")
    (window,) = view.windows
    roles = [m.role for m in window.messages]
    assert roles == ["user", "assistant", "user", "assistant", "user", "assistant"]
    # every main request's figures once, at the answer it got
    placed = [t.n for m in window.messages for t in m.turns]
    assert placed == [1, 2, 3]
    assert window.messages[-1].final
    assert window.messages[-1].blocks[0].kind == "markdown"
    assert "<strong>rounding</strong>" in window.messages[-1].blocks[0].html
    kinds = [b.kind for b in window.messages[1].blocks]
    assert kinds == ["thinking", "markdown", "tool_use"]
    assert [t.row.scope for t in view.side] == ["side"]
    assert (
        window.tools == ["Read", "Edit", "Bash"]
        and "Working directory: /home/dev/shop" in window.system
    )


def test_a_rewritten_history_starts_a_new_context_window(config, captures, index):
    viewdata.write_session(captures, steps=viewdata.coding_steps(), side_call=False)
    viewdata.write_session(
        captures,
        steps=viewdata.coding_steps()[:2],
        prompt="This session is being continued from a previous conversation. Summary: …\n\nGo on.",
        start=viewdata.datetime(2026, 11, 21, 14, 1, 0, tzinfo=viewdata.TZ),
        start_number=10,
        side_call=False,
    )
    index.refresh()
    view = sessions.build_session(index, SID, costs_=costs_of(config), memories=0)
    assert [len(w.turns) for w in view.windows] == [3, 2]
    assert [t.n for w in view.windows for t in w.turns] == [1, 2, 3, 4, 5]


def test_a_request_without_response_yet(config, captures, index):
    viewdata.write_session(captures, steps=viewdata.coding_steps(), last_response=False)
    index.refresh()
    view = sessions.build_session(index, SID, costs_=costs_of(config), memories=0)
    final = view.windows[0].messages[-1]
    assert final.blocks == [] and final.turns[-1].row.incomplete == "no_response"


def test_a_capture_gone_bad_is_a_note_not_an_error(config, captures, index):
    paths = viewdata.write_session(captures, steps=viewdata.coding_steps())
    index.refresh()
    paths[-1].write_bytes(b"{ cut")
    view = sessions.build_session(index, SID, costs_=costs_of(config), memories=0)
    assert "cannot be read now" in view.windows[0].problem


def test_version_changes_with_a_new_capture(config, captures, index):
    viewdata.write_session(captures, steps=viewdata.coding_steps()[:2])
    index.refresh()
    before = sessions.version_of(index.session_rows(SID))
    viewdata.write_session(
        captures,
        steps=viewdata.coding_steps()[2:],
        start=viewdata.datetime(2026, 11, 21, 14, 0, 0, tzinfo=viewdata.TZ) + timedelta(minutes=5),
        start_number=30,
        side_call=False,
    )
    index.refresh()
    assert sessions.version_of(index.session_rows(SID)) != before


def test_every_corpus_session_builds(config, captures, index):
    corpus.write_sessions(captures)
    index.refresh()
    found = sessions.list_sessions(index, costs_=costs_of(config), memories={})
    assert len(found) > 3
    for s in found:
        view = sessions.build_session(index, s.id, costs_=costs_of(config), memories=0)
        assert view is not None
        assert sum(len(w.turns) for w in view.windows) == s.main


def test_a_capture_time_without_offset_is_utc(config, captures, index):
    paths = viewdata.write_session(captures, steps=viewdata.coding_steps()[:1], side_call=False)
    paths += viewdata.write_session(
        captures,
        steps=viewdata.coding_steps()[:1],
        side_call=False,
        start=viewdata.datetime(2026, 11, 21, 14, 0, 10),  # naive: 14:00:15 UTC
        start_number=2,
    )
    assert b'"captured_at": "2026-11-21T14:00:15.000"' in paths[1].read_bytes()
    index.refresh()
    (s,) = sessions.list_sessions(index, costs_=costs_of(config), memories={})
    assert s.duration_s == pytest.approx(3600 + 10 + 2.31)
    view = sessions.build_session(index, SID, costs_=costs_of(config), memories=0)
    assert view is not None and view.summary.duration_s == s.duration_s


def test_a_one_request_session_lasts_as_long_as_its_request(config, captures, index):
    viewdata.write_session(captures, steps=viewdata.coding_steps()[:1], side_call=False)
    index.refresh()
    (s,) = sessions.list_sessions(index, costs_=costs_of(config), memories={})
    assert s.duration_s == pytest.approx(2.31)
    view = sessions.build_session(index, SID, costs_=costs_of(config), memories=0)
    assert view is not None and view.summary.duration_s == pytest.approx(2.31)


def row(n: int, *, first: str, messages: int) -> CaptureRow:
    """A main-loop index row of the 2026-11-21 folder, as far as windows_of looks."""
    rel = f"2026-11-21/{n:03d}_140000_messages.json"
    return CaptureRow(
        rel=rel,
        fspath=rel,
        day="2026-11-21",
        number=n,
        endpoint="messages",
        mtime_ns=0,
        size=0,
        problem=None,
        scope="main",
        first_key=first,
        message_count=messages,
    )


def test_interleaved_subagent_requests_keep_each_conversation_one_window():
    main = [
        row(1, first="main", messages=1),
        row(2, first="task", messages=1),
        row(3, first="main", messages=3),
        row(4, first="task", messages=3),
        row(5, first="main", messages=5),
        row(6, first="main", messages=2),  # the history shrank: a rewind or /compact
    ]
    windows = sessions.windows_of(main)
    assert [[r.number for r in w] for w in windows] == [[1, 3, 5], [2, 4], [6]]


def test_start_and_end_are_compared_as_times_not_as_text():
    # Across a DST change: 01:30+00:00 is after 02:10+01:00 (01:10 UTC), though less as text.
    texts = ["2026-03-29T02:10:00+01:00", "2026-03-29T01:30:00+00:00"]
    assert min(texts, key=sessions.when) == texts[0]
    assert sorted(texts) != sorted(texts, key=sessions.when)
    assert sessions.when("not a time") < sessions.when(texts[0])
