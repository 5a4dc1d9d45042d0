"""Faults through the whole pipeline: none of them loses or duplicates a capture.

Captures (the recorded 64-request Claude Code session and the 7 request-only
2.x captures, a day old) go through the real Analyzer, the real anthropic
backend and SDK, over real HTTP, to the stand-in, which plays the extraction
model (one memory per capture it is shown, see tests/analyzer_harness.py) and
injects the faults: 429 with retry-after, 529, 5xx, resets, hangs past the
timeout, 413 and "prompt is too long", lasting failures, and answers that are
not a Message at all. Bad capture files and a missing API key are checked on
the real `python -m analyze` process.

Most runs build the Analyzer in this process with an `AnthropicBackend` whose
`sleep` only records the backoff waits and whose SDK retries are off, so every
fault reaches Glass's own retry layer and nothing really sleeps; one run goes
through the real process with the SDK's own retries on.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from analyze.backends.anthropic_api import AnthropicBackend
from analyze.backends.base import INSTRUCTIONS
from analyze.digest import estimate_tokens
from analyze.ledger import Ledger
from analyze.pipeline import Analyzer, Stats
from analyze.watch import run_once
from glass.config import load_config
from tests.analyzer_harness import (
    API_KEY,
    CORPUS_CAPTURES,
    MemoryModel,
    analyze,
    capture_bytes,
    capture_doc,
    clean_env,
    content_lines,
    ledger_pending,
    ledger_states,
    markers,
    read_store,
    simple_capture,
    status,
    user_content,
    write_capture,
    write_config,
    write_corpus,
)
from tests.standin import Recorded, Reply, StandIn

CAPTURES = CORPUS_CAPTURES
BATCH_SIZE = 3


# -- fixtures and helpers -------------------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus as capture files, all a day old."""
    root = tmp_path_factory.mktemp("faults-template") / "captures"
    write_corpus(root)
    return root


def fresh(template: Path, folder: Path) -> Path:
    shutil.copytree(template, folder / "captures")
    return folder


def run_in_process(
    folder: Path, api: StandIn, *, waits: list[float] | None = None, **analyze_keys
) -> tuple[Stats, Path]:
    """One `--once` run of the real Analyzer here; backoff waits go to `waits`."""
    analyze_keys.setdefault("batch_size", BATCH_SIZE)
    config = write_config(folder, base_url=api.url, **analyze_keys)
    full = load_config(config)
    cfg = full.analyze
    backend = AnthropicBackend(
        model=cfg.model,
        api_key=API_KEY,
        base_url=cfg.base_url,
        max_output_tokens=cfg.max_output_tokens,
        timeout_s=cfg.timeout_s,
        max_retries=cfg.max_retries,
        sleep=(waits if waits is not None else []).append,
        sdk_max_retries=0,
    )
    analyzer = Analyzer(full, backend=backend)
    try:
        run_once(analyzer, stop=threading.Event(), progress=False)
    finally:
        analyzer.close()
        backend.close()
    return analyzer.stats, config


@dataclass
class Clean:
    ids: set[str]
    texts: dict[str, str]
    lines: collections.Counter
    sent: list[str]
    """Captures the model was shown, in order."""
    calls: int


