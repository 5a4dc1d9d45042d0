"""The session model: the list of sessions, and one session's conversation.

Sessions are the analyzer's (`analyze.conversation.session_id`, through the
index). A session's main-loop requests fall into *context windows*: a request
whose first real prompt differs from the one before, or that holds fewer
messages (a `/compact` rewrote the history), starts a new one. Claude Code
resends the whole window on every turn, so the conversation of a window is the
`messages` of its last request plus that request's response: only that one
file per window is parsed in full. Each earlier request's response is the
assistant message at the position of that request's message count in the
later requests, which is where its turn figures (tokens, cost, ttfb,
duration, the raw capture) are shown; they come from the index, never from
the other files. Side calls are listed apart, from the index alone.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from analyze.captures import BadCapture, read_capture
from analyze.store import MemoryStore
from glass.tokens import ZERO, Tokens
from view import cost as costs
from view.blocks import Block, blocks_of
from view.diff import system_text
from view.index import CaptureRow, Index


@dataclass(frozen=True, kw_only=True)
class SessionSummary:
    """One row of the session list."""

    id: str
    project: str | None
    title: str | None
    models: list[str]
    start: str
    last: str
    duration_s: float
    main: int
    side: int
    tokens: Tokens
    cost_usd: float | None
    memories: int
    first_day: str
    last_day: str


@dataclass(frozen=True, kw_only=True)
class Turn:
    """One request's figures, from the index."""

    n: int | None
    """Its number among the session's main-loop requests (1-based); None for a side call."""
    row: CaptureRow
    cost_usd: float | None

    @property
    def capture_url(self) -> str:
        return capture_url(self.row.rel)


@dataclass(frozen=True, kw_only=True)
class Message:
    role: str
    blocks: list[Block]
    turns: list[Turn] = field(default_factory=list)
    """The requests this message is the response of (a retry makes two)."""
    final: bool = False
    """The response of the window's last request (not resent in any request)."""


@dataclass(frozen=True, kw_only=True)
class Window:
    number: int
    source: CaptureRow
    """The window's last request, whose messages are shown."""
    messages: list[Message]
    turns: list[Turn]
    problem: str | None = None
    system: str = ""
    """The system prompt of the window's last request, its blocks joined."""
    tools: list[str] = field(default_factory=list)
    """The names of the tools it offered."""


@dataclass(frozen=True, kw_only=True)
class SessionView:
    summary: SessionSummary
    windows: list[Window]
    side: list[Turn]
    notes: list[str]
    version: str
    """Changes whenever a capture of the session is added or rewritten (live updates)."""


def capture_url(rel: str) -> str:
    return f"/captures/{rel}"


def _seconds(start: str, last: str, *, tail_ms: float) -> float:
    """From the first request's start to the end of the last one (`tail_ms`, its duration)."""
    try:
        return max(0.0, (_instant(last) - _instant(start)).total_seconds()) + tail_ms / 1000
    except ValueError:
        return tail_ms / 1000


def when(text: str) -> datetime:
    """A `captured_at` as a time to compare (offsets differ across a DST change); one that is
    not a time sorts first."""
    try:
        return _instant(text)
    except ValueError:
        return _EARLIEST


_EARLIEST = datetime.min.replace(tzinfo=UTC)


def _instant(text: str) -> datetime:
    """A `captured_at` as an aware time: one without an offset (the analyzer accepts it) is UTC."""
    at = datetime.fromisoformat(text)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def memories_by_session(store: MemoryStore | None) -> dict[str, int]:
    if store is None:
        return {}
    out: dict[str, int] = defaultdict(int)
    for memory in store.current():
        out[memory.session_id] += 1
    return out


def list_sessions(
    index: Index, *, costs_: costs.Costs, memories: dict[str, int]
) -> list[SessionSummary]:
    """Every session, newest first."""
    per: dict[str, dict[str, Any]] = {}
    for r in index.session_rows_summary():
        s = per.setdefault(
            r["session"],
            {
                "models": [],
                "start": r["start"],
                "last": r["last"],
                "tail_ms": r["tail_ms"],
                "first_day": r["first_day"],
                "last_day": r["last_day"],
                "main": 0,
                "side": 0,
                "tokens": ZERO,
                "cost": 0.0,
            },
        )
        tokens = Tokens(
            input=r["input"],
            cache_write_5m=r["cache_write_5m"],
            cache_write_1h=r["cache_write_1h"],
            cache_read=r["cache_read"],
            output=r["output"],
        )
        if r["model"] and r["model"] not in s["models"]:
            s["models"].append(r["model"])
        s["start"] = min(s["start"], r["start"], key=when)
        if when(r["last"]) >= when(s["last"]):
            s["last"], s["tail_ms"] = r["last"], r["tail_ms"]
        s["first_day"] = min(s["first_day"], r["first_day"])
        s["last_day"] = max(s["last_day"], r["last_day"])
        s["main"] += r["main"]
        s["side"] += r["side"]
        s["tokens"] += tokens
        cost = costs_.of(tokens, model=r["model"], provider=r["provider"], captured_at=r["start"])
        s["cost"] = costs.add(s["cost"], cost)
    facts = index.session_facts()
    out = [
        SessionSummary(
            id=sid,
            project=facts.get(sid, (None, None))[0],
            title=facts.get(sid, (None, None))[1],
            models=sorted(s["models"]),
            start=s["start"],
            last=s["last"],
            duration_s=_seconds(s["start"], s["last"], tail_ms=s["tail_ms"]),
            main=s["main"],
            side=s["side"],
            tokens=s["tokens"],
            cost_usd=s["cost"],
            memories=memories.get(sid, 0),
            first_day=s["first_day"],
            last_day=s["last_day"],
        )
        for sid, s in per.items()
    ]
    out.sort(key=lambda s: when(s.start), reverse=True)
    return out


def summary_of(
    rows: list[CaptureRow], *, sid: str, costs_: costs.Costs, memories: int
) -> SessionSummary:
    """The list row of one session, from its index rows."""
    models: list[str] = []
    cost: float | None = 0.0
    tokens = ZERO
    for r in rows:
        if r.model and r.model not in models:
            models.append(r.model)
        tokens += r.tokens
        cost = costs.add(cost, costs_.of_row(r))
    main = [r for r in rows if r.scope == "main"]
    start = min((r.captured_at for r in rows), key=when)
    newest = max(rows, key=lambda r: when(r.captured_at))
    last = newest.captured_at
    return SessionSummary(
        id=sid,
        project=next((r.project for r in main if r.project), None),
        title=next((r.title for r in main if r.title), None),
        models=sorted(models),
        start=start,
        last=last,
        duration_s=_seconds(start, last, tail_ms=newest.duration_ms or 0.0),
        main=len(main),
        side=len(rows) - len(main),
        tokens=tokens,
        cost_usd=cost,
        memories=memories,
        first_day=rows[0].day,
        last_day=rows[-1].day,
    )


def windows_of(main: list[CaptureRow]) -> list[list[CaptureRow]]:
    """The session's main-loop requests split into context windows (see module doc).

    A request goes on the latest window it continues (same first prompt, no fewer messages):
    Claude Code's subagents (Task) send their own conversations under the same session id,
    interleaved with the main one, and each stays one window instead of a new one per switch.
    """
    out: list[list[CaptureRow]] = []
    for row in main:
        home = next(
            (
                w
                for w in reversed(out)
                if w[-1].first_key == row.first_key and row.message_count >= w[-1].message_count
            ),
            None,
        )
        if home is None:
            out.append([row])
        else:
            home.append(row)
    return out


def version_of(rows: list[CaptureRow]) -> str:
    """A token that changes when a capture of the session is added, removed or rewritten."""
    if not rows:
        return "0"
    return f"{len(rows)}-{max(r.mtime_ns for r in rows)}-{sum(r.size for r in rows)}"


def build_session(
    index: Index, sid: str, *, costs_: costs.Costs, memories: int, full: bool = False
) -> SessionView | None:
    """One session's conversation, or None when no capture names it.

    `full` keeps long tool results whole (for the exported file).
    """
    rows = index.session_rows(sid)
    if not rows:
        return None
    main = [r for r in rows if r.scope == "main"]
    numbers = {r.rel: i + 1 for i, r in enumerate(main)}

    def turn(r: CaptureRow) -> Turn:
        return Turn(n=numbers.get(r.rel), row=r, cost_usd=costs_.of_row(r))

    windows = [
        _window(i + 1, group, turn=turn, full=full) for i, group in enumerate(windows_of(main))
    ]
    notes = []
    days = {r.day for r in rows}
    for bad in index.problems(days=days):
        notes.append(f"{bad.rel}: skipped, {bad.problem}")
    for r in rows:
        if not r.has_response and r.error is None:
            notes.append(f"{r.rel}: no response (still in flight, or the proxy never saw its end)")
    for other in index.other_files(days=days):
        notes.append(f"{other.day}/{other.name}: not a capture file, ignored")
    return SessionView(
        summary=summary_of(rows, sid=sid, costs_=costs_, memories=memories),
        windows=windows,
        side=[turn(r) for r in rows if r.scope != "main"],
        notes=notes,
        version=version_of(rows),
    )


def _window(number: int, group: list[CaptureRow], *, turn: Any, full: bool) -> Window:
    last = group[-1]
    turns = [turn(r) for r in group]
    try:
        doc = read_capture(last.fspath)
    except (BadCapture, OSError) as e:
        reason = str(e) if isinstance(e, BadCapture) else (e.strerror or str(e))
        return Window(
            number=number,
            source=last,
            messages=[],
            turns=turns,
            problem=f"{last.rel}: cannot be read now ({reason})",
        )
    request = doc.get("request") or {}
    messages = request.get("messages") or []
    by_position: dict[int, list[Turn]] = defaultdict(list)
    for t in turns[:-1]:
        by_position[t.row.message_count].append(t)
    url = capture_url(last.rel)
    shown = []
    for i, message in enumerate(messages):
        role = str(message.get("role", "?"))
        shown.append(
            Message(
                role=role,
                blocks=blocks_of(
                    message.get("content"),
                    role=role,
                    pointer=f"/request/messages/{i}/content",
                    capture_url=url,
                    full=full,
                ),
                turns=by_position.get(i, []) if role == "assistant" else [],
            )
        )
    # Requests whose answer is not in the last request (a retry, an error) keep their figures.
    placed = {id(t) for m in shown for t in m.turns}
    orphans = [t for t in turns[:-1] if id(t) not in placed]
    response = doc.get("response")
    body = response.get("body") if isinstance(response, dict) else None
    final_blocks = (
        blocks_of(
            body.get("content"),
            role="assistant",
            pointer="/response/body/content",
            capture_url=url,
            full=full,
        )
        if isinstance(body, dict)
        else []
    )
    shown.append(
        Message(role="assistant", blocks=final_blocks, turns=[*orphans, turns[-1]], final=True)
    )
    tools = request.get("tools")
    return Window(
        number=number,
        source=last,
        messages=shown,
        turns=turns,
        system=system_text(request.get("system")),
        tools=[str(t.get("name", "?")) for t in tools if isinstance(t, dict)]
        if isinstance(tools, list)
        else [],
    )
