"""The viewer's routes (Flask), each at a stable URL; every page is read-only.

Flask rather than tornado: the pages are plain request/response HTML, which
Flask with Jinja2's autoescaping templates does in little code, and its test
client drives the very routes without a socket (tests/view/test_app.py also
runs them over real HTTP); live updates are polling (`/sessions/<id>/poll`),
so no long-lived connections are needed, which is tornado's strength. Both come
with mitmproxy already.

On loopback (the default), a request whose Host header is not a loopback name is refused
(`host_name`), so a web page that rebinds its own domain to 127.0.0.1 cannot
read the captures. Every response carries a Content-Security-Policy that allows only the viewer's
own script and style files (`'self'`), no inline script, no plugin, no frame:
even a capture's text that escaped the templates could not run. Any page
refreshes the index first (cheap when nothing changed, see `view.index`).
Files that cannot be read are notes on the page, never a 500.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, render_template, request

from analyze.captures import BadCapture, read_capture
from analyze.store import MemoryStore
from glass.config import Config, is_loopback
from view import cost as costs
from view import diff as diffs
from view import memories as memory_page
from view import paths, sessions, usage_page
from view.blocks import LONG_CHARS, result_text
from view.index import Index

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_SIZE = 200
"""Sessions per page of the list."""
PAGE_CACHE = 8
"""Rendered session pages kept (see `Viewer.pages`)."""
NODE_DEPTH = 40
"""How deep the capture page nests JSON nodes; deeper values are fetched on demand (a
template macro per level: a value nested hundreds deep would exhaust Python's stack)."""
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(kw_only=True)
class Viewer:
    """What the routes share: the config, the index, the prices, the memory store."""

    config: Config
    index: Index
    costs: costs.Costs
    _store: MemoryStore | None = None
    _store_key: tuple[int, int] | None = field(default=None)
    _sessions: tuple[tuple[int, str], list[sessions.SessionSummary]] | None = None
    pages: dict[tuple[str, ...], str] = field(default_factory=dict)
    """Rendered session pages by (session, template, version, store): a warm view of an
    unchanged session is not rendered again. At most PAGE_CACHE of them."""

    def remember(self, key: tuple[str, ...], html: str) -> None:
        while len(self.pages) >= PAGE_CACHE:
            self.pages.pop(next(iter(self.pages)))
        self.pages[key] = html

    def session_list(self) -> list[sessions.SessionSummary]:
        """Every session, newest first; computed again only when the index or the store
        changed."""
        key = (self.index.generation, self.store_key())
        if self._sessions is None or self._sessions[0] != key:
            found = sessions.list_sessions(
                self.index, costs_=self.costs, memories=sessions.memories_by_session(self.store())
            )
            self._sessions = (key, found)
        return self._sessions[1]

    def store_key(self) -> str:
        try:
            st = self.config.analyze.store_path.stat()
        except FileNotFoundError:
            return "-"
        return f"{st.st_mtime_ns}-{st.st_size}"

    @property
    def captures_dir(self) -> Path:
        return self.config.capture.dir

    def store(self) -> MemoryStore | None:
        """The memory store, read again when its file changed; None when there is none."""
        path = self.config.analyze.store_path
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        key = (st.st_mtime_ns, st.st_size)
        if self._store is None or key != self._store_key:
            self._store = MemoryStore(path).load()
            self._store_key = key
        return self._store


def create_app(config: Config, *, index: Index | None = None) -> Flask:
    """The viewer's Flask app over `config`'s captures folder."""
    app = Flask(__name__)
    viewer = Viewer(
        config=config,
        index=index or Index(captures_dir=config.capture.dir, state_dir=config.view.state_path),
        costs=costs.Costs(config.usage.prices, use_database=config.usage.genai_prices),
    )
    app.extensions["glass_viewer"] = viewer
    app.jinja_env.globals.update(fmt_int=fmt_int, fmt_cost=fmt_cost, fmt_ms=fmt_ms, export=False)
    app.jinja_env.filters["json_text"] = json_text
    for name in app.jinja_env.list_templates():  # compiled at start, not on a first view
        app.jinja_env.get_template(name)

    @app.before_request
    def _loopback_only() -> None:
        if not config.view.remote and not is_loopback(host_name(request.host)):
            abort(400)  # a page elsewhere that rebinds its own host name to 127.0.0.1

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/")
    def index_page() -> str:
        viewer.index.refresh()
        found = viewer.session_list()
        day = _arg_day("day")
        project = request.args.get("project") or None
        model = request.args.get("model") or None
        query = (request.args.get("q") or "").strip()
        projects = sorted({s.project for s in found if s.project})
        models = sorted({m for s in found for m in s.models})
        days = sorted({s.first_day for s in found} | {s.last_day for s in found}, reverse=True)
        show_all = bool(request.args.get("all"))
        side_only = sum(1 for s in found if not s.main)
        shown = [
            s
            for s in found
            if (show_all or s.main)
            and (day is None or s.first_day <= day <= s.last_day)
            and (project is None or s.project == project)
            and (model is None or model in s.models)
        ]
        searched = None
        if query:
            hits, searched = search_captures(viewer, query)
            shown = [s for s in shown if s.id in hits]
        page = max(1, _arg_int("page") or 1)
        return render_template(
            "index.html",
            sessions=shown[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
            total=len(shown),
            page=page,
            pages=max(1, -(-len(shown) // PAGE_SIZE)),
            day=day,
            project=project,
            model=model,
            query=query,
            searched=searched,
            show_all=show_all,
            side_only=side_only,
            projects=projects,
            models=models,
            days=days,
            notes=_notes(viewer),
            no_captures=not viewer.captures_dir.is_dir(),
            captures_dir=viewer.captures_dir,
        )

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status=204)

    @app.get("/sessions/<sid>")
    def session_page(sid: str) -> str:
        viewer.index.refresh()
        template = "session_body.html" if request.args.get("fragment") else "session.html"
        rows = viewer.index.session_rows(sid)
        key = (sid, template, sessions.version_of(rows), viewer.store_key())
        cached = viewer.pages.get(key)
        if cached is not None:
            return cached
        html = render_template(template, s=_session(viewer, sid))
        viewer.remember(key, html)
        return html

    @app.get("/sessions/<sid>/poll")
    def session_poll(sid: str) -> Response:
        viewer.index.refresh()
        rows = viewer.index.session_rows(sid)
        return _json({"version": sessions.version_of(rows)})

    @app.get("/sessions/<sid>/diff/<int:n>")
    def diff_page(sid: str, n: int) -> str:
        viewer.index.refresh()
        main = [r for r in viewer.index.session_rows(sid) if r.scope == "main"]
        if not main:
            abort(404)
        if not 1 <= n <= len(main):
            abort(404)
        cur_row = main[n - 1]
        prev_row = main[n - 2] if n >= 2 else None
        problem = None
        result = None
        try:
            cur = read_capture(cur_row.fspath).get("request") or {}
            prev = read_capture(prev_row.fspath).get("request") or {} if prev_row else {}
            result = diffs.diff_requests(prev, cur)
        except (BadCapture, OSError) as e:
            problem = str(e)
        return render_template(
            "diff.html",
            sid=sid,
            n=n,
            count=len(main),
            cur=cur_row,
            prev=prev_row,
            d=result,
            problem=problem,
        )

    @app.get("/captures/<day>/<name>")
    def capture_page(day: str, name: str) -> str:
        path = paths.capture_file(viewer.captures_dir, day, name)
        if path is None:
            abort(404)
        problem = None
        doc: Any = None
        try:
            doc = read_capture(path)
        except BadCapture as e:
            problem = str(e)
        except OSError as e:
            problem = f"cannot read: {e.strerror or e}"
        viewer.index.refresh()
        row = viewer.index.capture(paths.rel_of(day, name))
        return render_template(
            "capture.html",
            rel=paths.rel_of(day, name),
            doc=doc,
            problem=problem,
            row=row,
            long_chars=LONG_CHARS,
            max_depth=NODE_DEPTH,
            base=f"/captures/{paths.rel_of(day, name)}",
        )

    def capture_or_404(day: str, name: str) -> dict[str, Any]:
        path = paths.capture_file(viewer.captures_dir, day, name)
        if path is None:
            abort(404)
        try:
            return read_capture(path)
        except (BadCapture, OSError):
            abort(404)

    @app.get("/captures/<day>/<name>/value")
    def capture_value(day: str, name: str) -> Response:
        value = resolve_pointer(capture_or_404(day, name), request.args.get("p", ""))
        if value is _MISSING:
            abort(404)
        text = value if isinstance(value, str) else result_text(value)
        return Response(text, mimetype="text/plain", headers={"Content-Disposition": "inline"})

    @app.get("/captures/<day>/<name>/raw")
    def capture_raw(day: str, name: str) -> Response:
        doc = capture_or_404(day, name)
        return Response(
            json.dumps(doc, indent=2, ensure_ascii=False), mimetype="text/plain; charset=utf-8"
        )

    @app.get("/memories")
    def memories() -> str:
        store = viewer.store()
        return render_template(
            "memories.html",
            m=memory_page.build(
                store,
                query=(request.args.get("q") or "").strip(),
                kind=request.args.get("kind") or None,
                project=request.args.get("project") or None,
                show_all=bool(request.args.get("all")),
            ),
        )

    @app.get("/usage")
    def usage() -> str:
        since, until = _arg_day("since"), _arg_day("until")
        return render_template(
            "usage.html", u=usage_page.build(viewer.config, since=since, until=until)
        )

    return app


def host_name(host: str) -> str:
    """The name in a Host header, without its port (`[::1]:8082` -> `::1`)."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def _session(viewer: Viewer, sid: str) -> sessions.SessionView:
    mem = sessions.memories_by_session(viewer.store()).get(sid, 0)
    view = sessions.build_session(viewer.index, sid, costs_=viewer.costs, memories=mem)
    if view is None:
        abort(404)
    return view


def _notes(viewer: Viewer) -> list[str]:
    """Bad captures and foreign files in day folders, one line each."""
    out = [f"{r.rel}: skipped, {r.problem}" for r in viewer.index.problems()]
    out += [f"{o.day}/{o.name}: not a capture file, ignored" for o in viewer.index.other_files()]
    return out


def _arg_day(name: str) -> str | None:
    value = request.args.get(name) or None
    return value if value is not None and _DAY.match(value) else None


def _arg_int(name: str) -> int | None:
    value = request.args.get(name) or ""
    return int(value) if _is_digits(value) else None


def _is_digits(text: str) -> bool:
    """ASCII digits only: `"²".isdigit()` is true, but `int("²")` raises."""
    return text.isascii() and text.isdigit()


def _json(value: Any) -> Response:
    return Response(json.dumps(value), mimetype="application/json")


_MISSING = object()


def resolve_pointer(doc: Any, pointer: str) -> Any:
    """The value at a JSON pointer (RFC 6901) in `doc`, or `_MISSING`."""
    if not pointer.startswith("/"):
        return _MISSING
    value = doc
    for raw in pointer[1:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and _is_digits(part) and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def search_captures(viewer: Viewer, query: str, *, limit: int = 200) -> tuple[set[str], str]:
    """Sessions whose capture files contain `query` (case-insensitive), and what was searched."""
    needles = {query.lower(), json.dumps(query, ensure_ascii=False)[1:-1].lower()}
    hits: set[str] = set()
    files = 0
    for row in reversed(viewer.index.all_rows()):
        if row.problem is not None or row.session in hits:
            continue
        files += 1
        try:
            if row.fspath.endswith(".gz"):
                data = json.dumps(read_capture(row.fspath), ensure_ascii=False).lower()
            else:
                data = Path(row.fspath).read_text(encoding="utf-8", errors="replace").lower()
        except (BadCapture, OSError):
            continue
        if any(n in data for n in needles):
            hits.add(row.session)
            if len(hits) >= limit:
                break
    return hits, (
        f"searched the full text of {files:,} capture files (requests, responses and "
        f"headers) for {query!r}, case-insensitive"
    )


def json_text(value: Any) -> str:
    """A JSON value as the text a capture file spells it (a plain str: the template escapes it)."""
    return json.dumps(value, ensure_ascii=False)


def fmt_int(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def fmt_cost(value: float | None) -> str:
    if value is None:
        return "?"
    return f"${value:,.4f}" if value < 100 else f"${value:,.2f}"


def fmt_ms(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.0f} ms" if value < 10_000 else f"{value / 1000:,.1f} s"
