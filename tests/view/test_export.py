"""view/export.py and `python -m view export`: one self-contained HTML file of a session."""

from __future__ import annotations

import re
import stat
from html import unescape as html_unescape

from tests import viewdata
from view.cli import main
from view.export import CSP, redact

SID = "5e55a0e1-0000-4000-8000-000000000001"


def test_export_writes_a_self_contained_file(config, captures, tmp_path, capsys):
    long_text = "a line of the file\n" * 500
    viewdata.write_session(captures, steps=viewdata.coding_steps(long_result=long_text, xss=False))
    out = tmp_path / "session.html"
    assert main(["--config", str(config.path), "export", SID, "-o", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    html = out.read_text(encoding="utf-8")
    assert "<style>" in html and "<script>" in html
    assert not re.search(r'(src|href)="/', html), "no link back to the viewer"
    assert 'data-poll="' not in html
    assert "http://" not in html and "https://" not in html
    assert 'data-testid="tool-call"' in html and "Fix the failing test in shop/cart.py" in html
    assert long_text in html  # whole: no server to fetch it from
    assert "/home/dev/shop" in html


def test_the_export_fetches_nothing(config, captures, tmp_path):
    steps = viewdata.coding_steps()
    steps[0].content.append(viewdata.text("![x](https://evil.example/b.png)"))
    viewdata.write_session(captures, steps=steps)
    out = tmp_path / "session.html"
    assert main(["--config", str(config.path), "export", SID, "-o", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    head = html.split("<style>")[0]
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', head)
    assert policy is not None and html_unescape(policy.group(1)) == CSP
    assert "default-src 'none'; img-src data:;" in CSP and "unsafe-inline" in CSP


def test_redact_paths(config, captures, tmp_path, monkeypatch):
    viewdata.write_session(captures, steps=viewdata.coding_steps())
    monkeypatch.setenv("HOME", "/home/dev")
    out = tmp_path / "session.html"
    assert (
        main(["--config", str(config.path), "export", SID, "-o", str(out), "--redact-paths"]) == 0
    )
    html = out.read_text(encoding="utf-8")
    assert "/home/dev" not in html
    assert "~/shop/cart.py" in html


def test_redact_leaves_a_root_home_alone():
    assert redact("/etc/x", home="/") == "/etc/x"
    assert redact("at /home/a&amp;b/x", home="/home/a&b") == "at ~/x"


def test_redact_stops_at_a_path_boundary():
    page = (
        'a /home/dev/y, /home/developer/y, "/home/dev" <b>/home/dev</b> /home/dev&#x27; /home/dev'
    )
    assert redact(page, home="/home/dev/") == 'a ~/y, /home/developer/y, "~" <b>~</b> ~&#x27; ~'


def test_an_xss_capture_exports_as_text(config, captures, tmp_path):
    viewdata.write_session(captures, steps=viewdata.coding_steps(xss=True), prompt=viewdata.XSS)
    out = tmp_path / "x.html"
    assert main(["--config", str(config.path), "export", SID, "-o", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert html.count("<script>") == 1  # the viewer's own, inlined
    for raw in ("<img src=x", 'href="javascript:', "</textarea><textarea>", "<svg onload"):
        assert raw not in html


def test_an_unknown_session_or_bad_target(config, captures, tmp_path, capsys):
    viewdata.write_session(captures, steps=viewdata.coding_steps())
    assert (
        main(["--config", str(config.path), "export", "nobody", "-o", str(tmp_path / "x.html")])
        == 2
    )
    assert "error: no capture names session 'nobody'" in capsys.readouterr().err
    target = tmp_path / "missing-folder" / "x.html"
    assert main(["--config", str(config.path), "export", SID, "-o", str(target)]) == 2
    assert f"error: cannot write {target}" in capsys.readouterr().err
