"""What changed between two requests of a session (request n-1 and request n).

- the system prompt: a line diff of its text (blocks joined);
- tool definitions: added, removed and changed by name, a changed one with a
  line diff of its JSON;
- messages: the common prefix, the messages appended after it, and the
  messages of the earlier request that the later one rewrote or dropped (a
  `/compact` rewrites nearly all of them);
- the model and every other parameter (`max_tokens`, `thinking`, …).

`cache_control` markers are ignored throughout: Claude Code moves them to the
newest messages on every turn, which is no change of content. Pure functions
of two parsed `request` objects.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Any

from view.blocks import DiffLine

_SKIP = ("messages", "system", "tools")


@dataclass(frozen=True, kw_only=True)
class Changed:
    name: str
    lines: list[DiffLine]


@dataclass(frozen=True, kw_only=True)
class Param:
    name: str
    before: str | None
    after: str | None


@dataclass(frozen=True, kw_only=True)
class MessageChange:
    index: int
    role: str
    before: str | None
    after: str | None


@dataclass(frozen=True, kw_only=True)
class RequestDiff:
    system: list[DiffLine]
    tools_added: list[str]
    tools_removed: list[str]
    tools_changed: list[Changed]
    common: int
    """Messages both requests share from the start."""
    appended: list[MessageChange]
    rewritten: list[MessageChange]
    """Messages of the earlier request at a position the later one holds differently (or not
    at all)."""
    params: list[Param] = field(default_factory=list)

    @property
    def unchanged(self) -> bool:
        return not (
            self.system
            or self.tools_added
            or self.tools_removed
            or self.tools_changed
            or self.appended
            or self.rewritten
            or self.params
        )


def without_cache_control(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_cache_control(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [without_cache_control(v) for v in value]
    return value


def system_text(system: Any) -> str:
    if isinstance(system, str):
        return system
    if isinstance(system, list):
        return "\n\n".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in system)
    return "" if system is None else _json(system)


def line_diff(before: str, after: str) -> list[DiffLine]:
    out = []
    for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=2):
        if line.startswith(("---", "+++")):
            continue
        kind = {"@": "hunk", "+": "add", "-": "del"}.get(line[:1], "ctx")
        out.append(DiffLine(kind=kind, text=line))
    return out


def _tools(request: dict[str, Any]) -> dict[str, Any]:
    tools = request.get("tools")
    out = {}
    for i, tool in enumerate(tools if isinstance(tools, list) else []):
        name = tool.get("name") if isinstance(tool, dict) else None
        out[name if isinstance(name, str) else f"#{i}"] = without_cache_control(tool)
    return out


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def _summary(message: Any) -> str:
    """A message as text for the diff page (its JSON, without cache_control)."""
    return _json(without_cache_control(message))


def diff_requests(before: dict[str, Any], after: dict[str, Any]) -> RequestDiff:
    """What `after` changed of `before` (an empty `before`: everything is new)."""
    old_tools, new_tools = _tools(before), _tools(after)
    changed = [
        Changed(name=name, lines=line_diff(_json(old_tools[name]), _json(new_tools[name])))
        for name in new_tools
        if name in old_tools and old_tools[name] != new_tools[name]
    ]
    old_msgs = [without_cache_control(m) for m in before.get("messages") or []]
    new_msgs = [without_cache_control(m) for m in after.get("messages") or []]
    common = 0
    while common < min(len(old_msgs), len(new_msgs)) and old_msgs[common] == new_msgs[common]:
        common += 1

    def change(i: int, old: Any, new: Any) -> MessageChange:
        source = new if new is not None else old
        role = source.get("role", "?") if isinstance(source, dict) else "?"
        return MessageChange(
            index=i,
            role=str(role),
            before=None if old is None else _summary(old),
            after=None if new is None else _summary(new),
        )

    rewritten = [
        change(i, old_msgs[i], new_msgs[i] if i < len(new_msgs) else None)
        for i in range(common, len(old_msgs))
    ]
    appended = [
        change(i, None, new_msgs[i]) for i in range(max(common, len(old_msgs)), len(new_msgs))
    ]
    params = []
    for key in sorted((set(before) | set(after)) - set(_SKIP)):
        if before.get(key) != after.get(key):
            params.append(
                Param(
                    name=key,
                    before=None if key not in before else _json(before[key]),
                    after=None if key not in after else _json(after[key]),
                )
            )
    return RequestDiff(
        system=line_diff(
            system_text(without_cache_control(before.get("system"))),
            system_text(without_cache_control(after.get("system"))),
        ),
        tools_added=[n for n in new_tools if n not in old_tools],
        tools_removed=[n for n in old_tools if n not in new_tools],
        tools_changed=changed,
        common=common,
        appended=appended,
        rewritten=rewritten,
        params=params,
    )
