"""analyze/recall/export.py: the CLAUDE.md section, replaced byte for byte."""

import pytest

from analyze.recall.export import END, START, ExportError, render, replace_section
from tests.analyze.recall.fixtures import memory

A = [
    memory("Use tabs.", "preference"),
    memory("Tests use pytest.", "fact"),
    memory("Ship on Fridays.", "decision"),
]


def test_render_groups_by_kind_in_recall_order():
    text = render(A).decode()
    assert text.startswith(START.decode()) and text.endswith(END.decode())
    assert text.index("### Preferences") < text.index("### Decisions") < text.index("### Facts")
    assert f"- Use tabs. ({A[0].id})" in text
    assert "(no memories yet)" in render([]).decode()


@pytest.mark.parametrize(
    "before",
    [b"", b"# Title\n", b"# Title", "# Tïtle\r\nline\r\n".encode(), b"\xff\xfe binary-ish \x00"],
)
def test_append_then_replace_keeps_every_outside_byte(before):
    once = replace_section(before, A)
    assert once.startswith(before)
    newline = b"\r\n" if b"\r\n" in before else b"\n"
    assert once.endswith(END + newline)
    twice = replace_section(once + b"after", A[:1])
    start, end = twice.index(START), twice.index(END)
    assert twice[:start] == once[: once.index(START)]
    assert twice[end + len(END) :] == newline + b"after"
    assert b"Tests use pytest." not in twice
    assert replace_section(twice, A[:1]) == twice  # idempotent


@pytest.mark.parametrize(
    "broken",
    [START + b"\nno end", b"only " + END, START + b"\n" + END + b"\n" + START + b"\n" + END],
)
def test_a_broken_section_is_refused(broken):
    with pytest.raises(ExportError):
        replace_section(broken, A)
