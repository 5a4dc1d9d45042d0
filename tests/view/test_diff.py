"""view/diff.py: what changed between two requests."""

from __future__ import annotations

import itertools

from analyze.captures import read_capture
from tests import viewdata
from view.diff import diff_requests


def requests(tmp_path):
    paths = viewdata.write_session(tmp_path, steps=viewdata.coding_steps(), side_call=False)
    return [read_capture(p)["request"] for p in paths]


def test_a_turn_appends_messages_and_changes_nothing_else(tmp_path):
    r1, r2, _ = requests(tmp_path)
    d = diff_requests(r1, r2)
    assert d.common == 1 and [m.index for m in d.appended] == [1, 2] and d.rewritten == []
    assert [m.role for m in d.appended] == ["assistant", "user"]
    assert d.system == [] and d.params == []
    assert (d.tools_added, d.tools_removed, d.tools_changed) == ([], [], [])
    assert not d.unchanged


def test_moved_cache_control_is_no_change(tmp_path):
    r1, r2, _ = requests(tmp_path)
    r2["messages"][0]["content"][0]["cache_control"] = {"type": "ephemeral"}
    r2["system"][0]["cache_control"] = {"type": "ephemeral"}
    d = diff_requests(r1, r2)
    assert d.common == 1 and d.system == []


def test_rewritten_history_tools_system_and_params(tmp_path):
    _r1, _r2, r3 = requests(tmp_path)
    compacted = dict(r3)
    compacted["messages"] = [{"role": "user", "content": "This session is being continued …"}]
    compacted["tools"] = [t for t in r3["tools"] if t["name"] != "Bash"] + [
        {"name": "Grep", "description": "search", "input_schema": {}}
    ]
    compacted["tools"][0] = {**compacted["tools"][0], "description": "Read a file (v2)"}
    compacted["system"] = [*r3["system"], {"type": "text", "text": "New rule."}]
    compacted["model"] = "claude-opus-4-5"
    compacted["thinking"] = {"type": "enabled"}
    d = diff_requests(r3, compacted)
    assert d.common == 0
    assert [m.index for m in d.rewritten] == [0, 1, 2, 3, 4]
    assert [m.after is None for m in d.rewritten] == [False, True, True, True, True]
    assert d.appended == []
    assert d.tools_added == ["Grep"] and d.tools_removed == ["Bash"]
    assert [c.name for c in d.tools_changed] == ["Read"]
    assert any(line.kind == "add" and "New rule." in line.text for line in d.system)
    assert {p.name: (p.before, p.after) for p in d.params} == {
        "model": ('"claude-sonnet-4-5-20250929"', '"claude-opus-4-5"'),
        "thinking": (None, '{\n  "type": "enabled"\n}'),
    }


def test_the_first_request_is_all_new(tmp_path):
    r1, *_ = requests(tmp_path)
    d = diff_requests({}, r1)
    assert len(d.appended) == 1 and d.tools_added == ["Read", "Edit", "Bash"]
    assert {p.name for p in d.params} == {"model", "metadata", "max_tokens", "stream"}


def test_identical_requests(tmp_path):
    r1, *_ = requests(tmp_path)
    assert diff_requests(r1, r1).unchanged


def corpus_main_requests(tmp_path, session):
    from analyze import conversation
    from analyze.captures import iter_captures
    from tests import corpus

    corpus.write_session(tmp_path, session)
    out: dict[str, list] = {}
    for ref in iter_captures(tmp_path):
        doc = read_capture(ref.path)
        if conversation.scope(doc, ref.endpoint) == "main":
            out.setdefault(conversation.session_id(doc), []).append(doc["request"])
    return out


def test_the_real_cli_session_only_appends(tmp_path):
    from tests import corpus

    (requests_,) = corpus_main_requests(tmp_path, corpus.SESSION_2X).values()
    assert len(requests_) == 7
    for before, after in itertools.pairwise(requests_):
        d = diff_requests(before, after)
        assert d.rewritten == [] and d.common == len(before["messages"])
        assert len(d.appended) >= 2 and d.common + len(d.appended) == len(after["messages"])
        assert next(m.role for m in d.appended) == "assistant"


def test_a_recorded_compaction_rewrites_the_history(tmp_path):
    from analyze import conversation
    from tests import corpus

    longest = max(corpus_main_requests(tmp_path, corpus.SESSION_64).values(), key=len)
    assert conversation.is_compaction(longest[-1])
    last = diff_requests(longest[-2], longest[-1])
    assert last.common == 0 and len(last.rewritten) == len(longest[-2]["messages"])
    assert last.system, "the summarisation request has a system prompt of its own"
