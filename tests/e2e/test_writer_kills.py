"""End to end: the writer child is SIGKILLed again and again while 200 exchanges pass.

The README promises that a writer child that dies is restarted and that the
exchanges in flight still end complete in their files. Here 8 httpx2 clients send
200 exchanges (every second one streamed) through the real capturing proxy to the
stand-in, while a thread SIGKILLs the proxy's writer child (`python -m
capture.writer <capture_dir>`, a child of mitmdump) whenever exchanges are in
flight, waits for the proxy to start a new one, and kills that one too. Then every
exchange must be in exactly one file, complete.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import threading
import time
from pathlib import Path

import httpx2
import pytest

from tests.proxy import API_KEY, CapturingProxy, capture_files, load_capture, ssl_context
from tests.standin import Recorded, Reply, StandIn

pytestmark = pytest.mark.e2e

THREADS, PER_THREAD = 8, 25
MIN_KILLS = 5
HEADERS = {
    "x-api-key": API_KEY,
    "anthropic-version": "2023-06-01",
    "content-type": "application/json",
}


def answer_of(marker: str) -> str:
    return f"The answer to {marker}, in several pieces."


def responder(request: Recorded) -> Reply:
    """Each exchange gets its own answer; streams are paced so that they stay in flight."""
    marker = request.body["messages"][0]["content"]
    return Reply.text(answer_of(marker), delta_pieces=6, event_interval_s=0.02)


def writer_pids(capture_dir: Path) -> list[int]:
    """The writer children serving `capture_dir` (their command line names it)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            argv = Path(entry.path, "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"capture.writer" in argv and os.fsencode(capture_dir) in argv:
            found.append(int(entry.name))
    return found


def sse_text(raw: bytes) -> str:
    text = []
    for block in raw.decode("utf-8").replace("\r\n", "\n").split("\n\n"):
        for line in block.split("\n"):
            if line.startswith("data:"):
                event = json.loads(line[5:])
                if event.get("type") == "content_block_delta":
                    text.append(event["delta"].get("text", ""))
    return "".join(text)


def test_every_exchange_ends_complete_in_one_file_while_the_writer_is_killed(
    start_proxy, standin: StandIn, capture_dir: Path
):
    standin.responder = responder
    proxy: CapturingProxy = start_proxy(capture_dir=capture_dir)
    in_flight = 0
    lock = threading.Lock()
    clients_done = threading.Event()
    errors: list[BaseException] = []
    answers: dict[str, str] = {}
    kills: list[int] = []
    """How many exchanges were in flight at each kill."""
    progress: list[int] = []
    """How many files there were at each kill."""

    def client(t: int) -> None:
        nonlocal in_flight
        try:
            with httpx2.Client(
                proxy=proxy.url, verify=ssl_context(proxy), trust_env=False, timeout=60
            ) as http:
                for i in range(PER_THREAD):
                    marker = f"req-{t}-{i}"
                    stream = i % 2 == 1
                    payload = {
                        "model": "claude-e2e-standin",
                        "max_tokens": 64,
                        "messages": [{"role": "user", "content": marker}],
                        **({"stream": True} if stream else {}),
                    }
                    with lock:
                        in_flight += 1
                    try:
                        r = http.post(
                            "https://api.anthropic.com/v1/messages?beta=true",
                            json=payload,
                            headers=HEADERS,
                        )
                    finally:
                        with lock:
                            in_flight -= 1
                    assert r.status_code == 200, r.text
                    answers[marker] = (
                        sse_text(r.content) if stream else r.json()["content"][0]["text"]
                    )
        except BaseException as e:  # noqa: BLE001 - asserted empty by the main thread
            errors.append(e)

    def killer() -> None:
        """Kill the writer child whenever exchanges are in flight: every other one soon after
        it started, the others once they have written a new file (so, likely mid-write)."""
        rng = random.Random(11)
        while not clients_done.is_set():
            pids = writer_pids(capture_dir)
            with lock:
                busy = in_flight
            if len(pids) != 1 or busy == 0:
                time.sleep(0.005)  # the proxy starts a new child when it next writes
                continue
            os.kill(pids[0], signal.SIGKILL)
            kills.append(busy)
            progress.append(len(capture_files(capture_dir)))
            while pids[0] in writer_pids(capture_dir) and not clients_done.is_set():
                time.sleep(0.005)  # until the proxy has reaped it
            if len(kills) % 2:
                clients_done.wait(rng.uniform(0.1, 0.3))
                continue
            deadline = time.monotonic() + 2
            while len(capture_files(capture_dir)) == progress[-1] and time.monotonic() < deadline:
                if clients_done.wait(0.005):
                    return

    workers = [threading.Thread(target=client, args=(t,)) for t in range(THREADS)]
    killing = threading.Thread(target=killer)
    killing.start()
    for w in workers:
        w.start()
    for w in workers:
        w.join(180)
    clients_done.set()
    killing.join(10)
    assert not errors, errors[:3]
    total = THREADS * PER_THREAD
    assert len(answers) == total
    assert all(text == answer_of(marker) for marker, text in answers.items())
    assert len(kills) >= MIN_KILLS, f"only {len(kills)} kills happened"
    assert all(busy > 0 for busy in kills)
    working = sum(after > before for before, after in itertools.pairwise(progress))
    assert working >= 2, f"only {working} kills hit a writer that had written files: {progress}"

    proxy.stop()  # SIGTERM: the addon's `done` waits for the writer's last writes
    output = proxy.output()
    assert output.count("capture writer stopped") >= len(kills) - 1, output[-3000:]
    by_marker: dict[str, list[dict]] = {}
    for path in capture_files(capture_dir):
        rec = load_capture(path)
        by_marker.setdefault(rec["request"]["messages"][0]["content"], []).append(rec)
    missing = sorted(set(answers) - set(by_marker))
    doubled = sorted(m for m, recs in by_marker.items() if len(recs) > 1)
    request_only = sorted(
        m for m, recs in by_marker.items() if any("response" not in r for r in recs)
    )
    summary = (
        f"{len(kills)} kills; {len(missing)} exchanges without a file, {len(doubled)} in more "
        f"than one file, {len(request_only)} with only their request"
    )
    print(summary, "in flight:", kills, "files:", progress)
    assert (missing, doubled, request_only) == ([], [], []), summary
    for marker, (rec,) in by_marker.items():
        response = rec["response"]
        assert "error" not in rec and response["status"] == 200, marker
        assert response["body"]["content"] == [{"type": "text", "text": answer_of(marker)}]
        if rec["request"].get("stream"):
            assert response["streamed"] is True and response["complete"] is True, marker
    leftovers = [p for p in capture_dir.rglob("*") if p.is_file() and p.name.startswith(".")]
    assert not leftovers, "temp files left behind"
