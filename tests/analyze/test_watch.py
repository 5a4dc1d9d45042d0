"""Watch mode: `python -m analyze --config <cfg>` as a process, captures arriving while it runs.

Capture files are written the way the proxy writes them (a dot `.tmp` file,
then a hard link or an `os.replace`), first request-only and later with the
response; others are moved in from another folder, or land in a day folder
that did not exist when the analyzer started. The stand-in plays the model:
one memory per capture it is shown (tests/analyzer_harness.py).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.analyzer_harness import (
    MemoryModel,
    analyze,
    capture_bytes,
    excerpt,
    markers,
    read_store,
    simple_capture,
    start_analyzer,
    status,
    stop,
    wait_until,
    write_capture,
    write_config,
)
from tests.standin import StandIn

DAY = "2026-11-21"
NEXT_DAY = "2026-11-22"


def rel(number: int, day: str = DAY) -> str:
    return f"{day}/{number:03d}_100000_messages.json"


class Watcher:
    """One `python -m analyze` in watch mode, with its config, log and stand-in."""

    def __init__(self, folder: Path, api: StandIn, **analyze_keys) -> None:
        self.folder, self.api = folder, api
        self.captures = folder / "captures"
        analyze_keys.setdefault("batch_size", 2)
        analyze_keys.setdefault("max_wait_s", 1)
        self.config = write_config(folder, base_url=api.url, **analyze_keys)
        self.log = folder / "analyzer.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Watcher:
        self.proc = start_analyzer(self.config, log=self.log)
        wait_until(
            lambda: "watching" in self.output() or self.proc.poll() is not None,
            timeout=30,
            message=lambda: f"the analyzer to start:\n{self.output()}",
        )
        assert self.proc.poll() is None, f"the analyzer exited:\n{self.output()}"
        return self

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def memories(self) -> list[dict]:
        return read_store(self.captures / "memories.jsonl")

    def memory_of(self, capture: str) -> dict | None:
        return next((m for m in self.memories() if m["text"].split()[1] == capture), None)

    def wait_for_memories(self, *captures: str, timeout: float = 20.0) -> None:
        def there() -> bool:
            assert self.proc.poll() is None, f"the analyzer exited:\n{self.output()}"
            return all(self.memory_of(c) for c in captures)

        wait_until(
            there,
            timeout=timeout,
            message=lambda: (
                f"memories of {captures}; have {[m['text'] for m in self.memories()]}\n"
                f"{self.output()}"
            ),
        )

    def sent(self) -> list[str]:
        """Captures the model was shown, in call order."""
        return [c for r in self.api.message_requests for c in markers(r)]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        return stop(self.proc, sig, timeout)


@pytest.fixture
def watchers(tmp_path: Path) -> Iterator[Callable[..., Watcher]]:
    made: list[Watcher] = []

    def make(api: StandIn, *, folder: Path | None = None, **analyze_keys) -> Watcher:
        watcher = Watcher(folder or tmp_path, api, **analyze_keys)
        made.append(watcher)
        return watcher

    yield make
    for watcher in made:
        if watcher.proc is not None and watcher.proc.poll() is None:
            watcher.proc.kill()
            watcher.proc.wait(5)
        print(f"--- {watcher.log} ---\n{watcher.output()}")


def test_new_captures_are_analysed_as_they_arrive(watchers, tmp_path: Path) -> None:
    with StandIn(MemoryModel()) as api:
        w = watchers(api).start()
        assert not (w.captures / DAY).exists()

        # A request-only capture waits for its response; a finished one goes after max_wait_s.
        write_capture(w.captures, rel(1), simple_capture("Please always use tabs.", answer=None))
        write_capture(w.captures, rel(2), simple_capture("The API server listens on port 8042."))
        w.wait_for_memories(rel(2))
        time.sleep(1.5)  # more than max_wait_s and a tick: time enough to (wrongly) send it
        assert rel(1) not in w.sent()
        assert w.memory_of(rel(1)) is None

        # Things that are not captures: never read, never quarantined.
        valid = capture_bytes(simple_capture("I am not a capture."))
        (w.captures / DAY / ".003_100000_messages.json").write_bytes(valid)
        (w.captures / DAY / ".004_100000_messages.json.1a2b.tmp").write_bytes(valid)
        (w.captures / ".analyze" / "005_100000_messages.json").write_bytes(valid)
        (w.captures / "006_100000_messages.json").write_bytes(valid)
        (w.captures / DAY / "notes.txt").write_text("hello")

        # The response arrives: the file is replaced in place.
        write_capture(
            w.captures,
            rel(1),
            simple_capture("Please always use tabs.", answer="Tabs it is, from now on."),
        )
        # A capture moved in from another folder on the same file system.
        outside = tmp_path / "elsewhere"
        outside.mkdir()
        (outside / "007_100000_messages.json").write_bytes(
            capture_bytes(simple_capture("We deploy with make release."))
        )
        os.rename(outside / "007_100000_messages.json", w.captures / rel(7))
        w.wait_for_memories(rel(1), rel(7))

        # A day folder that did not exist when the analyzer started.
        write_capture(w.captures, rel(1, NEXT_DAY), simple_capture("Tests live in tests/."))
        write_capture(w.captures, rel(2, NEXT_DAY), simple_capture("Use Python 3.13."))
        w.wait_for_memories(rel(1, NEXT_DAY), rel(2, NEXT_DAY))

        assert w.stop() == 0, w.output()
        requests = api.message_requests

    expected = {rel(1), rel(2), rel(7), rel(1, NEXT_DAY), rel(2, NEXT_DAY)}
    sent = [c for r in requests for c in markers(r)]
    assert sorted(sent) == sorted(expected), "every capture is sent once, nothing else is"
    # The request-only capture was analysed with its response.
    (first_one,) = [r for r in requests if rel(1) in markers(r)]
    assert "ASSISTANT: Tabs it is, from now on." in excerpt(first_one)
    memories = w.memories()
    assert len(memories) == len({m["id"] for m in memories}) == len(expected)
    report = status(w.config)
    assert (report["processed"], report["pending"], report["quarantined"], report["failed"]) == (
        len(expected),
        0,
        0,
        0,
    ), report


def test_polling_observer_and_captures_that_never_end(watchers) -> None:
    patience = 10  # incomplete_after_s (the polling observer looks every 3 s)
    with StandIn(MemoryModel()) as api:
        w = watchers(api, observer="polling", incomplete_after_s=patience).start()
        assert "polling" in w.output()
        never_ends = write_capture(
            w.captures, rel(1), simple_capture("The proxy lost me.", answer=None)
        )
        written = never_ends.stat().st_mtime
        write_capture(w.captures, rel(2), simple_capture("Build with make.", answer=None))
        write_capture(w.captures, rel(3), simple_capture("Lint with ruff."))
        write_capture(w.captures, rel(4), simple_capture("Format with black."))  # a full batch
        w.wait_for_memories(rel(3), rel(4))
        assert time.time() - written < patience - 1, "too slow to tell waiting from not waiting"
        assert rel(1) not in w.sent() and rel(2) not in w.sent()
        write_capture(w.captures, rel(2), simple_capture("Build with make.", answer="make it is."))
        w.wait_for_memories(rel(2))
        w.wait_for_memories(rel(1))
        assert w.stop() == 0, w.output()
        requests = api.message_requests

    (late,) = [r for r in requests if rel(1) in markers(r)]
    assert late.time >= written + patience, "analysed before incomplete_after_s"
    assert "ASSISTANT" not in excerpt(late)
    (ended,) = [r for r in requests if rel(2) in markers(r)]
    assert "ASSISTANT: make it is." in excerpt(ended)
    assert sorted(c for r in requests for c in markers(r)) == [rel(1), rel(2), rel(3), rel(4)]
    report = status(w.config)
    assert (report["processed"], report["pending"]) == (4, 0), report


def test_backlog_is_processed_oldest_first(watchers, tmp_path: Path) -> None:
    order = [
        rel(998, "2026-11-20"),
        rel(999, "2026-11-20"),
        rel(1000, "2026-11-20"),
        rel(1, DAY),
        rel(2, DAY),
        rel(10, DAY),
    ]
    captures = tmp_path / "captures"
    shuffled = order[:]
    random.Random(7).shuffle(shuffled)
    now = time.time()
    for i, capture in enumerate(shuffled):  # written, and dated, in a scrambled order
        write_capture(captures, capture, simple_capture(f"Fact number {i}."), mtime=now - 3600 + i)
    with StandIn(MemoryModel()) as api:
        w = watchers(api).start()
        w.wait_for_memories(*order)
        assert w.stop() == 0, w.output()
        assert w.sent() == order


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_finishes_the_batch_in_flight(sig: int, watchers) -> None:
    with StandIn(MemoryModel(delay=1.5)) as api:
        w = watchers(api, max_wait_s=60).start()
        write_capture(w.captures, rel(1), simple_capture("Please always use tabs."))
        write_capture(w.captures, rel(2), simple_capture("The API server listens on port 8042."))
        wait_until(lambda: len(api.requests) >= 1, timeout=20, message="the first call")
        signalled = time.monotonic()
        w.proc.send_signal(sig)
        code = w.proc.wait(20)
        took = time.monotonic() - signalled
        assert code == 0, w.output()
        assert took >= 1.0, "the process should have waited for the call in flight"
        assert len(api.message_requests) == 2  # both conversations of the batch
    report = status(w.config)
    assert (report["processed"], report["pending"], report["memories"]) == (2, 0, 2), report
    assert "stopping after the batch in flight" in w.output()


def test_a_second_signal_stops_at_once_and_loses_nothing(watchers) -> None:
    with StandIn(MemoryModel(delay=5.0)) as api:
        w = watchers(api, max_wait_s=60).start()
        write_capture(w.captures, rel(1), simple_capture("Please always use tabs."))
        write_capture(w.captures, rel(2), simple_capture("The API server listens on port 8042."))
        wait_until(lambda: len(api.requests) >= 1, timeout=20, message="the first call")
        signalled = time.monotonic()
        w.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        w.proc.send_signal(signal.SIGTERM)
        code = w.proc.wait(20)
        assert code == 128 + signal.SIGTERM, w.output()
        assert time.monotonic() - signalled < 4.0, "the second signal should not wait for the call"
        report = status(w.config)
        # The batch never finished: its captures are still pending, not failed.
        assert (report["pending"], report["processed"], report["failed"], report["memories"]) == (
            2,
            0,
            0,
            0,
        ), report
        api.responder = MemoryModel()
        done = analyze(w.config, "--once")
        assert done.returncode == 0, done.stderr
    report = status(w.config)
    assert (report["pending"], report["processed"], report["memories"]) == (0, 2, 2), report


def test_a_capture_copied_in_place_is_read_once_it_is_complete(watchers) -> None:
    """Outside the proxy's atomic writes (README, "Atomic writes"): a capture copied into
    the folder with `cp` appears empty or half-written first and is complete when the
    writer closes it. The analyzer listens for that close; it must not quarantine the
    file for good on the event of its creation."""
    with StandIn(MemoryModel()) as api:
        w = watchers(api).start()
        (w.captures / DAY).mkdir()
        time.sleep(0.3)
        data = capture_bytes(simple_capture("Restored from a backup with cp."))
        with (w.captures / rel(1)).open("wb") as f:
            f.write(data[:100])
            f.flush()
            time.sleep(0.5)
            f.write(data[100:])
        w.wait_for_memories(rel(1), timeout=6)
        assert w.stop() == 0, w.output()
    report = status(w.config)
    assert (report["processed"], report["quarantined"]) == (1, 0), report["quarantined_files"]


def test_a_second_analyzer_on_the_same_state_folder_exits_2(watchers) -> None:
    with StandIn(MemoryModel()) as api:
        w = watchers(api).start()
        for args in (["--once"], []):
            done = analyze(w.config, *args, timeout=30)
            assert done.returncode == 2, (args, done.returncode, done.stderr)
            lines = done.stderr.strip().splitlines()
            assert len(lines) == 1 and "another analyzer" in lines[0], done.stderr
            assert str(w.proc.pid) in lines[0]
            assert "Traceback" not in done.stderr
        # The first one is undisturbed.
        write_capture(w.captures, rel(1), simple_capture("Please always use tabs."))
        w.wait_for_memories(rel(1))
        assert w.stop() == 0, w.output()
    assert json.loads(analyze(w.config, "status", "--json").stdout)["processed"] == 1


def test_compaction_swapping_plain_for_gz_is_no_new_capture(watchers) -> None:
    import gzip

    with StandIn(MemoryModel()) as api:
        w = watchers(api).start()
        write_capture(w.captures, rel(1), simple_capture("Please always use tabs."))
        write_capture(w.captures, rel(2), simple_capture("The API server listens on port 8042."))
        w.wait_for_memories(rel(1), rel(2))
        for n in (1, 2):  # as compaction does it: a dot temp, linked to `.gz`, then the unlink
            plain = w.captures / rel(n)
            write_capture(w.captures, rel(n) + ".gz", gzip.compress(plain.read_bytes()))
            plain.unlink()
        # A capture that arrives compressed is a new capture, and is read.
        write_capture(
            w.captures, rel(3) + ".gz", gzip.compress(capture_bytes(simple_capture("Use uv.")))
        )
        w.wait_for_memories(rel(3))
        time.sleep(1.5)  # more than max_wait_s and a tick
        assert sorted(w.sent()) == [rel(1), rel(2), rel(3)]
        assert w.stop() == 0
