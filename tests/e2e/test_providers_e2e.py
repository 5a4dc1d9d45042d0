"""End to end: the real Claude Code CLI on Google Vertex AI and on Amazon Bedrock.

    make run-claude PROVIDER=vertex|bedrock --> python -m capture proxy --> stand-in
        (the real CLI, skip-auth)          (--map-remote of the provider's host)
    captures/ --> python -m analyze --once --> stand-in (the extraction model)
    captures/ --> python -m analyze usage --by provider --json

The CLI runs with the `CLAUDE_CODE_SKIP_*_AUTH` variable of its provider (set by the
test, as a user offline would: `make run-claude` never sets it) and the region
`PROVIDER=` defaults to, so it asks for the real provider host; the proxy maps that
host to the stand-in, which answers Vertex with SSE and Bedrock with AWS event-stream
frames. Each session reads a file with a tool call: two Messages requests. Their
captures must be `…_messages.json` files with `provider` and `model`, reassembled
with exactly the usage the stand-in sent, analysed into memories, and counted by the
usage report's `--by provider`. And when a Bedrock stream breaks (cut in the middle
of a frame, or an exception frame), the CLI asks `/invoke` instead: the broken stream
is kept with its `stream_problems` / `stream_error`, the JSON retry and the final
answer are captured too, and the report counts the broken one as incomplete.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.analyzer_harness import ROOT, MemoryModel, analyze, content_lines, write_config
from tests.e2e.test_usage_e2e import usage_rows
from tests.proxy import (
    CapturingProxy,
    capture_files,
    claude_env,
    load_capture,
    require_claude,
    wait_for_captures,
)
from tests.standin import (
    NOTES_PROMPT,
    NOTES_SUMMARY,
    ClaudeCodeResponder,
    Recorded,
    Reply,
    StandIn,
    notes_task,
)

pytestmark = pytest.mark.e2e


@dataclasses.dataclass(frozen=True, kw_only=True)
class Case:
    provider: str
    host: str
    """The host Claude Code calls with PROVIDER='s default region."""
    env: dict[str, str]
    """What the user (here: the test) sets besides PROVIDER=."""
    path_end: str
    """How the path of a streamed Messages call ends."""


CASES = {
    "vertex": Case(
        provider="vertex",
        host="https://us-east5-aiplatform.googleapis.com",
        env={"CLAUDE_CODE_SKIP_VERTEX_AUTH": "1", "ANTHROPIC_VERTEX_PROJECT_ID": "proj"},
        path_end=":streamRawPredict",
    ),
    "bedrock": Case(
        provider="bedrock",
        host="https://bedrock-runtime.us-east-1.amazonaws.com",
        env={"CLAUDE_CODE_SKIP_BEDROCK_AUTH": "1"},
        path_end="/invoke-with-response-stream",
    ),
}
USAGES = [
    {
        "input_tokens": 13,
        "cache_creation_input_tokens": 2100,
        "cache_read_input_tokens": 0,
        "output_tokens": 47,
        "cache_creation": {"ephemeral_5m_input_tokens": 600, "ephemeral_1h_input_tokens": 1500},
    },
    {
        "input_tokens": 9,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 2100,
        "output_tokens": 31,
    },
]
"""The usage of the first and second request (the tool call, then the final answer)."""
TOKEN_KEYS = (
    "input_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
)
FINAL = NOTES_SUMMARY


class UsageInTurn:
    """ClaudeCodeResponder's replies, the n-th with usages[n] (the last one after that),
    the first one changed by `first` (e.g. a stream cut short)."""

    def __init__(
        self,
        inner: ClaudeCodeResponder,
        usages: list[dict[str, Any]] = USAGES,
        *,
        first: dict[str, Any] | None = None,
    ) -> None:
        self.inner = inner
        self.usages = usages
        self.first = first or {}
        self._count = itertools.count()
        self._lock = threading.Lock()

    def __call__(self, request: Recorded) -> Reply:
        with self._lock:
            n = next(self._count)
        reply = self.inner(request)
        usage = self.usages[min(n, len(self.usages) - 1)]
        return dataclasses.replace(reply, usage=usage, **(self.first if n == 0 else {}))


@dataclasses.dataclass(frozen=True, kw_only=True)
class Session:
    """A project folder with notes.txt, a HOME, and the proxy mapping the case's host."""

    project: Path
    home: Path
    notes: Path
    proxy: CapturingProxy


