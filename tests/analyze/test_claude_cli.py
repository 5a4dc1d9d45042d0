"""The `claude-cli` backend: the real Claude Code CLI against the local stand-in.

The CLI runs offline with `base_url` pointing at `tests.standin.StandIn`, a
temporary HOME and an API key, so no login is needed. The stand-in answers the
CLI's main request with text holding the JSON memories (fenced, amid prose, as
a model would) and any side request with a short text. Every run sets
`CLAUDE_CODE_MAX_RETRIES=0` so the CLI's own backoff does not slow the tests,
and the backend's waits go to a recording `sleep`.

Without the CLI these tests skip, except in CI (`CI=true`), where they fail:
`make claude-cli` installs it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from analyze.backends.base import (
    INSTRUCTIONS,
    RECORD_MEMORIES_TOOL,
    BackendError,
    Candidate,
    KnownMemory,
)
from analyze.backends.claude_cli import (
    ClaudeCliBackend,
    build_prompt,
    child_env,
    find_json_object,
    parse_result,
    result_error,
)
from glass.contract import ANALYZER_HEADER
from glass.tokens import Tokens
from tests.proxy import require_claude
from tests.standin import Recorded, Reply, Scripted, StandIn

MODEL = "claude-haiku-5-5"
DIGEST = "USER: the dev server must listen on port 8042\nASSISTANT: Changed it to 8042."
KNOWN = [
    KnownMemory(
        id="mem_0007", text="The user writes commit messages in English.", kind="preference"
    )
]
MEMORIES = {
    "memories": [
        {"text": "The dev server listens on port 8042.", "kind": "fact"},
        {"text": "", "kind": "fact"},
    ]
}
EXPECTED = [Candidate(text="The dev server listens on port 8042.", kind="fact")]
USAGE = {
    "input_tokens": 900,
    "cache_creation_input_tokens": 300,
    "cache_read_input_tokens": 50,
    "output_tokens": 40,
}
PROXY_NAMES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy")


def model_answer() -> Reply:
    text = f"Here are the memories:\n```json\n{json.dumps(MEMORIES, indent=2)}\n```\nDone."
    return Reply.text(text, usage=USAGE)


def is_main(request: Recorded) -> bool:
    """The extraction request itself (not a side call of the CLI)."""
    return "Conversation excerpt:" in json.dumps(request.body)


class CliResponder:
    """Main requests get `script` in order; side requests a short text."""

    def __init__(self, *replies: Reply) -> None:
        self.script = Scripted(list(replies) or [model_answer()])

    def __call__(self, request: Recorded) -> Reply:
        if not is_main(request):
            return Reply.text('{"title": "Stand-in"}')
        return self.script(request)


def dead_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return sock.getsockname()[1]


# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def claude() -> str:
    return require_claude()


@pytest.fixture
def api() -> Iterator[StandIn]:
    with StandIn(CliResponder()) as standin:
        yield standin


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A clean offline environment, with every proxy variable pointing at a dead port."""
    home = tmp_path / "home"
    home.mkdir()
    dead = f"http://127.0.0.1:{dead_port()}"
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "ANTHROPIC_API_KEY": "sk-ant-test",
        "ANTHROPIC_CUSTOM_HEADERS": "x-team: glass",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_MAX_RETRIES": "0",
        **{name: dead for name in PROXY_NAMES},
    }


@pytest.fixture
def waits() -> list[float]:
    return []


def make_backend(
    claude: str, api: StandIn, env: dict[str, str], waits: list[float], **overrides: Any
) -> ClaudeCliBackend:
    options: dict[str, Any] = {
        "model": MODEL,
        "claude_bin": claude,
        "base_url": api.url,
        "timeout_s": 30.0,
        "max_retries": 3,
        "env": env,
        "sleep": waits.append,
    }
    options.update(overrides)
    return ClaudeCliBackend(**options)


def user_text(request: Recorded) -> str:
    """The text of the request's user turns."""
    texts = []
    for message in request.body.get("messages", []):
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        texts += [b.get("text", "") for b in blocks if message.get("role") == "user"]
    return "\n".join(texts)


def main_requests(api: StandIn) -> list[Recorded]:
    return [r for r in api.message_requests if is_main(r)]


# -- the real CLI --------------------------------------------------------------------------


def test_cli_extracts_memories_through_the_stand_in(claude, api, env, waits):
    backend = make_backend(claude, api, env, waits)

    result = backend.extract(digest=DIGEST, known=KNOWN)

    assert result.memories == EXPECTED
    assert result.usage == Tokens.from_usage(USAGE)
    assert result.model == MODEL
    assert result.attempts == 1
    assert result.cost_usd is not None and result.cost_usd >= 0
    (request,) = main_requests(api)
    assert request.body["model"] == MODEL
    assert request.headers[ANALYZER_HEADER] == "1"
    assert request.headers["x-team"] == "glass"  # an existing custom header is kept
    assert not request.body.get("tools")  # tools disabled
    assert build_prompt(DIGEST, KNOWN) in user_text(request)  # the whole prompt, verbatim
    assert waits == []


def test_control_the_cli_would_use_the_dead_proxy(claude, api, env):
    """Without the backend's clean-up the same proxy variables break the call."""
    backend = make_backend(claude, api, env, [])
    poisoned = {**child_env(env, base_url=api.url), **{k: env[k] for k in PROXY_NAMES}}

    done = subprocess.run(
        backend.argv(),
        input="Say hi",
        env=poisoned,
        cwd=env["HOME"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    result = parse_result(done.stdout)
    assert result is not None and result["is_error"], done.stdout + done.stderr
    assert len(api.requests) == 0


def test_overload_is_retried_until_it_works(claude, api, env, waits):
    api.responder = CliResponder(Reply.overloaded(), Reply.overloaded(), model_answer())
    backend = make_backend(claude, api, env, waits)

    result = backend.extract(digest=DIGEST, known=KNOWN)

    assert result.memories == EXPECTED
    assert result.attempts == 3
    assert len(main_requests(api)) == 3
    assert len(waits) == 2


def test_bad_request_is_not_retried(claude, api, env, waits):
    api.responder = CliResponder(
        Reply.error(400, "invalid_request_error", "max_tokens: bogus value")
    )
    backend = make_backend(claude, api, env, waits)

    with pytest.raises(BackendError) as caught:
        backend.extract(digest=DIGEST, known=KNOWN)

    error = caught.value
    assert (error.status, error.retryable, error.too_large) == (400, False, False)
    assert "max_tokens: bogus value" in error.message
    assert len(main_requests(api)) == 1
    assert waits == []


def test_prompt_too_long_is_too_large(claude, api, env, waits):
    api.responder = CliResponder(Reply.prompt_too_long())
    backend = make_backend(claude, api, env, waits)

    with pytest.raises(BackendError) as caught:
        backend.extract(digest=DIGEST, known=KNOWN)

    assert caught.value.too_large and not caught.value.retryable
    assert len(main_requests(api)) == 1


def test_retries_exhausted_raise_the_clis_message(claude, api, env, waits):
    api.responder = CliResponder(Reply.api_error(message="Internal server error"))
    backend = make_backend(claude, api, env, waits, max_retries=1)

    with pytest.raises(BackendError) as caught:
        backend.extract(digest=DIGEST, known=KNOWN)

    error = caught.value
    assert error.retryable and error.status == 500
    assert "500" in error.message and "Internal server error" in error.message
    assert len(main_requests(api)) == 2
    assert len(waits) == 1


def test_hanging_cli_is_killed_and_retried(claude, api, env, waits):
    api.responder = CliResponder(Reply.hang(20), model_answer())
    backend = make_backend(claude, api, env, waits, timeout_s=3.0)

    started = time.monotonic()
    result = backend.extract(digest=DIGEST, known=KNOWN)

    assert result.memories == EXPECTED
    assert result.attempts == 2
    assert time.monotonic() - started < 10
    assert len(waits) == 1


# -- without the CLI ------------------------------------------------------------------------


def test_missing_binary_is_a_plain_error(tmp_path):
    backend = ClaudeCliBackend(
        model=MODEL,
        claude_bin=str(tmp_path / "no-claude"),
        timeout_s=5,
        max_retries=3,
        env={"PATH": ""},
        sleep=lambda s: None,
    )

    with pytest.raises(BackendError) as caught:
        backend.extract(digest=DIGEST, known=[])

    assert "no-claude" in caught.value.message and not caught.value.retryable


def test_child_env_drops_proxies_and_adds_the_header():
    base = {
        "PATH": "/bin",
        "Https_Proxy": "http://p:1",
        "HTTP_PROXY": "http://p:1",
        "all_proxy": "x",
        "NO_PROXY": "localhost",
        "ANTHROPIC_CUSTOM_HEADERS": "x-a: 1\n",
    }

    env = child_env(base, base_url="http://127.0.0.1:9")

    assert not {k for k in env if k.lower().endswith("_proxy") and k.lower() != "no_proxy"}
    assert env["ANTHROPIC_CUSTOM_HEADERS"] == "x-a: 1\nx-glass-analyzer: 1"
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:9"
    assert env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
    assert env["CLAUDE_CODE_MAX_RETRIES"] == "2"
    assert base["Https_Proxy"] == "http://p:1"  # the caller's mapping is untouched


def test_child_env_keeps_an_existing_analyzer_header_and_base_url():
    env = child_env(
        {
            "ANTHROPIC_CUSTOM_HEADERS": "X-Glass-Analyzer: 1",
            "ANTHROPIC_BASE_URL": "http://a",
            "CLAUDE_CODE_MAX_RETRIES": "5",
        },
        base_url=None,
    )

    assert env["ANTHROPIC_CUSTOM_HEADERS"] == "X-Glass-Analyzer: 1"
    assert env["ANTHROPIC_BASE_URL"] == "http://a"
    assert env["CLAUDE_CODE_MAX_RETRIES"] == "5"


@pytest.mark.parametrize(
    "text",
    [
        '{"memories": []}',
        '```json\n{"memories": []}\n```',
        'Sure! Here it is:\n```\n{"memories": []}\n```\nAnything else?',
        'The answer is {"memories": []} as requested.',
        '{"note": "x"} and then {"memories": []}',
    ],
)
def test_find_json_object_tolerates_fences_and_prose(text):
    assert find_json_object(text) == {"memories": []}


def test_find_json_object_without_json():
    assert find_json_object("Nothing durable here {oops") is None


def test_build_prompt_has_instructions_rule_schema_and_message():
    prompt = build_prompt(DIGEST, KNOWN)

    assert prompt.startswith(INSTRUCTIONS)
    assert 'Answer with only a JSON object {"memories": [...]}' in prompt
    assert json.dumps(RECORD_MEMORIES_TOOL["input_schema"], separators=(",", ":")) in prompt
    assert prompt.endswith(DIGEST) and "[mem_0007]" in prompt


# The `result` texts and `api_error_status` values below are what Claude Code 2.1.197
# printed for the stand-in's error replies.
@pytest.mark.parametrize(
    "status, text, retryable, too_large",
    [
        (
            529,
            "API Error: 529 Overloaded. This is a server-side issue, usually temporary",
            True,
            False,
        ),
        (429, "API Error: Request rejected (429) · Rate limited", True, False),
        (500, "API Error: 500 Internal server error.", True, False),
        (None, "API Error: Unable to connect to API (ECONNRESET)", True, False),
        (None, "Request timed out", True, False),
        (400, "Prompt is too long · the request is ~210000 tokens (limit 200000)", False, True),
        (413, "Request too large (max 32MB). Try with a smaller file.", False, True),
        (401, "Invalid API key · Fix external API key", False, False),
        (None, "Not logged in · Please run /login", False, False),
    ],
)
def test_result_errors_are_classified(status, text, retryable, too_large):
    result = {"type": "result", "is_error": True, "api_error_status": status, "result": text}

    error = result_error(result, returncode=1, usage=Tokens())

    assert (error.retryable, error.too_large, error.status) == (retryable, too_large, status)
    assert text in error.message
