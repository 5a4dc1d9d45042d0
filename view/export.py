"""`python -m view export SESSION_ID -o session.html [--redact-paths]`: one self-contained file.

The session page's own templates render it (`export=True`): the style sheet
and script inlined, no polling, no links back to the viewer, and long tool
results kept whole (collapsed), since no server is there to fetch them; a
Content-Security-Policy `<meta>` (`CSP`) lets its inline style and script run
and nothing be fetched from the network.
`--redact-paths` replaces the user's home folder by `~` wherever it appears
in the file where a path boundary follows it (paths in prompts, tool calls and
results, the project).
"""

from __future__ import annotations

import html
import os
import re
from importlib import resources
from pathlib import Path

from flask import Flask, render_template

from view import sessions
from view.app import Viewer

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
"""The exported file's own policy (a `<meta>`, no server sends headers): its inlined style and
script run, nothing is fetched (a Markdown image of a remote address stays unloaded)."""


def export_html(app: Flask, sid: str, *, redact_paths: bool, home: str | None = None) -> str | None:
    """The exported page of session `sid`, or None when no capture names it."""
    viewer: Viewer = app.extensions["glass_viewer"]
    viewer.index.refresh()
    mem = sessions.memories_by_session(viewer.store()).get(sid, 0)
    view = sessions.build_session(viewer.index, sid, costs_=viewer.costs, memories=mem, full=True)
    if view is None:
        return None
    static = resources.files("view") / "static"
    with app.app_context():
        page = render_template(
            "session.html",
            s=view,
            export=True,
            export_csp=CSP,
            inline_css=(static / "view.css").read_text(encoding="utf-8"),
            inline_js=(static / "view.js").read_text(encoding="utf-8"),
        )
    if redact_paths:
        page = redact(page, home=home or os.path.expanduser("~"))
    return page


_PATH_END = r"(?=[/\"'\s<&]|$)"
"""What may follow the home folder where it is replaced: not `/home/dev` in `/home/developer`."""


def redact(page: str, *, home: str) -> str:
    """`page` with the home folder `home` (as written, and HTML-escaped) replaced by `~` where a
    path boundary follows it (`_PATH_END`)."""
    home = home.rstrip("/")
    if not home or home == "/":
        return page
    for form in {home, html.escape(home), html.escape(home, quote=False)}:
        page = re.sub(re.escape(form) + _PATH_END, "~", page)
    return page


def write(path: Path, page: str) -> None:
    """Write the file atomically, 0600 (it holds what the captures hold)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(page)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
