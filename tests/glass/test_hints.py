"""glass/hints.py: make commands as the user must type them."""

from __future__ import annotations

from pathlib import Path

from glass.hints import make_command


def test_the_default_config_needs_no_config_argument():
    assert make_command("analyze", config=Path("config.yaml")) == "make analyze"
    assert make_command("analyze", config=None) == "make analyze"


def test_another_config_is_named():
    assert make_command("analyze", config=Path("other.yaml")) == "make analyze CONFIG=other.yaml"
    assert make_command("status", config=Path("my dir/c.yaml"), args="--json") == (
        "make status ARGS=--json CONFIG='my dir/c.yaml'"
    )
