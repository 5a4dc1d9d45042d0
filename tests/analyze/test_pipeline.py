"""analyze/pipeline.py: readiness, batching, per-session calls, splitting, failures.

The model is a scripted in-process backend here (the Backend protocol); the
real SDK path is covered in test_anthropic_api.py and the e2e tests.
"""

import json
import os
import re
import time

from analyze import digest
from analyze.backends.base import BackendError, Candidate, Extraction
from analyze.ledger import Ledger
from analyze.pipeline import Analyzer
from analyze.watch import run_once
from glass.config import AnalyzeConfig, CaptureConfig, Config
from glass.tokens import Tokens
from tests import corpus


class ScriptedModel:
    """Answers one memory per capture marker in the digest; can fail on demand."""

    name = "scripted"
    model = "scripted-1"

    def __init__(self, errors=()):
        self.calls = []
        self.errors = list(errors)

    def extract(self, *, digest, known):
        self.calls.append({"digest": digest, "known": list(known)})
        if self.errors:
            error = self.errors.pop(0)
            if error is not None:
                raise error
        rels = re.findall(r"^### (\S+)", digest, re.M)
        return Extraction(
            memories=[Candidate(text=f"Capture {rel} was seen.", kind="fact") for rel in rels],
            usage=Tokens(input=len(digest) // 4, cache_read=100, output=7),
            model=self.model,
        )


class Clock:
    def __init__(self):
        self.now = time.time()

    def __call__(self):
        return self.now


def config(tmp_path, **analyze):
    return Config(
        capture=CaptureConfig(dir=tmp_path / "captures"),
        analyze=AnalyzeConfig(
            store=tmp_path / "captures" / "memories.jsonl",
            state_dir=tmp_path / "captures" / ".analyze",
            **analyze,
        ),
    )


def main_capture(root, n, text, *, session="s1", response=True, day="2026-11-21", project="/p"):
    doc = {
        "captured_at": f"{day}T10:00:00.000+00:00",
        "method": "POST",
        "url": "https://api.anthropic.com/v1/messages?beta=true",
        "headers": {"X-Claude-Code-Session-Id": session},
        "request": {
            "model": "m",
            "tools": [{"name": "Read"}],
            "system": f"Working directory: {project}",
            "messages": [{"role": "user", "content": text}],
        },
    }
    if response:
        doc["response"] = {
            "status": 200,
            "streamed": False,
            "body": {"type": "message", "content": [{"type": "text", "text": f"re: {text}"}]},
        }
    path = root / day / f"{n:03d}_100000_messages.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def side_capture(root, n, day="2026-11-21"):
    path = root / day / f"{n:03d}_100000_messages.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "captured_at": "x",
                "url": "u",
                "request": {"max_tokens": 1, "messages": []},
                "response": {"status": 200, "body": {}},
            }
        )
    )
    return path


def run(cfg, model, **kw):
    analyzer = Analyzer(cfg, backend=model, **kw)
    import threading

    run_once(analyzer, stop=threading.Event(), progress=False)
    analyzer.close()
    return analyzer


def store_lines(cfg):
    path = cfg.analyze.store
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_batches_count_captures_with_something_to_send(tmp_path):
    cfg = config(tmp_path, batch_size=2)
    root = cfg.capture.dir
    main_capture(root, 1, "one")
    side_capture(root, 2)
    main_capture(root, 3, "two")
    side_capture(root, 4)
    main_capture(root, 5, "three")
    model = ScriptedModel()
    analyzer = run(cfg, model)
    markers = [re.findall(r"^### \S+?/(\d+)_", c["digest"], re.M) for c in model.calls]
    assert markers == [["001", "003"], ["005"]]
    assert analyzer.stats.processed == 5
    mems = store_lines(cfg)
    assert [m["sources"] for m in mems] == [
        ["2026-11-21/001_100000_messages.json", "2026-11-21/003_100000_messages.json"]
    ] * 2 + [["2026-11-21/005_100000_messages.json"]]
    assert {m["session_id"] for m in mems} == {"s1"} and {m["project"] for m in mems} == {"/p"}


