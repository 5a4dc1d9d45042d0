"""view/blocks.py: content blocks as display data."""

from __future__ import annotations

from view import blocks
from view.blocks import LONG_CHARS, blocks_of


def one(block, role="assistant", **kw):
    (b,) = blocks_of(
        [block],
        role=role,
        pointer="/request/messages/3/content",
        capture_url="/captures/d/f.json",
        **kw,
    )
    return b


def test_edit_is_a_diff():
    b = one(
        {
            "type": "tool_use",
            "id": "t1",
            "name": "Edit",
            "input": {
                "file_path": "/a.py",
                "old_string": "x = 1\ny = 2\n",
                "new_string": "x = 1\ny = 3\n",
            },
        }
    )
    (d,) = b.diffs
    assert d.path == "/a.py"
    assert [(x.kind, x.text) for x in d.lines if x.kind in ("add", "del")] == [
        ("del", "-y = 2"),
        ("add", "+y = 3"),
    ]


def test_multiedit_and_write():
    multi = one(
        {
            "type": "tool_use",
            "id": "t",
            "name": "MultiEdit",
            "input": {
                "file_path": "/a",
                "edits": [
                    {"old_string": "a", "new_string": "b"},
                    {"old_string": "c", "new_string": "d"},
                ],
            },
        }
    )
    assert len(multi.diffs) == 2
    write = one(
        {
            "type": "tool_use",
            "id": "t",
            "name": "Write",
            "input": {"file_path": "/n", "content": "l1\nl2\n"},
        }
    )
    assert [x.kind for x in write.diffs[0].lines] == ["hunk", "add", "add"]


def test_todowrite_is_a_checklist():
    b = one(
        {
            "type": "tool_use",
            "id": "t",
            "name": "TodoWrite",
            "input": {
                "todos": [
                    {"content": "A", "status": "completed"},
                    {"content": "B", "status": "pending"},
                ]
            },
        }
    )
    assert [(t.content, t.status) for t in b.todos] == [("A", "completed"), ("B", "pending")]


def test_a_long_tool_result_is_a_preview_with_its_address():
    text = "x" * (LONG_CHARS + 10)
    b = one(
        {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": text}]},
        role="user",
    )
    assert b.text == "x" * LONG_CHARS and b.full_chars == LONG_CHARS + 10
    assert b.fetch == "/captures/d/f.json/value?p=/request/messages/3/content/0/content"
    whole = one(
        {"type": "tool_result", "tool_use_id": "t1", "content": text}, role="user", full=True
    )
    assert whole.text == text and whole.fetch is None


def test_short_results_and_errors():
    b = one(
        {"type": "tool_result", "tool_use_id": "t1", "content": "ok", "is_error": True}, role="user"
    )
    assert (b.text, b.is_error, b.fetch) == ("ok", True, None)


def test_reminders_are_set_apart_from_the_prompt():
    (b,) = blocks_of(
        "<system-reminder>ctx</system-reminder>\nDo it", role="user", pointer="", capture_url=""
    )
    assert (
        b.kind == "text"
        and b.text == "Do it"
        and b.reminders == ["<system-reminder>ctx</system-reminder>"]
    )


def test_thinking_images_and_unknown_blocks():
    assert one({"type": "thinking", "thinking": "hm"}).kind == "thinking"
    assert one({"type": "redacted_thinking", "data": "x"}).text == "[redacted thinking]"
    img = one({"type": "image", "source": {"media_type": "image/png", "data": "AAAA"}}, role="user")
    assert img.text == "[image: image/png, 3 bytes]"
    assert one({"type": "mystery", "x": 1}).kind == "other"


def test_result_text_joins_text_blocks():
    assert (
        blocks.result_text(
            [{"type": "text", "text": "a"}, {"type": "image"}, {"type": "text", "text": "b"}]
        )
        == "a\n[image]\nb"
    )
