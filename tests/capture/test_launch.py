"""capture/launch.py and `python -m capture`: the mitmdump command line and run-claude's checks."""

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from capture import launch
from glass.config import DEFAULT_PROVIDERS, CaptureConfig, ProviderConfig
from glass.hints import make_command

ROOT = Path(__file__).resolve().parents[2]


def cfg(tmp_path, **kw):
    return CaptureConfig(dir=tmp_path / "caps", confdir=tmp_path / "conf", **kw)


def test_proxy_command_loads_the_addon_with_the_configured_options(tmp_path):
    gateway = ProviderConfig(name="gateway", hosts=["x.test"], paths=["/llm/v1/messages"])
    cmd = launch.proxy_command(
        cfg(tmp_path, providers=[*DEFAULT_PROVIDERS[:1], gateway]), extra=["--flag"]
    )
    assert Path(cmd[0]).name == "mitmdump"
    assert cmd[cmd.index("--scripts") + 1] == str(ROOT / "capture" / "addon.py")
    assert cmd[cmd.index("--listen-host") + 1] == "127.0.0.1"
    sets = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--set"]
    assert f"capture_dir={tmp_path / 'caps'}" in sets and f"confdir={tmp_path / 'conf'}" in sets
    assert [s for s in sets if s.startswith("capture_providers=")] == [
        "capture_providers=anthropic api.anthropic.com /v1/messages",
        "capture_providers=gateway x.test /llm/v1/messages",
    ]
    assert cmd[-1] == "--flag"


def test_the_web_ui_shows_streamed_bodies(tmp_path):
    cmd = launch.proxy_command(cfg(tmp_path, web_port=9999), web=True)
    assert Path(cmd[0]).name == "mitmweb"
    assert cmd[cmd.index("--web-port") + 1] == "9999" and "store_streamed_bodies=true" in cmd