def test_one_call_per_session_in_a_batch(tmp_path):
    cfg = config(tmp_path, batch_size=10)
    main_capture(cfg.capture.dir, 1, "alpha", session="A", project="/a")
    main_capture(cfg.capture.dir, 2, "beta", session="B", project="/b")
    main_capture(cfg.capture.dir, 3, "gamma", session="A", project="/a")
    model = ScriptedModel()
    run(cfg, model)
    assert len(model.calls) == 2
    assert "alpha" in model.calls[0]["digest"] and "gamma" in model.calls[0]["digest"]
    assert "beta" not in model.calls[0]["digest"]
    assert {(m["session_id"], m["project"]) for m in store_lines(cfg)} == {("A", "/a"), ("B", "/b")}


def test_in_flight_captures_wait_for_their_response_or_their_age(tmp_path):
    clock = Clock()
    cfg = config(tmp_path, batch_size=1, incomplete_after_s=600)
    path = main_capture(cfg.capture.dir, 1, "streaming", response=False)
    model = ScriptedModel()
    analyzer = Analyzer(cfg, backend=model, clock=clock)
    for ref in analyzer.pending():
        analyzer.offer(ref)
    assert analyzer.batch == [] and list(analyzer.parked) == ["2026-11-21/001_100000_messages.json"]
    clock.now += 599
    analyzer.recheck_parked()
    assert analyzer.batch == []
    clock.now += 2  # older than incomplete_after_s: analysed without a response
    analyzer.recheck_parked()
    assert len(analyzer.batch) == 1 and not analyzer.parked
    analyzer.close()
    assert path.exists()


def test_a_batch_is_due_at_batch_size_or_after_max_wait(tmp_path):
    clock = Clock()
    cfg = config(tmp_path, batch_size=3, max_wait_s=60)
    for n in (1, 2):
        main_capture(cfg.capture.dir, n, f"turn {n}")
    analyzer = Analyzer(cfg, backend=ScriptedModel(), clock=clock)
    for ref in analyzer.pending():
        analyzer.offer(ref)
    assert not analyzer.batch_due() and analyzer.seconds_until_due() == 60
    clock.now += 60
    assert analyzer.batch_due()
    main_capture(cfg.capture.dir, 3, "turn 3")
    for ref in analyzer.pending():
        analyzer.offer(ref)
    assert analyzer.batch_full()
    analyzer.close()


def test_side_calls_alone_are_committed_without_a_call(tmp_path):
    cfg = config(tmp_path)
    side_capture(cfg.capture.dir, 1)
    model = ScriptedModel()
    analyzer = Analyzer(cfg, backend=model)
    for ref in analyzer.pending():
        analyzer.offer(ref)
    assert analyzer.batch_due()  # nothing to send: no reason to wait
    analyzer.flush()
    assert model.calls == [] and analyzer.ledger.counts()["processed"] == 1
    analyzer.close()


def test_over_budget_conversations_are_split_into_calls(tmp_path):
    cfg = config(tmp_path, batch_size=10, max_input_tokens=2_000)
    for n in range(1, 7):
        main_capture(cfg.capture.dir, n, f"turn {n} " + "x" * 1_500)
    model = ScriptedModel()
    run(cfg, model)
    assert len(model.calls) >= 3
    assert all(len(c["digest"]) < 2_000 * 3.5 for c in model.calls)
    assert Ledger.open_readonly(cfg.analyze.state_dir).counts()["processed"] == 6
    assert len(store_lines(cfg)) == 6


def test_too_large_for_the_api_is_split_and_retried(tmp_path):
    cfg = config(tmp_path, batch_size=10)
    for n in range(1, 5):
        main_capture(cfg.capture.dir, n, f"turn {n}")
    too_large = BackendError(message="prompt is too long", too_large=True, status=400)
    model = ScriptedModel(errors=[too_large, too_large])
    run(cfg, model)
    assert len(model.calls) == 5  # whole, first half (too large), its halves, second half
    texts = sorted(m["text"] for m in store_lines(cfg))
    assert texts == sorted(
        {f"Capture 2026-11-21/{n:03d}_100000_messages.json was seen." for n in range(1, 5)}
    )
    ledger = Ledger.open_readonly(cfg.analyze.state_dir)
    assert ledger.counts() == {"processed": 4, "quarantined": 0, "failed": 0}


