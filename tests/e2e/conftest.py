"""Fixtures for the end-to-end tests: a stand-in API and the real proxy in front of it.

Every test gets its own stand-in (tests/standin.py, in this process) and its own
capturing proxy (a `python -m capture ... proxy` subprocess, exactly what
`make capture` runs) writing into the test's tmp_path. The mitmproxy CA is
made once per session in a temporary confdir, never in ~/.mitmproxy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.proxy import CapturingProxy
from tests.standin import StandIn


@pytest.fixture(scope="session")
def confdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A temporary mitmproxy confdir shared by the session's proxies (one CA)."""
    return tmp_path_factory.mktemp("mitmproxy-conf")


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as api:
        yield api


@pytest.fixture
def capture_dir(tmp_path: Path) -> Path:
    return tmp_path / "captures"


@pytest.fixture
def start_proxy(standin: StandIn, confdir: Path) -> Iterator[Callable[..., CapturingProxy]]:
    """Factory: `start_proxy(capture_dir=..., **kw)` -> a running CapturingProxy.

    Every proxy it started is stopped at the end of the test; its output is
    printed then, so a failing test shows it.
    """
    started: list[CapturingProxy] = []

    def start(*, capture_dir: Path, **kw) -> CapturingProxy:
        kw.setdefault("upstream_port", standin.port)
        kw.setdefault("confdir", confdir)
        proxy = CapturingProxy(capture_dir=capture_dir, **kw)
        started.append(proxy)
        return proxy.start()

    yield start
    for proxy in started:
        proxy.stop()
        print(f"--- output of {proxy!r} ---\n{proxy.output()}")


@pytest.fixture
def proxy(start_proxy: Callable[..., CapturingProxy], capture_dir: Path) -> CapturingProxy:
    """The capturing proxy in front of `standin`, writing into `capture_dir`."""
    return start_proxy(capture_dir=capture_dir)
