"""`python -m capture`: what `make capture`, `make capture-web` and `make run-claude` run.

python -m capture [--config PATH] proxy      [-- extra mitmdump args]
python -m capture [--config PATH] web        [-- extra mitmweb args]
python -m capture [--config PATH] run-claude [--claude BIN] [--dir DIR] [--mitm-args "ARGS"]
                                             [--provider bedrock|vertex|anthropic]
                                             [-- claude args]

`run-claude` first makes sure a proxy answers: when none does, it starts one in the
background (`glass.procs.ensure_proxy`: detached, its log and pid file in the analyzer's
state folder, `--mitm-args` split as a shell would and passed to it) and leaves it running.
`--provider` (`make run-claude PROVIDER=…`) sets what `capture/provider_env.py` says; the
pre-flight line names the provider the proxy will capture Claude Code's calls as.
python -m capture [--config PATH] compact    [--dry-run]
python -m capture [--config PATH] du         [--by day|session] [--json]
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from capture import launch, maintenance, provider_env, schedule
from glass import pidfile, procs
from glass.config import ConfigError, load_config
from glass.hints import make_command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m capture", description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=None, help="config file (default: config.yaml)")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("proxy", help="start mitmdump with the capture addon (the default)")
    sub.add_parser("web", help="start mitmweb with the capture addon")
    run = sub.add_parser("run-claude", help="run Claude Code through the proxy")
    run.add_argument("--claude", default=None, help="the claude binary (default: claude on PATH)")
    run.add_argument("--dir", default=None, help="the project folder to run Claude Code in")
    run.add_argument(
        "--mitm-args",
        default="",
        help="extra mitmdump arguments, as one shell-quoted string, for a proxy it starts",
    )
    run.add_argument(
        "--provider",
        default=None,
        help="bedrock or vertex: set CLAUDE_CODE_USE_* and its region (default: as the "
        "environment says)",
    )
    # -- upkeep (capture/maintenance.py) --
    compact_cmd = sub.add_parser("compact", help="compress old days, apply retention")
    compact_cmd.add_argument("--dry-run", action="store_true", help="say what would happen")
    du_cmd = sub.add_parser("du", help="bytes on disk per day or session, plain and compressed")
    du_cmd.add_argument("--by", choices=("day", "session"), default="day")
    du_cmd.add_argument("--json", action="store_true", help="one JSON object per row and line")
    du_cmd.add_argument(
        "--summary", action="store_true", help="one line: files, bytes, oldest day (make status)"
    )

    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, extra = argv[:at], argv[at + 1 :]
    args = parser.parse_args(argv)

    try:
        config = load_config(args.config)
        cfg = config.capture
        if args.command == "compact":
            return maintenance.run_compact(config, dry_run=args.dry_run)
        if args.command == "du":
            return maintenance.run_du(config, by=args.by, as_json=args.json, summary=args.summary)
        if args.command == "run-claude":
            env = dict(os.environ)
            env.update(provider_env.provider_environment(args.provider, env=env))
            launch.find_claude(args.claude, env, config=args.config)
            try:
                mitm_args = shlex.split(args.mitm_args)
            except ValueError as e:
                raise launch.LaunchError(f"MITM_ARGS: {e}") from None
            up = procs.ensure_proxy(procs.proxy_spec(config, mitm_args=mitm_args))
            for note in up.notes:
                print(f"Glass: {note}", file=sys.stderr, flush=True)
            if up.started:
                print(launch.started_line(cfg, up, config=args.config), file=sys.stderr, flush=True)
            launched = launch.claude_command(
                cfg, claude=args.claude, args=extra, env=env, config=args.config
            )
            print(launch.preflight(cfg, env=launched.env), file=sys.stderr, flush=True)
            if args.dir:
                try:
                    os.chdir(os.path.expanduser(args.dir))
                except OSError as e:
                    raise launch.LaunchError(f"DIR={args.dir}: {e.strerror}") from None
            assert config.analyze.state_dir is not None  # load_config fills it in
            hint = launch.hooks_hint(
                Path.cwd(), home=Path.home(), state_dir=config.analyze.state_dir
            )
            if hint:
                print(hint, file=sys.stderr, flush=True)
            try:
                os.execve(launched.argv[0], launched.argv, launched.env)
            except OSError as e:
                raise launch.LaunchError(f"cannot start {launched.argv[0]}: {e.strerror}") from None
        web = args.command == "web"
        cmd = launch.proxy_command(cfg, web=web, extra=[*schedule.proxy_args(config), *extra])
    except (ConfigError, launch.LaunchError, provider_env.ProviderError, pidfile.ProcError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    where = f"{cfg.listen_host}:{cfg.listen_port}"
    if warning := launch.exposure_warning(cfg):
        print(warning, file=sys.stderr, flush=True)
    print(
        f"Glass: proxy on {where}, captures in {cfg.dir}"
        + (f", web UI on http://127.0.0.1:{cfg.web_port}" if web else "")
        + f"\nGlass: {schedule.describe(config)}"
        + f"\nGlass: in another terminal run `{make_command('run-claude', config=args.config)}`",
        file=sys.stderr,
        flush=True,
    )
    try:
        os.execv(cmd[0], cmd)
    except OSError as e:
        print(f"error: cannot start {cmd[0]}: {e.strerror}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
