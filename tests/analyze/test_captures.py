"""analyze/captures.py: listing and reading capture files per the README format."""

import json

import pytest

from analyze import captures


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else json.dumps(data).encode())
    return path


GOOD = {
    "captured_at": "2026-11-21T10:00:00.000+00:00",
    "method": "POST",
    "url": "https://api.anthropic.com/v1/messages",
    "headers": {},
    "request": {"messages": []},
}


def test_listing_is_ordered_by_day_then_number_and_skips_non_captures(tmp_path):
    for rel in [
        "2026-11-22/002_000001_messages.json",
        "2026-11-21/010_235959_messages.json",
        "2026-11-21/9_235959_messages.json",
        "2026-11-21/002_120000_messages.json",
        "2026-11-21/1000_235959_messages.json",
        "2026-11-21/.003_120000_messages.json",
        "2026-11-21/.glass-1-1.tmp",
        "2026-11-21/011_120000_count_tokens.json",
        "notaday/001_120000_messages.json",
        "memories.jsonl",
        ".analyze/x.json",
    ]:
        write(tmp_path / rel, GOOD)
    rels = [r.rel for r in captures.iter_captures(tmp_path)]
    assert rels == [
        "2026-11-21/002_120000_messages.json",
        "2026-11-21/010_235959_messages.json",
        "2026-11-21/011_120000_count_tokens.json",
        "2026-11-21/1000_235959_messages.json",
        "2026-11-22/002_000001_messages.json",
    ]
    assert [r.number for r in captures.iter_captures(tmp_path, endpoint="messages")] == [
        2,
        10,
        1000,
        2,
    ]


def test_missing_root_lists_nothing(tmp_path):
    assert list(captures.iter_captures(tmp_path / "nope")) == []


def test_ref_for_accepts_only_captures_in_day_folders(tmp_path):
    good = tmp_path / "2026-11-21" / "001_120000_messages.json"
    assert captures.ref_for(tmp_path, good).rel == "2026-11-21/001_120000_messages.json"
    assert captures.ref_for(tmp_path, tmp_path / "2026-11-21" / ".001_120000_messages.json") is None
    assert (
        captures.ref_for(tmp_path, tmp_path / "x" / "2026-11-21" / "001_120000_messages.json")
        is None
    )


@pytest.mark.parametrize(
    "data,reason",
    [
        (b"", "empty file"),
        (b'{"captured_at": "x", "url": ', "truncated or invalid JSON"),
        (bytes(range(256)) * 4, "binary file"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[1, 2]", "top level is list"),
        (json.dumps({"captured_at": "x"}).encode(), "'url' is missing"),
        (json.dumps({**GOOD, "request": "text"}).encode(), "'request' is not an object"),
        (
            json.dumps({k: v for k, v in GOOD.items() if k != "request"}).encode(),
            "neither 'request'",
        ),
        (json.dumps({**GOOD, "response": []}).encode(), "'response' is not an object"),
    ],
)
def test_bad_files_are_rejected_with_a_reason(tmp_path, data, reason):
    path = write(tmp_path / "f.json", data)
    with pytest.raises(captures.BadCapture, match=reason):
        captures.read_capture(path)


def test_huge_file_is_rejected_without_reading_it(tmp_path):
    path = write(tmp_path / "f.json", GOOD)
    with pytest.raises(captures.BadCapture, match="too large"):
        captures.read_capture(path, max_bytes=10)


def test_request_text_capture_is_valid_and_has_ended(tmp_path):
    doc = {k: v for k, v in GOOD.items() if k != "request"} | {
        "request_text": "x",
        "error": {"message": "m"},
    }
    assert captures.has_ended(captures.read_capture(write(tmp_path / "f.json", doc)))
    assert not captures.has_ended(GOOD)


def test_response_message_and_header_lookup():
    doc = {
        **GOOD,
        "headers": {"X-Claude-Code-Session-Id": "abc"},
        "response": {"body": {"type": "message", "content": []}},
    }
    assert captures.response_message(doc) == {"type": "message", "content": []}
    assert captures.response_message({**GOOD, "response": {"body": {"input_tokens": 3}}}) is None
    assert captures.header(doc, "x-claude-code-session-id") == "abc"