def prepare(
    case: Case,
    *,
    start_proxy: Callable[..., CapturingProxy],
    standin: StandIn,
    capture_dir: Path,
    tmp_path: Path,
    usages: list[dict[str, Any]] = USAGES,
    first: dict[str, Any] | None = None,
) -> Session:
    """The folders, the stand-in's script (UsageInTurn) and the proxy of one session."""
    task = notes_task(tmp_path)
    standin.responder = UsageInTurn(task.responder, usages, first=first)
    proxy = start_proxy(
        capture_dir=capture_dir,
        extra_args=["--map-remote", f"|{case.host}|http://127.0.0.1:{standin.port}"],
    )
    return Session(project=task.project, home=task.home, notes=task.notes, proxy=proxy)


def run_claude(
    case: Case, *, session: Session, provider: bool = True
) -> subprocess.CompletedProcess[str]:
    """`make run-claude PROVIDER=…` (without PROVIDER= when not `provider`: the case's
    own variables alone choose) with the real CLI, in a clean environment."""
    claude = require_claude()
    cloud = ("AWS_", "CLOUD_ML_", "GOOGLE_", "GCLOUD", "GLASS_")
    env = claude_env(session.home, *cloud, api_key=None, **case.env)
    argv = ["make", "--no-print-directory", "run-claude"]
    argv += [f"PROVIDER={case.provider}"] if provider else []
    argv += [f"CONFIG={session.proxy.config_path}", f"CLAUDE={claude}", f"DIR={session.project}"]
    argv.append(f'ARGS=-p "{NOTES_PROMPT}" --allowedTools Read')
    return subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=180
    )


def usage_by_provider(config: Path) -> list[dict[str, Any]]:
    return usage_rows(config, "--by", "provider")[0]