def test_failures_are_recorded_and_retried_at_the_next_start(tmp_path):
    cfg = config(tmp_path)
    main_capture(cfg.capture.dir, 1, "first")
    broken = BackendError(
        message="anthropic: 500 Internal server error", retryable=True, status=500
    )
    run(cfg, ScriptedModel(errors=[broken]))
    ledger = Ledger.open_readonly(cfg.analyze.state_dir)
    assert ledger.problems("failed") == [
        ("2026-11-21/001_100000_messages.json", "scripted: anthropic: 500 Internal server error")
    ]
    assert [c.ok for c in ledger.calls()] == [False]
    ledger.close()
    assert store_lines(cfg) == []
    model = ScriptedModel()
    run(cfg, model)  # the next start retries it
    assert len(model.calls) == 1 and len(store_lines(cfg)) == 1
    ledger = Ledger.open_readonly(cfg.analyze.state_dir)
    assert ledger.counts() == {"processed": 1, "quarantined": 0, "failed": 0}


def test_bad_files_are_quarantined_and_the_run_goes_on(tmp_path):
    cfg = config(tmp_path)
    root = cfg.capture.dir
    main_capture(root, 1, "good")
    (root / "2026-11-21" / "002_100000_messages.json").write_text('{"captured_at": "x", "url": ')
    (root / "2026-11-21" / "003_100000_messages.json").write_bytes(os.urandom(2048) + b"\x00")
    settled = time.time() - 60
    for n in (2, 3):
        os.utime(root / "2026-11-21" / f"{n:03d}_100000_messages.json", (settled, settled))
    analyzer = run(cfg, ScriptedModel())
    ledger = Ledger.open_readonly(cfg.analyze.state_dir)
    reasons = dict(ledger.problems("quarantined"))
    assert "truncated or invalid JSON" in reasons["2026-11-21/002_100000_messages.json"]
    assert "binary" in reasons["2026-11-21/003_100000_messages.json"]
    assert analyzer.stats.processed == 1 and len(store_lines(cfg)) == 1


def test_a_file_still_being_written_waits_before_it_is_quarantined(tmp_path):
    clock = Clock()
    cfg = config(tmp_path)
    path = cfg.capture.dir / "2026-11-21" / "001_100000_messages.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"captured_at": "x", "url": ')  # a copy in progress
    analyzer = Analyzer(cfg, backend=ScriptedModel(), clock=clock)
    (ref,) = analyzer.pending()
    analyzer.offer(ref)
    assert list(analyzer.parked) == [ref.rel] and analyzer.ledger.counts()["quarantined"] == 0
    main_capture(cfg.capture.dir, 1, "complete now")  # the copy finished
    clock.now += 11
    analyzer.recheck_parked()
    assert [r.ref.rel for r in analyzer.batch] == [ref.rel]
    analyzer.close()


def test_a_capture_analysed_before_its_response_is_read_again_when_it_comes(tmp_path):
    cfg = config(tmp_path, incomplete_after_s=0)
    path = main_capture(cfg.capture.dir, 1, "a long answer is coming", response=False)
    first = ScriptedModel()
    run(cfg, first)
    assert "re: a long answer" not in first.calls[0]["digest"]
    run(cfg, again := ScriptedModel())
    assert again.calls == []  # unchanged: not read again
    main_capture(
        cfg.capture.dir, 1, "a long answer is coming", response=True
    )  # the proxy rewrote it
    os.utime(path, (time.time() + 5, time.time() + 5))
    run(cfg, late := ScriptedModel())
    assert [c["digest"].splitlines()[1:] for c in late.calls] == [
        ["ASSISTANT: re: a long answer is coming"]
    ]
    ledger = Ledger.open_readonly(cfg.analyze.state_dir)
    assert ledger.revisable() == {} and ledger.counts()["processed"] == 1


