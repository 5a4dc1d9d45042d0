"""The contract between the pipeline and the model that extracts memories.

A backend takes a *digest* (the new part of one conversation, as compact
text, see `analyze.digest`) and the memories already known for it, and
returns candidate memories plus the tokens it spent. Two backends implement
it: `anthropic_api` (the Messages API through the anthropic SDK) and
`claude_cli` (`claude -p`, for Claude Pro/Max logins).

Both ask for the same thing, written once here: the `record_memories` tool
schema, the static instructions, and the layout of the user message.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from glass.contract import MEMORY_KINDS
from glass.tokens import ZERO, Tokens

KINDS = MEMORY_KINDS
TOOL_NAME = "record_memories"

RECORD_MEMORIES_TOOL: dict[str, Any] = {
    "name": TOOL_NAME,
    "description": "Record the durable memories found in the conversation excerpt.",
    "input_schema": {
        "type": "object",
        "properties": {
            "memories": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "text": {"type": "string", "description": "One self-contained sentence."},
                        "kind": {"type": "string", "enum": list(KINDS)},
                        "supersedes": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "Ids of known memories this one replaces.",
                        },
                    },
                    "required": ["text", "kind"],
                },
            }
        },
        "required": ["memories"],
    },
}

INSTRUCTIONS = """\
You keep the long-term memory of a developer who works with Claude Code, an \
AI coding agent. You read what is new in one of their conversations and \
record only what will still matter in future sessions on the same project, \
each memory one short sentence that stands on its own:
- preference: how the user wants things done ("The user wants commit \
messages in the imperative mood.")
- decision: a choice made, and why ("The weather app uses Open-Meteo because \
it needs no API key.")
- convention: a rule of the codebase ("Tests live next to each module as \
test_<module>.py.")
- error_fix: an error and its fix ("`npm test` failing with ERR_REQUIRE_ESM \
was fixed by adding \"type\": \"module\" to package.json.")
- fact: a stable fact about the project ("The API server listens on port 8042.")

Skip small talk, progress reports, anything true only for the moment, and \
anything a known memory already says. When a new memory replaces or corrects \
a known one, put the old id in `supersedes`. Never copy secrets (keys, \
tokens, passwords). Most excerpts hold nothing durable: then record an empty \
list.

Excerpt lines start with USER, ASSISTANT, TOOL_USE or TOOL_RESULT; `###` \
lines name the capture they come from; long tool output is cut, which is \
marked.\
"""


@dataclass(frozen=True, kw_only=True)
class KnownMemory:
    id: str
    text: str
    kind: str


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """A memory as the model proposed it, before scrubbing and deduplication."""

    text: str
    kind: str
    supersedes: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Extraction:
    memories: list[Candidate]
    usage: Tokens
    model: str
    cost_usd: float | None = None
    """Set when the backend reports a cost itself (the CLI does)."""
    attempts: int = 1


@dataclass(kw_only=True)
class BackendError(Exception):
    """An extraction call that did not produce memories."""

    message: str
    retryable: bool = False
    too_large: bool = False
    status: int | None = None
    retry_after: float | None = None
    usage: Tokens = ZERO

    def __str__(self) -> str:
        return self.message


class Backend(Protocol):
    name: str
    model: str

    def extract(self, *, digest: str, known: Sequence[KnownMemory]) -> Extraction: ...


def user_message(digest: str, known: Sequence[KnownMemory]) -> str:
    """The user turn both backends send: known memories, then the excerpt."""
    if known:
        lines = "\n".join(f"- [{m.id}] ({m.kind}) {m.text}" for m in known)
        head = f"Known memories for this project (most recent first):\n{lines}\n\n"
    else:
        head = "Known memories for this project: none yet.\n\n"
    return f"{head}Conversation excerpt:\n{digest}"


def parse_memories(data: Any) -> list[Candidate]:
    """Validate the model's `{"memories": [...]}`; malformed entries are dropped."""
    if not isinstance(data, dict) or not isinstance(data.get("memories"), list):
        raise BackendError(message=f"answer has no 'memories' list: {str(data)[:200]}")
    out = []
    for item in data["memories"]:
        if not isinstance(item, dict):
            continue
        text, kind = item.get("text"), item.get("kind")
        if not isinstance(text, str) or not text.strip() or kind not in KINDS:
            continue
        supersedes = item.get("supersedes") or []
        if not isinstance(supersedes, list):
            supersedes = []
        out.append(
            Candidate(
                text=text.strip(),
                kind=kind,
                supersedes=tuple(s for s in supersedes if isinstance(s, str)),
            )
        )
    return out


def parse_retry_after(value: str | None) -> float | None:
    """`retry-after` as seconds: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def with_retries[T](
    call: Callable[[], T],
    *,
    retries: int,
    base_s: float = 1.0,
    cap_s: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[BackendError, float], None] | None = None,
) -> T:
    """Run `call`, retrying retryable BackendErrors with capped exponential backoff.

    The wait before retry n is half of min(cap, base * 2**n) plus a random
    part of the other half, or the server's `retry-after` when it gave one
    (also capped). The last error is
    raised once `retries` retries are used up.
    """
    attempt = 0
    while True:
        try:
            return call()
        except BackendError as e:
            if not e.retryable or attempt >= retries:
                raise
            if e.retry_after is not None:
                wait = min(cap_s, e.retry_after)
            else:
                ceiling = min(cap_s, base_s * 2**attempt)
                wait = ceiling / 2 + random.uniform(0, ceiling / 2)
            if on_retry:
                on_retry(e, wait)
            sleep(wait)
            attempt += 1
