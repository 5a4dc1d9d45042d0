"""Helpers for the analyzer's process-level tests (crash, faults, watch, e2e).

- `MemoryModel`: a deterministic extraction model for `tests.standin.StandIn`.
  Every capture marker (`### <rel>`) in an excerpt becomes one memory
  ("Capture <rel> says <its first USER line>"), so a capture that reaches the
  model leaves a distinct memory and any loss or duplication is visible.
- `write_config()`: a config.yaml for one test; `analyze()` / `start_analyzer()`:
  `python -m analyze` as a subprocess with a clean environment; `status()`.
- `read_store()`: the memory store, checked line by line (no torn or invalid
  line); `ledger_pending()`: the pending commit left in the ledger, if any.
- `capture_doc()` / `write_capture()`: capture files as the proxy writes them
  (a dot `.tmp` file, fsynced, then linked or replaced into place).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from analyze.ledger import Ledger, PendingCommit
from glass.contract import MEMORIES_FILE, REDACTED, STATE_DIR
from tests.proxy import env_without
from tests.standin import ForcedToolResponder, Recorded, Reply

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
API_KEY = "sk-ant-analyzer-test"
MARKER = re.compile(r"^### (\S+)(?: \(continued\))?$")
EXCERPT_HEAD = "Conversation excerpt:\n"


# -- the extraction model ------------------------------------------------------------


def user_content(recorded: Recorded) -> str:
    """The user message the analyzer sent (known memories + excerpt)."""
    content = recorded.body["messages"][0]["content"]
    if isinstance(content, list):  # not what the analyzer sends, but be lenient
        content = "\n".join(b.get("text", "") for b in content if isinstance(b, dict))
    return content


def excerpt(recorded: Recorded) -> str:
    """The conversation excerpt of an extraction request (after the known memories)."""
    text = user_content(recorded)
    at = text.find(EXCERPT_HEAD)
    assert at >= 0, f"no excerpt in the request: {text[:300]!r}"
    return text[at + len(EXCERPT_HEAD) :]


def sections(text: str) -> list[tuple[str, str, list[str]]]:
    """(rel, marker line, lines) for every capture marker of an excerpt."""
    out: list[tuple[str, str, list[str]]] = []
    for line in text.splitlines():
        m = MARKER.match(line)
        if m:
            out.append((m.group(1), line, []))
        elif out:
            out[-1][2].append(line)
    return out


def markers(recorded: Recorded) -> list[str]:
    """The capture rels an extraction request covers, in order ([] for a request
    whose body never arrived whole, e.g. from a process killed while sending it)."""
    if not isinstance(recorded.body, dict):
        return []
    return [rel for rel, _, _ in sections(excerpt(recorded))]


def content_lines(recorded: Recorded) -> list[str]:
    """The excerpt lines of a request that are not capture markers."""
    return [line for line in excerpt(recorded).splitlines() if not MARKER.match(line)]


def memories_for(text: str) -> dict[str, Any]:
    """One memory per capture marker: "Capture <rel> says <first USER line, else the marker>"."""
    out = []
    for rel, marker, lines in sections(text):
        said = next((line for line in lines if line.startswith("USER: ")), marker)
        out.append({"text": f"Capture {rel} says {said[:120]}", "kind": "fact"})
    return {"memories": out}


class MemoryModel:
    """A StandIn responder: the forced `record_memories` call from `memories_for`.

    `delay` (seconds, or a (low, high) range) is slept before every answer, on
    the stand-in's handler thread, so a kill can land inside a call. `fault`
    may return a Reply to send instead (request index from 0, the request).
    """

    def __init__(
        self,
        *,
        delay: float | tuple[float, float] = 0.0,
        fault: Callable[[int, Recorded], Reply | None] | None = None,
        seed: int = 0,
    ) -> None:
        self.delay = delay
        self.fault = fault
        self.count = 0
        self.answered: list[Recorded] = []
        """Requests answered with memories (not faults), in order."""
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._forced = ForcedToolResponder(lambda r: memories_for(excerpt(r)))

    def __call__(self, recorded: Recorded) -> Reply:
        with self._lock:
            index = self.count
            self.count += 1
            delay = (
                self.delay
                if not isinstance(self.delay, tuple)
                else self._random.uniform(*self.delay)
            )
        if delay:
            time.sleep(delay)
        if self.fault is not None:
            reply = self.fault(index, recorded)
            if reply is not None:
                return reply
        with self._lock:
            self.answered.append(recorded)
        return self._forced(recorded)


# -- config and processes -------------------------------------------------------------


def write_config(
    folder: Path,
    *,
    base_url: str | None,
    captures: Path | None = None,
    name: str = "config.yaml",
    **analyze: Any,
) -> Path:
    """A config.yaml in `folder`: captures in `captures` (default folder/captures),
    the store and state folder inside it, and the given `analyze:` keys."""
    captures = captures or folder / "captures"
    settings: dict[str, Any] = {
        "backend": "anthropic",
        "base_url": base_url,
        "store": str(captures / MEMORIES_FILE),
        "state_dir": str(captures / STATE_DIR),
    }
    settings.update(analyze)
    lines = ["capture:", f"  dir: {json.dumps(str(captures))}", "analyze:"]
    lines += [f"  {key}: {json.dumps(value)}" for key, value in settings.items()]
    path = folder / name
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def clean_env(*, api_key: str | None = API_KEY, **extra: str) -> dict[str, str]:
    """This environment without proxies, ANTHROPIC_* or GLASS_* variables, plus `extra`."""
    env = env_without("ANTHROPIC_", "GLASS_")
    if api_key is not None:
        env["ANTHROPIC_API_KEY"] = api_key
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def analyze_argv(config: Path, *args: str) -> list[str]:
    return [PYTHON, "-m", "analyze", "--config", str(config), *args]


def analyze(
    config: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """`python -m analyze --config <config> <args>`, to its end."""
    return subprocess.run(
        analyze_argv(config, *args),
        cwd=ROOT,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def start_analyzer(
    config: Path, *args: str, log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`python -m analyze` in the background, stdout and stderr into `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            analyze_argv(config, *args),
            cwd=ROOT,
            env=env or clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def status(config: Path) -> dict[str, Any]:
    """`python -m analyze status --json`."""
    done = analyze(config, "status", "--json")
    assert done.returncode == 0, f"status failed ({done.returncode}):\n{done.stderr}"
    return json.loads(done.stdout)


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
    """Signal `proc` (if still running) and wait for its exit code; SIGKILL as a last resort."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired as e:
        proc.kill()
        proc.wait(5)
        raise AssertionError(f"the analyzer did not exit within {timeout} s of signal {sig}") from e


