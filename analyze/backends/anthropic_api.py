"""The `anthropic` backend: memories through the Messages API and the anthropic SDK.

One extraction is one `messages.create` call that forces the `record_memories`
tool, with the static instructions as a cached system block. The SDK retries a
failed call itself (`sdk_max_retries`, 2 by default); on top of that
`with_retries` retries 429/529/5xx/timeouts/resets `max_retries` times with
capped exponential backoff that honours `retry-after`.

The HTTP client never reads proxy variables from the environment
(`trust_env=False`): the analyzer's own calls must not run through the
capturing proxy. Every request also carries `x-glass-analyzer: 1`, which the
proxy skips in case it is reached anyway (e.g. through `ANTHROPIC_BASE_URL`).
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import anthropic
import httpx2
from anthropic.types import ToolParam

from analyze.backends.base import (
    INSTRUCTIONS,
    RECORD_MEMORIES_TOOL,
    TOOL_NAME,
    BackendError,
    Extraction,
    KnownMemory,
    parse_memories,
    parse_retry_after,
    user_message,
    with_retries,
)
from glass.contract import ANALYZER_HEADER
from glass.tokens import Tokens

TOOL = ToolParam(
    name=RECORD_MEMORIES_TOOL["name"],
    description=RECORD_MEMORIES_TOOL["description"],
    input_schema=RECORD_MEMORIES_TOOL["input_schema"],
)
"""`RECORD_MEMORIES_TOOL` as the SDK's typed parameter."""

log = logging.getLogger("glass.analyze")

RETRYABLE_STATUSES = frozenset({408, 429})
"""Besides every 5xx (529 overloaded included): request timeout, rate limit."""
TOO_LONG = re.compile(r"too long|too large|exceeds? .{0,40}(maximum|context|size|limit)", re.I)
"""A 400 whose message says this is about the size of the prompt."""


class AnthropicBackend:
    """Extracts memories with one forced `record_memories` tool call per digest.

    `http_client` replaces the default `httpx2.Client(trust_env=False)` (tests
    pass their own, e.g. with a transport); a client passed in is not closed by
    `close()`. The default client ignores the proxy variables, so that it never
    goes through Glass's capture proxy; `proxy` names one explicitly and
    `ca_bundle` a CA file for TLS-inspecting networks. `sleep` waits between the backend's own retries, and
    `sdk_max_retries` is the SDK's retry count underneath them.
    """

    name = "anthropic"

    def __init__(
        self,
        *,
        model: str,
        api_key: str,
        base_url: str | None = None,
        max_output_tokens: int,
        timeout_s: float,
        max_retries: int,
        http_client: httpx2.Client | None = None,
        proxy: str | None = None,
        ca_bundle: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        sdk_max_retries: int = 2,
    ) -> None:
        self.model = model
        self.max_output_tokens = max_output_tokens
        self.max_retries = max_retries
        self._sleep = sleep
        self._owns_http = http_client is None
        self._http = http_client or httpx2.Client(
            trust_env=False,  # never HTTPS_PROXY: that may be Glass's own capture proxy
            proxy=proxy,  # an explicit proxy (analyze.proxy), e.g. a corporate one
            verify=ca_bundle or True,
            timeout=timeout_s,
        )
        self._client = anthropic.Anthropic(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout_s,
            max_retries=sdk_max_retries,
            default_headers={ANALYZER_HEADER: "1"},
            http_client=self._http,
        )

    def extract(self, *, digest: str, known: Sequence[KnownMemory]) -> Extraction:
        """Ask the model for the memories in `digest`; raises BackendError."""
        attempts = 0

        def attempt() -> Extraction:
            nonlocal attempts
            attempts += 1
            return self._call(digest=digest, known=known)

        extraction = with_retries(
            attempt, retries=self.max_retries, sleep=self._sleep, on_retry=self._log_retry
        )
        return dataclasses.replace(extraction, attempts=attempts)

    def close(self) -> None:
        """Close the HTTP client if this backend created it."""
        if self._owns_http:
            self._http.close()

    # -- one call ----------------------------------------------------------------

    def _call(self, *, digest: str, known: Sequence[KnownMemory]) -> Extraction:
        try:
            response = self._client.messages.create(
                model=self.model,
                max_tokens=self.max_output_tokens,
                system=[
                    {"type": "text", "text": INSTRUCTIONS, "cache_control": {"type": "ephemeral"}}
                ],
                tools=[TOOL],
                tool_choice={"type": "tool", "name": TOOL_NAME},
                messages=[{"role": "user", "content": user_message(digest, known)}],
            )
        except anthropic.APIStatusError as e:
            raise status_error(e) from e
        except anthropic.APITimeoutError as e:
            raise BackendError(message=f"request timed out: {e.message}", retryable=True) from e
        except anthropic.APIConnectionError as e:
            raise BackendError(message=f"connection failed: {_cause(e)}", retryable=True) from e
        except (
            anthropic.APIResponseValidationError,
            ValueError,
        ) as e:  # e.g. a body that is not JSON
            raise BackendError(
                message=f"the API answered something that is not a Message: {e}"
            ) from e
        return self._extraction(response)

    def _extraction(self, response: Any) -> Extraction:
        try:
            usage = usage_of(response.usage)
            blocks = list(response.content)
            block = next(
                (
                    b
                    for b in blocks
                    if getattr(b, "type", None) == "tool_use" and b.name == TOOL_NAME
                ),
                None,
            )
        except (AttributeError, TypeError) as e:
            # A 200 answer that is not a Message (an HTML page, bad JSON, `{}`).
            raise BackendError(
                message=f"the API answered something that is not a Message: {str(response)[:200]!r}"
            ) from e
        if block is None:
            raise BackendError(
                message=f"the answer has no {TOOL_NAME} tool call (stop_reason {response.stop_reason})",
                usage=usage,
            )
        try:
            memories = parse_memories(block.input)
        except BackendError as e:
            raise dataclasses.replace(e, usage=usage) from None
        return Extraction(memories=memories, usage=usage, model=response.model or self.model)

    def _log_retry(self, error: BackendError, wait: float) -> None:
        log.warning("anthropic: %s; retrying in %.1fs", error.message, wait)


def status_error(e: anthropic.APIStatusError) -> BackendError:
    """An HTTP error answer as a BackendError, classified for retries."""
    status = e.status_code
    message = f"HTTP {status}: {e.api_message or _body_text(e)}"
    if status == 413 or (status == 400 and TOO_LONG.search(message)):
        return BackendError(message=message, too_large=True, status=status)
    if status >= 500 or status in RETRYABLE_STATUSES:
        return BackendError(
            message=message,
            retryable=True,
            status=status,
            retry_after=parse_retry_after(e.response.headers.get("retry-after")),
        )
    return BackendError(message=message, status=status)


def usage_of(usage: Any) -> Tokens:
    """The SDK's Usage object as Tokens (its JSON form, the split of cache writes included)."""
    return Tokens.from_usage(usage.model_dump(mode="json") if usage is not None else None)


def _body_text(e: anthropic.APIStatusError) -> str:
    try:
        return e.response.text[:300] or e.message
    except httpx2.StreamError:  # a streamed or unread body
        return e.message


def _cause(e: BaseException) -> str:
    """The innermost error's text, e.g. "[Errno 104] Connection reset by peer"."""
    while e.__cause__ is not None:
        e = e.__cause__
    return str(e) or type(e).__name__
