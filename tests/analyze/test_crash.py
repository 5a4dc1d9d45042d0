"""kill -9 at any instant, then a restart: no capture lost, no memory duplicated.

The input is real recorded traffic: the 64-request Claude Code 1.0.6 session
and the 7 request-only Claude Code 2.x captures (their files are a day old, so
they count as ended), analysed in batches of 3 so that there are many commits.
The model is the stand-in with a deterministic answer: one memory per capture
it is shown ("Capture <rel> says ..."), so a capture that never reaches the
model, or one whose memory is written twice, shows in the store.

Every run is a real process. It dies either at one of the named crash points
(`GLASS_CRASH_AT`, analyze/crashpoints.py; `python -m analyze --once`) or by
SIGKILL from here at moments spread over its whole run, and is then restarted
(possibly killed again) until it completes. The result must equal a run that
was never killed. The many runs of the random kills are forked from a process
that has already imported the analyzer (`tests.analyzer_harness.Zygote`) and
run `analyze.cli.main`, what `python -m analyze` runs, without paying 1.3 s of
imports each.
"""

from __future__ import annotations

import collections
import os
import queue
import random
import shutil
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.analyzer_harness import (
    CORPUS_CAPTURES,
    MemoryModel,
    Zygote,
    analyze,
    clean_env,
    ledger_pending,
    markers,
    read_store,
    status,
    write_config,
    write_corpus,
)
from tests.standin import StandIn

BATCH_SIZE = 3
CAPTURES = CORPUS_CAPTURES
RANDOM_SCENARIOS = 14
WORKERS = 3
SEED = int(os.environ.get("GLASS_TEST_SEED", "20261121"))


