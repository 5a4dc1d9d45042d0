"""The backend contract (`analyze.backends.base`) and `make_backend`'s setup checks."""

from __future__ import annotations

import email.utils
import os
import stat
import time
from pathlib import Path

import pytest

from analyze.backends import SetupError, make_backend
from analyze.backends.anthropic_api import AnthropicBackend
from analyze.backends.base import (
    BackendError,
    Candidate,
    KnownMemory,
    parse_memories,
    parse_retry_after,
    user_message,
    with_retries,
)
from analyze.backends.claude_cli import ClaudeCliBackend
from glass.config import AnalyzeConfig

# -- user_message / parse_memories ---------------------------------------------------------


def test_user_message_lists_known_memories_then_the_excerpt():
    known = [
        KnownMemory(id="m1", text="Uses tabs.", kind="convention"),
        KnownMemory(id="m2", text="Port 8042.", kind="fact"),
    ]

    text = user_message("USER: hi", known)

    assert text == (
        "Known memories for this project (most recent first):\n"
        "- [m1] (convention) Uses tabs.\n- [m2] (fact) Port 8042.\n\n"
        "Conversation excerpt:\nUSER: hi"
    )


def test_user_message_without_known_memories():
    assert user_message("USER: hi", []) == (
        "Known memories for this project: none yet.\n\nConversation excerpt:\nUSER: hi"
    )


def test_parse_memories_keeps_valid_entries_only():
    data = {
        "memories": [
            {"text": "  Trimmed.  ", "kind": "fact", "supersedes": ["m1", 7, None]},
            {"text": "No kind."},
            {"text": 5, "kind": "fact"},
            ["not", "a", "dict"],
        ]
    }

    assert parse_memories(data) == [Candidate(text="Trimmed.", kind="fact", supersedes=("m1",))]


@pytest.mark.parametrize("data", [None, [], {"memories": "x"}, {"other": []}])
def test_parse_memories_rejects_an_answer_without_a_list(data):
    with pytest.raises(BackendError) as caught:
        parse_memories(data)
    assert not caught.value.retryable


# -- parse_retry_after -----------------------------------------------------------------------


def test_parse_retry_after_forms():
    soon = email.utils.formatdate(time.time() + 30, usegmt=True)

    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after("-3") == 0.0
    assert 25 <= parse_retry_after(soon) <= 31
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("soon") is None


# -- with_retries ---------------------------------------------------------------------------


def failing(*errors: BackendError, result: str = "ok"):
    """A call that raises `errors` in turn, then returns `result`; counts its calls."""
    calls = []

    def call() -> str:
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return result

    return call, calls


def test_with_retries_honours_and_caps_retry_after():
    waits: list[float] = []
    call, calls = failing(
        BackendError(message="429", retryable=True, retry_after=7),
        BackendError(message="429", retryable=True, retry_after=900),
    )

    assert with_retries(call, retries=5, cap_s=60, sleep=waits.append) == "ok"
    assert waits == [7, 60]
    assert len(calls) == 3


def test_with_retries_backs_off_exponentially_with_jitter():
    waits: list[float] = []
    retry = BackendError(message="529", retryable=True)
    call, _ = failing(retry, retry, retry, retry)

    with_retries(call, retries=4, base_s=1, cap_s=4, sleep=waits.append)

    for wait, ceiling in zip(waits, [1, 2, 4, 4], strict=True):
        assert ceiling / 2 <= wait <= ceiling


def test_with_retries_reports_each_retry():
    seen: list[tuple[str, float]] = []
    call, _ = failing(BackendError(message="reset", retryable=True, retry_after=2))

    with_retries(
        call, retries=1, sleep=lambda s: None, on_retry=lambda e, w: seen.append((e.message, w))
    )

    assert seen == [("reset", 2)]


def test_with_retries_raises_non_retryable_at_once():
    waits: list[float] = []
    call, calls = failing(BackendError(message="401", status=401))

    with pytest.raises(BackendError, match="401"):
        with_retries(call, retries=5, sleep=waits.append)
    assert (len(calls), waits) == (1, [])


def test_with_retries_raises_the_last_error_when_used_up():
    call, calls = failing(
        *[BackendError(message=f"529 #{i}", retryable=True, retry_after=0) for i in range(5)]
    )

    with pytest.raises(BackendError, match="529 #2"):
        with_retries(call, retries=2, sleep=lambda s: None)
    assert len(calls) == 3


# -- make_backend ---------------------------------------------------------------------------


def fake_executable(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_anthropic_without_api_key_is_a_one_line_setup_error():
    with pytest.raises(SetupError) as caught:
        make_backend(AnalyzeConfig(backend="anthropic"), env={"ANTHROPIC_API_KEY": "  "})

    message = str(caught.value)
    assert message == (
        "ANTHROPIC_API_KEY is not set: export it, or set analyze.backend: claude-cli "
        "in config.yaml to use your Claude Code login"
    )
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_claude_cli_without_binary_is_a_one_line_setup_error(tmp_path):
    cfg = AnalyzeConfig(backend="claude-cli", claude_bin="claude-not-here")

    with pytest.raises(SetupError) as caught:
        make_backend(cfg, env={"PATH": str(tmp_path)})

    message = str(caught.value)
    assert "\n" not in message
    assert "analyze.claude_bin" in message and "claude-not-here" in message
    assert "npm install -g @anthropic-ai/claude-code" in message
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_anthropic_backend_from_config():
    cfg = AnalyzeConfig(backend="anthropic", model="claude-haiku-5-5", max_retries=4, timeout_s=9)

    backend = make_backend(
        cfg, env={"ANTHROPIC_API_KEY": "sk-ant-x", "ANTHROPIC_BASE_URL": "http://127.0.0.1:1"}
    )

    assert isinstance(backend, AnthropicBackend)
    assert (backend.name, backend.model, backend.max_retries) == (
        "anthropic",
        "claude-haiku-5-5",
        4,
    )
    assert str(backend._client.base_url).startswith("http://127.0.0.1:1")
    backend.close()


def test_claude_cli_backend_found_on_the_given_path(tmp_path):
    claude = fake_executable(tmp_path, "claude")
    env = {"PATH": str(tmp_path)}

    backend = make_backend(AnalyzeConfig(backend="claude-cli", model="claude-haiku-5-5"), env=env)

    assert isinstance(backend, ClaudeCliBackend)
    assert backend.name == "claude-cli"
    assert backend.claude_bin == str(claude)
    assert backend.argv()[:4] == [str(claude), "-p", "--model", "claude-haiku-5-5"]


def test_claude_cli_backend_takes_an_absolute_claude_bin(tmp_path):
    claude = fake_executable(tmp_path, "my-claude")

    backend = make_backend(
        AnalyzeConfig(backend="claude-cli", claude_bin=str(claude)), env={"PATH": os.devnull}
    )

    assert backend.claude_bin == str(claude)
