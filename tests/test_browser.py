"""Self-test of tests/browser.py: the real Debian Chromium renders a tiny local page.

The page is served on 127.0.0.1 by the standard library's http.server from the test's tmp
folder. The tests show that scripts run (a click changes the text), that a screenshot is a real
PNG of the page, and that the watchers the viewer's browser tests rely on can fail: a dialog,
a page error and an off-machine request are each seen.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser import (
    Tab,
    is_loopback,
    playwright_driver_fixture,  # noqa: F401 -- registers the fixture `playwright_driver`
    require_chromium,
    tab_fixture,  # noqa: F401 -- registers the fixture `tab`
)

pytestmark = pytest.mark.browser

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>glass browser self-test</title></head>
<body>
<h1 data-testid="greeting">not yet</h1>
<button data-testid="go" onclick="document.querySelector('[data-testid=greeting]').textContent = 'clicked'; window.__clicked = 1">go</button>
</body></html>
"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass  # keep pytest's output for the assertions


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    """A folder of pages served on 127.0.0.1; yields its base URL."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "index.html").write_text(PAGE, encoding="utf-8")
    (root / "alert.html").write_text("<script>alert('hi from a script')</script>", encoding="utf-8")
    (root / "throws.html").write_text("<script>undefinedThing()</script>", encoding="utf-8")
    (root / "offsite.html").write_text(
        '<img src="http://glass-offsite.invalid/pixel.png">', encoding="utf-8"
    )
    handler = functools.partial(_Quiet, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_renders_a_local_page_and_runs_its_script(tab: Tab, site: str) -> None:
    tab.page.goto(f"{site}/index.html")
    expect(tab.page.get_by_test_id("greeting")).to_have_text("not yet")
    assert tab.script_flag("__clicked") is None
    tab.page.get_by_test_id("go").click()
    expect(tab.page.get_by_test_id("greeting")).to_have_text("clicked")
    assert tab.script_flag("__clicked") == 1
    assert tab.page.evaluate("navigator.userAgent").find("HeadlessChrome") >= 0
    assert (tab.offsite, tab.dialogs, tab.errors) == ([], [], [])


def test_screenshot_is_a_png_in_the_tests_tmp_folder(tab: Tab, site: str, tmp_path: Path) -> None:
    tab.page.goto(f"{site}/index.html")
    shot = tab.screenshot("index")
    assert shot == tmp_path / "screenshots" / "index.png"
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 1000


def test_a_dialog_is_seen_and_dismissed(tab: Tab, site: str) -> None:
    tab.page.goto(f"{site}/alert.html")
    tab.page.wait_for_load_state("load")
    assert tab.dialogs == ["alert: hi from a script"]


def test_a_page_error_is_seen(tab: Tab, site: str) -> None:
    tab.page.goto(f"{site}/throws.html")
    tab.page.wait_for_load_state("load")
    assert len(tab.errors) == 1
    assert "undefinedThing" in tab.errors[0]


def test_an_offsite_request_is_aborted_and_listed(tab: Tab, site: str) -> None:
    tab.page.goto(f"{site}/offsite.html")
    tab.page.wait_for_load_state("load")
    assert tab.offsite == ["http://glass-offsite.invalid/pixel.png"]


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8082/", True),
        ("http://localhost/x", True),
        ("http://[::1]:9/", True),
        ("data:text/plain,hi", True),
        ("file:///tmp/session.html", True),
        ("http://127.0.0.1.example.com/", False),
        ("https://cdn.example.com/x.js", False),
    ],
)
def test_is_loopback(url: str, loopback: bool) -> None:
    assert is_loopback(url) is loopback


def test_missing_chromium_fails_under_ci(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="Chromium is not installed"):
        require_chromium(path=tmp_path / "no-chromium", ci=True)


def test_missing_chromium_skips_outside_ci(tmp_path: Path) -> None:
    with pytest.raises(pytest.skip.Exception, match="apt-get install"):
        require_chromium(path=tmp_path / "no-chromium", ci=False)


def test_present_chromium_is_returned(tmp_path: Path) -> None:
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert require_chromium(path=fake, ci=True) == fake
