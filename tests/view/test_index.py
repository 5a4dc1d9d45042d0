"""view/index.py: the incremental SQLite index of the captures."""

from __future__ import annotations

import gzip
import os
import stat

from analyze import conversation
from analyze.captures import iter_captures, read_capture
from tests import corpus, viewdata
from view import index as index_mod
from view.index import Index, first_prompt


def make_index(config, **kw) -> Index:
    return Index(captures_dir=config.capture.dir, state_dir=config.view.state_path, **kw)


def test_the_index_is_filled_once_then_only_by_what_changed(config, captures):
    paths = viewdata.write_session(captures, steps=viewdata.coding_steps())
    idx = make_index(config)
    assert idx.refresh() == len(paths)
    generation = idx.generation
    assert idx.refresh() == 0
    assert idx.generation == generation  # nothing changed: what depends on the rows stays
    idx.close()
    again = make_index(config)  # a restart reads nothing again
    assert again.refresh() == 0
    extra = viewdata.write_session(
        captures,
        steps=viewdata.coding_steps()[:1],
        session_id="other-session",
        start_number=10,
        side_call=False,
    )
    assert again.refresh() == 1
    data = extra[0].read_bytes()
    extra[0].write_bytes(data.replace(b'"max_tokens": 32000', b'"max_tokens": 32001'))
    assert again.refresh() == 1
    extra[0].unlink()
    generation = again.generation
    again.refresh()
    assert again.generation > generation
    assert again.capture(f"{extra[0].parent.name}/{extra[0].name}") is None
    assert len(again.all_rows()) == len(paths)


def test_rows_hold_session_scope_usage_and_title(config, captures):
    paths = viewdata.write_session(captures, steps=viewdata.coding_steps())
    idx = make_index(config)
    idx.refresh()
    rows = idx.all_rows()
    assert [r.name for r in rows] == [p.name for p in paths]
    side, *main = rows
    assert side.scope == "side" and all(r.scope == "main" for r in main)
    assert {r.session for r in rows} == {"5e55a0e1-0000-4000-8000-000000000001"}
    assert all(r.title == "Fix the failing test in shop/cart.py" for r in main)
    assert [r.message_count for r in main] == [1, 3, 5]
    assert all(r.project == "/home/dev/shop" for r in main)
    assert main[0].input == 10 and main[0].cache_write_5m == 100 and main[0].cache_read == 1000
    assert main[0].output == 50 and main[0].ttfb_ms == 412.5 and main[0].duration_ms == 2310.0
    assert side.model == "claude-haiku-4-5-20251001"
    assert len({r.first_key for r in main}) == 1


def test_sessions_are_the_analyzers_on_the_corpus(config, captures):
    corpus.write_sessions(captures)
    idx = make_index(config)
    idx.refresh()
    by_rel = {r.rel: r for r in idx.all_rows()}
    for ref in iter_captures(captures):
        doc = read_capture(ref.path)
        row = by_rel[ref.rel]
        assert row.session == conversation.session_id(doc)
        assert row.scope == conversation.scope(doc, ref.endpoint)
        assert row.project == conversation.project(doc)
        assert row.model == conversation.model(doc)


def test_bad_files_and_foreign_files_are_recorded(config, captures):
    paths = viewdata.write_session(captures, steps=viewdata.coding_steps())
    day = paths[0].parent
    (day / "099_120000_messages.json").write_bytes(b'{"captured_at": "x", "url": ')
    (day / "098_120000_messages.json").write_bytes(b"\x00\x01\x02")
    (day / "notes.txt").write_text("hello")
    (day / ".001_x.json.tmp").write_text("in flight")
    idx = make_index(config)
    idx.refresh()
    problems = {r.name: r.problem for r in idx.problems()}
    assert problems["099_120000_messages.json"].startswith("truncated or invalid JSON")
    assert problems["098_120000_messages.json"].startswith("binary file")
    assert [(o.day, o.name) for o in idx.other_files()] == [(day.name, "notes.txt")]


def test_a_plain_and_compressed_twin_count_once(config, captures):
    path = viewdata.write_session(captures, steps=viewdata.coding_steps())[-1]
    gz = path.with_name(path.name + ".gz")
    gz.write_bytes(gzip.compress(path.read_bytes()))
    idx = make_index(config)
    idx.refresh()
    rows = [r for r in idx.all_rows() if r.name == path.name]
    assert len(rows) == 1 and rows[0].fspath == str(path)
    path.unlink()
    os.utime(path.parent, ns=(1, 1))  # an old folder mtime: changes are still seen
    idx.refresh()
    rows = [r for r in idx.all_rows() if r.name == path.name]
    assert len(rows) == 1 and rows[0].fspath == str(gz) and rows[0].message_count == 5


