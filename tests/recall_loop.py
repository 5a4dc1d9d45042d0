"""The recall loop with real parts, for tests/e2e/test_recall_e2e.py and bench/hooks_bench.py.

    claude -p (real CLI, make run-claude) --> capture proxy --> stand-in (the CLI's model)
          ^ hooks (make hooks)                    |
          |                                   captures/ --> make analyze-once --> stand-in
          +------ memories.jsonl <--------------------------------------------  (extraction)

`Loop` (`Loop.create()`) holds the folders, the two configs and the environments; its methods
run the real commands: `claude()` (`make run-claude`), `analyze_once()`
(`make analyze-once`), `hooks()` (`make hooks`). `Extractor` is the extraction
model: a forced `record_memories` answer with the preference and the decision
when the excerpt carries the user's words for them, and an "echo" memory
for any other excerpt line with a word of theirs (ECHOED), so a recall
block that leaked into the excerpt would show up as a new memory.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.analyzer_harness import ROOT, clean_env, excerpt, write_config
from tests.proxy import CapturingProxy, claude_env
from tests.standin import ForcedToolResponder, Recorded, Reply

PREFERENCE = "The user prefers tabs over spaces for indentation."
DECISION = "Deploys run `make ship` from the main branch, never by hand."
SAID_PREFERENCE = "Please always indent with tabs, never spaces."
SAID_DECISION = "We decided that deploys run make ship from the main branch."
SESSION_1 = f"{SAID_PREFERENCE} {SAID_DECISION} Just say OK."
MAIN_ANSWER = "OK, noted."
ECHOED = ("tabs", "never by hand", "glass-memories")
"""Words of the memories (not of the later prompts): an excerpt line with one becomes an echo."""
SIDE_TEXT = '{"isNewTopic": false, "title": "Stand-in"}'


def claude_model(request: Recorded) -> Reply:
    """The CLI's model: a short text for main-loop turns and side calls."""
    body = request.body if isinstance(request.body, dict) else {}
    return Reply.text(MAIN_ANSWER if body.get("tools") else SIDE_TEXT)


class Extractor:
    """The extraction model (see the module doc); `requests` are what the analyzer sent."""

    def __init__(self) -> None:
        self.forced = ForcedToolResponder(self.memories)
        self.requests: list[Recorded] = []

    def __call__(self, request: Recorded) -> Reply:
        self.requests.append(request)
        return self.forced(request)

    @staticmethod
    def memories(request: Recorded) -> dict[str, Any]:
        out = []
        for line in excerpt(request).splitlines():
            said = False
            if SAID_PREFERENCE in line:
                out.append({"text": PREFERENCE, "kind": "preference"})
                said = True
            if SAID_DECISION in line:
                out.append({"text": DECISION, "kind": "decision"})
                said = True
            if not said and any(word in line for word in ECHOED):
                out.append({"text": f"Echo of: {line[:200]}", "kind": "fact"})
        return {"memories": out}


@dataclass(frozen=True, kw_only=True)
class Loop:
    claude_bin: str
    proxy: CapturingProxy
    project: Path
    home: Path
    captures: Path
    config: Path
    """The analyzer's (and the hooks') config: the store and state in `captures`."""

    @classmethod
    def create(
        cls, *, tmp: Path, claude_bin: str, proxy: CapturingProxy, extractor_url: str
    ) -> Loop:
        project, home = tmp / "project", tmp / "home"
        project.mkdir()
        home.mkdir()
        config = write_config(tmp, base_url=extractor_url, captures=proxy.capture_dir)
        return cls(
            claude_bin=claude_bin,
            proxy=proxy,
            project=project,
            home=home,
            captures=proxy.capture_dir,
            config=config,
        )

    def set_recall(self, **keys: Any) -> None:
        """Rewrite the config's `recall:` section (the hooks read it on every run)."""
        text = self.config.read_text(encoding="utf-8").split("recall:\n")[0]
        lines = [f"  {k}: {json.dumps(v)}" for k, v in keys.items()]
        recall = "recall:\n" + "\n".join(lines) + "\n" if lines else ""
        self.config.write_text(text + recall, encoding="utf-8")

    def claude_env(self) -> dict[str, str]:
        return claude_env(self.home)

    def make(self, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["make", "--no-print-directory", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    def claude(self, prompt: str, *, model: str | None = None) -> subprocess.CompletedProcess[str]:
        """`make run-claude` in the project: one `-p` session through the proxy."""
        pick = f" --model {model}" if model else ""
        return self.make(
            "run-claude",
            f"CONFIG={self.proxy.config_path}",
            f"CLAUDE={self.claude_bin}",
            f"DIR={self.project}",
            f"ARGS=-p {json.dumps(prompt)} --allowedTools Read{pick}",
            env=self.claude_env(),
        )

    def analyze_once(self) -> subprocess.CompletedProcess[str]:
        return self.make("analyze-once", f"CONFIG={self.config}", env=clean_env())

    def hooks(self, *args: str) -> subprocess.CompletedProcess[str]:
        extra = [f"ARGS={' '.join(args)}"] if args else []
        return self.make(
            "hooks",
            f"CONFIG={self.config}",
            f"DIR={self.project}",
            *extra,
            env={**clean_env(), "HOME": str(self.home)},
        )

    def store_lines(self) -> list[dict[str, Any]]:
        path = self.captures / "memories.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def main_requests(captures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The main-loop request bodies (with tools) of some capture documents."""
    return [c["request"] for c in captures if (c.get("request") or {}).get("tools")]


def hook_texts(request: dict[str, Any], prefix: str) -> list[tuple[str, str]]:
    """(role, text from `prefix` on) of every text of a request (any role, block) holding it."""
    out = []
    for message in request.get("messages") or []:
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for b in blocks or []:
            text = b.get("text", "") if isinstance(b, dict) else ""
            at = text.find(prefix)
            if at >= 0:
                out.append((str(message.get("role")), text[at:]))
    return out


def excerpts(requests: list[Recorded]) -> str:
    return "\n".join(excerpt(r) for r in requests)


def sent_bytes(requests: list[Recorded]) -> int:
    """The request bytes the analyzer sent to the extraction model."""
    return sum(len(r.raw) for r in requests)
