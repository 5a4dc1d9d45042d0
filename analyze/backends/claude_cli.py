"""The `claude-cli` backend: memories through `claude -p`, for Claude Pro/Max logins.

One extraction runs the Claude Code CLI once, non-interactively, in an empty
temporary folder:

    claude -p --model <model> --output-format json --tools "" --max-turns 1
           --no-session-persistence --strict-mcp-config        (prompt on stdin)

The prompt is the shared instructions, a rule to answer with only a JSON
object matching the `record_memories` schema, and the shared user message.
The CLI prints one JSON result (`result`, `is_error`, `api_error_status`,
`usage`, `total_cost_usd`); the memories are the JSON object inside `result`,
fenced or wrapped in prose or not.

The child's environment is the given one without any proxy variable (the
analyzer's call must not run through the capturing proxy), with
`x-glass-analyzer: 1` added to `ANTHROPIC_CUSTOM_HEADERS` and nonessential
traffic disabled. The CLI retries a failed request itself
(`CLAUDE_CODE_MAX_RETRIES`, 2 unless the environment says otherwise); on top of
that `with_retries` retries rate limits, overload, 5xx, timeouts and
connection failures `max_retries` times.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from analyze.backends.base import (
    INSTRUCTIONS,
    RECORD_MEMORIES_TOOL,
    BackendError,
    Extraction,
    KnownMemory,
    parse_memories,
    user_message,
    with_retries,
)
from glass.contract import ANALYZER_HEADER
from glass.tokens import Tokens

log = logging.getLogger("glass.analyze")

PROXY_VARIABLES = frozenset({"https_proxy", "http_proxy", "all_proxy"})
"""Compared in lower case: HTTPS_PROXY, https_proxy, Https_Proxy ... all go."""
CLI_MAX_RETRIES = "2"
"""The CLI's own retries per run, unless CLAUDE_CODE_MAX_RETRIES is set."""
ANSWER_RULE = (
    'Answer with only a JSON object {"memories": [...]} matching this JSON schema, no other text: '
)
RETRYABLE_WORDING = re.compile(
    r"rate.?limit|overloaded|timed? ?out|timeout|unable to connect|connection|ECONNRESET|"
    r"ECONNREFUSED|socket hang up|server.side issue|\b5\d\d\b|\b429\b|\b529\b",
    re.I,
)
TOO_LONG_WORDING = re.compile(r"prompt is too long|request too large|too large", re.I)
FENCE = re.compile(r"```(?:json)?\s*\n(.*?)```", re.S | re.I)