def wait_until(
    predicate: Callable[[], Any],
    *,
    timeout: float,
    interval: float = 0.05,
    message: str | Callable[[], str] = "condition",
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout} s waiting for {text}")
        time.sleep(interval)


# -- what the analyzer left ------------------------------------------------------------


def read_store(path: Path) -> list[dict[str, Any]]:
    """The memories in `path`, asserting every line is one complete JSON object."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    if not data:
        return []
    assert data.endswith(b"\n"), f"{path} ends in a torn line: {data[-200:]!r}"
    out = []
    for n, line in enumerate(data.split(b"\n")[:-1], 1):
        try:
            memory = json.loads(line)
        except ValueError:
            raise AssertionError(f"{path}:{n} is not valid JSON: {line[:200]!r}") from None
        assert isinstance(memory, dict) and isinstance(memory.get("id"), str), (
            f"{path}:{n}: {line[:200]!r}"
        )
        out.append(memory)
    return out


def store_ids(memories: Iterable[dict[str, Any]]) -> list[str]:
    return [m["id"] for m in memories]


def ledger_pending(state_dir: Path) -> PendingCommit | None:
    ledger = Ledger.open_readonly(state_dir)
    if ledger is None:
        return None
    try:
        return ledger.pending_commit()
    finally:
        ledger.close()


def ledger_states(state_dir: Path) -> dict[str, tuple[str, str | None]]:
    """{capture: (state, reason)} straight from the ledger."""
    ledger = Ledger.open_readonly(state_dir)
    if ledger is None:
        return {}
    try:
        return {
            rel: (state, reason or None)
            for state in ("processed", "quarantined", "failed")
            for rel, reason in ledger.problems(state, limit=1_000_000)
        }
    finally:
        ledger.close()


# -- capture files ------------------------------------------------------------------------

TOOLS = [
    {
        "name": "Read",
        "description": "Read a file",
        "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}}},
    }
]


def capture_doc(
    *,
    session: str,
    messages: list[dict[str, Any]],
    answer: str | None = None,
    project: str = "/home/dev/app",
    when: str = "2026-11-21T10:00:00.000+01:00",
    error: str | None = None,
) -> dict[str, Any]:
    """A main-loop capture (tools, a session header); with `answer` it has a response."""
    doc: dict[str, Any] = {
        "captured_at": when,
        "method": "POST",
        "url": "https://api.anthropic.com/v1/messages?beta=true",
        "headers": {"x-api-key": REDACTED, "X-Claude-Code-Session-Id": session},
        "request": {
            "model": "claude-sonnet-4-5",
            "max_tokens": 32000,
            "stream": True,
            "system": [{"type": "text", "text": f"Working directory: {project}"}],
            "tools": TOOLS,
            "messages": messages,
        },
    }
    if answer is not None:
        doc["response"] = {
            "status": 200,
            "headers": {"content-type": "text/event-stream"},
            "body": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-5",
                "content": [{"type": "text", "text": answer}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": 10, "output_tokens": 5},
            },
            "streamed": True,
            "complete": True,
            "ttfb_ms": 10.0,
            "duration_ms": 20.0,
        }
    if error is not None:
        doc["error"] = {"message": error}
    return doc


def simple_capture(
    text: str, *, session: str | None = None, answer: str | None = "Noted.", **kw: Any
) -> dict[str, Any]:
    """One user turn (its own session unless given) and, by default, an answer."""
    return capture_doc(
        session=session or f"sess-{uuid.uuid4()}",
        messages=[{"role": "user", "content": text}],
        answer=answer,
        **kw,
    )


def capture_bytes(doc: Any) -> bytes:
    return json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8")


def write_capture(root: Path, rel: str, doc: Any, *, mtime: float | None = None) -> Path:
    """Write `root/rel` the way the proxy does: a dot `.tmp` file, fsynced, then
    linked into place (new file) or `os.replace`d over it (rewrite)."""
    target = root / rel
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = doc if isinstance(doc, bytes) else capture_bytes(doc)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    if mtime is not None:
        os.utime(tmp, (mtime, mtime))
    if target.exists():
        os.replace(tmp, target)
    else:
        os.link(tmp, target)
        os.unlink(tmp)
    return target


CORPUS_CAPTURES = 71
"""Capture files `write_corpus` writes: 64 of Claude Code 1.0.6, 7 request-only of 2.x."""


def write_corpus(root: Path) -> list[Path]:
    """The recorded 1.0.6 and 2.x sessions as capture files under `root`, a day old."""
    from tests import corpus

    written = corpus.write_sessions(root)
    assert len(written) == CORPUS_CAPTURES
    return written


# -- a fork server for many short-lived analyzer processes ---------------------------------

ZYGOTE_PRELOAD = ("analyze.cli", "analyze.backends.anthropic_api", "analyze.watch")


class Zygote:
    """A helper process that has imported the analyzer (and the anthropic SDK,
    about 1.3 s of CPU per start) once, and forks a child per run.

    Each child is a real process that runs `analyze.cli.main(argv)`, exactly
    what `python -m analyze <argv>` runs, with its own environment, working
    folder and output file; it can be SIGKILLed like any other. Only the
    imports are shared, so module-level settings read at import time (the
    `GLASS_CRASH_AT` crash points) are those of the zygote: use real
    `python -m analyze` processes for those.
    """

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [PYTHON, "-c", "from tests.analyzer_harness import zygote_main; zygote_main()"],
            cwd=ROOT,
            env=clean_env(api_key=None),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None  # both PIPE
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        assert self._read() == {"ready": True}

    def _read(self) -> dict[str, Any]:
        line = self.stdout.readline()
        if not line:
            raise AssertionError(f"the zygote exited ({self.proc.wait()})")
        return json.loads(line)

    def _ask(self, **request: Any) -> dict[str, Any]:
        self.stdin.write(json.dumps(request) + "\n")
        self.stdin.flush()
        return self._read()

    def start(
        self, config: Path, *args: str, log: Path, env: dict[str, str] | None = None
    ) -> ForkedAnalyzer:
        reply = self._ask(
            op="run", argv=["--config", str(config), *args], env=env or clean_env(), log=str(log)
        )
        return ForkedAnalyzer(self, reply["pid"])

    def close(self) -> None:
        if self.proc.poll() is None:
            self.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.stdout.close()

    def __enter__(self) -> Zygote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ForkedAnalyzer:
    """A child of a Zygote, with the part of Popen's interface the tests use."""

    def __init__(self, zygote: Zygote, pid: int) -> None:
        self.zygote, self.pid = zygote, pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.zygote._ask(op="poll", pid=self.pid)["code"]
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if timeout is not None and deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"forked analyzer {self.pid}", timeout)
            time.sleep(0.005)
        return code

    def kill(self) -> None:
        if self.returncode is None:
            os.kill(self.pid, signal.SIGKILL)


def zygote_main() -> None:
    """The zygote's side of the protocol: one JSON request per stdin line, one answer each."""
    import importlib

    for name in ZYGOTE_PRELOAD:
        importlib.import_module(name)
    codes: dict[int, int] = {}
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "run":
            pid = os.fork()
            if pid == 0:
                _child(request)  # never returns
            print(json.dumps({"pid": pid}), flush=True)
        elif request["op"] == "poll":
            pid = request["pid"]
            if pid not in codes:
                done, status_ = os.waitpid(pid, os.WNOHANG)
                if done:
                    codes[pid] = os.waitstatus_to_exitcode(status_)
            print(json.dumps({"code": codes.get(pid)}), flush=True)


def _child(request: dict[str, Any]) -> None:
    code = 70
    try:
        from analyze.cli import main

        fd = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(ROOT)
        sys.argv = ["python -m analyze", *request["argv"]]
        try:
            code = main(request["argv"])
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
    except BaseException:  # noqa: BLE001 - a forked child: print the traceback, then _exit below
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code if isinstance(code, int) else 1)
