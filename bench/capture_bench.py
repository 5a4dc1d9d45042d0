"""Benchmarks of the capturing proxy, each a ratio measured side by side in one run.

Streaming (goal <= 0.05): the time to the first SSE body byte ÷ the time to the
last one, for a stand-in stream spread over ~2 s
(`python -m tests.standin --stream-seconds 2`), through the capturing proxy.
The same is measured through plain mitmdump without the addon (it buffers
whole responses by default: ≈ 1.0) and directly against the stand-in, for
reference. A raw socket client timestamps the first body byte; median of
several runs, the three set-ups interleaved.

Throughput (goal >= 0.95): requests/s through the capturing proxy ÷ requests/s
through plain mitmdump, with ~60 KB Claude-Code-like JSON request bodies (the
corpus' main-loop request), 4 concurrent keep-alive clients (threads, HTTPS
through the proxy's CONNECT tunnel, as Claude Code does), once with JSON
replies and once with short SSE replies. The stand-in runs in its own process
(`python -m tests.standin`), the two proxies are measured alternately in
several rounds (AB, BA, AB, ...) to cancel drift, and the median of the
per-round ratios is reported. Between rounds the addon's writer is given time
to catch up (every request must have its complete capture file), so a backlog
cannot spill into the other proxy's measurement; the files are then deleted.
A third, reference figure writes the captures to tmpfs (/dev/shm): the same
proxy-side work without the disk, which separates what the addon costs the
proxy from what writing ~30 MB/s of capture files costs the machine.

    python -m bench [--quick] capture
    python -m bench.capture_bench [--quick]
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench import Result
from tests.proxy import API_KEY, CapturingProxy, capture_files, ssl_context

ROOT = Path(__file__).resolve().parent.parent
CORPUS_REQUEST = (
    ROOT / "tests" / "data" / "corpus" / "cc-1.0.6_03_main_turn1_sonnet4_system_17tools.json"
)
API_HOST = "api.anthropic.com"
STREAM_GOAL = "<= 0.05"
THROUGHPUT_GOAL = ">= 0.95"
CLIENTS = 4


@dataclass(frozen=True, kw_only=True)
class Plan:
    stream_seconds: float
    stream_runs: int
    rounds: int
    round_seconds: float

    @classmethod
    def of(cls, quick: bool) -> Plan:
        if quick:
            return cls(stream_seconds=1.0, stream_runs=1, rounds=1, round_seconds=0.5)
        return cls(stream_seconds=2.0, stream_runs=5, rounds=10, round_seconds=2.0)


# -- the stand-in as a process -------------------------------------------------------------


@contextmanager
def standin_process(*args: str, timeout: float = 20.0) -> Iterator[int]:
    """`python -m tests.standin --port 0 ARGS` in its own process; yields its port."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.standin", "--port", "0", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = proc.stdout, proc.stderr
        if stdout is None or stderr is None:  # cannot be: both are PIPE
            raise RuntimeError("the stand-in started without its pipes")
        ready: list[str] = []
        reader = threading.Thread(target=lambda: ready.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        line = ready[0] if ready else ""
        if not line.startswith("READY "):
            proc.kill()
            raise RuntimeError(f"the stand-in did not start: {line!r} {stderr.read()}")
        yield int(line.split()[1])
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


# -- requests ---------------------------------------------------------------------------------


def corpus_body(*, stream: bool) -> bytes:
    """The corpus' ~60 KB Claude Code main-loop request body, streamed or not."""
    body = json.loads(CORPUS_REQUEST.read_text(encoding="utf-8"))["request"]["body"]
    body = dict(body, stream=stream)
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def small_body(*, stream: bool) -> bytes:
    return json.dumps(
        {
            "model": "claude-bench",
            "max_tokens": 100,
            "stream": stream,
            "messages": [{"role": "user", "content": "hi"}],
        },
        separators=(",", ":"),
    ).encode()


HEADERS = {
    "content-type": "application/json",
    "x-api-key": API_KEY,
    "anthropic-version": "2023-06-01",
}


MESSAGES_PATH = "/v1/messages?beta=true"


def raw_request(
    body: bytes, *, keep_alive: bool, host: str = API_HOST, path: str = MESSAGES_PATH
) -> bytes:
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}",
        *(f"{k}: {v}" for k, v in HEADERS.items()),
        f"Content-Length: {len(body)}",
        f"Connection: {'keep-alive' if keep_alive else 'close'}",
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def tunnel(
    proxy_port: int, context: ssl.SSLContext, *, host: str = API_HOST, timeout: float = 30.0
) -> ssl.SSLSocket:
    """A TLS connection to `host` (api.anthropic.com) through the proxy's CONNECT tunnel."""
    sock = socket.create_connection(("127.0.0.1", proxy_port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
    reply = b""
    while b"\r\n\r\n" not in reply:
        data = sock.recv(4096)
        if not data:
            raise ConnectionError(f"the proxy closed the CONNECT tunnel: {reply!r}")
        reply += data
    if not reply.split(b"\r\n", 1)[0].split()[1:2] == [b"200"]:
        raise ConnectionError(f"CONNECT refused: {reply!r}")
    return context.wrap_socket(sock, server_hostname=host)


def sse_complete(body: bytes, answer: bytes) -> bool:
    """A streamed request's answer holds its `message_stop` (else: any answer will do)."""
    return b'"stream":true' not in body or b"message_stop" in answer


def first_byte(
    *,
    proxy: CapturingProxy | None,
    upstream_port: int,
    context: ssl.SSLContext,
    body: bytes,
    host: str = API_HOST,
    path: str = MESSAGES_PATH,
    complete: Callable[[bytes, bytes], bool] = sse_complete,
) -> tuple[float, float]:
    """(seconds to the first body byte, seconds to the last), from sending the request.

    A raw client: the connection (and TLS) is set up first and not counted; the
    request asks for `Connection: close`, so the end of the body is the end of
    the connection. `complete(body, answer)` says whether the whole answer arrived.
    """
    if proxy is not None:
        sock: socket.socket = tunnel(proxy.port, context, host=host)
    else:
        sock = socket.create_connection(("127.0.0.1", upstream_port), timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with sock:
        t0 = time.perf_counter()
        sock.sendall(raw_request(body, keep_alive=False, host=host, path=path))
        buf = bytearray()
        first = None
        while True:
            try:
                data = sock.recv(65536)
            except (ssl.SSLEOFError, ConnectionResetError):
                data = b""
            if not data:
                break
            buf += data
            if first is None:
                end = buf.find(b"\r\n\r\n")
                if end != -1 and len(buf) > end + 4:
                    first = time.perf_counter() - t0
        total = time.perf_counter() - t0
    status = bytes(buf.split(b"\r\n", 1)[0])
    if status.split()[1:2] != [b"200"] or not complete(body, bytes(buf)):
        raise RuntimeError(f"unexpected answer: {status!r}, {len(buf)} bytes")
    return (first if first is not None else total), total


# -- streaming --------------------------------------------------------------------------------


def bench_streaming(plan: Plan, stack: ExitStack, confdir: Path, work: Path) -> list[Result]:
    upstream = stack.enter_context(
        standin_process("--stream-seconds", str(plan.stream_seconds), "--delta-pieces", "20")
    )
    capturing = stack.enter_context(
        CapturingProxy(
            upstream_port=upstream, capture_dir=work / "stream-captures", confdir=confdir
        )
    )
    plain = stack.enter_context(
        CapturingProxy(
            upstream_port=upstream, capture_dir=work / "unused", confdir=confdir, addon=False
        )
    )
    context = ssl_context(capturing)
    setups = {"capturing proxy": capturing, "plain mitmdump": plain, "direct": None}
    for warming in (capturing, plain):  # warm up: leaf certificate, connections, imports
        first_byte(
            proxy=warming, upstream_port=upstream, context=context, body=small_body(stream=False)
        )
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in setups}
    for _ in range(plan.stream_runs):
        for name, proxy in setups.items():
            runs[name].append(
                first_byte(
                    proxy=proxy,
                    upstream_port=upstream,
                    context=context,
                    body=small_body(stream=True),
                )
            )
    return stream_results(
        runs,
        [
            ("capturing proxy", STREAM_GOAL, "capture: stream first byte ÷ stream length"),
            ("plain mitmdump", None, "  reference: plain mitmdump (buffers)"),
            ("direct", None, "  reference: direct, no proxy"),
        ],
    )


def stream_results(
    runs: dict[str, list[tuple[float, float]]],
    figures: list[tuple[str, str | None, str]],
    *,
    notes: dict[str, str] | None = None,
) -> list[Result]:
    """One Result per (set-up, goal, label) of `figures`: the median first byte ÷ length of
    that set-up's (first byte, length) `runs`; `notes` end a set-up's detail."""
    results = []
    for name, goal, label in figures:
        ratio = statistics.median(f / t for f, t in runs[name])
        first = statistics.median(f for f, _ in runs[name])
        total = statistics.median(t for _, t in runs[name])
        results.append(
            Result(
                name=label,
                ratio=round(ratio, 4),
                goal=goal,
                detail=f"first byte {first * 1000:.1f} ms of {total:.2f} s, "
                f"median of {len(runs[name])}{(notes or {}).get(name, '')}",
            )
        )
    return results


# -- throughput ---------------------------------------------------------------------------------


def measure_rps(
    proxy: CapturingProxy, body: bytes, *, seconds: float, clients: int = CLIENTS
) -> tuple[int, float]:
    """(requests completed, elapsed seconds) for `clients` keep-alive clients hammering for `seconds`."""
    context = ssl_context(proxy)
    barrier = threading.Barrier(clients + 1)
    counts = [0] * clients
    spans: list[tuple[float, float]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def client(i: int) -> None:
        conn = http.client.HTTPSConnection("127.0.0.1", proxy.port, context=context, timeout=60)
        conn.set_tunnel(API_HOST, 443)
        try:

            def once() -> None:
                conn.request("POST", "/v1/messages?beta=true", body=body, headers=HEADERS)
                response = conn.getresponse()
                data = response.read()
                if response.status != 200 or not data:
                    raise RuntimeError(f"status {response.status}: {data[:200]!r}")

            once()  # connect, TLS, warm up
            barrier.wait(60)
            start = time.perf_counter()
            deadline = start + seconds
            n = 0
            while time.perf_counter() < deadline:
                once()
                n += 1
            with lock:
                counts[i] = n
                spans.append((start, time.perf_counter()))
        except BaseException as e:  # noqa: BLE001 - re-raised by the main thread below
            errors.append(e)
            barrier.abort()
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    try:
        barrier.wait(60)
    except threading.BrokenBarrierError:
        pass
    for t in threads:
        t.join(seconds + 120)
    if errors:
        raise RuntimeError(f"a client failed through {proxy!r}: {errors[0]!r}") from errors[0]
    elapsed = max(e for _, e in spans) - min(s for s, _ in spans)
    return sum(counts), elapsed


def drain(proxy: CapturingProxy, expected: int, *, timeout: float = 120.0) -> float:
    """Wait until the addon wrote all `expected` exchanges; delete the files. Returns the wait."""
    t0 = time.monotonic()
    while True:
        paths = capture_files(proxy.capture_dir)
        if len(paths) >= expected:
            try:
                done = all(b'\n  "response": {' in p.read_bytes() for p in paths)
            except OSError:
                done = False
            if done:
                break
        if time.monotonic() - t0 > timeout:
            raise RuntimeError(
                f"the addon wrote {len(paths)} of {expected} capture files in {timeout:.0f} s"
            )
        time.sleep(0.05)
    waited = time.monotonic() - t0
    if len(paths) != expected:
        raise RuntimeError(f"{len(paths)} capture files for {expected} requests")
    for p in paths:
        p.unlink()
    return waited


def bench_throughput(plan: Plan, stack: ExitStack, confdir: Path, work: Path) -> list[Result]:
    upstream = stack.enter_context(standin_process())
    capturing = stack.enter_context(
        CapturingProxy(upstream_port=upstream, capture_dir=work / "captures", confdir=confdir)
    )
    plain = stack.enter_context(
        CapturingProxy(
            upstream_port=upstream, capture_dir=work / "unused", confdir=confdir, addon=False
        )
    )
    results = []
    for mode, stream in (("JSON replies", False), ("SSE replies", True)):
        results.append(
            _throughput(plan, capturing, plain, mode=mode, stream=stream, goal=THROUGHPUT_GOAL)
        )
    shm = Path("/dev/shm")
    if shm.is_dir():
        tmpfs = stack.enter_context(tempfile.TemporaryDirectory(dir=shm, prefix="glass-bench-"))
        in_memory = stack.enter_context(
            CapturingProxy(upstream_port=upstream, capture_dir=Path(tmpfs), confdir=confdir)
        )
        results.append(
            _throughput(
                plan,
                in_memory,
                plain,
                mode="JSON replies, captures on tmpfs",
                stream=False,
                goal=None,
                label="  reference: ",
            )
        )
    return results


def _throughput(
    plan: Plan,
    capturing: CapturingProxy,
    plain: CapturingProxy,
    *,
    mode: str,
    stream: bool,
    goal: str | None,
    label: str = "capture: ",
) -> Result:
    body = corpus_body(stream=stream)
    ratios: list[float] = []
    rates: dict[str, list[float]] = {"capturing": [], "plain": []}
    waits = []
    for r in range(plan.rounds):
        order = [("capturing", capturing), ("plain", plain)]
        if r % 2:
            order.reverse()
        rps = {}
        for name, proxy in order:
            n, elapsed = measure_rps(proxy, body, seconds=plan.round_seconds)
            rps[name] = n / elapsed
            rates[name].append(rps[name])
            if proxy is capturing:  # warm-up requests are captured too
                waits.append(drain(capturing, n + CLIENTS))
        ratios.append(rps["capturing"] / rps["plain"])
    detail = (
        f"{statistics.median(rates['capturing']):.0f} vs {statistics.median(rates['plain']):.0f} req/s "
        f"(median), {CLIENTS} keep-alive clients, {len(body) / 1000:.0f} KB bodies, "
        f"{plan.rounds} alternating rounds of {plan.round_seconds:g} s; "
        f"round ratios {', '.join(f'{x:.2f}' for x in ratios)}; "
        f"writer caught up within {max(waits):.2f} s"
    )
    return Result(
        name=f"{label}throughput ÷ plain mitmdump, {mode}",
        ratio=round(statistics.median(ratios), 3),
        goal=goal,
        detail=detail,
    )


# -- entry points --------------------------------------------------------------------------------


def run(quick: bool = False) -> list[Result]:
    plan = Plan.of(quick)
    work = Path(tempfile.mkdtemp(prefix="glass-capture-bench-"))
    try:
        confdir = work / "mitmproxy"
        with ExitStack() as stack:
            streaming = bench_streaming(plan, stack, confdir, work)
        with ExitStack() as stack:
            throughput = bench_throughput(plan, stack, confdir, work)
        return streaming + throughput
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.capture_bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    from bench.__main__ import table

    print(table(run(quick=args.quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
