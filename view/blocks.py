"""One Messages API content block as what a page shows of it.

Text of the user stays text (with Claude Code's `<system-reminder>` spans set
apart, collapsed); the assistant's text is Markdown (`view.markdown`, escaped);
thinking is collapsed; a tool call shows its input, and Edit, MultiEdit and
Write as a diff, TodoWrite as a checklist; a tool result longer than
`LONG_CHARS` is cut to a preview with the address that fetches the rest
(`fetch`, a JSON pointer into the capture), so a page never carries whole file
contents. Everything here is data for the templates, which escape it.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from markupsafe import Markup

from view import markdown

LONG_CHARS = 2_000
"""Longer tool results and file contents go to the browser as a preview of this size."""
DIFF_LINES = 400
"""At most this many lines of a diff are shown; the rest is in the raw capture."""
_REMINDER = re.compile(r"<system-reminder>.*?(?:</system-reminder>|\Z)", re.DOTALL)


@dataclass(frozen=True, kw_only=True)
class DiffLine:
    kind: str
    """`add`, `del`, `ctx` or `hunk`."""
    text: str


@dataclass(frozen=True, kw_only=True)
class FileDiff:
    path: str
    lines: list[DiffLine]
    more: int = 0
    """Lines left out (past DIFF_LINES)."""


@dataclass(frozen=True, kw_only=True)
class Todo:
    content: str
    status: str


@dataclass(frozen=True, kw_only=True)
class Block:
    """One block for the templates; `kind` says which fields are set."""

    kind: str
    """`text`, `markdown`, `thinking`, `tool_use`, `tool_result`, `image`, `other`."""
    text: str = ""
    html: Markup | None = None
    """Rendered Markdown (escaped) for `markdown` blocks."""
    reminders: list[str] = field(default_factory=list)
    name: str = ""
    tool_id: str = ""
    input_json: str = ""
    diffs: list[FileDiff] = field(default_factory=list)
    todos: list[Todo] | None = None
    is_error: bool = False
    full_chars: int = 0
    """Length of the whole text when `text` is only a preview."""
    fetch: str | None = None
    """Where the whole text is, when `text` is a preview."""


def value_url(capture_url: str, pointer: str) -> str:
    """The address of one value of a capture (a JSON pointer), as plain text."""
    return f"{capture_url}/value?p={quote(pointer, safe='/')}"


def blocks_of(
    content: Any, *, role: str, pointer: str, capture_url: str, full: bool = False
) -> list[Block]:
    """The blocks of a message's `content` (a string or a list of blocks).

    `pointer` is the JSON pointer of `content` in the capture at `capture_url`;
    `full` keeps long texts whole (the exported file has no server to ask).
    """
    if isinstance(content, str):
        return [_text(content, role=role)]
    if not isinstance(content, list):
        return [Block(kind="other", text=_json(content))]
    out = []
    for i, block in enumerate(content):
        at = f"{pointer}/{i}"
        out.append(_block(block, role=role, pointer=at, capture_url=capture_url, full=full))
    return out


def _block(block: Any, *, role: str, pointer: str, capture_url: str, full: bool) -> Block:
    if not isinstance(block, dict):
        return (
            _text(block, role=role)
            if isinstance(block, str)
            else Block(kind="other", text=_json(block))
        )
    kind = block.get("type")
    if kind == "text" and isinstance(block.get("text"), str):
        return _text(block["text"], role=role)
    if kind == "thinking":
        return Block(kind="thinking", text=str(block.get("thinking", "")))
    if kind == "redacted_thinking":
        return Block(kind="thinking", text="[redacted thinking]")
    if kind in ("tool_use", "server_tool_use"):
        return _tool_use(block)
    if isinstance(kind, str) and (kind == "tool_result" or kind.endswith("_tool_result")):
        return _tool_result(block, pointer=pointer, capture_url=capture_url, full=full)
    if kind in ("image", "document"):
        raw = block.get("source")
        source: dict[str, Any] = raw if isinstance(raw, dict) else {}
        data = source.get("data")
        size = f", {len(data) * 3 // 4:,} bytes" if isinstance(data, str) else ""
        return Block(kind="image", text=f"[{kind}: {source.get('media_type', '?')}{size}]")
    return Block(kind="other", name=str(kind), text=_json(block))


def _text(text: str, *, role: str) -> Block:
    reminders = (
        [m.group(0) for m in _REMINDER.finditer(text)] if "<system-reminder>" in text else []
    )
    rest = _REMINDER.sub("", text).strip() if reminders else text
    if role == "assistant":
        return Block(kind="markdown", text=rest, html=markdown.render(rest), reminders=reminders)
    return Block(kind="text", text=rest, reminders=reminders)


def _tool_use(block: dict[str, Any]) -> Block:
    name = str(block.get("name", ""))
    tool_input = block.get("input")
    todos = None
    diffs: list[FileDiff] = []
    if isinstance(tool_input, dict):
        diffs = edit_diffs(name, tool_input)
        if name == "TodoWrite" and isinstance(tool_input.get("todos"), list):
            todos = [
                Todo(content=str(t.get("content", "")), status=str(t.get("status", "")))
                for t in tool_input["todos"]
                if isinstance(t, dict)
            ]
    return Block(
        kind="tool_use",
        name=name,
        tool_id=str(block.get("id", "")),
        input_json=_json(tool_input),
        diffs=diffs,
        todos=todos,
    )


def edit_diffs(name: str, tool_input: dict[str, Any]) -> list[FileDiff]:
    """Edit, MultiEdit and Write calls as diffs of the file they change."""
    path = str(tool_input.get("file_path", ""))
    if name == "Edit":
        return [_diff(path, tool_input.get("old_string"), tool_input.get("new_string"))]
    if name == "MultiEdit" and isinstance(tool_input.get("edits"), list):
        return [
            _diff(path, e.get("old_string"), e.get("new_string"))
            for e in tool_input["edits"]
            if isinstance(e, dict)
        ]
    if name == "Write":
        return [_diff(path, "", tool_input.get("content"))]
    return []


def _diff(path: str, old: Any, new: Any) -> FileDiff:
    old_lines = (old if isinstance(old, str) else "").splitlines()
    new_lines = (new if isinstance(new, str) else "").splitlines()
    lines = []
    for line in difflib.unified_diff(old_lines, new_lines, lineterm="", n=3):
        if line.startswith(("---", "+++")):
            continue
        kind = {"@": "hunk", "+": "add", "-": "del"}.get(line[:1], "ctx")
        lines.append(DiffLine(kind=kind, text=line))
    return FileDiff(path=path, lines=lines[:DIFF_LINES], more=max(0, len(lines) - DIFF_LINES))


def result_text(content: Any) -> str:
    """A tool result's `content` as text: a string, or its text blocks joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for b in content:
            if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str):
                parts.append(b["text"])
            elif isinstance(b, dict) and b.get("type") == "image":
                parts.append("[image]")
            else:
                parts.append(_json(b))
        return "\n".join(parts)
    return "" if content is None else _json(content)


def _tool_result(block: dict[str, Any], *, pointer: str, capture_url: str, full: bool) -> Block:
    text = result_text(block.get("content"))
    cut = not full and len(text) > LONG_CHARS
    return Block(
        kind="tool_result",
        tool_id=str(block.get("tool_use_id", "")),
        is_error=block.get("is_error") is True,
        text=text[:LONG_CHARS] if cut else text,
        full_chars=len(text),
        fetch=value_url(capture_url, f"{pointer}/content") if cut else None,
    )


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)