def test_a_capture_with_odd_types_inside_is_quarantined_with_the_reason(tmp_path):
    cfg = config(tmp_path)
    main_capture(cfg.capture.dir, 1, "good one")
    odd = main_capture(cfg.capture.dir, 2, "odd one")
    doc = json.loads(odd.read_text())
    doc["headers"] = {}
    doc["request"]["metadata"] = "not an object"  # valid JSON, valid top-level shape
    odd.write_text(json.dumps(doc))
    os.utime(odd, (time.time() - 60,) * 2)  # settled: not a file still being written
    analyzer = run(cfg, ScriptedModel())
    reasons = dict(Ledger.open_readonly(cfg.analyze.state_dir).problems("quarantined"))
    assert reasons["2026-11-21/002_100000_messages.json"] == (
        "wrong shape: 'request.metadata' is not an object"
    )
    assert analyzer.stats.processed == 1 and len(store_lines(cfg)) == 1
    assert analyzer.stats.errors == 0


def test_a_bug_is_not_quarantined_but_logged_and_retried_at_the_next_start(
    tmp_path, monkeypatch, caplog
):
    cfg = config(tmp_path)
    main_capture(cfg.capture.dir, 1, "first")
    main_capture(cfg.capture.dir, 2, "second")
    real_reduce = digest.reduce

    def buggy(ref, doc, **kw):
        if ref.number == 2:
            return {}["a regression in digest.py"]  # KeyError, like a real slip
        return real_reduce(ref, doc, **kw)

    monkeypatch.setattr(digest, "reduce", buggy)
    analyzer = run(cfg, ScriptedModel())
    ledger = Ledger.open_readonly(cfg.analyze.state_dir)
    assert ledger.counts() == {"processed": 1, "quarantined": 0, "failed": 0}
    assert ledger.state_of("2026-11-21/002_100000_messages.json") is None  # not marked
    ledger.close()
    assert (
        analyzer.stats.errors == 1
        and "0 failed, 1 error: see the tracebacks above)" in analyzer.stats.summary()
    )
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "2026-11-21/002_100000_messages.json" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is KeyError  # the traceback

    monkeypatch.setattr(digest, "reduce", real_reduce)  # the bug is fixed
    again = run(cfg, ScriptedModel())
    assert again.stats.processed == 1 and again.stats.errors == 0
    ledger = Ledger.open_readonly(cfg.analyze.state_dir)
    assert ledger.state_of("2026-11-21/002_100000_messages.json") == "processed"
    assert len(store_lines(cfg)) == 2


def test_a_single_block_too_large_for_the_api_fails_instead_of_looping(tmp_path):
    cfg = config(tmp_path)
    main_capture(cfg.capture.dir, 1, "one long block", response=False)
    too_large = BackendError(message="prompt is too long", too_large=True, status=400)
    model = ScriptedModel(errors=[too_large] * 10)
    run(cfg, model, clock=lambda: time.time() + 10_000)
    assert len(model.calls) == 1  # one block cannot be split: no second try, no endless halving
    ledger = Ledger.open_readonly(cfg.analyze.state_dir)
    assert ledger.counts()["failed"] == 1


def test_known_memories_of_the_project_are_shown_to_the_model(tmp_path):
    cfg = config(tmp_path, batch_size=1)
    main_capture(cfg.capture.dir, 1, "one", session="A", project="/same")
    main_capture(cfg.capture.dir, 2, "two", session="B", project="/same")
    model = ScriptedModel()
    run(cfg, model)
    assert model.calls[0]["known"] == []
    assert [k.text for k in model.calls[1]["known"]] == [
        "Capture 2026-11-21/001_100000_messages.json was seen."
    ]


def test_restart_sends_nothing_twice(tmp_path):
    cfg = config(tmp_path, batch_size=3)
    corpus.write_session(cfg.capture.dir)
    first = ScriptedModel()
    run(cfg, first)
    again = ScriptedModel()
    analyzer = run(cfg, again)
    assert again.calls == [] and analyzer.stats.files == 0


