"""End to end: a client talks through the real capturing proxy, then the real analyzer
turns what the proxy wrote into memories.

    anthropic SDK --> python -m capture proxy --> stand-in A (the model the client uses)
                              |
                          captures/ --> python -m analyze --once --> stand-in B (the extraction model)

The conversation has a non-streamed turn ending in a tool call, a streamed turn
carrying the tool result, a streamed follow-up, and a side call; every request
carries an `X-Claude-Code-Session-Id` header, as Claude Code 2.x sends it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.analyzer_harness import (
    ROOT,
    MemoryModel,
    analyze,
    clean_env,
    content_lines,
    markers,
    read_store,
    status,
    write_config,
)
from tests.proxy import (
    API_KEY,
    CapturingProxy,
    capture_files,
    load_capture,
    sdk_client,
    wait_for_captures,
)
from tests.standin import Reply, Scripted, StandIn

pytestmark = pytest.mark.e2e

SESSION = "5f0c2a8e-7d41-4b7a-9c3e-2b1f6e9d8a70"
PROJECT = "/home/dev/e2e-app"
MODEL = "claude-e2e-standin"
SYSTEM = [
    {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
    {
        "type": "text",
        "text": f"Here is useful information about the environment:\n"
        f"Working directory: {PROJECT}\nPlatform: linux",
    },
]
TOOLS = [
    {
        "name": "Read",
        "description": "Read a file from the local filesystem.",
        "input_schema": {
            "type": "object",
            "properties": {"file_path": {"type": "string"}},
            "required": ["file_path"],
        },
    }
]
TOOL_ID = "toolu_e2e_000001"
USER_1 = "Remember this: our staging server is called kestrel-7. How do we deploy?"
READ_INPUT = {"file_path": f"{PROJECT}/DEPLOY.md"}
TOOL_RESULT = "Deploy with `make ship` from the main branch; it takes about four minutes."
ANSWER_2 = "Deploys run `make ship` from main and land on kestrel-7."
USER_3 = "Also: we never deploy on Fridays."
ANSWER_3 = "Understood: no deploys on Fridays."
SIDE_PROMPT = "Write a five-word title for this conversation."
SIDE_ANSWER = "Staging deploys on kestrel-7"

# Every new piece of the conversation, as the analyzer renders it for the model.
EXPECTED_LINES = [
    f"USER: {USER_1}",
    f"TOOL_USE Read {json.dumps(READ_INPUT)}",
    f"TOOL_RESULT: {TOOL_RESULT}",
    f"ASSISTANT: {ANSWER_2}",
    f"USER: {USER_3}",
    f"ASSISTANT: {ANSWER_3}",
]


def canonical(line: str) -> str:
    """A digest line with a tool call's arguments in one JSON spelling."""
    if line.startswith("TOOL_USE "):
        _, name, args = line.split(" ", 2)
        return f"TOOL_USE {name} {json.dumps(json.loads(args), sort_keys=True)}"
    return line


def converse(proxy: CapturingProxy, api: StandIn) -> None:
    """Three main-loop turns (JSON, stream, stream) and a side call, through the proxy."""
    api.responder = Scripted(
        [
            Reply.tool_use("Read", READ_INPUT, tool_id=TOOL_ID),
            Reply.text(ANSWER_2, delta_pieces=4),
            Reply.text(ANSWER_3, delta_pieces=2),
            Reply.text(SIDE_ANSWER),
        ]
    )
    client = sdk_client(proxy, default_headers={"X-Claude-Code-Session-Id": SESSION})
    common = {"model": MODEL, "max_tokens": 4096, "system": SYSTEM, "tools": TOOLS}
    history: list[dict] = [{"role": "user", "content": [{"type": "text", "text": USER_1}]}]

    first = client.messages.create(messages=history, **common)
    assert first.stop_reason == "tool_use"
    (call,) = [b for b in first.content if b.type == "tool_use"]
    assert (call.id, call.input) == (TOOL_ID, READ_INPUT)
    history += [
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": call.id, "name": call.name, "input": call.input}
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": TOOL_RESULT}],
        },
    ]

    with client.messages.stream(messages=history, **common) as stream:
        second = stream.get_final_message()
    assert second.content[0].text == ANSWER_2
    history += [
        {"role": "assistant", "content": [{"type": "text", "text": ANSWER_2}]},
        {"role": "user", "content": [{"type": "text", "text": USER_3}]},
    ]

    with client.messages.stream(messages=history, **common) as stream:
        third = stream.get_final_message()
    assert third.content[0].text == ANSWER_3

    side = client.messages.create(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": SIDE_PROMPT}]
    )
    assert side.content[0].text == SIDE_ANSWER