class ClaudeCliBackend:
    """Extracts memories by running `claude -p` once per digest."""

    name = "claude-cli"

    def __init__(
        self,
        *,
        model: str,
        claude_bin: str,
        base_url: str | None = None,
        timeout_s: float,
        max_retries: int,
        env: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.model = model
        self.claude_bin = claude_bin
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self._env = env
        self._sleep = sleep

    def extract(self, *, digest: str, known: Sequence[KnownMemory]) -> Extraction:
        """Ask the model for the memories in `digest`; raises BackendError."""
        prompt = build_prompt(digest, known)
        attempts = 0

        def attempt() -> Extraction:
            nonlocal attempts
            attempts += 1
            return self._run(prompt)

        extraction = with_retries(
            attempt, retries=self.max_retries, sleep=self._sleep, on_retry=self._log_retry
        )
        return dataclasses.replace(extraction, attempts=attempts)

    def argv(self) -> list[str]:
        """The command line of one run (the prompt goes to stdin)."""
        return [
            self.claude_bin,
            "-p",
            "--model",
            self.model,
            "--output-format",
            "json",
            "--tools",
            "",
            "--max-turns",
            "1",
            "--no-session-persistence",
            "--strict-mcp-config",
        ]

    # -- one run -----------------------------------------------------------------

    def _run(self, prompt: str) -> Extraction:
        env = child_env(os.environ if self._env is None else self._env, base_url=self.base_url)
        with tempfile.TemporaryDirectory(prefix="glass-claude-") as cwd:
            stdout, stderr, returncode = self._spawn(prompt, env=env, cwd=cwd)
        result = parse_result(stdout)
        if result is None:
            raise _failure(f"claude -p exited with {returncode}: {_tail(stderr or stdout)}")
        usage = Tokens.from_usage(result.get("usage"))
        if result.get("is_error") or returncode != 0:
            raise result_error(result, returncode=returncode, usage=usage)
        return Extraction(
            memories=self._memories(result, usage),
            usage=usage,
            model=self._model_of(result),
            cost_usd=_number(result.get("total_cost_usd")),
        )

    def _spawn(self, prompt: str, *, env: dict[str, str], cwd: str) -> tuple[str, str, int]:
        try:
            proc = subprocess.Popen(
                self.argv(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=cwd,
                env=env,
                encoding="utf-8",
                errors="replace",
                start_new_session=True,
            )
        except OSError as e:
            raise BackendError(message=f"cannot run {self.claude_bin}: {e}") from e
        try:
            stdout, stderr = proc.communicate(prompt, timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            _kill(proc)
            proc.communicate()
            raise BackendError(
                message=f"claude -p timed out after {self.timeout_s:g}s", retryable=True
            ) from None
        return stdout, stderr, proc.returncode

    def _memories(self, result: dict[str, Any], usage: Tokens) -> list[Any]:
        text = result.get("result")
        data = find_json_object(text) if isinstance(text, str) else None
        if data is None:
            raise BackendError(
                message=f"the answer holds no JSON object: {str(text)[:200]!r}", usage=usage
            )
        try:
            return parse_memories(data)
        except BackendError as e:
            raise dataclasses.replace(e, usage=usage) from None

    def _model_of(self, result: dict[str, Any]) -> str:
        models = result.get("modelUsage")
        if isinstance(models, dict) and len(models) == 1:
            return str(next(iter(models)))
        return self.model

    def _log_retry(self, error: BackendError, wait: float) -> None:
        status = f"HTTP {error.status}, " if error.status else ""
        log.warning("claude-cli: %s%s; retrying in %.1fs", status, error.message, wait)


# -- pure helpers ------------------------------------------------------------------


def build_prompt(digest: str, known: Sequence[KnownMemory]) -> str:
    """Instructions, the JSON-only rule with the schema, then the user message."""
    schema = json.dumps(RECORD_MEMORIES_TOOL["input_schema"], separators=(",", ":"))
    return f"{INSTRUCTIONS}\n\n{ANSWER_RULE}{schema}\n\n{user_message(digest, known)}"


def child_env(base: Mapping[str, str], *, base_url: str | None) -> dict[str, str]:
    """`base` without proxy variables, plus what every analyzer run needs."""
    env = {k: v for k, v in base.items() if k.lower() not in PROXY_VARIABLES}
    env["ANTHROPIC_CUSTOM_HEADERS"] = _with_header(env.get("ANTHROPIC_CUSTOM_HEADERS", ""))
    env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] = "1"
    env.setdefault("CLAUDE_CODE_MAX_RETRIES", CLI_MAX_RETRIES)
    if base_url:
        env["ANTHROPIC_BASE_URL"] = base_url
    return env


def _with_header(existing: str) -> str:
    line = f"{ANALYZER_HEADER}: 1"
    names = {h.split(":", 1)[0].strip().lower() for h in existing.splitlines()}
    if ANALYZER_HEADER in names:
        return existing
    return f"{existing.rstrip()}\n{line}" if existing.strip() else line


def parse_result(stdout: str) -> dict[str, Any] | None:
    """The CLI's `--output-format json` result object, or None."""
    for line in reversed(stdout.strip().splitlines()):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("type") == "result":
            return data
    try:
        data = json.loads(stdout)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def find_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in `text`: inside a ``` fence, bare, or amid prose.

    An object with a "memories" key wins over other objects.
    """
    candidates = [m.group(1) for m in FENCE.finditer(text)] + [text]
    found: list[dict[str, Any]] = []
    for chunk in candidates:
        found.extend(_objects_in(chunk))
    return next((o for o in found if "memories" in o), found[0] if found else None)


def _objects_in(text: str) -> list[dict[str, Any]]:
    decoder = json.JSONDecoder()
    out = []
    index = text.find("{")
    while index != -1:
        try:
            obj, end = decoder.raw_decode(text, index)
        except ValueError:
            index = text.find("{", index + 1)
            continue
        if isinstance(obj, dict):
            out.append(obj)
        index = text.find("{", end)
    return out


def result_error(result: dict[str, Any], *, returncode: int, usage: Tokens) -> BackendError:
    """A failed run's result as a BackendError, classified for retries."""
    status = result.get("api_error_status")
    status = status if isinstance(status, int) else None
    detail = (
        result.get("result")
        or "; ".join(map(str, result.get("errors") or []))
        or result.get("subtype")
        or f"exit code {returncode}"
    )
    message = f"claude -p failed: {detail}"
    if status == 413 or TOO_LONG_WORDING.search(message):
        return BackendError(message=message, too_large=True, status=status, usage=usage)
    if status is not None:
        retryable = status >= 500 or status in (408, 429)
        return BackendError(message=message, retryable=retryable, status=status, usage=usage)
    return dataclasses.replace(_failure(message), usage=usage)


def _failure(message: str) -> BackendError:
    """An error without an HTTP status: retryable when the wording says so."""
    return BackendError(message=message, retryable=bool(RETRYABLE_WORDING.search(message)))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _tail(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text[-limit:] if text else "no output"


def _kill(proc: subprocess.Popen[str]) -> None:
    """Kill the CLI and anything it started (it runs in its own session)."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)
        else:  # pragma: no cover - Windows
            proc.kill()
    except ProcessLookupError:
        pass
