"""Fixtures of the viewer's tests: a config over a temporary captures folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from glass.config import Config, load_config

PRICES = """\
usage:
  prices:
    claude-sonnet-4-5: {input: 3.0, output: 15.0, cache_write_5m: 3.75, cache_write_1h: 6.0, cache_read: 0.3}
    claude-haiku-4-5: {input: 1.0, output: 5.0, cache_write_5m: 1.25, cache_write_1h: 2.0, cache_read: 0.1}
"""


def make_config(tmp_path: Path, extra: str = "") -> Config:
    path = tmp_path / "config.yaml"
    path.write_text(f"capture:\n  dir: captures\n{PRICES}{extra}", encoding="utf-8")
    return load_config(path)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


@pytest.fixture
def captures(config: Config) -> Path:
    config.capture.dir.mkdir(mode=0o700, exist_ok=True)
    return config.capture.dir
