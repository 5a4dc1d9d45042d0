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


# -- shapes: every wrong one is a BadCapture, every accepted one is safe to read --------------

DEEP = json.loads("[" * 500 + "]" * 500)
"""Deep enough to exhaust the digest's recursion if the reader let it through."""


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: d["request"].update(metadata=["not", "an", "object"]), "'request.metadata'"),
        (lambda d: d["request"].update(messages={"0": "x"}), "'request.messages' is not a list"),
        (lambda d: d["request"].update(messages=["hi"]), "'request.messages[0]' is not an object"),
        (
            lambda d: d["request"].update(messages=[{"role": "user", "content": 7}]),
            "'request.messages[0].content' is neither a string nor a list of blocks",
        ),
        (
            lambda d: d["request"].update(
                messages=[{"role": "user", "content": [{"type": "text", "text": ["x"]}]}]
            ),
            "'request.messages[0].content[0].text' is not a string",
        ),
        (lambda d: d["request"].update(system=[{"text": 1}]), "'request.system[0].text'"),
        (lambda d: d["request"].update(system=3), "'request.system'"),
        (lambda d: d["headers"].update({"X-Claude-Code-Session-Id": ["s"]}), "'headers.X-Claude"),
        (lambda d: d.update(response={"status": 200, "body": "text"}), "'response.body'"),
        (
            lambda d: d.update(response={"status": 200, "body": {"content": [1]}}),
            "'response.body.content[0]' is neither a block object nor a string",
        ),
        (
            lambda d: d["request"].update(
                messages=[{"role": "assistant", "content": [{"type": "tool_use", "input": DEEP}]}]
            ),
            "'request.messages[0].content[0]' is nested deeper than 64 levels",
        ),
    ],
)
def test_wrong_shapes_inside_an_exchange_are_bad_captures(change, reason):
    doc = json.loads(json.dumps(GOOD))
    change(doc)
    with pytest.raises(captures.BadCapture) as caught:
        captures.check_shape(doc)
    assert str(caught.value).startswith("wrong shape: ") and reason in str(caught.value)


