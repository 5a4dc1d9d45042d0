"""The model backends that extract memories, and `make_backend` to pick one.

`make_backend(cfg.analyze)` returns the backend `analyze.backend` names, or
raises `SetupError` with a one-line message for the user when it cannot work
on this machine (no API key, no `claude` binary). The contract every backend
follows lives in `analyze.backends.base` and is re-exported here.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping

from analyze.backends.base import (
    INSTRUCTIONS,
    KINDS,
    RECORD_MEMORIES_TOOL,
    TOOL_NAME,
    Backend,
    BackendError,
    Candidate,
    Extraction,
    KnownMemory,
    parse_memories,
    parse_retry_after,
    user_message,
    with_retries,
)
from glass.config import AnalyzeConfig
from glass.contract import ANALYZER_HEADER

__all__ = [
    "ANALYZER_HEADER",
    "INSTRUCTIONS",
    "KINDS",
    "RECORD_MEMORIES_TOOL",
    "TOOL_NAME",
    "Backend",
    "BackendError",
    "Candidate",
    "Extraction",
    "KnownMemory",
    "SetupError",
    "make_backend",
    "parse_memories",
    "parse_retry_after",
    "user_message",
    "with_retries",
]

NO_API_KEY = (
    "ANTHROPIC_API_KEY is not set: export it, or set analyze.backend: claude-cli "
    "in config.yaml to use your Claude Code login"
)


class SetupError(Exception):
    """A backend that cannot run here; the message is one line for the user."""


def make_backend(cfg: AnalyzeConfig, *, env: Mapping[str, str] | None = None) -> Backend:
    """The backend `cfg.backend` names, set up from `cfg` and `env` (default: os.environ)."""
    environ = os.environ if env is None else env
    if cfg.backend == "anthropic":
        return _anthropic(cfg, environ)
    if cfg.backend == "claude-cli":
        return _claude_cli(cfg, environ, env)
    raise SetupError(f"unknown analyze.backend {cfg.backend!r}: use anthropic or claude-cli")


def _anthropic(cfg: AnalyzeConfig, environ: Mapping[str, str]) -> Backend:
    api_key = environ.get("ANTHROPIC_API_KEY", "").strip()
    if not api_key:
        raise SetupError(NO_API_KEY)
    from analyze.backends.anthropic_api import AnthropicBackend

    return AnthropicBackend(
        model=cfg.model,
        api_key=api_key,
        base_url=cfg.base_url or environ.get("ANTHROPIC_BASE_URL") or None,
        max_output_tokens=cfg.max_output_tokens,
        timeout_s=cfg.timeout_s,
        max_retries=cfg.max_retries,
        proxy=cfg.proxy,
        ca_bundle=environ.get("SSL_CERT_FILE") or None,
    )


def _claude_cli(
    cfg: AnalyzeConfig, environ: Mapping[str, str], env: Mapping[str, str] | None
) -> Backend:
    claude = shutil.which(cfg.claude_bin, path=environ.get("PATH"))
    if claude is None:
        raise SetupError(
            f"analyze.claude_bin: {cfg.claude_bin!r} not found: install Claude Code "
            "(npm install -g @anthropic-ai/claude-code, then `claude` to log in) "
            "or set analyze.claude_bin in config.yaml to its path"
        )
    from analyze.backends.claude_cli import ClaudeCliBackend

    return ClaudeCliBackend(
        model=cfg.model,
        claude_bin=claude,
        base_url=cfg.base_url,
        timeout_s=cfg.timeout_s,
        max_retries=cfg.max_retries,
        env=env,
    )
