"""glass/config.py: the one config file, validated with messages naming file and key."""

import subprocess
import sys
from pathlib import Path

import pytest

from glass.config import DEFAULT_PROVIDERS, ConfigError, RecallConfig, load_config
from glass.contract import MEMORY_KINDS

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path, text):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_the_shipped_config_is_valid_and_matches_the_defaults():
    shipped = load_config(ROOT / "config.yaml")
    assert shipped.capture.listen_host == "127.0.0.1" and shipped.capture.listen_port == 8080
    assert shipped.capture.providers == list(DEFAULT_PROVIDERS)  # config.yaml lists them all
    assert shipped.analyze.model == "claude-haiku-5-5" and shipped.analyze.batch_size == 10
    assert shipped.analyze.store == ROOT / "captures" / "memories.jsonl"
    assert shipped.analyze.state_dir == ROOT / "captures" / ".analyze"
    assert shipped.recall == RecallConfig()  # config.yaml states every default
    assert (shipped.capture.compress_after_days, shipped.capture.delete_after_days) == (7, None)
    assert shipped.capture.keep_days_with_memories is True


def test_usage_prices_out_of_the_box_with_an_override_per_model(tmp_path):
    from glass.config import UsageConfig

    assert load_config(ROOT / "config.yaml").usage == UsageConfig()  # genai-prices, no overrides
    assert UsageConfig().genai_prices is True
    cfg = load_config(
        write(
            tmp_path,
            "usage:\n  genai_prices: false\n  prices:\n    claude-x: {input: 1, output: 2,"
            " cache_write_5m: 3, cache_write_1h: 4, cache_read: 5}\n",
        )
    ).usage
    assert cfg.genai_prices is False and cfg.prices["claude-x"].cache_write_1h == 4.0
    with pytest.raises(ConfigError, match=r"'usage\.genai_prices' must be true or false"):
        load_config(write(tmp_path, "usage:\n  genai_prices: yes please\n"))


def test_compaction_can_be_turned_off(tmp_path):
    cfg = load_config(write(tmp_path, "capture:\n  compress_after_days: null\n")).capture
    assert cfg.compress_after_days is None and cfg.delete_after_days is None


def test_the_recall_section_reads_its_values(tmp_path):
    cfg = load_config(
        write(
            tmp_path,
            "recall:\n  max_chars: 4000\n  prompt_limit: 0\n  prompt_min_score: 2\n"
            "  kinds: [preference, error_fix]\n  near_duplicate_threshold: 1\n",
        )
    )
    assert cfg.recall == RecallConfig(
        max_chars=4000,
        prompt_limit=0,
        prompt_min_score=2.0,
        kinds=["preference", "error_fix"],
        near_duplicate_threshold=1.0,
    )
    assert RecallConfig().kinds == list(MEMORY_KINDS)


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    cfg = load_config(
        write(
            tmp_path,
            "capture:\n  dir: data/caps\n  confdir: ~/.mitm\nanalyze:\n  claude_bin: bin/claude\n",
        )
    )
    assert cfg.capture.dir == tmp_path / "data" / "caps"
    assert cfg.capture.confdir == Path.home() / ".mitm"
    assert cfg.analyze.store == tmp_path / "data" / "caps" / "memories.jsonl"  # follows capture.dir
    assert cfg.analyze.claude_bin == str(tmp_path / "bin" / "claude")
    assert (
        load_config(write(tmp_path, "analyze:\n  claude_bin: claude\n")).analyze.claude_bin
        == "claude"
    )