def test_run_claude_needs_a_proxy_that_answers(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    with pytest.raises(launch.LaunchError, match=r"does not answer.*make capture"):
        launch.claude_command(cfg(tmp_path, listen_port=free), claude="claude", args=[])


def test_run_claude_needs_the_ca_and_a_claude(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        c = cfg(tmp_path, listen_port=s.getsockname()[1])
        with pytest.raises(launch.LaunchError, match=r"mitmproxy-ca-cert\.pem is missing"):
            launch.claude_command(c, claude="claude", args=[])
        (tmp_path / "conf").mkdir()
        (tmp_path / "conf" / "mitmproxy-ca-cert.pem").write_text("pem")
        with pytest.raises(launch.LaunchError, match="CLAUDE=/nope/claude is not an executable"):
            launch.claude_command(c, claude="/nope/claude", args=[])
        fake = tmp_path / "claude"
        fake.write_text("#!/bin/sh\n")
        fake.chmod(0o755)
        run = launch.claude_command(
            c,
            claude=str(fake),
            args=["-p", "hi"],
            env={"PATH": "/usr/bin", "NO_PROXY": "corp.example"},
        )
    url = f"http://127.0.0.1:{c.listen_port}"
    assert run.argv == [str(fake), "-p", "hi"]
    assert run.env["HTTPS_PROXY"] == run.env["HTTP_PROXY"] == url
    assert run.env["NODE_EXTRA_CA_CERTS"] == str(tmp_path / "conf" / "mitmproxy-ca-cert.pem")
    assert run.env["NO_PROXY"] == "corp.example,localhost,127.0.0.1,::1"


def test_claude_path_with_tilde_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    fake = tmp_path / "claude"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert launch.find_claude("~/claude", {"PATH": "/usr/bin"}) == str(fake)


def test_python_m_capture_run_claude_without_claude_is_one_line_and_starts_nothing(tmp_path):
    config = tmp_path / "config.yaml"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    config.write_text(f"capture:\n  listen_port: {free}\n  confdir: conf\n")
    argv = [
        "-m",
        "capture",
        "--config",
        str(config),
        "run-claude",
        "--claude",
        "/nonexistent/claude",
    ]
    done = subprocess.run(
        [sys.executable, *argv, "--", "-p", "x"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "CLAUDE=/nonexistent/claude is not an executable" in done.stderr
    assert not (tmp_path / "captures").exists() and not (tmp_path / "conf").exists()


@pytest.mark.parametrize(
    "config,expected",
    [
        (None, "make capture"),
        ("config.yaml", "make capture"),
        ("./config.yaml", "make capture"),  # the same file: no CONFIG= needed
        ("other.yaml", "make capture CONFIG=other.yaml"),
        ("my dir/x.yaml", "make capture CONFIG='my dir/x.yaml'"),
    ],
)
def test_make_command_names_the_config_as_it_must_be_typed(config, expected):
    assert make_command("capture", config=config) == expected


def test_make_command_keeps_its_variables_and_puts_config_last():
    assert (
        make_command("run-claude", "CLAUDE=~/bin/claude code", config="o.yaml")
        == "make run-claude CLAUDE='~/bin/claude code' CONFIG=o.yaml"
    )


def test_run_claude_hints_name_the_config_in_use(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    with pytest.raises(launch.LaunchError, match=r"`make capture CONFIG=other\.yaml` in another"):
        launch.claude_command(
            cfg(tmp_path, listen_port=free), claude=None, args=[], config="other.yaml"
        )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        c = cfg(tmp_path, listen_port=s.getsockname()[1])
        with pytest.raises(
            launch.LaunchError, match=r"`make capture CONFIG=other\.yaml` creates it"
        ):
            launch.claude_command(c, claude=None, args=[], config="other.yaml")
        (tmp_path / "conf").mkdir()
        (tmp_path / "conf" / "mitmproxy-ca-cert.pem").write_text("pem")
        with pytest.raises(
            launch.LaunchError, match=r"`make run-claude CLAUDE=/path/to/claude CONFIG=other\.yaml`"
        ):
            launch.claude_command(
                c, claude=None, args=[], env={"PATH": str(tmp_path)}, config="other.yaml"
            )


@pytest.mark.parametrize("other_config", [False, True])
def test_make_capture_tells_the_run_claude_command_for_its_config(tmp_path, other_config):
    config = tmp_path / "other.yaml"
    config.write_text("capture:\n  confdir: conf\n")
    argv = [sys.executable, "-m", "capture"]
    expected = "make run-claude"
    if other_config:
        argv += ["--config", str(config)]
        expected = f"make run-claude CONFIG={config}"
    done = subprocess.run(
        [*argv, "proxy", "--", "--version"],  # mitmdump prints its version and exits
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"Glass: in another terminal run `{expected}`" in done.stderr


def test_hooks_hint_once_per_folder_and_never_when_installed(tmp_path):
    import json

    project, home, state = tmp_path / "p", tmp_path / "home", tmp_path / "state"
    project.mkdir()
    hint = launch.hooks_hint(project, home=home, state_dir=state)
    assert hint is not None and "\n" not in hint and f"make hooks DIR={project}" in hint
    assert launch.hooks_hint(project, home=home, state_dir=state) is None  # said once
    assert (state / launch.HINTED_FILE).stat().st_mode & 0o777 == 0o600
    other = tmp_path / "q"
    other.mkdir()
    assert launch.hooks_hint(other, home=home, state_dir=state) is not None
    # With both hooks in the user's settings, a new folder gets no hint at all.
    command = "/x/.venv/bin/python -m analyze --config /x/config.yaml hook "
    settings = {
        "hooks": {
            event: [{"hooks": [{"type": "command", "command": command + sub}]}]
            for event, sub in (("SessionStart", "session-start"), ("UserPromptSubmit", "prompt"))
        }
    }
    (home / ".claude").mkdir(parents=True)
    (home / ".claude" / "settings.json").write_text(json.dumps(settings))
    third = tmp_path / "r"
    third.mkdir()
    assert launch.hooks_hint(third, home=home, state_dir=state) is None
    assert str(third) not in (state / launch.HINTED_FILE).read_text()


def test_proxyauth_goes_to_mitmproxy_and_a_remote_proxy_is_warned_about(tmp_path):
    assert not any(a.startswith("proxyauth=") for a in launch.proxy_command(cfg(tmp_path)))
    remote = cfg(tmp_path, listen_host="0.0.0.0", proxyauth="u:p")
    cmd = launch.proxy_command(remote)
    assert cmd[cmd.index("proxyauth=u:p") - 1] == "--set"
    assert launch.exposure_warning(cfg(tmp_path)) is None
    assert launch.exposure_warning(cfg(tmp_path, listen_host="::1")) is None
    assert "clients must log in" in (launch.exposure_warning(remote) or "")
    open_one = launch.exposure_warning(cfg(tmp_path, listen_host="0.0.0.0", allow_remote=True))
    assert open_one and "WITHOUT authentication" in open_one and "u:p" not in open_one


def _listening_cfg(tmp_path, s: socket.socket, **kw) -> CaptureConfig:
    s.bind(("127.0.0.1", 0))
    s.listen()
    (tmp_path / "conf").mkdir(exist_ok=True)
    (tmp_path / "conf" / "mitmproxy-ca-cert.pem").write_text("pem")
    return cfg(tmp_path, listen_host="0.0.0.0", listen_port=s.getsockname()[1], **kw)


def test_run_claude_logs_in_through_https_proxy(tmp_path):
    fake = tmp_path / "claude"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    with socket.socket() as s:
        c = _listening_cfg(tmp_path, s, proxyauth="me:p@ss/w#rd")
        run = launch.claude_command(c, claude=str(fake), args=[], env={"PATH": "/usr/bin"})
    url = f"http://me:p%40ss%2Fw%23rd@127.0.0.1:{c.listen_port}"
    assert run.env["HTTPS_PROXY"] == run.env["HTTP_PROXY"] == run.env["https_proxy"] == url


def test_run_claude_with_an_htpasswd_file_takes_the_login_from_the_environment(tmp_path):
    fake = tmp_path / "claude"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    with socket.socket() as s:
        c = _listening_cfg(tmp_path, s, proxyauth=f"@{tmp_path / 'htpasswd'}")
        with pytest.raises(launch.LaunchError, match="GLASS_PROXYAUTH=user:pass"):
            launch.claude_command(c, claude=str(fake), args=[], env={"PATH": "/usr/bin"})
        env = {"PATH": "/usr/bin", "GLASS_PROXYAUTH": "me:pw"}
        run = launch.claude_command(c, claude=str(fake), args=[], env=env)
    assert run.env["HTTPS_PROXY"] == f"http://me:pw@127.0.0.1:{c.listen_port}"
    assert "GLASS_PROXYAUTH" not in run.env


@pytest.mark.parametrize("auth", [True, False], ids=["proxyauth", "allow_remote"])
def test_make_capture_on_every_interface_prints_one_warning_and_no_login(tmp_path, auth):
    config = tmp_path / "remote.yaml"
    key = "proxyauth: 'me:s3cret-pw'" if auth else "allow_remote: true"
    config.write_text(f"capture:\n  confdir: conf\n  listen_host: 0.0.0.0\n  {key}\n")
    done = subprocess.run(
        [sys.executable, "-m", "capture", "--config", str(config), "proxy", "--", "--version"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("Glass: warning:")]
    assert len(warnings) == 1 and "0.0.0.0:8080" in warnings[0]
    assert "s3cret" not in done.stderr + done.stdout


def test_make_capture_refuses_an_open_remote_proxy_in_one_line(tmp_path):
    config = tmp_path / "remote.yaml"
    config.write_text("capture:\n  listen_host: 0.0.0.0\n")
    done = subprocess.run(
        [sys.executable, "-m", "capture", "--config", str(config), "proxy"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: {config}: 'capture.listen_host' is 0.0.0.0, not a loopback address: set "
        "capture.proxyauth (user:pass or @/path/to/htpasswd), or capture.allow_remote: true "
        "to let anyone who reaches the port use the proxy"
    ]


def test_started_line_is_one_line_with_the_log_and_how_to_stop_it(tmp_path):
    from glass.pidfile import PidRecord
    from glass.procs import ProxyUp

    record = PidRecord(pid=4242, starttime=1, config="/x/other.yaml", port=8080, started=0.0)
    up = ProxyUp(record=record, started=True, notes=[], log=tmp_path / "proxy.log")
    line = launch.started_line(cfg(tmp_path), up, config="other.yaml")
    assert "\n" not in line
    assert "pid 4242" in line and str(tmp_path / "proxy.log") in line
    assert "`make down CONFIG=other.yaml`" in line


def test_run_claude_with_a_provider_it_cannot_set_up_is_one_line_and_starts_nothing(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("capture:\n  confdir: conf\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CLAUDE_CODE_USE_BEDROCK": "1"}
    base = [sys.executable, "-m", "capture", "--config", str(config), "run-claude"]
    for provider, expected in [
        (
            "vertex",
            "PROVIDER=vertex, but CLAUDE_CODE_USE_BEDROCK=1 is set in your environment; "
            "unset one of them",
        ),
        ("azure", "PROVIDER=azure: must be one of anthropic, bedrock, vertex"),
    ]:
        done = subprocess.run(
            [*base, "--provider", provider, "--claude", "/bin/true"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            check=False,
            timeout=60,
        )
        assert done.returncode == 2
        assert done.stderr.splitlines() == [f"error: {expected}"]
    assert not (tmp_path / "captures").exists() and not (tmp_path / "conf").exists()


def test_preflight_says_what_the_configured_hosts_capture(tmp_path):
    c = cfg(tmp_path)
    assert launch.preflight(c, env={}) == (
        "Glass: Claude Code calls the Anthropic API at api.anthropic.com: "
        "captured as provider anthropic"
    )
    line = launch.preflight(c, env={"ANTHROPIC_BASE_URL": "https://gw.example"})
    assert "nothing would be captured" in line
    bedrock = launch.preflight(c, env={"CLAUDE_CODE_USE_BEDROCK": "1", "AWS_REGION": "eu-west-3"})
    assert bedrock.endswith("bedrock-runtime.eu-west-3.amazonaws.com: captured as provider bedrock")
    vertex = launch.preflight(c, env={"CLAUDE_CODE_USE_VERTEX": "1", "CLOUD_ML_REGION": "global"})
    assert vertex.endswith("at aiplatform.googleapis.com: captured as provider vertex")


def test_preflight_follows_a_configured_gateway_entry(tmp_path):
    gateway = ProviderConfig(name="gateway", hosts=["llm.corp.example"], paths=["/anthropic"])
    c = cfg(tmp_path, providers=[*DEFAULT_PROVIDERS, gateway])
    env = {"ANTHROPIC_BASE_URL": "https://llm.corp.example/anthropic"}
    assert launch.preflight(c, env=env).endswith("captured as provider gateway")
    elsewhere = {"ANTHROPIC_BASE_URL": "https://llm.corp.example/other"}
    assert "nothing would be captured" in launch.preflight(c, env=elsewhere)
