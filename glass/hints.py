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


def make_command(
    target: str, *variables: str, config: str | Path | None, args: str | None = None
) -> str:
    """`make <target> [VAR=value …] [ARGS=…] [CONFIG=…]`, CONFIG only when `config` is not
    the default config.yaml.

    `variables` are `NAME=value` pairs (values are shell-quoted); `config` is
    the file as it was named (`Config.path`, or `--config` as the Makefile
    passes its `CONFIG` through; None: the built-in defaults).
    """
    assigned = list(variables)
    if args:
        assigned.append(f"ARGS={args}")
    if config is not None and Path(config).absolute() != DEFAULT_CONFIG.absolute():
        assigned.append(f"CONFIG={config}")
    quoted = [
        name + "=" + shlex.quote(value) for name, _, value in (v.partition("=") for v in assigned)
    ]
    return " ".join(["make", target, *quoted])