@pytest.mark.parametrize(
    "text,message",
    [
        (
            "capture:\n  listen_port: abc\n",
            "'capture.listen_port' must be an integer, got a string 'abc'",
        ),
        ("capture:\n  colour: blue\n", "unknown key 'capture.colour'"),
        ("captur:\n  dir: x\n", "unknown key 'captur'"),
        ("capture: [\n", "not valid YAML"),
        ("capture:\n  dir: a\n  dir: b\n", "key 'dir' appears twice"),
        (
            "analyze:\n  backend: openai\n",
            "'analyze.backend' must be one of 'anthropic', 'claude-cli'",
        ),
        ("capture:\n  providers: []\n", "'capture.providers' must name at least one provider"),
        (
            "capture:\n  providers: [{name: openai, hosts: [x], paths: [/]}]\n",
            "'capture.providers[0].name' must be one of 'anthropic', 'bedrock'",
        ),
        (
            "capture:\n  providers: [{name: gateway, hosts: [x.test]}]\n",
            "missing key 'capture.providers[0].paths'",
        ),
        (
            "capture:\n  providers: [{name: gateway, hosts: [https://x.test], paths: [/]}]\n",
            "'capture.providers[0].hosts' must be a non-empty list of host names or patterns",
        ),
        (
            "capture:\n  providers: [{name: gateway, hosts: [x.test], paths: [v1/messages]}]\n",
            "'capture.providers[0].paths' must be a non-empty list of paths starting with '/'",
        ),
        *(
            (
                f"capture:\n  providers: [{{name: gateway, hosts: [x.test], paths: ['{p}']}}]\n",
                f"'capture.providers[0].paths' must be a non-empty list of paths starting with '/'"
                f" (no query, fragment, comma, space or '**'), got ['{p}']",
            )
            for p in ("/a b", "/a,b", "/a#b", "/a?b")
        ),
        ("capture:\n  listen_port: 70000\n", "'capture.listen_port' must be a port number"),
        ("capture:\n  web_port: 8080\n", "'capture.web_port' must differ from listen_port"),
        ("analyze:\n  max_wait_s: .nan\n", "'analyze.max_wait_s' must be a number"),
        ("analyze:\n  timeout_s: 0\n", "'analyze.timeout_s' must be more than 0"),
        ("analyze:\n  batch_size: 0\n", "'analyze.batch_size' must be at least 1"),
        ("analyze:\n  batch_size: true\n", "'analyze.batch_size' must be an integer"),
        ("usage:\n  prices:\n    m: {input: 1}\n", "missing key 'usage.prices.m.output'"),
        ("- a list\n", "the top level must be a mapping"),
        ("recall:\n  max_chars: 0\n", "'recall.max_chars' must be at least 1"),
        ("recall:\n  prompt_max_chars: 0\n", "'recall.prompt_max_chars' must be at least 1"),
        ("recall:\n  max_chars: 10001\n", "'recall.max_chars' must be at most 10,000"),
        (
            "recall:\n  max_chars: 1000\n  prompt_max_chars: 1001\n",
            "'recall.prompt_max_chars' must not exceed max_chars",
        ),
        ("recall:\n  prompt_limit: -1\n", "'recall.prompt_limit' must be a non-negative integer"),
        ("recall:\n  prompt_min_score: -0.5\n", "'recall.prompt_min_score' must be a non-negative"),
        ("recall:\n  kinds: [preference, opinion]\n", "'recall.kinds' must be a non-empty list"),
        ("recall:\n  kinds: []\n", "'recall.kinds' must be a non-empty list of distinct kinds"),
        ("recall:\n  kinds: [fact, fact]\n", "'recall.kinds' must be a non-empty list"),
        ("recall:\n  kinds: fact\n", "'recall.kinds' must be a list"),
        (
            "recall:\n  near_duplicate_threshold: 1.5\n",
            "'recall.near_duplicate_threshold' must be more than 0 and at most 1",
        ),
        (
            "recall:\n  near_duplicate_threshold: 0\n",
            "'recall.near_duplicate_threshold' must be more than 0 and at most 1",
        ),
        ("recall:\n  max_char: 10\n", "unknown key 'recall.max_char'"),
        (
            "capture:\n  listen_host: 0.0.0.0\n",
            "'capture.listen_host' is 0.0.0.0, not a loopback address: set capture.proxyauth",
        ),
        ("capture:\n  listen_host: 192.168.1.5\n", "'capture.listen_host' is 192.168.1.5, not"),
        ("capture:\n  listen_host: myhost.lan\n", "'capture.listen_host' is myhost.lan, not"),
        ("capture:\n  proxyauth: justapassword\n", "'capture.proxyauth' must be user:pass"),
        ("capture:\n  proxyauth: any\n", "'capture.proxyauth' must be user:pass"),
        ("capture:\n  proxyauth: 'a:b:c'\n", "'capture.proxyauth' must be user:pass"),
        ("capture:\n  proxyauth: 'ldapuser:pw'\n", "'capture.proxyauth' must be user:pass"),
        ("capture:\n  proxyauth: '@'\n", "'capture.proxyauth' must be user:pass"),
        ("capture:\n  allow_remote: yes please\n", "'capture.allow_remote' must be true or false"),
        (
            "capture:\n  compress_after_days: 0\n",
            "'capture.compress_after_days' must be at least 1",
        ),
        ("capture:\n  delete_after_days: -3\n", "'capture.delete_after_days' must be a non-neg"),
        ("capture:\n  delete_after_days: 0\n", "'capture.delete_after_days' must be at least 1"),
        ("capture:\n  compress_after_days: soon\n", "'capture.compress_after_days' must be an"),
        ("capture:\n  keep_days_with_memories: 1\n", "must be true or false"),
    ],
)
def test_bad_values_name_the_file_and_the_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert message in str(e.value) and str(path) in str(e.value)


