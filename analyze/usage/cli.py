"""`python -m analyze usage [--since D] [--until D] [--by day|model|provider|session] [--json]`.

Parses the arguments, runs `analyze.usage.scan.build_report` and prints it
with `analyze.usage.render`: the table or the JSON lines on stdout, footnotes
and warnings on stderr. Exit codes: 0, or 2 for a bad argument.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import sys
from datetime import date

from analyze.usage import render
from analyze.usage.scan import BY_CHOICES, build_report
from glass.config import Config
from glass.hints import make_command

_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", metavar="YYYY-MM-DD", help="first day to include (local date)")
    parser.add_argument("--until", metavar="YYYY-MM-DD", help="last day to include (local date)")
    parser.add_argument(
        "--by",
        choices=BY_CHOICES,
        default="day",
        help="one row per day (default), model, provider or session, per scope",
    )
    parser.add_argument(
        "--json", action="store_true", help="one JSON object per row and line, for jq"
    )


def parse_day(value: str | None, *, option: str) -> str | None:
    """`value` checked as a YYYY-MM-DD date, or ValueError naming `option`."""
    if value is None:
        return None
    try:
        if not _ISO_DAY.match(value):
            raise ValueError
        date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{option} {value!r} is not a date like 2026-11-21") from None
    return value


def run(args: argparse.Namespace, cfg: Config) -> int:
    try:
        since = parse_day(getattr(args, "since", None), option="--since")
        until = parse_day(getattr(args, "until", None), option="--until")
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if since and until and since > until:
        print(f"error: --since {since} is after --until {until}", file=sys.stderr)
        return 2
    report = build_report(
        captures_dir=cfg.capture.dir,
        prices=cfg.usage.prices,
        by=getattr(args, "by", "day"),
        since=since,
        until=until,
        state_dir=cfg.analyze.state_dir,
        progress=sys.stderr,
        use_database=cfg.usage.genai_prices,
    )
    config_name = str(cfg.path) if cfg.path is not None else "config.yaml"
    try:
        if getattr(args, "json", False):
            for line in render.json_rows(report):
                print(line)
            sys.stdout.flush()
            _stderr(render.footer(report))
        else:
            print(render.render_table(report), flush=True)
    except BrokenPipeError:  # `... | head`: the reader has seen enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    make = functools.partial(make_command, config=cfg.path)
    _stderr(render.notes(report, config_name=config_name, make=make))
    return 0


def _stderr(lines: list[str]) -> None:
    for line in lines:
        print(line, file=sys.stderr)