def test_token_accounting_on_the_recorded_sessions(tmp_path):
    """Spend recorded in the ledger is exactly what the model reported, call by call."""
    cfg = config(tmp_path, batch_size=4, incomplete_after_s=0)
    corpus.write_session(cfg.capture.dir)
    corpus.write_session(cfg.capture.dir, corpus.SESSION_2X, start_number=1)
    model = ScriptedModel()
    analyzer = run(cfg, model)
    expected_input = sum(len(c["digest"]) // 4 for c in model.calls)
    ledger = Ledger.open_readonly(cfg.analyze.state_dir)
    calls = list(ledger.calls())
    assert len(calls) == len(model.calls) == analyzer.stats.calls
    assert sum(c.tokens.input for c in calls) == expected_input == analyzer.stats.tokens.input
    assert sum(c.tokens.cache_read for c in calls) == 100 * len(calls)
    assert sum(c.tokens.output for c in calls) == 7 * len(calls) == analyzer.stats.tokens.output
    assert ledger.counts()["processed"] == 64 + 7


# -- compressed captures ---------------------------------------------------------------


def gzip_in_place(path, *, keep_plain=False):
    """What compaction leaves: `<name>.gz` with the same JSON and mtime (the plain file gone)."""
    import gzip

    gz = path.with_name(path.name + ".gz")
    gz.write_bytes(gzip.compress(path.read_bytes()))
    st = path.stat()
    os.utime(gz, ns=(st.st_atime_ns, st.st_mtime_ns))
    if not keep_plain:
        path.unlink()
    return gz


def test_a_mixed_backlog_is_analysed_like_a_plain_one_and_compaction_reprocesses_nothing(tmp_path):
    plain_cfg, mixed_cfg = config(tmp_path / "plain"), config(tmp_path / "mixed")
    for cfg in (plain_cfg, mixed_cfg):
        for n, day in enumerate(["2026-11-19", "2026-11-20", "2026-11-21"], start=1):
            main_capture(cfg.capture.dir, n, f"fact {n}", day=day)
            main_capture(cfg.capture.dir, n + 10, f"more {n}", day=day, session="s2")
    for path in sorted(mixed_cfg.capture.dir.glob("2026-11-19/*")) + sorted(
        mixed_cfg.capture.dir.glob("2026-11-20/001_*")
    ):
        gzip_in_place(path)
    plain_model, mixed_model = ScriptedModel(), ScriptedModel()
    run(plain_cfg, plain_model)
    run(mixed_cfg, mixed_model)
    assert [c["digest"] for c in mixed_model.calls] == [c["digest"] for c in plain_model.calls]
    assert [m["text"] for m in store_lines(mixed_cfg)] == [
        m["text"] for m in store_lines(plain_cfg)
    ]
    assert len(store_lines(plain_cfg)) == 6

    # Compacting what was processed (and a crash leaving both twins) changes nothing.
    for path in sorted(plain_cfg.capture.dir.glob("*/0*_messages.json")):
        gzip_in_place(path, keep_plain=path.name.startswith("011"))
    again = ScriptedModel()
    analyzer = run(plain_cfg, again)
    assert again.calls == [] and analyzer.stats.processed == 0
    assert list(Analyzer(plain_cfg, backend=again).pending()) == []


def test_a_truncated_gz_is_quarantined_with_a_reason(tmp_path):
    cfg = config(tmp_path)
    root = cfg.capture.dir
    main_capture(root, 1, "good")
    gz = gzip_in_place(main_capture(root, 2, "cut"))
    gz.write_bytes(gz.read_bytes()[:40])
    settled = time.time() - 60
    os.utime(gz, (settled, settled))
    analyzer = run(cfg, ScriptedModel())
    reasons = dict(Ledger.open_readonly(cfg.analyze.state_dir).problems("quarantined"))
    assert reasons == {"2026-11-21/002_100000_messages.json": "truncated gzip file"}
    assert analyzer.stats.processed == 1
    assert gz.exists()  # the analyzer never deletes a capture
