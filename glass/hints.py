"""Commands named in hints, as the user must type them.

A hint that says "run `make analyze`" is wrong for someone who started with
`CONFIG=other.yaml`: `make analyze` alone reads the default config.
`make_command()` is the one place that renders a make command for the
config in use; both stages print hints through it.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from glass.config import DEFAULT_CONFIG


def make_command(target: str, *, config: Path | None, args: str | None = None) -> str:
    """`make <target> [ARGS=…] [CONFIG=…]`, CONFIG only when `config` is not the default.

    `config` is `Config.path`, the file as it was named (None: built-in defaults).
    """
    parts = ["make", target]
    if args:
        parts.append(f"ARGS={shlex.quote(args)}")
    if config is not None and Path(config) != DEFAULT_CONFIG:
        parts.append(f"CONFIG={shlex.quote(str(config))}")
    return " ".join(parts)