def test_captured_conversation_becomes_memories(
    start_proxy, standin: StandIn, capture_dir: Path, tmp_path: Path
) -> None:
    proxy = start_proxy(capture_dir=capture_dir)
    converse(proxy, standin)
    files = wait_for_captures(capture_dir, 4)
    assert proxy.stop() == 0
    assert len(files) == 4
    docs = [load_capture(p) for p in files]
    assert [d["response"].get("streamed") for d in docs] == [False, True, True, False]
    rels = [f"{p.parent.name}/{p.name}" for p in files]

    with StandIn(MemoryModel()) as model:
        config = write_config(tmp_path, base_url=model.url, captures=capture_dir, batch_size=10)
        done = analyze(config, "--once")
        assert done.returncode == 0, done.stderr
        requests = model.message_requests
    assert requests and all(r.headers.get("x-glass-analyzer") == "1" for r in requests)

    # The model saw each new piece of the conversation exactly once: no resent history.
    assert [c for r in requests for c in markers(r)] == rels[:3]
    lines = [canonical(line) for r in requests for line in content_lines(r)]
    for expected in map(canonical, EXPECTED_LINES):
        assert lines.count(expected) == 1, (expected, lines)
    assert lines == [canonical(line) for line in EXPECTED_LINES]  # nothing else, in order

    memories = read_store(capture_dir / "memories.jsonl")
    assert len(memories) == 3
    for memory in memories:
        assert memory["session_id"] == SESSION
        assert memory["project"] == PROJECT
        assert memory["sources"], memory
        for source in memory["sources"]:
            assert source in rels[:3] and (capture_dir / source).is_file(), source
        assert memory["text"].split()[1] in memory["sources"]
    report = status(config)
    assert (report["processed"], report["pending"], report["failed"], report["quarantined"]) == (
        4,
        0,
        0,
        0,
    ), report


def proxy_lines(proxy: CapturingProxy, port: int) -> list[str]:
    """The proxy's log lines about requests to, and connections with, 127.0.0.1:<port>."""
    return [line for line in proxy.output().splitlines() if f"127.0.0.1:{port}" in line]


def test_the_analyzer_never_talks_through_the_proxy(
    start_proxy, standin: StandIn, capture_dir: Path, tmp_path: Path
) -> None:
    """With HTTPS_PROXY/HTTP_PROXY/ALL_PROXY pointing at the capturing proxy, and the proxy
    capturing requests to 127.0.0.1 as well, a default client's request to the extraction
    stand-in goes through the proxy (the control), the analyzer's own calls do not."""
    with StandIn(MemoryModel()) as model:
        proxy = start_proxy(
            capture_dir=capture_dir,
            extra_args=["--set", "capture_providers=gateway 127.0.0.1 /v1/messages"],
        )
        assert "gateway 127.0.0.1" in proxy.output()
        assert "anthropic api.anthropic.com" in proxy.output()
        converse(proxy, standin)
        wait_for_captures(capture_dir, 4)

        env = clean_env()
        for name in (
            "HTTPS_PROXY",
            "HTTP_PROXY",
            "ALL_PROXY",
            "https_proxy",
            "http_proxy",
            "all_proxy",
        ):
            env[name] = proxy.url
        assert not {k for k in env if k.lower() == "no_proxy"}

        # The control: the SDK with its defaults, in that environment, is proxied and captured.
        control = subprocess.run(
            [
                sys.executable,
                "-c",
                "import anthropic, sys\n"
                f"client = anthropic.Anthropic(api_key={API_KEY!r}, base_url={model.url!r}, max_retries=0)\n"
                f"client.messages.create(model={MODEL!r}, max_tokens=16,"
                " messages=[{'role': 'user', 'content': 'control request'}])\n",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert control.returncode == 0, control.stderr
        files = wait_for_captures(capture_dir, 5)
        control_files = [p for p in files if f"127.0.0.1:{model.port}" in load_capture(p)["url"]]
        assert len(control_files) == 1, [load_capture(p)["url"] for p in files]
        assert proxy.wait_for_output(f"POST http://127.0.0.1:{model.port}/v1/messages")
        control_lines = proxy_lines(proxy, model.port)
        assert len(model.message_requests) == 1

        config = write_config(tmp_path, base_url=model.url, captures=capture_dir, batch_size=10)
        done = analyze(config, "--once", env=env)
        assert done.returncode == 0, done.stderr
        calls = [r for r in model.message_requests if r.headers.get("x-glass-analyzer") == "1"]
        assert calls, "the analyzer should have asked the extraction model"
        time.sleep(1.0)  # time for the proxy to log anything that did pass through it
        assert proxy_lines(proxy, model.port) == control_lines, proxy.output()
        assert capture_files(capture_dir) == files
        assert not any("Conversation excerpt" in p.read_text(encoding="utf-8") for p in files)
    assert len(read_store(capture_dir / "memories.jsonl")) == 3
