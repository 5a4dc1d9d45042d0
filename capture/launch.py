"""Start the capturing proxy, and start Claude Code through it.

`proxy_command()` turns config.yaml's `capture:` section into a mitmdump (or
mitmweb) command line that loads `capture/addon.py` (with mitmproxy's
`proxyauth` when `capture.proxyauth` is set); `exposure_warning()` is the line
`make capture` prints when the proxy listens beyond loopback. `claude_command()`
checks that the proxy answers and its CA exists, and builds the environment
Claude Code needs to talk through it (the proxy login, if any, inside
`HTTPS_PROXY`; `make run-claude` first has `glass.procs.ensure_proxy` start
a proxy when none answers, and `started_line()` is the one line it says
then). Every hint names its make command
through `glass.hints.make_command()`, `CONFIG=…` included.
`preflight()` is the line naming the provider the proxy will capture Claude Code's
calls as (or warning that nothing would be captured; `capture/provider_env.py` reads
the environment). `hooks_hint()` is the one line
`make run-claude` prints, once per project folder, when Glass's recall hooks
are not set up for it (read off Claude Code's settings files with
`glass.claude_settings`; the folders already told are listed in
`<state_dir>/run-claude-hinted`).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from capture import providers
from capture.provider_env import claude_target, preflight_line
from glass.claude_settings import hooks_installed
from glass.config import CaptureConfig
from glass.hints import make_command
from glass.procs import CA_FILE, ProxyUp, answers

ADDON = Path(__file__).resolve().parent / "addon.py"
LOCAL_NO_PROXY = ("localhost", "127.0.0.1", "::1")
HINTED_FILE = "run-claude-hinted"
PROXYAUTH_ENV = "GLASS_PROXYAUTH"
"""With an htpasswd `capture.proxyauth`: the "user:pass" `make run-claude` logs in with."""


class LaunchError(Exception):
    """Something is missing; the message says what, and which command fixes it."""


def proxy_command(cfg: CaptureConfig, *, web: bool = False, extra: Sequence[str] = ()) -> list[str]:
    tool = "mitmweb" if web else "mitmdump"
    cmd = [
        _find_tool(tool),
        "--scripts",
        str(ADDON),
        "--listen-host",
        cfg.listen_host,
        "--listen-port",
        str(cfg.listen_port),
        "--set",
        f"confdir={cfg.confdir}",
        "--set",
        f"capture_dir={cfg.dir}",
    ]
    cmd += [
        arg
        for entry in cfg.providers
        for arg in ("--set", f"capture_providers={providers.to_option(entry)}")
    ]
    if cfg.proxyauth:
        cmd += ["--set", f"proxyauth={cfg.proxyauth}"]
    if web:
        cmd += ["--web-port", str(cfg.web_port), "--set", "store_streamed_bodies=true"]
    return cmd + list(extra)


def exposure_warning(cfg: CaptureConfig) -> str | None:
    """The one line `make capture` prints when the proxy listens beyond this machine."""
    if not cfg.remote:
        return None
    where = f"{cfg.listen_host}:{cfg.listen_port}"
    if cfg.proxyauth:
        return (
            f"Glass: warning: the proxy listens on {where}, reachable from other machines; "
            "clients must log in (capture.proxyauth)"
        )
    return (
        f"Glass: warning: the proxy listens on {where} WITHOUT authentication "
        "(capture.allow_remote: true): anyone who reaches it can use it, and their traffic "
        "lands in your captures"
    )


def _find_tool(name: str) -> str:
    """mitmdump/mitmweb from this interpreter's environment, else from PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        raise LaunchError(f"{name} is not installed; run `make install` (it installs mitmproxy)")
    return found


@dataclass(frozen=True, kw_only=True)
class ClaudeLaunch:
    argv: list[str]
    env: dict[str, str]


def proxy_url(cfg: CaptureConfig, *, credentials: str | None = None) -> str:
    """The proxy's URL; `credentials` ("user:pass") go into it, percent-encoded."""
    host = cfg.listen_host
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    login = ""
    if credentials:
        user, _, password = credentials.partition(":")
        login = f"{quote(user, safe='')}:{quote(password, safe='')}@"
    return f"http://{login}{host}:{cfg.listen_port}"