@dataclass
class Reference:
    ids: list[str]
    texts: dict[str, str]
    current: int  # memories neither superseded (near-duplicates) nor forgotten


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus as capture files, all a day old."""
    root = tmp_path_factory.mktemp("crash-template") / "captures"
    write_corpus(root)
    return root


def fresh_copy(template: Path, folder: Path) -> Path:
    """A new working folder with a copy of the captures (mtimes kept); its config."""
    folder.mkdir(parents=True)
    shutil.copytree(template, folder / "captures")
    return folder


@pytest.fixture(scope="module")
def reference(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """A run that is never interrupted."""
    folder = fresh_copy(template, tmp_path_factory.mktemp("crash-reference") / "run")
    with StandIn(MemoryModel()) as api:
        config = write_config(folder, base_url=api.url, batch_size=BATCH_SIZE)
        done = analyze(config, "--once")
        assert done.returncode == 0, done.stderr
        requests = api.message_requests
    memories = read_store(folder / "captures" / "memories.jsonl")
    ids = [m["id"] for m in memories]
    assert len(ids) == len(set(ids))
    report = status(config)
    assert (report["processed"], report["pending"], report["failed"], report["quarantined"]) == (
        CAPTURES,
        0,
        0,
        0,
    ), report
    # One memory per capture that had something to say, and each names its capture.
    sent = [rel for r in requests for rel in markers(r)]
    assert len(sent) == len(set(sent)) == len(memories) > 10
    for memory in memories:
        rel = memory["text"].split()[1]
        assert rel in memory["sources"], memory
    # Commits cannot be told apart by the memory texts unless no capture is ever
    # cut in two: then a capture's memory does not depend on how batches fall.
    assert not any("(continued)" in r.body["messages"][0]["content"] for r in requests)
    return Reference(
        ids=ids, texts={m["id"]: m["text"] for m in memories}, current=report["memories"]
    )


def assert_like_reference(folder: Path, config: Path, reference: Reference) -> None:
    """The store and the ledger are exactly those of the uninterrupted run."""
    memories = read_store(folder / "captures" / "memories.jsonl")  # no torn or invalid line
    ids = [m["id"] for m in memories]
    duplicates = [i for i, n in collections.Counter(ids).items() if n > 1]
    assert not duplicates, f"memories written twice: {duplicates}"
    assert set(ids) == set(reference.ids), (
        f"missing: {sorted(set(reference.ids) - set(ids))}, extra: {sorted(set(ids) - set(reference.ids))}"
    )
    assert {m["id"]: m["text"] for m in memories} == reference.texts
    for memory in memories:
        assert memory["text"].split()[1] in memory["sources"], memory
    assert ledger_pending(folder / "captures" / ".analyze") is None, "a pending commit was left"
    report = status(config)
    assert (report["processed"], report["pending"], report["failed"], report["quarantined"]) == (
        CAPTURES,
        0,
        0,
        0,
    ), report
    assert report["memories"] == reference.current


# -- the named crash points -----------------------------------------------------------------


@pytest.mark.parametrize(
    "point", ["after_call", "after_begin_commit", "torn_append", "after_append"]
)
def test_crash_point_then_restart(
    point: str, template: Path, reference: Reference, tmp_path: Path
) -> None:
    folder = fresh_copy(template, tmp_path / "run")
    store = folder / "captures" / "memories.jsonl"
    state = folder / "captures" / ".analyze"
    with StandIn(MemoryModel()) as api:
        config = write_config(folder, base_url=api.url, batch_size=BATCH_SIZE)
        crashed = analyze(config, "--once", env=clean_env(GLASS_CRASH_AT=point))
        assert crashed.returncode == -signal.SIGKILL, (crashed.returncode, crashed.stderr)
        first = api.message_requests
        assert len(first) == 1, "the process should die at its first commit"
        chunk = markers(first[0])

        pending = ledger_pending(state)
        if point == "after_call":
            assert pending is None
            assert read_store(store) == []
        else:
            assert pending is not None, "the crash should leave a pending commit"
            assert set(chunk) <= set(pending.rels)
            data = store.read_bytes() if store.exists() else b""
            assert data[: pending.offset] == b"" and pending.offset == 0
            expected_tail = {
                "after_begin_commit": b"",
                "torn_append": pending.data[: len(pending.data) // 2],
                "after_append": pending.data,
            }[point]
            assert data[pending.offset :] == expected_tail

        restarted = analyze(config, "--once")
        assert restarted.returncode == 0, restarted.stderr
        again = [rel for r in api.message_requests[1:] for rel in markers(r)]
        if point == "after_call":
            # The answer was lost with the process: the model is asked once more.
            assert all(again.count(rel) == 1 for rel in chunk), again
        else:
            # The commit is completed from the ledger: the model is not asked again.
            assert not set(again) & set(chunk), f"asked again for a committed batch: {again}"
        assert len(again) == len(set(again))
    assert_like_reference(folder, config, reference)


# -- SIGKILL from outside at random moments ---------------------------------------------------


@dataclass(frozen=True)
class Kill:
    """When to SIGKILL a run: `after_requests` stand-in requests of this run plus
    `jitter` seconds, or `seconds` after the start."""

    after_requests: int | None = None
    jitter: float = 0.0
    seconds: float | None = None

    def __str__(self) -> str:
        if self.seconds is not None:
            return f"at {self.seconds:.3f}s"
        return f"after request {self.after_requests} + {self.jitter * 1000:.0f}ms"


def scenarios(span: float) -> list[list[Kill]]:
    """Kill plans of three kills each: first at a time that grows with the
    scenario's number over a whole run (`span` seconds, from the start of the
    process on: start-up, recovery, listing, calls, commits), then twice after
    a random early request of the restarted run plus a random jitter (inside
    the call, its commit, or the next offers)."""
    rng = random.Random(SEED)
    plans = []
    for i in range(RANDOM_SCENARIOS):
        plans.append(
            [
                Kill(seconds=span * (i + rng.random()) / RANDOM_SCENARIOS),
                Kill(after_requests=rng.randint(1, 3), jitter=rng.uniform(0.0, 0.09)),
                Kill(after_requests=rng.randint(1, 2), jitter=rng.uniform(0.0, 0.09)),
            ]
        )
    return plans


def run_killed(zygote: Zygote, config: Path, api: StandIn, kill: Kill | None, log: Path) -> int:
    """Start `--once`, SIGKILL it as planned (unless it is done by then); its exit code."""
    before = len(api.requests)
    proc = zygote.start(config, "--once", log=log)
    started = time.monotonic()
    try:
        while kill is not None and proc.poll() is None:
            if kill.seconds is not None:
                if time.monotonic() - started >= kill.seconds:
                    break
            elif len(api.requests) - before >= kill.after_requests:
                time.sleep(kill.jitter)
                break
            if time.monotonic() - started > 60:
                raise AssertionError(
                    f"run did not finish or reach its kill point: {log.read_text()}"
                )
            time.sleep(0.002)
        if kill is not None:
            proc.kill()
        return proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def run_scenario(
    number: int,
    plan: list[Kill],
    template: Path,
    base: Path,
    reference: Reference,
    zygotes: queue.SimpleQueue,
) -> tuple[int, list[str], float]:
    folder = fresh_copy(template, base / f"scenario-{number:02d}")
    notes = []
    kills = 0
    zygote = zygotes.get()
    try:
        with StandIn(MemoryModel(delay=(0.02, 0.05), seed=SEED + number)) as api:
            config = write_config(folder, base_url=api.url, batch_size=BATCH_SIZE)
            for n, kill in enumerate(plan):
                log = folder / f"run-{n}.log"
                code = run_killed(zygote, config, api, kill, log)
                assert code in (0, -signal.SIGKILL), (number, str(kill), code, log.read_text())
                kills += code == -signal.SIGKILL
                notes.append(f"{kill}: {'killed' if code else 'finished first'}")
            log = folder / "run-last.log"
            t0 = time.monotonic()
            code = run_killed(zygote, config, api, None, log)
            last_run = time.monotonic() - t0
            assert code == 0, log.read_text()
            asked = collections.Counter(rel for r in api.message_requests for rel in markers(r))
    finally:
        zygotes.put(zygote)
    try:
        assert_like_reference(folder, config, reference)
        # A capture is sent again only when a kill took the answer with it.
        over = {rel: n for rel, n in asked.items() if n > 1 + kills}
        assert not over, f"captures sent to the model more often than there were kills: {over}"
    except AssertionError as e:
        raise AssertionError(f"scenario {number} (seed {SEED}) {notes}: {e}") from None
    return kills, notes, last_run


def test_random_kills_then_restart(template: Path, reference: Reference, tmp_path: Path) -> None:
    zygotes: queue.SimpleQueue = queue.SimpleQueue()
    started = [Zygote() for _ in range(WORKERS)]
    for zygote in started:
        zygotes.put(zygote)
    try:
        # How long an uninterrupted run takes here: the span the first kills cover.
        _, _, whole_run = run_scenario(99, [], template, tmp_path, reference, zygotes)
        plans = scenarios(span=whole_run * 1.1)
        with ThreadPoolExecutor(WORKERS) as pool:
            futures = [
                pool.submit(run_scenario, i, plan, template, tmp_path, reference, zygotes)
                for i, plan in enumerate(plans)
            ]
            results = [f.result() for f in futures]
    finally:
        for zygote in started:
            zygote.close()
    kills = sum(k for k, _, _ in results)
    for i, (_, notes, _) in enumerate(results):
        print(f"scenario {i}: {'; '.join(notes)}")
    assert kills >= 25, f"only {kills} runs were killed before they finished"
