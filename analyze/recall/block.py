"""The marked block of memories the hooks inject into Claude Code, and its removal.

Format (README "Recall into Claude Code"):

    <glass-memories>
    Glass remembers from earlier sessions (kind, memory, id):
    - [preference] The user prefers tabs over spaces. (m_0123456789abcdef)
    - [decision] Deploys go through `make ship`. (m_fedcba9876543210)
    </glass-memories>

One line per memory: `- [kind] text (id)`, the text on one line (newlines
become spaces, a marker inside a memory's text is dropped). `render()` never
returns more than its budget: it drops whole lines, never cuts one, and
returns "" when not even one memory fits.

`BLOCK_RE` is the one definition of the marker. It matches a block together
with the prefix Claude Code puts before hook output
(`SessionStart hook additional context: `, `UserPromptSubmit hook success: `, …),
and a block whose end was cut off runs to the end of the text. The digest
(analyze/digest.py) strips it from every text it sends, so the analyzer never
reads its own recall back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # only the type: the digest imports this module on its hot path
    from analyze.store import Memory

OPEN: Final = "<glass-memories>"
CLOSE: Final = "</glass-memories>"
HEADER: Final = "Glass remembers from earlier sessions (kind, memory, id):"

BLOCK_RE: Final = re.compile(
    r"(?:\b[A-Za-z]+(?::[a-z]+)? hook (?:additional context|success): )?"
    r"<glass-memories>.*?(?:</glass-memories>|\Z)",
    re.DOTALL,
)
"""A marked block, with Claude Code's hook prefix if any; an unclosed one runs to the end."""

MIN_LINE: Final = len("- [fact] x (m_0123456789abcdef)\n")
"""The shortest a memory line can be, its newline included."""

LINE_RE: Final = re.compile(r"^- \[([a-z_]+)\] (.*) \((m_[0-9a-f]+)\)$", re.MULTILINE)
"""One memory line of a block: kind, text, id."""


def line(memory: Memory) -> str:
    """The memory as one block line."""
    text = " ".join(memory.text.replace(OPEN, " ").replace(CLOSE, " ").split())
    return f"- [{memory.kind}] {text} ({memory.id})"


def render(memories: Iterable[Memory], *, max_chars: int) -> str:
    """The block of `memories`, in their order, at most `max_chars` characters.

    A memory whose line would not fit is left out (the ones after it may still
    fit); "" when no memory fits or there is none.
    """
    frame = len(OPEN) + len(HEADER) + len(CLOSE) + 2  # each line brings its own newline
    used = frame
    lines: list[str] = []
    for memory in memories:
        text = line(memory)
        if used + len(text) + 1 > max_chars:
            continue
        lines.append(text)
        used += len(text) + 1
    if not lines:
        return ""
    return "\n".join([OPEN, HEADER, *lines, CLOSE])


def strip_block(text: str) -> str:
    """`text` without any marked block (and the hook prefix before it)."""
    if OPEN not in text:
        return text
    return BLOCK_RE.sub("", text)


def ids_in(text: str) -> Iterator[str]:
    """The memory ids listed inside the marked blocks of `text`."""
    for block in BLOCK_RE.finditer(text):
        for match in LINE_RE.finditer(block.group(0)):
            yield match.group(3)