def test_an_unchanged_folder_is_not_listed_again(config, captures, monkeypatch):
    for n, day in enumerate((18, 19, 20, 21)):
        viewdata.write_session(
            captures,
            steps=viewdata.coding_steps(),
            session_id=f"s{n}",
            start=viewdata.datetime(2026, 11, day, 9, 0, tzinfo=viewdata.TZ),
        )
    now = [max(os.stat(d).st_mtime for d in captures.iterdir()) + 60]
    idx = make_index(config, clock=lambda: now[0])
    idx.refresh()
    listed = []
    real = index_mod.os.scandir
    monkeypatch.setattr(index_mod.os, "scandir", lambda p: listed.append(p) or real(p))
    assert idx.refresh() == 0
    # the captures folder itself, and only the newest day folders
    assert [os.path.basename(p) for p in listed] == ["captures", "2026-11-20", "2026-11-21"]


def test_a_file_rewritten_in_place_on_the_newest_day_is_seen(config, captures):
    paths = viewdata.write_session(captures, steps=viewdata.coding_steps())
    now = [os.stat(paths[0].parent).st_mtime + 60]
    idx = make_index(config, clock=lambda: now[0])
    idx.refresh()
    folder_mtime = os.stat(paths[0].parent).st_mtime_ns
    with open(paths[-1], "r+b") as f:  # in place: the folder's mtime stays
        data = f.read().replace(b'"output_tokens": 50', b'"output_tokens": 77')
        f.seek(0)
        f.write(data)
        f.truncate()
    os.utime(paths[0].parent, ns=(folder_mtime, folder_mtime))
    assert idx.refresh() == 1
    assert idx.capture(f"{paths[-1].parent.name}/{paths[-1].name}").output == 77


def test_files_are_private_and_a_corrupt_index_is_rebuilt(config, captures):
    viewdata.write_session(captures, steps=viewdata.coding_steps())
    idx = make_index(config)
    idx.refresh()
    idx.close()
    state = config.view.state_path
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    db = state / index_mod.INDEX_FILE
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    for leftover in state.glob("index.sqlite3-*"):
        leftover.unlink()
    db.write_bytes(b"this is not sqlite" * 100)
    again = make_index(config)
    assert again.refresh() == 4


def test_an_unwritable_state_folder_gives_an_index_in_memory(config, captures, tmp_path):
    viewdata.write_session(captures, steps=viewdata.coding_steps())
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    idx = Index(captures_dir=captures, state_dir=blocker / "state")
    assert idx.refresh() == 4
    assert len(idx.all_rows()) == 4


def test_first_prompt_skips_reminders_and_derived_text():
    message = {
        "role": "user",
        "content": [
            {"type": "text", "text": "<system-reminder>context</system-reminder>"},
            {
                "type": "text",
                "text": "This session is being continued from a previous conversation",
            },
            {"type": "text", "text": "  the real prompt  "},
        ],
    }
    assert first_prompt(message) == "the real prompt"
    assert first_prompt({"role": "assistant", "content": "x"}) is None


def deny_reading(monkeypatch, denied) -> None:
    """Make `denied` unreadable to the index (root reads a mode-0000 file anyway)."""
    real = index_mod.read_skeleton

    def deny(path):
        if path == str(denied):
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(index_mod, "read_skeleton", deny)


def test_an_unreadable_file_is_a_problem_row(config, captures, monkeypatch):
    paths = viewdata.write_session(captures, steps=viewdata.coding_steps())
    deny_reading(monkeypatch, paths[1])
    idx = make_index(config)
    idx.refresh()
    assert [(r.name, r.problem) for r in idx.problems()] == [
        (paths[1].name, "cannot read: Permission denied")
    ]


def test_bad_entries_are_read_once(config, captures, monkeypatch):
    paths = viewdata.write_session(captures, steps=viewdata.coding_steps())
    (paths[0].parent / "080_120000_messages.json").mkdir()
    deny_reading(monkeypatch, paths[1])
    idx = make_index(config)
    assert idx.refresh() == len(paths) + 1
    assert {r.problem for r in idx.problems()} == {
        "a folder, not a file",
        "cannot read: Permission denied",
    }
    generation = idx.generation
    assert idx.refresh() == 0  # the newest day is listed again, but nothing in it changed
    assert idx.generation == generation


def test_symlinks_out_of_the_captures_folder_are_skipped(config, captures, tmp_path):
    paths = viewdata.write_session(captures, steps=viewdata.coding_steps())
    outside = tmp_path / "outside"
    viewdata.write_session(
        outside, steps=viewdata.coding_steps()[:1], session_id="elsewhere", side_call=False
    )
    (far,) = (outside / paths[0].parent.name).iterdir()
    (paths[0].parent / "090_120000_messages.json").symlink_to(far)
    (captures / "2026-11-30").symlink_to(outside / paths[0].parent.name)
    inside = paths[0].parent / "091_120000_messages.json"
    inside.symlink_to(paths[1])  # a link within the folder is a capture like any other
    idx = make_index(config)
    idx.refresh()
    rels = {r.rel for r in idx.all_rows()}
    assert f"{paths[0].parent.name}/{inside.name}" in rels
    assert not [r for r in idx.all_rows() if r.session == "elsewhere" or r.day == "2026-11-30"]
    assert len(rels) == len(paths) + 1
    assert idx.other_files() == []
