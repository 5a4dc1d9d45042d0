"""Reduce a capture to what its conversation has not said before.

Claude Code resends the whole conversation on every turn. `reduce()` walks
the message blocks of a request and of its response, hashes each one, and
keeps only blocks whose hash the session has not seen, rendered as compact
text lines (`USER: …`, `TOOL_USE Read {…}`, …) for the model. What is left
out on purpose:

- side calls (see `analyze.conversation.scope`) and `/compact` requests,
  whose summary restates what was already sent: nothing is sent;
- the system prompt, tool definitions and `role: "system"` messages;
- `<system-reminder>` blocks and spans, and thinking blocks;
- Glass's own recall (the `<glass-memories>` block its hooks inject, see
  analyze/recall/block.py), wherever it appears: dropped with the reminders
  in `conversation.strip_reminders`, so a memory is never learnt back from it;
- text Claude Code derives itself (the /compact summary resent as the first
  message of the continued conversation, local-command caveats);
- the part of a long tool result or file content beyond `max_chars` (all
  long strings of one tool call share that budget), and of prose beyond
  twice that (the cut is marked).

A block's hash ignores `cache_control`, which Claude Code moves from turn to
turn; a tool call is identified by its id, a tool result by its call id and
content. A history rewritten by `/compact` simply has new blocks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from analyze import conversation
from analyze.captures import CaptureRef, response_message
from analyze.conversation import strip_reminders
from glass.contract import without_cache_control

HASH_BYTES = 16
TEXT_LIMIT_FACTOR = 2
"""User and assistant prose may run this many times `max_tool_result_chars`."""


@dataclass(frozen=True, slots=True)
class Item:
    hash: bytes
    text: str
    """The rendered line(s); empty for a block that is seen but never sent."""


@dataclass(kw_only=True)
class Reduced:
    """One capture, reduced to its new blocks."""

    ref: CaptureRef
    session_id: str
    project: str | None
    scope: str
    items: list[Item] = field(default_factory=list)
    blocks_total: int = 0
    unended_mtime: float | None = None
    """Set when analysed without its response (its file's mtime then)."""

    sendable: list[Item] = field(default_factory=list)
    """The items with something to send (set by `reduce`)."""


class SeenSet(Protocol):
    """The block hashes a session has seen, and how far its history is known.

    `prefix` is (n, key): the first n messages of the last request were all
    seen, and `key` identifies the first and the n-th message. A request
    with the same first and n-th message continues the same history, so its
    first n messages are skipped without hashing: Claude Code only appends
    between turns, `/compact` and `/clear` replace the first message, and a
    rewind cuts or replaces the end.
    """

    prefix: tuple[int, bytes] | None

    def __contains__(self, h: object) -> bool: ...
    def add(self, h: bytes) -> None: ...


def reduce(
    ref: CaptureRef, doc: dict[str, Any], *, seen_for: Callable[[str], SeenSet], max_chars: int
) -> Reduced:
    """The blocks of one capture its session has not seen; they are added to its SeenSet."""
    scope = conversation.scope(doc, ref.endpoint)
    if scope == "main" and conversation.is_compaction(doc["request"]):
        scope = "compact"
    if scope != "main":
        return Reduced(ref=ref, session_id="", project=None, scope=scope)
    out = Reduced(ref=ref, session_id=conversation.session_id(doc), project=None, scope=scope)
    seen = seen_for(out.session_id)
    messages = [m for m in doc["request"].get("messages") or [] if isinstance(m, dict)]
    new: set[bytes] = set()
    first = _message_key(messages[0]) if messages else b""
    for role, block in _new_blocks(messages, response_message(doc), seen, first):
        out.blocks_total += 1
        h = block_hash(role, block)
        if h in seen or h in new:
            continue
        new.add(h)
        out.items.append(Item(hash=h, text=render(role, block, max_chars=max_chars)))
    out.sendable = [i for i in out.items if i.text]
    if out.sendable:
        out.project = conversation.project(doc)  # only needed for what goes to the model
    # Only a capture read to the end changes what its session has seen.
    for h in new:
        seen.add(h)
    if messages:
        seen.prefix = (len(messages), first + _message_key(messages[-1]))
    return out


def _new_blocks(
    messages: list[dict[str, Any]], answer: dict[str, Any] | None, seen: SeenSet, first: bytes
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(role, block) of the conversation past the known prefix, then of the answer.

    `first` is the key of the first message; the prefix is known when the
    first and the n-th message are those the session saw last time.
    """
    start = 0
    if seen.prefix is not None:
        n, key = seen.prefix
        if 0 < n <= len(messages) and first + _message_key(messages[n - 1]) == key:
            start = n
    for message in messages[start:]:
        role = message.get("role")
        if role in ("user", "assistant"):  # role "system" turns are Claude Code's own reminders
            yield from _content_blocks(role, message.get("content"))
    if answer is not None:
        yield from _content_blocks("assistant", answer.get("content"))


def _message_key(message: dict[str, Any]) -> bytes:
    """Identifies one message by the hashes of its blocks."""
    h = hashlib.blake2b(digest_size=HASH_BYTES)
    role = str(message.get("role"))
    h.update(role.encode())
    for _, block in _content_blocks(role, message.get("content")):
        h.update(block_hash(role, block))
    return h.digest()


def _content_blocks(role: str, content: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(content, str):
        yield role, {"type": "text", "text": content}
    elif isinstance(content, list):
        for block in content:
            if isinstance(block, dict):
                yield role, block
            elif isinstance(block, str):
                yield role, {"type": "text", "text": block}


def block_hash(role: str, block: dict[str, Any]) -> bytes:
    kind = block.get("type")
    if kind == "text":
        key = block.get("text", "")
    elif kind in ("tool_use", "server_tool_use"):
        key = block.get("id") or _canonical(block)
    elif kind == "tool_result":
        content = block.get("content")
        body = content if isinstance(content, str) else _canonical(content)
        key = f"{block.get('tool_use_id')}\x00{body}"
    elif kind == "thinking":
        key = block.get("signature") or block.get("thinking", "")
    else:
        key = _canonical(block)
    return hashlib.blake2b(
        f"{role}\x00{kind}\x00{key}".encode("utf-8", "surrogatepass"), digest_size=HASH_BYTES
    ).digest()


def _canonical(value: Any) -> str:
    return json.dumps(without_cache_control(value), sort_keys=True, ensure_ascii=False)


# -- rendering ----------------------------------------------------------------------


def render(role: str, block: dict[str, Any], *, max_chars: int) -> str:
    """One block as compact text for the model; "" when nothing is worth sending."""
    kind = block.get("type")
    if kind == "text":
        text = strip_reminders(block.get("text", ""))
        if not text or text.startswith(conversation.DERIVED_TEXT):
            return ""
        limit = (
            max_chars
            if text.startswith(conversation.FILE_CONTENT_TEXT)
            else max_chars * TEXT_LIMIT_FACTOR
        )
        return f"{role.upper()}: {cut(text, limit)}"
    if kind in ("tool_use", "server_tool_use"):
        tool_input = block.get("input")
        per_string = max(200, max_chars // max(1, _long_strings(tool_input, 200)))
        args = json.dumps(
            _cut_strings(tool_input, per_string), ensure_ascii=False, separators=(",", ":")
        )
        return f"TOOL_USE {block.get('name', '?')} {args}"
    if kind == "tool_result":
        text = strip_reminders(_result_text(block.get("content")))
        label = "TOOL_RESULT (error)" if block.get("is_error") else "TOOL_RESULT"
        return f"{label}: {cut(text, max_chars)}" if text else f"{label}: (empty)"
    if kind in ("thinking", "redacted_thinking"):
        return ""
    if kind in ("image", "document"):
        title = block.get("title") or (block.get("source") or {}).get("media_type") or ""
        return f"{role.upper()}: [{kind} {title}]".rstrip()
    return f"{role.upper()}: [{kind}]"


def _result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for b in content:
            if isinstance(b, dict) and b.get("type") == "text":
                parts.append(b.get("text", ""))
            elif isinstance(b, dict):
                parts.append(f"[{b.get('type')}]")
        return "\n".join(parts)
    return "" if content is None else json.dumps(content, ensure_ascii=False)


def cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]} [… {len(text) - limit:,} more characters cut by Glass]"


def _long_strings(value: Any, length: int) -> int:
    """How many strings in `value` are longer than `length`."""
    if isinstance(value, str):
        return int(len(value) > length)
    if isinstance(value, dict):
        return sum(_long_strings(v, length) for v in value.values())
    if isinstance(value, list):
        return sum(_long_strings(v, length) for v in value)
    return 0


def _cut_strings(value: Any, limit: int) -> Any:
    """Tool input with long strings (file contents, patches) cut."""
    if isinstance(value, str):
        return cut(value, limit)
    if isinstance(value, dict):
        return {k: _cut_strings(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [_cut_strings(v, limit) for v in value]
    return value


def estimate_tokens(text: str) -> int:
    """A conservative token estimate (about 3.5 characters per token for prose and code)."""
    return len(text) * 2 // 7 + 1