def test_an_asked_for_file_must_exist_and_the_default_may_be_missing(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    monkeypatch.chdir(tmp_path)
    assert load_config().capture.dir == tmp_path / "captures"


@pytest.mark.parametrize("command", [["capture", "proxy"], ["analyze", "status"]])
def test_the_commands_print_one_line_not_a_traceback(tmp_path, command):
    path = write(tmp_path, "capture:\n  listen_port: [1]\n")
    done = subprocess.run(
        [sys.executable, "-m", command[0], "--config", str(path), *command[1:]],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: {path}: 'capture.listen_port' must be an integer, got a list [1]"
    ]


@pytest.mark.parametrize(
    "text",
    [
        "capture:\n  listen_host: localhost\n",
        "capture:\n  listen_host: 127.0.0.2\n",
        "capture:\n  listen_host: '::1'\n",
        "capture:\n  listen_host: 0.0.0.0\n  proxyauth: 'u:p'\n",
        "capture:\n  listen_host: 0.0.0.0\n  allow_remote: true\n",
    ],
)
def test_loopback_or_a_login_or_an_explicit_allow_is_accepted(tmp_path, text):
    cfg = load_config(write(tmp_path, text)).capture
    assert cfg.remote == ("0.0.0.0" in text)


def test_an_htpasswd_file_resolves_against_the_config_folder_and_no_login_is_shown(tmp_path):
    cfg = load_config(write(tmp_path, "capture:\n  proxyauth: '@auth/htpasswd'\n")).capture
    assert cfg.proxyauth == f"@{tmp_path / 'auth' / 'htpasswd'}"
    secret = load_config(write(tmp_path, "capture:\n  proxyauth: 'u:s3cret'\n")).capture
    assert "s3cret" not in repr(secret)  # a config printed or logged does not show the login
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, "capture:\n  proxyauth: 's3cret'\n"))
    assert "s3cret" not in str(e.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "capture:\n  hosts: [api.anthropic.com]\n  paths: [/v1/messages]\n",
            "'capture.hosts' and 'capture.paths' are replaced by 'capture.providers': "
            "delete them (the default providers include api.anthropic.com /v1/messages)",
        ),
        (
            "capture:\n  hosts: [llm.example.com]\n  paths: [/anthropic/v1/messages]\n",
            "'capture.hosts' and 'capture.paths' are replaced by 'capture.providers': add this "
            "entry after the default providers in config.yaml: {hosts: [llm.example.com], "
            "name: gateway, paths: [/anthropic/v1/messages]}",
        ),
        (  # the old keys took any case, a lone string and api.anthropic.com among the others
            "capture:\n  hosts: [api.anthropic.com, GW.Example.com]\n  paths: /v1/messages\n",
            "'capture.hosts' and 'capture.paths' are replaced by 'capture.providers': add this "
            "entry after the default providers in config.yaml: {hosts: [gw.example.com], "
            "name: gateway, paths: [/v1/messages]}",
        ),
        (
            "capture:\n  paths: [/v1/messages, /v1/other]\n",
            "'capture.paths' are replaced by 'capture.providers': delete them and edit the "
            "anthropic entry's paths in config.yaml",
        ),
    ],
)
def test_old_hosts_and_paths_say_in_one_line_what_to_write(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert str(e.value) == f"{path}: {expected}"


def test_a_gateway_entry_is_read_after_the_defaults(tmp_path):
    text = (
        "capture:\n  providers:\n"
        + "".join(
            f"    - {{name: {p.name}, hosts: {p.hosts}, paths: {p.paths}}}\n"
            for p in DEFAULT_PROVIDERS
        ).replace("'", '"')
        + "    - {name: gateway, hosts: [llm.example.com], paths: [/anthropic]}\n"
    )
    providers = load_config(write(tmp_path, text)).capture.providers
    assert providers[:3] == list(DEFAULT_PROVIDERS)
    assert (providers[3].name, providers[3].hosts) == ("gateway", ["llm.example.com"])


# -- view: (the web viewer) -------------------------------------------------------------------


def test_the_shipped_view_section_is_the_defaults():
    from glass.config import ViewConfig

    shipped = load_config(ROOT / "config.yaml")
    assert dataclass_values(shipped.view, skip="state_dir") == dataclass_values(
        ViewConfig(), skip="state_dir"
    )
    assert shipped.view.listen_host == "127.0.0.1" and shipped.view.port == 8082
    assert shipped.view.state_dir == ROOT / "captures" / ".view"


def dataclass_values(obj, *, skip):
    import dataclasses

    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.name != skip}


def test_the_view_state_dir_resolves_against_the_config_folder(tmp_path):
    cfg = load_config(write(tmp_path, "view:\n  state_dir: viewstate\n  port: 9000\n"))
    assert cfg.view.state_dir == tmp_path / "viewstate" and cfg.view.port == 9000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("view:\n  port: 0\n", "'view.port' must be a port number from 1 to 65535"),
        ("view:\n  port: 70000\n", "'view.port' must be a port number from 1 to 65535"),
        (
            "view:\n  listen_host: 0.0.0.0\n",
            "'view.listen_host' is 0.0.0.0, not a loopback address: set view.allow_remote: true",
        ),
        ("view:\n  allow_remote: sure\n", "'view.allow_remote' must be true or false"),
        ("view:\n  colour: blue\n", "unknown key 'view.colour'"),
    ],
)
def test_bad_view_values_name_the_file_and_the_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert message in str(e.value) and str(path) in str(e.value)


def test_a_remote_viewer_with_allow_remote_is_accepted(tmp_path):
    cfg = load_config(write(tmp_path, "view:\n  listen_host: 0.0.0.0\n  allow_remote: true\n"))
    assert cfg.view.remote and cfg.view.allow_remote
