"""Fixtures of the browser tests: a real headless Chromium (tests/browser.py), one real
Claude Code CLI session recorded through the real proxy (once per test run), and the real
viewer (`python -m view ... serve`) over a copy of it, one per test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import playwright_driver_fixture, tab_fixture  # noqa: F401 -- registers the fixtures `playwright_driver` and `tab`
from tests.proxy import CapturingProxy
from tests.standin import Reply, Scripted, StandIn
from tests.view.browser.recorded import CliSession, ViewerServer, record_cli_session, write_config


@pytest.fixture(scope="session")
def cli_session(tmp_path_factory: pytest.TempPathFactory) -> CliSession:
    """The real Claude Code CLI's session (Read, Edit, Markdown answer), recorded once."""
    return record_cli_session(tmp_path_factory.mktemp("cli-session"))


@pytest.fixture
def captures(tmp_path: Path, cli_session: CliSession) -> Path:
    """This test's own copy of the CLI session's captures (mtimes kept), free to add to."""
    target = tmp_path / "captures"
    shutil.copytree(cli_session.captures, target)
    return target


@pytest.fixture
def config(tmp_path: Path, captures: Path) -> Path:
    """The config.yaml the viewer and `analyze usage` of this test read."""
    return write_config(tmp_path, captures=captures)


@pytest.fixture
def viewer(config: Path) -> Iterator[ViewerServer]:
    """The real viewer over this test's captures, on 127.0.0.1 and a free port."""
    with ViewerServer(config) as server:
        yield server


@pytest.fixture
def standin() -> Iterator[StandIn]:
    """A stand-in API for this test's own requests (replies scripted by the test)."""
    with StandIn(Scripted([Reply.text("stand-in answer")])) as api:
        yield api


@pytest.fixture
def proxy(standin: StandIn, captures: Path, cli_session: CliSession) -> Iterator[CapturingProxy]:
    """The real capturing proxy in front of `standin`, writing into this test's captures."""
    with CapturingProxy(
        upstream_port=standin.port, capture_dir=captures, confdir=cli_session.confdir
    ) as running:
        yield running
        print(f"--- output of {running!r} ---\n{running.output()}")
