"""Synthetic Claude Code sessions as capture files, for the viewer's tests.

`write_session()` lays out a main-loop conversation the way Claude Code sends
it: every request resends the whole conversation so far (the prompt, then per
earlier turn the assistant's answer and the user's tool results), carries the
tools and a system prompt naming the working directory, and names its session
in the `X-Claude-Code-Session-Id` header; each response is the turn's answer
with its usage. Files are serialized by the capture stage's own
`capture.files.dumps` (the layout the README documents) and named by
`capture.files.capture_name`. `XSS` is text that must only ever show as text.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from capture import files

XSS = (
    "<script>window.__pwned = 1</script>"
    '<img src=x onerror="window.__pwned = 2">'
    "[click](javascript:window.__pwned=3) "
    "</textarea><textarea>"
    '"><svg onload="window.__pwned=4">'
)
"""Markup a capture may hold; every page must show it as text and run none of it."""

TOOLS = [
    {"name": "Read", "description": "Read a file", "input_schema": {"type": "object"}},
    {"name": "Edit", "description": "Edit a file", "input_schema": {"type": "object"}},
    {"name": "Bash", "description": "Run a command", "input_schema": {"type": "object"}},
]
TZ = timezone(timedelta(hours=1))


@dataclass(frozen=True, kw_only=True)
class Step:
    """One turn: the assistant's answer, then the tool results the user sends back."""

    content: list[dict[str, Any]]
    results: list[tuple[str, str]] = field(default_factory=list)
    """(tool_use_id, text) answered in the next request."""
    usage: dict[str, Any] = field(
        default_factory=lambda: {
            "input_tokens": 10,
            "cache_creation_input_tokens": 100,
            "cache_read_input_tokens": 1000,
            "output_tokens": 50,
        }
    )


def text(t: str) -> dict[str, Any]:
    return {"type": "text", "text": t}


def tool_use(tool_id: str, name: str, tool_input: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}


def messages_for(prompt: str, steps: list[Step], upto: int) -> list[dict[str, Any]]:
    """The messages of request `upto` (0-based): the prompt and turns 0..upto-1."""
    out: list[dict[str, Any]] = [{"role": "user", "content": [text(prompt)]}]
    for step in steps[:upto]:
        out.append({"role": "assistant", "content": step.content})
        out.append(
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": tid, "content": body}
                    for tid, body in step.results
                ]
                or [text("go on")],
            }
        )
    return out


def capture_doc(
    *,
    session_id: str,
    request: dict[str, Any],
    body: dict[str, Any] | None,
    at: datetime,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "captured_at": at.isoformat(timespec="milliseconds"),
        "method": "POST",
        "url": "https://api.anthropic.com/v1/messages?beta=true",
        "headers": {
            "X-Claude-Code-Session-Id": session_id,
            "x-api-key": "[REDACTED]",
            "content-type": "application/json",
        },
        "request": request,
    }
    if body is not None:
        doc["response"] = {
            "status": 200,
            "headers": {"content-type": "text/event-stream"},
            "body": body,
            "streamed": True,
            "complete": True,
            "ttfb_ms": 412.5,
            "duration_ms": 2310.0,
        }
    return doc


def write_doc(
    root: Path, doc: dict[str, Any], *, number: int, at: datetime, endpoint: str = "messages"
) -> Path:
    folder = files.day_folder(root, at.replace(tzinfo=None))
    files.ensure_dir(folder)
    path = folder / files.capture_name(number, at.replace(tzinfo=None), endpoint)
    path.write_bytes(files.dumps(doc))
    os.chmod(path, 0o600)
    return path


def write_session(
    root: Path,
    *,
    steps: list[Step],
    session_id: str = "5e55a0e1-0000-4000-8000-000000000001",
    prompt: str = "Fix the failing test in shop/cart.py",
    project: str = "/home/dev/shop",
    model: str = "claude-sonnet-4-5-20250929",
    start: datetime = datetime(2026, 11, 21, 14, 0, 0, tzinfo=TZ),
    start_number: int = 1,
    side_call: bool = True,
    last_response: bool = True,
) -> list[Path]:
    """The session's captures under `root`: one main-loop request per step (the last one
    without its response when `last_response` is false), and a title side call first."""
    written = []
    number = start_number
    at = start
    if side_call:
        request = {
            "model": "claude-haiku-4-5-20251001",
            "max_tokens": 512,
            "messages": [{"role": "user", "content": prompt}],
            "system": [text("Summarize this coding conversation in under 50 characters.")],
            "metadata": {"user_id": f'{{"session_id": "{session_id}"}}'},
        }
        body = {
            "id": f"msg_side_{session_id[:8]}",
            "type": "message",
            "role": "assistant",
            "model": "claude-haiku-4-5-20251001",
            "content": [text('{"title": "Fix failing cart test"}')],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 30, "output_tokens": 12},
        }
        doc = capture_doc(session_id=session_id, request=request, body=body, at=at)
        written.append(write_doc(root, doc, number=number, at=at))
        number += 1
    for i, step in enumerate(steps):
        at = start + timedelta(seconds=5 * (i + 1))
        request = {
            "model": model,
            "messages": messages_for(prompt, steps, i),
            "system": [
                text("You are Claude Code."),
                text(
                    f"Here is useful information about the environment.\nWorking directory: {project}\n"
                ),
            ],
            "tools": TOOLS,
            "metadata": {"user_id": f'{{"session_id": "{session_id}"}}'},
            "max_tokens": 32000,
            "stream": True,
        }
        body = {
            "id": f"msg_{session_id[:8]}_{i}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": step.content,
            "stop_reason": "tool_use" if step.results else "end_turn",
            "usage": step.usage,
        }
        final = last_response or i < len(steps) - 1
        doc = capture_doc(
            session_id=session_id, request=request, body=body if final else None, at=at
        )
        written.append(write_doc(root, doc, number=number, at=at))
        number += 1
    return written


def coding_steps(*, long_result: str | None = None, xss: bool = False) -> list[Step]:
    """A small coding session: read a file, edit it, plan with TodoWrite, answer."""
    result = (
        long_result if long_result is not None else "def total(items):\n    return sum(items)\n"
    )
    say = XSS if xss else "I'll look at the cart first."
    return [
        Step(
            content=[
                {"type": "thinking", "thinking": "The test fails on rounding.", "signature": "sig"},
                text(say),
                tool_use("toolu_read", "Read", {"file_path": "/home/dev/shop/cart.py"}),
            ],
            results=[("toolu_read", XSS if xss else result)],
        ),
        Step(
            content=[
                tool_use(
                    "toolu_edit",
                    "Edit",
                    {
                        "file_path": "/home/dev/shop/cart.py",
                        "old_string": "    return sum(items)\n",
                        "new_string": "    return round(sum(items), 2)\n",
                    },
                ),
                tool_use(
                    "toolu_todo",
                    "TodoWrite",
                    {
                        "todos": [
                            {
                                "content": "Fix rounding",
                                "status": "completed",
                                "activeForm": "Fixing",
                            },
                            {
                                "content": "Run the tests",
                                "status": "pending",
                                "activeForm": "Running",
                            },
                        ]
                    },
                ),
            ],
            results=[("toolu_edit", "The file was edited."), ("toolu_todo", "Todos updated")],
        ),
        Step(content=[text("Done: **rounding** fixed in `cart.py`.")]),
    ]
