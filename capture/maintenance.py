"""`python -m capture compact` and `python -m capture du`: the capture folder's upkeep.

compact: retention (capture/retention.py), then compression of old days
(capture/compact.py), one summary line on stdout. du: bytes on disk per day
or session (capture/du.py). Both read config.yaml through glass.config.
"""

from __future__ import annotations

import logging
import sys
import time
from datetime import date

from capture import compact, du, retention
from glass.config import Config


def run_compact(config: Config, *, dry_run: bool) -> int:
    """Exit code 0 when the run completed, 1 when the disk was full or files did not parse."""
    _log_to_stderr()
    cfg = config.capture
    today = date.today()

    def retain(summary: compact.Summary) -> None:
        retention.apply(
            cfg.dir,
            summary=summary,
            today=today,
            delete_after_days=cfg.delete_after_days,
            keep_days_with_memories=cfg.keep_days_with_memories,
            store=config.analyze.store_path,
            dry_run=dry_run,
        )

    try:
        summary = compact.run(
            cfg.dir,
            compress_after_days=cfg.compress_after_days,
            today=today,
            now=time.time(),
            dry_run=dry_run,
            retention=retain,
        )
    except compact.Locked as e:
        print(f"compact: {e}", file=sys.stderr)
        return 0
    print(summary.line(), flush=True)
    return 1 if summary.disk_full else 0


def _log_to_stderr() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("compact: %(levelname)s: %(message)s"))
    log = logging.getLogger("glass.compact")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def run_du(config: Config, *, by: du.By, as_json: bool, summary: bool = False) -> int:
    rows, total = du.disk_usage(config.capture.dir, by=by)
    if summary:
        print(du.summary_line(total, root=config.capture.dir))
        return 0
    sys.stdout.write(du.render(rows, total, by=by, as_json=as_json))
    return 0
