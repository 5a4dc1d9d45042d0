"""view/markdown.py: Markdown from a capture never becomes live HTML."""

from __future__ import annotations

import pytest

from tests.viewdata import XSS
from view.markdown import render


@pytest.mark.parametrize(
    "source",
    [
        "<script>window.__pwned = 1</script>",
        '<img src=x onerror="window.__pwned = 2">',
        "</textarea><textarea>",
        '<a href="javascript:alert(1)">x</a>',
        "<div onmouseover=alert(1)>hover</div>",
        XSS,
    ],
)
def test_raw_html_is_text(source):
    html = render(source)
    for tag in ("<script", "<img", "<textarea", "</textarea", "<a ", "<div", "<svg"):
        assert tag not in html
    assert "&lt;" in html


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "vbscript:x",
        "data:text/html;base64,PHNjcmlwdD4=",
    ],
)
def test_dangerous_links_are_not_links(url):
    html = render(f"[click]({url}) and ![i]({url})")
    assert "href" not in html and "src=" not in html


def test_markdown_still_renders():
    html = render("**bold** and `code`\n\n- item\n\n[site](https://example.com)")
    assert (
        "<strong>bold</strong>" in html and "<code>code</code>" in html and "<li>item</li>" in html
    )
    assert '<a href="https://example.com">site</a>' in html
