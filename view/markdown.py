"""Assistant text as HTML: CommonMark through markdown-it-py, never raw HTML from a capture.

markdown-it-py (the executable-books port of markdown-it) is a maintained
CommonMark parser with a switch for exactly what matters here: `html: False`
renders every `<tag>` in the text as escaped text instead of passing it on, and
its link validation refuses `javascript:`, `vbscript:`, `file:` and `data:`
URLs (images excepted for a few data: types, which stay inert in an `<img>`),
leaving such a link as plain text. Python-Markdown passes raw HTML through
and would need a sanitizer after it; mistune's escaping is an option of each
renderer. Nothing else is enabled (no plugins, no typographer, linkify off).
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markupsafe import Markup

_MD = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def render(text: str) -> Markup:
    """`text` (Markdown, untrusted) as safe HTML."""
    return Markup(_MD.render(text))
