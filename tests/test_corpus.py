"""tests/corpus.py: the corpus as capture files is what the real addon writes, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import corpus


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*.json")}


@pytest.mark.parametrize(
    "session", [corpus.SESSION_64, corpus.SESSION_2X, corpus.SESSION_1058], ids=lambda p: p.name
)
def test_a_written_session_is_byte_identical_to_the_addons_files(session, tmp_path):
    written = corpus.write_session(tmp_path / "corpus", session)
    pairs = list(corpus.trace_pairs(session))
    started = [p["request"].get("timestamp", corpus.DEFAULT_STARTED) for p in pairs]
    corpus.replay_through_addon(zip(pairs, started, strict=True), tmp_path / "addon")
    by_addon = tree(tmp_path / "addon")
    assert len(by_addon) == len(pairs) == len(written)
    assert tree(tmp_path / "corpus") == by_addon


def test_to_capture_is_the_file_parsed():
    pair = next(corpus.trace_pairs(corpus.SESSION_64))
    rec = corpus.to_capture(pair)
    assert rec["headers"]["authorization"] == "[REDACTED]"  # the capture stage's redaction ran
    assert rec["response"]["body"]["content"]  # and its decoding (the trace's body is gzip)
    assert corpus.capture_bytes(pair).decode("utf-8").startswith('{\n  "captured_at": ')


def test_a_body_in_an_encoding_the_corpus_cannot_make_is_refused():
    pair = next(corpus.trace_pairs(corpus.SESSION_64))
    headers = pair["response"]["headers"]
    (name,) = [k for k in headers if k.lower() == "content-encoding"]  # gzip, in the trace
    headers[name] = "br"
    with pytest.raises(ValueError, match="'br'"):
        corpus.snapshots(pair)