def _credentials(cfg: CaptureConfig, env: dict[str, str], *, config: str | None) -> str | None:
    """The "user:pass" Claude Code logs in to the proxy with, if it asks for one."""
    if not cfg.proxyauth:
        return None
    if not cfg.proxyauth.startswith("@"):
        return cfg.proxyauth
    given = env.get(PROXYAUTH_ENV, "")
    if ":" not in given:
        run = make_command("run-claude", config=config)
        raise LaunchError(
            f"capture.proxyauth is an htpasswd file; give your login as "
            f"{PROXYAUTH_ENV}=user:pass in the environment of `{run}`"
        )
    return given


def claude_command(
    cfg: CaptureConfig,
    *,
    claude: str | None,
    args: list[str],
    env: dict[str, str] | None = None,
    config: str | None = None,
) -> ClaudeLaunch:
    """Check the proxy and its CA, then return how to run Claude Code through it.

    `config`: the config file as the user named it, for the hints.
    """
    env = dict(os.environ if env is None else env)
    ca = cfg.confdir / CA_FILE
    url = proxy_url(cfg)
    capture = make_command("capture", config=config)
    if not answers(cfg.listen_host, cfg.listen_port):
        raise LaunchError(
            f"the proxy does not answer at {url}; start it with `{capture}` in another terminal"
        )
    if not ca.is_file():
        raise LaunchError(
            f"mitmproxy's CA certificate {ca} is missing; `{capture}` creates it on its first start"
        )
    binary = find_claude(claude, env, config=config)
    no_proxy = [p for p in (env.get("NO_PROXY") or env.get("no_proxy") or "").split(",") if p]
    no_proxy += [h for h in LOCAL_NO_PROXY if h not in no_proxy]
    url = proxy_url(cfg, credentials=_credentials(cfg, env, config=config))
    env.pop(PROXYAUTH_ENV, None)  # Claude Code needs only the URL
    env.update(
        HTTPS_PROXY=url,
        HTTP_PROXY=url,
        https_proxy=url,
        http_proxy=url,
        NO_PROXY=",".join(no_proxy),
        no_proxy=",".join(no_proxy),
        NODE_EXTRA_CA_CERTS=str(ca),
    )
    return ClaudeLaunch(argv=[binary, *args], env=env)


def captured_as(cfg: CaptureConfig, *, url: str) -> str | None:
    """The provider a POST to `url` is captured as under `cfg`; None: it is not captured."""
    found = providers.Matcher(cfg.providers).match_url(url)
    return found.provider if found is not None else None


def preflight(cfg: CaptureConfig, *, env: dict[str, str]) -> str:
    """The line `make run-claude` prints before it starts Claude Code with `env`."""
    return preflight_line(
        claude_target(env),
        captured_as=lambda url: captured_as(cfg, url=url),
        proxy=(cfg.listen_host, cfg.listen_port),
    )


def started_line(cfg: CaptureConfig, up: ProxyUp, *, config: str | None) -> str:
    """What `make run-claude` says when it started the proxy in the background."""
    pid = up.record.pid if up.record else "?"
    return (
        f"Glass: started the proxy in the background on {proxy_url(cfg)} (pid {pid}, log "
        f"{up.log}); it stays up for the next session, `{make_command('down', config=config)}` "
        "stops it"
    )


def find_claude(claude: str | None, env: dict[str, str], *, config: str | None = None) -> str:
    name = os.path.expanduser(claude or "claude")  # zsh leaves ~ in CLAUDE=~/... alone
    found = shutil.which(name, path=env.get("PATH"))
    if found:
        return os.path.abspath(found)  # run-claude may change into DIR before starting it
    if claude:
        raise LaunchError(
            f"CLAUDE={claude} is not an executable; give the path of the claude binary"
        )
    raise LaunchError(
        "Claude Code (`claude`) is not on PATH; install it with "
        "`npm install -g @anthropic-ai/claude-code`, or name it: "
        f"`{make_command('run-claude', 'CLAUDE=/path/to/claude', config=config)}`"
    )


def hooks_hint(project: Path, *, home: Path, state_dir: Path) -> str | None:
    """The hint that recall is not set up for `project`; None when it is, or was said before."""
    project = project.absolute()
    if hooks_installed(project, home=home):
        return None
    record = state_dir / HINTED_FILE
    try:
        told = record.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        told = []
    except OSError:
        return None  # cannot tell whether it was said: rather say nothing
    if str(project) in told:
        return None
    try:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(record, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, f"{project}\n".encode())
        finally:
            os.close(fd)
    except OSError:
        return None  # it could not be remembered: saying it on every start would nag
    return (
        f"Glass: memories are not recalled into sessions in {project}; "
        f"`make hooks DIR={project}` sets that up (said once)"
    )
