"""view/skeleton.py: the index facts of a capture without parsing its conversation."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from analyze.captures import BadCapture, read_capture
from tests import corpus, viewdata
from view.skeleton import read_skeleton, read_tail


def expected(doc: dict) -> tuple[dict, int]:
    request = doc.get("request")
    if not isinstance(request, dict):
        return doc, 0
    messages = request["messages"]
    return {**doc, "request": {**request, "messages": messages[:1]}}, len(messages)


def corpus_files(tmp_path: Path) -> list[Path]:
    return corpus.write_sessions(tmp_path / "c") + viewdata.write_session(
        tmp_path / "s", steps=viewdata.coding_steps()
    )


def test_skeleton_equals_the_full_parse_on_every_corpus_capture(tmp_path):
    paths = corpus_files(tmp_path)
    cut = 0
    for path in paths:
        doc = read_capture(path)
        sk = read_skeleton(str(path))
        want, count = expected(doc)
        assert sk.doc == want, path
        assert sk.message_count == count, path
        if sk.response_offset is not None:
            cut += 1
            tail = read_tail(str(path), sk.response_offset)
            assert tail["response"] == doc["response"]
    assert cut >= len([p for p in paths if "response" in read_capture(p)]) > 10


@pytest.mark.parametrize("layout", ["one line", "indent 4"])
def test_other_layouts_are_parsed_whole_with_the_same_result(tmp_path, layout):
    path = viewdata.write_session(tmp_path, steps=viewdata.coding_steps())[-1]
    doc = read_capture(path)
    indent = None if layout == "one line" else 4
    path.write_text(json.dumps(doc, indent=indent, ensure_ascii=False), encoding="utf-8")
    sk = read_skeleton(str(path))
    assert (sk.doc, sk.message_count) == expected(doc)


def test_compressed_capture(tmp_path):
    path = viewdata.write_session(tmp_path, steps=viewdata.coding_steps())[-1]
    doc = read_capture(path)
    gz = path.with_name(path.name + ".gz")
    gz.write_bytes(gzip.compress(path.read_bytes()))
    path.unlink()
    sk = read_skeleton(str(gz))
    assert (sk.doc, sk.message_count) == expected(doc)
    assert sk.response_offset is None


def test_empty_messages_on_one_line(tmp_path):
    path = viewdata.write_session(tmp_path, steps=viewdata.coding_steps())[-1]
    doc = read_capture(path)
    doc["request"]["messages"] = []
    path.write_bytes(viewdata.files.dumps(doc))
    assert b'"messages": []' in path.read_bytes()
    sk = read_skeleton(str(path))
    assert sk.message_count == 0
    assert sk.doc == doc


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"\x00\x01binary\x00", "binary file"),
        (None, "truncated or invalid JSON"),
        (b'["a list"]', "wrong shape"),
    ],
)
def test_bad_files_give_the_readers_reason(tmp_path, content, reason):
    path = viewdata.write_session(tmp_path, steps=viewdata.coding_steps())[-1]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if content is None else content)
    with pytest.raises(BadCapture, match=reason):
        read_skeleton(str(path))


def test_a_capture_cut_inside_its_messages_is_bad_not_misread(tmp_path):
    path = viewdata.write_session(tmp_path, steps=viewdata.coding_steps())[-1]
    data = path.read_bytes()
    path.write_bytes(data[: data.find(b'"tool_result"')])
    with pytest.raises(BadCapture, match="truncated"):
        read_skeleton(str(path))
