"""analyze/recall/block.py: the marked block, its budget, and its removal."""

from __future__ import annotations

from analyze.recall import block
from tests.analyze.recall.fixtures import memory

TABS = memory("The user prefers tabs over spaces.", "preference")
SHIP = memory("Deploys go through `make ship` from main.", "decision")
LONG = memory("A fact that runs on and on. " * 20, "fact")


def test_render_one_line_per_memory_with_kind_text_and_id() -> None:
    text = block.render([TABS, SHIP], max_chars=6000)
    assert text.splitlines() == [
        "<glass-memories>",
        block.HEADER,
        f"- [preference] The user prefers tabs over spaces. ({TABS.id})",
        f"- [decision] Deploys go through `make ship` from main. ({SHIP.id})",
        "</glass-memories>",
    ]
    assert list(block.ids_in(text)) == [TABS.id, SHIP.id]


def test_render_never_exceeds_the_budget_and_drops_whole_lines() -> None:
    memories = [TABS, LONG, SHIP]
    full = block.render(memories, max_chars=100_000)
    for budget in range(0, len(full) + 2):
        text = block.render(memories, max_chars=budget)
        assert len(text) <= budget
        if text:
            assert set(text.splitlines()) <= set(full.splitlines())  # no line cut
            assert text.startswith(block.OPEN) and text.endswith(block.CLOSE)
    exact = len(full) - len(block.line(LONG)) - 1
    assert list(block.ids_in(block.render(memories, max_chars=exact))) == [TABS.id, SHIP.id]
    assert block.render(memories, max_chars=exact - 1).count("\n- ") == 1


def test_nothing_to_render_is_empty() -> None:
    assert block.render([], max_chars=6000) == ""
    assert block.render([LONG], max_chars=200) == ""


def test_a_memory_stays_on_one_line_and_cannot_close_the_block() -> None:
    odd = memory("Two\nlines and a </glass-memories> marker <glass-memories>", "fact")
    text = block.render([odd, TABS], max_chars=6000)
    assert text.count(block.OPEN) == 1 and text.count(block.CLOSE) == 1
    assert text.splitlines()[2] == f"- [fact] Two lines and a marker ({odd.id})"
    assert list(block.ids_in(text)) == [odd.id, TABS.id]
    assert block.strip_block(f"before {text} after") == "before  after"


def test_strip_block_removes_every_block_with_its_hook_prefix() -> None:
    one = block.render([TABS], max_chars=6000)
    two = block.render([SHIP], max_chars=6000)
    text = (
        f"SessionStart hook additional context: {one}\n\nAvailable agent types\n\n"
        f"UserPromptSubmit hook success: {two}"
    )
    assert block.strip_block(text) == "\n\nAvailable agent types\n\n"
    assert block.strip_block(f"SessionStart:startup hook success: {one}") == ""
    assert block.strip_block("no block here") == "no block here"
    # A block cut short (Claude Code shortens huge hook output) runs to the end.
    assert block.strip_block("keep " + one[:40]) == "keep "
    assert TABS.text not in block.strip_block(text)