@pytest.mark.parametrize("name", sorted(CASES))
def test_real_claude_code_on_a_cloud_provider_is_captured_analysed_and_counted(
    name, start_proxy, standin, capture_dir, tmp_path
):
    case = CASES[name]
    session = prepare(
        case, start_proxy=start_proxy, standin=standin, capture_dir=capture_dir, tmp_path=tmp_path
    )
    notes, proxy = session.notes, session.proxy
    done = run_claude(case, session=session)
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert FINAL in done.stdout
    host = case.host.removeprefix("https://")
    assert f"at {host}: captured as provider {case.provider}" in done.stderr, done.stderr

    # What the CLI sent: two streamed Messages calls on the provider's own paths.
    sent = standin.message_requests
    assert len(sent) == 2, [r.path for r in standin.requests]
    assert all(r.provider == case.provider and r.path.endswith(case.path_end) for r in sent)
    assert all("model" not in r.body for r in sent)  # the model is in the URL only
    models = {r.route.model for r in sent if r.route is not None}
    assert len(models) == 1 and None not in models
    (model,) = models

    files = wait_for_captures(capture_dir, 2)
    assert proxy.stop() == 0
    files = capture_files(capture_dir)
    assert len(files) == 2 and all(p.name.endswith("_messages.json") for p in files), files
    docs = [load_capture(p) for p in files]
    for doc, usage in zip(docs, USAGES, strict=True):
        assert doc["provider"] == case.provider
        assert doc["model"] == model
        assert doc["url"].startswith(case.host + "/")
        response = doc["response"]
        assert response.get("complete", True) is True and "error" not in doc
        assert response["body"]["usage"] == usage  # reassembled from the stream
    first, second = (d["response"]["body"] for d in docs)
    (call,) = [b for b in first["content"] if b["type"] == "tool_use"]
    assert call["name"] == "Read" and call["input"] == {"file_path": str(notes)}
    assert [b["text"] for b in second["content"] if b["type"] == "text"] == [FINAL]
    if case.provider == "bedrock":  # Bedrock's own figures, from the last chunk, are kept
        assert "amazon-bedrock-invocationMetrics" in json.dumps(docs[-1]["response"])

    # Analysed like first-party captures: one conversation, its new lines once, memories.
    rels = [f"{p.parent.name}/{p.name}" for p in files]
    config = tmp_path / "analyze"
    with type(standin)(MemoryModel()) as extractor:
        analyze_config = write_config(config, base_url=extractor.url, captures=capture_dir)
        analysed = analyze(analyze_config, "--once")
        assert analysed.returncode == 0, analysed.stderr
        asked = extractor.message_requests
    lines = [line for r in asked for line in content_lines(r)]
    assert any(line.startswith("TOOL_USE Read ") for line in lines), lines
    assert f"ASSISTANT: {FINAL}" in lines
    assert any("blue heron" in line for line in lines if line.startswith("TOOL_RESULT"))
    memories = [
        json.loads(line)
        for line in (capture_dir / "memories.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert memories and all(set(m["sources"]) <= set(rels) for m in memories), memories

    # Counted by provider, with exactly the stand-in's tokens.
    rows = [r for r in usage_by_provider(analyze_config) if r["key"] == case.provider]
    assert sum(r["requests"] for r in rows) == 2, rows
    for key in TOKEN_KEYS:
        assert sum(r[key] for r in rows) == sum(u[key] for u in USAGES), (key, rows)


BROKEN = {
    "cut mid-frame": {"abort_after_events": 3, "event_interval_s": 0.05},
    "exception frame": {"stream_error": "throttlingException", "event_interval_s": 0.05},
}
"""The first answer's changes. Its frames are spaced so that the CLI has read the first ones
before the break: a break in the same read as the first frames makes it ask the stream again
(seen in 1 of 5 runs without spacing) instead of falling back to /invoke."""


@pytest.mark.parametrize("how", sorted(BROKEN))
def test_a_broken_bedrock_stream_is_kept_and_the_cli_retry_with_invoke_captured(
    how, start_proxy, standin, capture_dir, tmp_path
):
    """Claude Code 2.1.197 answers a broken event stream by asking /invoke (plain JSON)."""
    case = CASES["bedrock"]
    usages = [USAGES[0], *USAGES]  # the broken stream, its /invoke retry, the final answer
    session = prepare(
        case,
        start_proxy=start_proxy,
        standin=standin,
        capture_dir=capture_dir,
        tmp_path=tmp_path,
        usages=usages,
        first=BROKEN[how],
    )
    proxy = session.proxy
    done = run_claude(case, session=session)
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert FINAL in done.stdout
    ends = [r.path.rsplit("/", 1)[1] for r in standin.message_requests]
    assert ends == ["invoke-with-response-stream", "invoke", "invoke-with-response-stream"]

    wait_for_captures(capture_dir, 3)
    assert proxy.stop() == 0
    files = capture_files(capture_dir)
    assert len(files) == 3 and all(p.name.endswith("_messages.json") for p in files), files
    broken, retry, final = docs = [load_capture(p) for p in files]
    assert all(d["provider"] == "bedrock" and d["model"] for d in docs)
    assert broken["response"]["complete"] is False
    if how == "cut mid-frame":
        (problem,) = broken["response"]["stream_problems"]
        assert "cut mid-frame" in problem
        assert "error" in broken  # the upstream hung up: a failed exchange
    else:
        assert broken["response"]["stream_error"] == {
            "type": "throttlingException",
            "message": "stand-in throttlingException",
        }
    assert retry["url"].endswith("/invoke") and retry["response"]["streamed"] is False
    assert retry["response"]["body"]["usage"] == usages[1]
    assert final["response"]["complete"] is True
    assert final["response"]["body"]["usage"] == usages[2]

    config = write_config(tmp_path / "analyze", base_url=None, captures=capture_dir)
    rows = [r for r in usage_by_provider(config) if r["key"] == "bedrock"]
    assert sum(r["requests"] for r in rows) == 3, rows
    assert sum(r["incomplete"] for r in rows) == 1, rows


def test_the_users_own_provider_variables_are_passed_through_untouched(
    start_proxy, standin, capture_dir, tmp_path
):
    """No PROVIDER=: CLAUDE_CODE_USE_BEDROCK and AWS_REGION=us-west-2 of the user's own
    environment choose, and no default replaces the region."""
    own = Case(
        provider="bedrock",
        host="https://bedrock-runtime.us-west-2.amazonaws.com",
        env={
            "CLAUDE_CODE_USE_BEDROCK": "1",
            "AWS_REGION": "us-west-2",
            "CLAUDE_CODE_SKIP_BEDROCK_AUTH": "1",
        },
        path_end="/invoke-with-response-stream",
    )
    session = prepare(
        own, start_proxy=start_proxy, standin=standin, capture_dir=capture_dir, tmp_path=tmp_path
    )
    proxy = session.proxy
    done = run_claude(own, session=session, provider=False)
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert FINAL in done.stdout
    assert (
        "Glass: Claude Code calls Amazon Bedrock at bedrock-runtime.us-west-2.amazonaws.com: "
        "captured as provider bedrock"
    ) in done.stderr
    wait_for_captures(capture_dir, 2)
    assert proxy.stop() == 0
    docs = [load_capture(p) for p in capture_files(capture_dir)]
    assert len(docs) == 2
    assert all(d["provider"] == "bedrock" and d["url"].startswith(own.host + "/") for d in docs)