def _mutations(value, path=()):
    """Every (path, container) position inside a JSON value."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield (*path, key)
            yield from _mutations(inner, (*path, key))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield (*path, i)
            yield from _mutations(inner, (*path, i))


ODD_VALUES = (
    None,
    0,
    -1,
    1.5,
    True,
    "",
    "text",
    [],
    [1, "x", None],
    {},
    {"type": 3, "text": 4},
    DEEP,
    {"a": DEEP},
)


def test_a_capture_the_reader_accepts_never_breaks_the_analyzer_or_the_report():
    """Mutated corpus captures: either BadCapture, or every reader of a capture copes.

    A crash past `check_shape` would be a bug that the analyzer (rightly) does
    not quarantine; this walks many odd shapes to show there is no such path.
    """
    import random

    from analyze import conversation, digest
    from analyze.captures import CaptureRef
    from analyze.usage.prices import Pricer
    from analyze.usage.scan import _Scan
    from tests import corpus

    rng = random.Random(7)
    docs = [corpus.to_capture(p) for p in list(corpus.trace_pairs(corpus.SESSION_2X))[:4]]
    docs += [corpus.to_capture(p) for p in list(corpus.trace_pairs(corpus.SESSION_64))[:6]]
    accepted = rejected = 0
    for n in range(3000):
        doc = json.loads(json.dumps(rng.choice(docs)))
        positions = list(_mutations(doc))
        for _ in range(rng.randint(1, 3)):
            *parents, last = rng.choice(positions)
            target = doc
            try:
                for step in parents:
                    target = target[step]
                target[last]  # still there (not replaced by an earlier mutation)?
                target[last] = rng.choice(ODD_VALUES)
            except (KeyError, IndexError, TypeError):
                continue  # an earlier mutation replaced a parent
        try:
            captures.check_shape(doc)
        except captures.BadCapture:
            rejected += 1
            continue
        accepted += 1
        ref = CaptureRef(fspath="x", rel=f"d/{n}", day="2026-11-21", number=n, endpoint="messages")
        digest.reduce(ref, doc, seen_for=lambda sid: _Seen(), max_chars=200)
        conversation.session_id(doc), conversation.project(doc), conversation.model(doc)
        _Scan(by="session", pricer=Pricer({})).add_capture(
            doc, day="2026-11-21", endpoint="messages", size=1
        )
    assert accepted > 500 and rejected > 500, (accepted, rejected)


class _Seen(set):
    prefix = None


@pytest.mark.parametrize(
    "text",
    [
        '{"t": "\\ud800 lone surrogate"}',  # orjson refuses it, the json module takes it
        '{"n": [1.5, -0.0, 1e308, 9223372036854775807, -9223372036854775808]}',
        '{"ü": "Grüße, \u00fc", "nested": [{"a": [true, false, null]}]}',
    ],
)
def test_documents_the_json_module_accepts_parse_the_same(text):
    assert captures.parse(text.encode()) == json.loads(text)
    assert repr(captures.parse(text.encode())) == repr(json.loads(text))


def test_nan_is_accepted_as_the_json_module_does_and_huge_integers_become_floats():
    assert repr(captures.parse(b'{"n": NaN}')) == repr(json.loads('{"n": NaN}'))
    assert captures.parse(b'{"big": 123456789012345678901234567890}') == {
        "big": 1.2345678901234568e29
    }


def test_utf16_and_nesting_fall_back_to_the_json_module_and_its_reasons():
    doc = {"captured_at": "x", "url": "u", "request": {}}
    assert captures.parse(json.dumps(doc).encode("utf-16")) == doc
    with pytest.raises(captures.BadCapture, match="nested too deeply"):
        captures.parse(b"[" * 100_000 + b"]" * 100_000)


# -- compressed captures (`.json.gz`, README "Compaction") --------------------------------


def gzip_in_place(path):
    """What compaction leaves: the same JSON gzipped under `<name>.gz`, the plain file gone."""
    import gzip

    gz = path.with_name(path.name + ".gz")
    gz.write_bytes(gzip.compress(path.read_bytes()))
    path.unlink()
    return gz


def test_a_compressed_capture_is_read_and_listed_under_its_identity(tmp_path):
    plain = write(tmp_path / "2026-11-21" / "001_120000_messages.json", GOOD)
    write(tmp_path / "2026-11-21" / "002_120000_messages.json", GOOD)
    gz = gzip_in_place(plain)
    refs = list(captures.iter_captures(tmp_path))
    assert [r.rel for r in refs] == [
        "2026-11-21/001_120000_messages.json",
        "2026-11-21/002_120000_messages.json",
    ]
    assert refs[0].fspath == str(gz) and refs[0].endpoint == "messages"
    assert captures.read_capture(gz) == GOOD
    _doc, st, size = captures.read_capture_sized(gz)
    assert size == len(json.dumps(GOOD).encode()) and st.st_size == gz.stat().st_size
    assert captures.ref_for(tmp_path, gz).rel == "2026-11-21/001_120000_messages.json"


def test_a_capture_present_plain_and_compressed_is_listed_once_as_plain(tmp_path):
    import gzip

    plain = write(tmp_path / "2026-11-21" / "001_120000_messages.json", GOOD)
    (tmp_path / "2026-11-21" / "001_120000_messages.json.gz").write_bytes(
        gzip.compress(plain.read_bytes())
    )
    refs = list(captures.iter_captures(tmp_path))
    assert [(r.rel, r.fspath) for r in refs] == [(f"2026-11-21/{plain.name}", str(plain))]


def test_a_plain_capture_swapped_for_its_gz_since_the_listing_is_still_read(tmp_path):
    plain = write(tmp_path / "2026-11-21" / "001_120000_messages.json", GOOD)
    (ref,) = captures.iter_captures(tmp_path)
    gzip_in_place(plain)
    assert captures.read_capture(ref.fspath) == GOOD


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda gz: gz[: len(gz) // 2], "truncated gzip file"),
        (lambda gz: b"", "empty file"),
        (lambda gz: json.dumps(GOOD).encode(), "not gzip"),
        (lambda gz: gz[:-8] + bytes(8), "corrupt gzip data: .*incorrect data check"),
    ],
)
def test_a_broken_gz_is_a_bad_capture_with_a_reason(tmp_path, mangle, reason):
    import gzip

    gz = tmp_path / "2026-11-21" / "001_120000_messages.json.gz"
    gz.parent.mkdir(parents=True)
    gz.write_bytes(mangle(gzip.compress(json.dumps(GOOD).encode() * 50)))
    with pytest.raises(captures.BadCapture, match=reason):
        captures.read_capture(gz)


def test_a_gz_is_limited_by_its_uncompressed_size(tmp_path):
    import gzip

    gz = tmp_path / "001_120000_messages.json.gz"
    gz.write_bytes(gzip.compress(b" " * 5000 + json.dumps(GOOD).encode()))
    with pytest.raises(captures.BadCapture, match="too large"):
        captures.read_capture(gz, max_bytes=4096)
