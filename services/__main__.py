"""`python -m services`: what `make up`, `make down`, `make status` and `make logs` run.

python -m services [--config PATH] up [--mitm-args "ARGS"]   proxy + analyzer in the background
python -m services [--config PATH] down                     stop what up / run-claude started
python -m services [--config PATH] status                   both processes, one line each
python -m services [--config PATH] logs                     follow both logs (tail -F)

Exit codes: 0 done; 2 a problem, said in one line (the config, a port held by
another program, a process that did not start: then with the last lines of its log).
"""

from __future__ import annotations

import argparse
import os
import sys

from glass import pidfile
from glass.config import ConfigError, load_config
from services import control


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n", 2)[2],
    )
    parser.add_argument("--config", default=None, help="config file (default: config.yaml)")
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("up", help="start the proxy and the analyzer in the background")
    start.add_argument("--mitm-args", default="", help="extra mitmdump arguments, one string")
    sub.add_parser("down", help="stop them")
    sub.add_parser("status", help="show them")
    sub.add_parser("logs", help="follow their logs")
    args = parser.parse_args(argv)

    def say(line: str) -> None:
        print(f"Glass: {line}" if args.command != "status" else line, flush=True)

    try:
        config = load_config(args.config)
        if args.command == "up":
            control.up(config, mitm_args=args.mitm_args, say=say)
        elif args.command == "down":
            control.down(config, say=say)
        elif args.command == "status":
            control.status(config, say=say)
        else:
            files = control.log_files(config)
            if not any(p.exists() for p in files):
                say(f"no logs yet in {files[0].parent}; `make up` starts the processes")
            logs = [str(p) for p in files]
            os.execvp("tail", ["tail", "-n", "20", "-F", *logs])
    except (ConfigError, pidfile.ProcError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: cannot follow the logs with tail: {e.strerror}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130  # Ctrl-C while waiting for a start: what was started stays, `down` stops it
    return 0


if __name__ == "__main__":
    sys.exit(main())
