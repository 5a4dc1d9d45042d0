"""`python -m view [--config PATH] [serve] [--port N]` and `python -m view export …`.

`serve` (the default, `make view`) prints the URL and serves until Ctrl-C on
`view.listen_host:view.port` with werkzeug's threaded WSGI server (Flask's
own); a non-loopback host (allowed only with `view.allow_remote: true`, see
glass/config.py) prints a warning line first. `export` writes one session as
a self-contained HTML file. Exit codes: 0; 2 for a bad config, argument or
session id, or a port in use.
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

from werkzeug.serving import make_server

from glass.config import Config, ConfigError, load_config
from view import export
from view.app import create_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m view", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="config file (default: ./config.yaml)")
    port_help = "instead of view.port (0: any free port)"
    parser.add_argument("--port", type=int, help=f"serve: {port_help}")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="serve the viewer (the default)")
    # SUPPRESS: `serve` without --port keeps a --port given before it
    serve.add_argument("--port", type=int, default=argparse.SUPPRESS, help=port_help)
    exp = sub.add_parser("export", help="one session as a self-contained HTML file")
    exp.add_argument("session_id")
    exp.add_argument("-o", "--output", required=True, type=Path, help="the HTML file to write")
    exp.add_argument(
        "--redact-paths", action="store_true", help="replace your home folder in paths by ~"
    )
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.command == "export":
        if args.port is not None:
            parser.error("--port is for serve, not export")
        return _export(cfg, args)
    return _serve(cfg, port=args.port)


def _export(cfg: Config, args: argparse.Namespace) -> int:
    app = create_app(cfg)
    page = export.export_html(app, args.session_id, redact_paths=args.redact_paths)
    if page is None:
        print(f"error: no capture names session {args.session_id!r}", file=sys.stderr)
        return 2
    try:
        export.write(args.output, page)
    except OSError as e:
        print(f"error: cannot write {args.output}: {e.strerror or e}", file=sys.stderr)
        return 2
    print(f"wrote {args.output} ({len(page.encode()):,} bytes)")
    return 0


def _serve(cfg: Config, *, port: int | None) -> int:
    host = cfg.view.listen_host
    if cfg.view.remote:
        print(
            f"Glass: warning: the viewer listens on {host}, not loopback (view.allow_remote): "
            "anyone who reaches it reads every capture, prompts and code included",
            file=sys.stderr,
        )
    port = cfg.view.port if port is None else port
    try:
        sock = _listen(host, port)
    except OSError as e:
        print(f"error: cannot listen on {host}:{port}: {e.strerror or e}", file=sys.stderr)
        return 2
    app = create_app(cfg)
    # werkzeug binds itself unless given a socket, and then exits the process on an error
    server = make_server(host, port, app, threaded=True, fd=sock.fileno())
    shown = f"[{host}]" if ":" in host else host
    print(f"Glass viewer: http://{shown}:{sock.getsockname()[1]}/ (Ctrl-C stops it)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sock.close()
    return 0


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock
