"""A real headless Chromium for the browser tests, driven by Playwright-for-Python.

The browser is Debian's (packages ``chromium`` and ``chromium-driver``, which ``make test`` and
``.ci/run`` install as root when /usr/bin/chromium is missing). Playwright starts that executable
through ``executable_path``: its own browser download (``playwright install``) is never used,
and cannot work on a machine without the internet. Why Playwright rather than Selenium: its
locators wait by themselves (a capture appearing live is one ``expect(...)`` rather than a
polling loop), and it reports dialogs, page errors and every request the page makes, which is
how the tests prove that no script from a capture runs and that nothing is fetched off-machine.

What happens where:

- :func:`require_chromium` finds the executable ($GLASS_CHROMIUM, else /usr/bin/chromium);
  missing, it fails the test under CI=true and skips it otherwise.
- :func:`open_tab` launches Chromium headless with :data:`CHROMIUM_ARGS` and a fresh
  ``--user-data-dir`` (Playwright's persistent context, in the test's tmp folder) and gives a
  :class:`Tab`: the page, plus what it saw. Every request to a host other than loopback is
  aborted before it leaves the browser and listed in ``Tab.offsite``; every dialog
  (``alert``, ``confirm``...) is dismissed and listed in ``Tab.dialogs``; uncaught script
  errors are listed in ``Tab.errors``.
- :meth:`Tab.screenshot` writes a full-page PNG into the test's tmp folder (``screenshots/``)
  so that a failure can be looked at; the tab takes a last one when the test ends.
- The pytest fixtures ``playwright_driver`` (one per session) and ``tab`` (one per test),
  defined as ``*_fixture`` functions: a test module or conftest imports those names
  (``from tests.browser import playwright_driver_fixture, tab_fixture``) to get them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Dialog, Error, Page, Playwright, Route, sync_playwright

from tests.proxy import missing_real_part

CHROMIUM = Path("/usr/bin/chromium")
"""Debian's Chromium (package ``chromium``); $GLASS_CHROMIUM names another one."""

CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
"""Without the background-networking flags Chromium keeps calling Google's hosts, which this
machine's closed network refuses (see the machine notes); --no-sandbox because tests run as
root. ``--headless`` and ``--user-data-dir`` are added by Playwright from its own options."""

INSTALL_HINT = (
    "as root: apt-get update && apt-get install -y --no-install-recommends chromium "
    "chromium-driver (make test does it)"
)

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})

SCREENSHOTS = "screenshots"
"""The folder of the test's tmp_path the screenshots go to."""


def require_chromium(*, path: Path | None = None, ci: bool | None = None) -> Path:
    """The Chromium executable; missing, fail the test under CI (`ci`, default CI=true), else skip."""
    found = path or Path(os.environ.get("GLASS_CHROMIUM") or CHROMIUM)
    if not (found.is_file() and os.access(found, os.X_OK)):
        missing_real_part(f"Chromium is not installed at {found}; {INSTALL_HINT}", ci=ci)
    return found


def is_loopback(url: str) -> bool:
    """Whether a request goes to this machine (or never leaves it: data:, blob:, about:, file:)."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about", "file"):
        return True
    return (parts.hostname or "") in LOOPBACK_HOSTS


@dataclass(frozen=True, kw_only=True)
class Tab:
    """One page of a fresh headless Chromium, and what it saw while the test ran."""

    page: Page
    shots: Path
    offsite: list[str] = field(default_factory=list)
    """URLs the page asked for off this machine (aborted, never sent)."""
    dialogs: list[str] = field(default_factory=list)
    """``"<type>: <message>"`` of every dialog a script opened (dismissed)."""
    errors: list[str] = field(default_factory=list)
    """Uncaught script errors on the page."""

    def screenshot(self, name: str) -> Path:
        """A full-page PNG of the page now, as `<tmp_path>/screenshots/<name>.png`."""
        self.shots.mkdir(parents=True, exist_ok=True)
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def script_flag(self, name: str) -> object:
        """The value of ``window[name]`` (None when unset): a payload's proof that it ran."""
        return self.page.evaluate("(name) => window[name] ?? null", name)


@contextmanager
def open_tab(*, driver: Playwright, tmp_path: Path, executable: Path) -> Iterator[Tab]:
    """A fresh headless Chromium (its own user-data-dir under `tmp_path`) with one watched tab."""
    context = driver.chromium.launch_persistent_context(
        str(tmp_path / "chromium-profile"),
        executable_path=str(executable),
        headless=True,
        args=list(CHROMIUM_ARGS),
    )
    try:
        page = context.pages[0] if context.pages else context.new_page()
        tab = Tab(page=page, shots=tmp_path / SCREENSHOTS)

        def guard(route: Route) -> None:
            url = route.request.url
            if is_loopback(url):
                route.continue_()
                return
            tab.offsite.append(url)
            route.abort("blockedbyclient")

        def on_dialog(dialog: Dialog) -> None:
            tab.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        context.route("**/*", guard)
        page.on("dialog", on_dialog)
        page.on("pageerror", lambda error: tab.errors.append(str(error)))
        yield tab
        try:
            tab.screenshot("last")
        except Error:
            pass  # the test closed the page or the browser: nothing left to show
    finally:
        context.close()


@dataclass(kw_only=True)
class _Shared:
    """The one Playwright driver of this process, and how many fixtures hold it."""

    driver: Playwright | None = None
    holders: int = 0


_SHARED = _Shared()


@contextmanager
def shared_driver() -> Iterator[Playwright]:
    """Playwright's driver (its bundled Node process), one per process however many hold it.

    Each conftest or test module that imports the fixtures defines a session fixture of its
    own, and Playwright's sync API cannot start twice in one thread: the second holder gets the
    first one's driver, and the last one to let go stops it.
    """
    if _SHARED.driver is None:
        _SHARED.driver = sync_playwright().start()
    _SHARED.holders += 1
    try:
        yield _SHARED.driver
    finally:
        _SHARED.holders -= 1
        if _SHARED.holders == 0:
            _SHARED.driver.stop()
            _SHARED.driver = None


@pytest.fixture(scope="session", name="playwright_driver")
def playwright_driver_fixture() -> Iterator[Playwright]:
    """Playwright's driver, one per test session (see :func:`shared_driver`)."""
    with shared_driver() as driver:
        yield driver


@pytest.fixture(name="tab")
def tab_fixture(playwright_driver: Playwright, tmp_path: Path) -> Iterator[Tab]:
    """A fresh headless Debian Chromium with one watched page (see :class:`Tab`)."""
    executable = require_chromium()
    with open_tab(driver=playwright_driver, tmp_path=tmp_path, executable=executable) as opened:
        yield opened