@pytest.fixture(scope="module")
def clean(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Clean:
    """The run without faults everything is compared with."""
    folder = fresh(template, tmp_path_factory.mktemp("faults-clean"))
    with StandIn(MemoryModel()) as api:
        stats, _ = run_in_process(folder, api)
        requests = api.message_requests
    assert stats.processed == CAPTURES and stats.failed == 0
    memories = read_store(folder / "captures" / "memories.jsonl")
    sent = [rel for r in requests for rel in markers(r)]
    assert len(memories) == len(sent) == len(set(sent)) > 10
    return Clean(
        ids={m["id"] for m in memories},
        texts={m["id"]: m["text"] for m in memories},
        lines=collections.Counter(line for r in requests for line in content_lines(r)),
        sent=sent,
        calls=len(requests),
    )


def ledger_calls(folder: Path) -> list:
    ledger = Ledger.open_readonly(folder / "captures" / ".analyze")
    try:
        return list(ledger.calls())
    finally:
        ledger.close()


def assert_clean_result(folder: Path, clean: Clean) -> None:
    """Memories and ledger exactly as in the run without faults."""
    memories = read_store(folder / "captures" / "memories.jsonl")
    ids = [m["id"] for m in memories]
    assert len(ids) == len(set(ids)), "a memory was written twice"
    assert {m["id"]: m["text"] for m in memories} == clean.texts
    states = ledger_states(folder / "captures" / ".analyze")
    assert len(states) == CAPTURES
    assert {s for s, _ in states.values()} == {"processed"}, {
        rel: s for rel, s in states.items() if s[0] != "processed"
    }
    assert ledger_pending(folder / "captures" / ".analyze") is None


class Faults:
    """A MemoryModel that answers `reply()` instead for the listed request numbers."""

    def __init__(self, numbers: set[int] | None, reply, **kw) -> None:
        self.numbers = numbers
        self.reply = reply
        self.model = MemoryModel(fault=self._fault, **kw)
        self.faulted: list[int] = []

    def _fault(self, index: int, recorded: Recorded) -> Reply | None:
        if self.numbers is None or index in self.numbers:
            self.faulted.append(index)
            return self.reply() if callable(self.reply) else self.reply
        return None


# -- transient faults: retried, then as if nothing happened ---------------------------------

FAULTS = {
    "429-retry-after-0": lambda: Reply.rate_limited(retry_after=0),
    "429-retry-after-1": lambda: Reply.rate_limited(retry_after=1),
    "529-overloaded": Reply.overloaded,
    "500": Reply.api_error,
    "502": lambda: Reply.error(502, "api_error", "Bad gateway"),
    "503": lambda: Reply.error(503, "api_error", "Service unavailable"),
    "connection-reset": Reply.reset,
    "timeout": lambda: Reply.hang(3.0),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_transient_faults_are_retried_and_change_nothing(
    fault: str, template: Path, clean: Clean, tmp_path: Path
) -> None:
    # The first call fails once; the second fails twice in a row, then succeeds.
    faults = Faults({0, 2, 3}, FAULTS[fault])
    waits: list[float] = []
    folder = fresh(template, tmp_path)
    with StandIn(faults.model) as api:
        stats, _config = run_in_process(
            folder, api, waits=waits, max_retries=3, timeout_s=0.5 if fault == "timeout" else 10.0
        )
        requests = api.message_requests
    assert faults.faulted == [0, 2, 3]
    assert len(requests) == clean.calls + 3, (
        "the SDK's own retries are off: one request per attempt"
    )
    assert stats.failed == 0 and stats.processed == CAPTURES
    assert_clean_result(folder, clean)
    # Glass's backoff: the server's retry-after when given, else capped exponential.
    assert len(waits) == 3
    if fault == "429-retry-after-0":
        assert waits == [0.0, 0.0, 0.0]
    elif fault == "429-retry-after-1":
        assert waits == [1.0, 1.0, 1.0]
    else:
        assert 0.5 <= waits[0] <= 1.0 and 0.5 <= waits[1] <= 1.0 and 1.0 <= waits[2] <= 2.0, waits
    # Retries inside one call are not failed calls.
    assert stats.calls == clean.calls
    assert [c for c in ledger_calls(folder) if not c.ok] == []


def test_faults_through_the_real_process(template: Path, clean: Clean, tmp_path: Path) -> None:
    """`python -m analyze --once` with the SDK's own retries on: each call fails three
    times (429, 529, 503) before it succeeds; `retry-after-ms` keeps the waits short."""
    quick = {"retry-after-ms": "1", "retry-after": "0"}
    rotation = [
        Reply.error(429, "rate_limit_error", "Rate limited", headers=quick),
        Reply.error(529, "overloaded_error", "Overloaded", headers=quick),
        Reply.error(503, "api_error", "Service unavailable", headers=quick),
    ]
    seen: dict[str, int] = collections.defaultdict(int)
    lock = threading.Lock()

    def fault(index: int, recorded: Recorded) -> Reply | None:
        key = user_content(recorded)
        with lock:
            attempt = seen[key]
            seen[key] += 1
        return rotation[attempt] if attempt < len(rotation) else None

    folder = fresh(template, tmp_path)
    with StandIn(MemoryModel(fault=fault)) as api:
        config = write_config(folder, base_url=api.url, batch_size=BATCH_SIZE, max_retries=2)
        done = analyze(config, "--once")
        assert done.returncode == 0, done.stderr
        requests = api.message_requests
    # 1 + 2 SDK retries per attempt of Glass's own layer: the fourth request of each
    # call comes from Glass's retry, after the SDK gave up on the third failure.
    assert len(requests) == 4 * clean.calls
    assert_clean_result(folder, clean)
    report = status(config)
    assert (report["processed"], report["pending"], report["failed"], report["failed_calls"]) == (
        CAPTURES,
        0,
        0,
        0,
    ), report


# -- lasting failures: recorded as failed, retried at the next start ---------------------------


@pytest.mark.parametrize("failure", ["500", "401"])
def test_lasting_failure_is_recorded_and_retried_at_next_start(
    failure: str, template: Path, clean: Clean, tmp_path: Path
) -> None:
    reply = {
        "500": lambda: Reply.api_error(message="The stand-in is down"),
        "401": lambda: Reply.error(401, "authentication_error", "invalid x-api-key"),
    }[failure]
    message = {"500": "The stand-in is down", "401": "invalid x-api-key"}[failure]
    faults = Faults(None, reply)
    folder = fresh(template, tmp_path)
    state_dir = folder / "captures" / ".analyze"
    with StandIn(faults.model) as api:
        stats, config = run_in_process(folder, api, max_retries=2)
        assert stats.failed > 0 and stats.processed + stats.failed == CAPTURES
        states = ledger_states(state_dir)
        failed = {rel for rel, (state, _) in states.items() if state == "failed"}
        # Every capture that had something to send failed, with the API's message.
        assert set(clean.sent) <= failed
        assert all(message in states[rel][1] and failure in states[rel][1] for rel in failed), {
            states[rel][1] for rel in failed
        }
        assert {s for s, _ in states.values()} == {"processed", "failed"}
        assert read_store(folder / "captures" / "memories.jsonl") == []
        assert ledger_pending(state_dir) is None

        # Within the same start, failed captures are not tried again.
        attempts = len(api.message_requests)
        faults.numbers = set()  # the API has recovered
        second, _ = run_in_process(folder, api)  # the next start
    # ... and at the next start they are, and succeed.
    assert attempts == len(faults.faulted)
    assert second.failed == 0 and second.processed == len(failed)
    assert_clean_result(folder, clean)
    report = status(config)
    assert (report["failed"], report["pending"], report["failed_files"]) == (0, 0, []), report


def test_failed_captures_are_not_retried_within_the_same_start(tmp_path: Path) -> None:
    (tmp_path / "captures").mkdir()
    write_capture(
        tmp_path / "captures",
        "2026-11-21/001_100000_messages.json",
        simple_capture("Please always use tabs."),
    )
    faults = Faults(None, lambda: Reply.api_error(message="down"))
    with StandIn(faults.model) as api:
        config = write_config(tmp_path, base_url=api.url, batch_size=1, max_retries=0)
        cfg = load_config(config)
        backend = AnthropicBackend(
            model="m",
            api_key=API_KEY,
            base_url=api.url,
            max_output_tokens=100,
            timeout_s=5,
            max_retries=0,
            sleep=lambda s: None,
            sdk_max_retries=0,
        )
        analyzer = Analyzer(cfg, backend=backend)
        try:
            run_once(analyzer, stop=threading.Event(), progress=False)
            assert len(api.message_requests) == 1
            faults.numbers = set()
            run_once(analyzer, stop=threading.Event(), progress=False)
            for ref in analyzer.pending():
                analyzer.offer(ref)
            analyzer.flush()
            assert len(api.message_requests) == 1
        finally:
            analyzer.close()
            backend.close()


def test_status_reports_failed_captures_before_any_memory_exists(tmp_path: Path) -> None:
    """After a first run in which every call failed there is no memories.jsonl yet;
    `status` must still report the failed captures and why."""
    captures = tmp_path / "captures"
    write_capture(captures, "2026-11-21/001_100000_messages.json", simple_capture("Use tabs."))
    write_capture(captures, "2026-11-21/002_100000_messages.json", simple_capture("Use spaces."))
    with StandIn(
        Faults(None, lambda: Reply.api_error(message="The stand-in is down")).model
    ) as api:
        run_in_process(tmp_path, api, max_retries=0)
    assert not (captures / "memories.jsonl").exists()
    done = analyze(tmp_path / "config.yaml", "status", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["failed"], report["memories"], report["pending"]) == (2, 0, 0)
    assert sorted(f["capture"] for f in report["failed_files"]) == [
        "2026-11-21/001_100000_messages.json",
        "2026-11-21/002_100000_messages.json",
    ]
    assert all(
        "500" in f["reason"] and "The stand-in is down" in f["reason"]
        for f in report["failed_files"]
    ), report["failed_files"]
    listed = analyze(tmp_path / "config.yaml", "list")
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr


@pytest.mark.parametrize("answer", ["html", "invalid-json", "empty-object"])
def test_an_answer_that_is_not_a_message_fails_the_batch_not_the_analyzer(
    answer: str, tmp_path: Path
) -> None:
    """A 200 that is not a Message (a gateway's HTML page, cut JSON, `{}`) is a failed
    call like any other: the captures are `failed` with a reason, the run goes on
    and exits 0, and the next start retries them."""
    reply = {
        "html": Reply.raw(
            200,
            b"<html><body>Sign in to the Wi-Fi</body></html>",
            headers={"content-type": "text/html"},
        ),
        "invalid-json": Reply.raw(
            200, b'{"type": "message", "content": [', headers={"content-type": "application/json"}
        ),
        "empty-object": Reply.raw(200, b"{}", headers={"content-type": "application/json"}),
    }[answer]
    captures = tmp_path / "captures"
    write_capture(captures, "2026-11-21/001_100000_messages.json", simple_capture("Use tabs."))
    write_capture(captures, "2026-11-21/002_100000_messages.json", simple_capture("Use spaces."))
    faults = Faults(None, reply)
    with StandIn(faults.model) as api:
        config = write_config(tmp_path, base_url=api.url, batch_size=1, max_retries=0)
        done = analyze(config, "--once")
        assert "Traceback" not in done.stderr, done.stderr
        assert done.returncode == 1, done.stderr  # captures failed in this run
        states = ledger_states(captures / ".analyze")
        assert {s for s, _ in states.values()} == {"failed"}, states
        assert all(reason for _, reason in states.values())
        faults.numbers = set()
        assert analyze(config, "--once").returncode == 0
    assert len(read_store(captures / "memories.jsonl")) == 2


# -- too large: split until it fits -------------------------------------------------------------


def test_413_above_a_size_is_split_until_it_fits(
    template: Path, clean: Clean, tmp_path: Path
) -> None:
    limit = 9_000  # bytes of request body; the largest clean call is about 18 KB

    def fault(index: int, recorded: Recorded) -> Reply | None:
        return Reply.request_too_large() if len(recorded.raw) > limit else None

    folder = fresh(template, tmp_path)
    model = MemoryModel(fault=fault)
    with StandIn(model) as api:
        stats, _ = run_in_process(folder, api)
        requests = api.message_requests
    rejected = [r for r in requests if len(r.raw) > limit]
    assert rejected, "the test should make the API reject some calls"
    assert all(len(r.raw) <= limit for r in model.answered)
    assert stats.failed == 0 and stats.processed == CAPTURES
    # Every new line reached the model exactly once, as in the clean run.
    answered = collections.Counter(line for r in model.answered for line in content_lines(r))
    assert answered == clean.lines
    assert_split_result(folder)


def test_prompt_too_long_for_the_first_calls_is_split(
    template: Path, clean: Clean, tmp_path: Path
) -> None:
    faults = Faults({0, 1, 2}, lambda: Reply.prompt_too_long())
    folder = fresh(template, tmp_path)
    with StandIn(faults.model) as api:
        stats, _ = run_in_process(folder, api)
    assert faults.faulted == [0, 1, 2]
    assert stats.failed == 0 and stats.processed == CAPTURES
    answered = collections.Counter(line for r in faults.model.answered for line in content_lines(r))
    assert answered == clean.lines
    assert_split_result(folder)


def assert_split_result(folder: Path) -> None:
    memories = read_store(folder / "captures" / "memories.jsonl")
    ids = [m["id"] for m in memories]
    assert ids and len(ids) == len(set(ids))
    states = ledger_states(folder / "captures" / ".analyze")
    assert len(states) == CAPTURES and {s for s, _ in states.values()} == {"processed"}
    assert ledger_pending(folder / "captures" / ".analyze") is None


def test_small_max_input_tokens_makes_several_calls_each_within_budget(
    template: Path, clean: Clean, tmp_path: Path
) -> None:
    budget = 1_600  # about 1,000 tokens for the excerpt after the instructions
    folder = fresh(template, tmp_path)
    model = MemoryModel()
    with StandIn(model) as api:
        stats, _ = run_in_process(folder, api, max_input_tokens=budget, known_memories=0)
        requests = api.message_requests
    assert stats.failed == 0 and stats.processed == CAPTURES
    assert len(requests) >= clean.calls + 3, "a small budget should cut batches into more calls"
    for r in requests:
        tokens = estimate_tokens(INSTRUCTIONS + user_content(r))
        lines = content_lines(r)
        assert tokens <= budget or len(lines) == 1, (tokens, len(lines), r.raw[:300])
    answered = collections.Counter(line for r in requests for line in content_lines(r))
    assert answered == clean.lines
    memories = read_store(folder / "captures" / "memories.jsonl")
    assert len({m["id"] for m in memories}) == len(memories)


def test_capture_markers_count_against_the_token_budget(tmp_path: Path) -> None:
    """Many small captures of one conversation: the `### <capture>` line in front of
    each capture's blocks is sent too, so it must count against max_input_tokens."""
    budget = 1_600
    history: list[dict] = []
    for k in range(1, 121):
        history.append({"role": "user", "content": f"note {k}"})
        write_capture(
            tmp_path / "captures",
            f"2026-11-21/{k:03d}_100000_messages.json",
            capture_doc(session="s-many", messages=list(history), answer=f"ok {k}"),
        )
        history.append({"role": "assistant", "content": f"ok {k}"})
    with StandIn(MemoryModel()) as api:
        stats, _ = run_in_process(
            tmp_path, api, batch_size=200, max_input_tokens=budget, known_memories=0
        )
        requests = api.message_requests
    assert stats.processed == 120 and stats.failed == 0
    sizes = [estimate_tokens(INSTRUCTIONS + user_content(r)) for r in requests]
    assert max(sizes) <= budget, f"estimated tokens per call {sizes}, budget {budget}"


# -- bad capture files ------------------------------------------------------------------------------


def test_bad_captures_are_quarantined_and_the_run_goes_on(tmp_path: Path) -> None:
    captures = tmp_path / "captures"
    day = "2026-11-21"
    good = {
        f"{day}/001_100000_messages.json": "Please always use tabs.",
        f"{day}/005_100000_messages.json": "The API server listens on port 8042.",
        f"{day}/011_100000_messages.json": "We deploy with make release.",
    }
    for rel, text in good.items():
        write_capture(captures, rel, simple_capture(text))
    whole = capture_bytes(simple_capture("This file was cut short."))
    bad: dict[str, tuple[bytes | None, str]] = {
        f"{day}/002_100000_messages.json": (whole[: len(whole) // 2], "truncated or invalid JSON"),
        f"{day}/003_100000_messages.json": (b"\x00" + os.urandom(4095), "binary file"),
        f"{day}/004_100000_messages.json": (b'{"captured_at": "\xff\xfe\xfd"}', "not UTF-8"),
        f"{day}/006_100000_messages.json": (
            b'[{"url": "https://api.anthropic.com/v1/messages"}]',
            "top level is list",
        ),
        f"{day}/007_100000_messages.json": (
            json.dumps({**simple_capture("no url"), "url": None}).encode(),
            "'url' is missing",
        ),
        f"{day}/008_100000_messages.json": (b"", "empty file"),
        f"{day}/009_100000_messages.json": (b"  \n\n ", "empty file"),
        f"{day}/010_100000_messages.json": (
            json.dumps({**simple_capture("x"), "request": [1]}).encode(),
            "'request' is not an object",
        ),
        f"{day}/012_100000_messages.json": (None, "too large"),
    }
    for rel, (data, _) in bad.items():
        if data is not None:
            write_capture(captures, rel, data)
    huge = captures / f"{day}/012_100000_messages.json"
    with huge.open("wb") as f:  # sparse: over the 256 MiB limit without using the disk
        f.truncate(300 * 1024 * 1024)
    settled = time.time() - 60  # bad files that just changed may still be being written
    for rel in bad:
        os.utime(captures / rel, (settled, settled))

    with StandIn(MemoryModel()) as api:
        config = write_config(tmp_path, base_url=api.url, batch_size=2, max_wait_s=0)
        done = analyze(config, "--once")
        assert done.returncode == 0, done.stderr
        sent = [rel for r in api.message_requests for rel in markers(r)]
        assert sorted(sent) == sorted(good)
        report = status(config)
        quarantined = {q["capture"]: q["reason"] for q in report["quarantined_files"]}
        assert set(quarantined) == set(bad)
        for rel, (_, reason) in bad.items():
            assert reason in quarantined[rel], (rel, quarantined[rel])
        assert (
            report["quarantined"],
            report["processed"],
            report["pending"],
            report["failed"],
        ) == (len(bad), len(good), 0, 0)
        assert report["memories"] == len(good)
        # Quarantined files are not read again at the next start.
        calls = len(api.message_requests)
        again = analyze(config, "--once")
        assert again.returncode == 0, again.stderr
        assert len(api.message_requests) == calls
        assert status(config)["quarantined"] == len(bad)


# -- no API key ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["once-unset", "once-empty", "watch-unset"])
def test_missing_api_key_is_one_line_and_exit_2(mode: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, base_url=None)
    env = clean_env(api_key="  " if mode == "once-empty" else None)
    args = ["--once"] if mode.startswith("once") else []
    done = analyze(config, *args, env=env, timeout=30)
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "ANTHROPIC_API_KEY" in lines[0] and "claude-cli" in lines[0]
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert not (tmp_path / "captures" / ".analyze").exists(), (
        "nothing should start without a backend"
    )
