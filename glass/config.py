"""config.yaml: the one user-facing configuration of both stages.

Every section is a frozen dataclass below; its fields, types and defaults are
the schema. `load_config()` reads the YAML file, checks every key against that
schema and returns a `Config`. Anything wrong (a YAML syntax error, an unknown
key, a value of the wrong type) raises `ConfigError` with a one-line message
that names the file and the key, for the command-line tools to print.

Relative paths resolve against the folder that holds the config file, and `~`
expands to the user's home, so `make CONFIG=elsewhere/config.yaml` works from
anywhere.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import re
import types
import typing
from collections.abc import Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import yaml

from glass.contract import MEMORIES_FILE, MEMORY_KINDS, STATE_DIR
from glass.tokens import Price  # the price of usage.prices, next to the token counts it prices

DEFAULT_CONFIG = Path("config.yaml")


class ConfigError(Exception):
    """A config file that cannot be used; the message is meant for the user."""


ProviderName = Literal["anthropic", "bedrock", "vertex", "gateway"]
PROVIDER_NAMES: Final = typing.get_args(ProviderName)
"""Who carried a Messages API call: a capture file's `provider` key is one of these."""
_HOST_PATTERN = re.compile(
    r"^(?:[a-z0-9*](?:[a-z0-9*-]*[a-z0-9*])?)(?:\.[a-z0-9*](?:[a-z0-9*-]*[a-z0-9*])?)*$"
)
"""A host pattern: DNS labels of lower-case letters, digits and `-`, where `*` stands for one
or more characters within one label (never a dot: `*.example.com` is not `example.com`)."""


_SPACE = re.compile(r"\s")


@dataclass(frozen=True, kw_only=True)
class ProviderConfig:
    """One `capture.providers` entry: POSTs to one of `hosts` on one of `paths` are captured."""

    name: ProviderName
    hosts: list[str]
    """Host patterns, as the client asked for the host (before any --map-remote)."""
    paths: list[str]
    """Path patterns (query string ignored); `*` is one or more characters within one segment;
    a path matches the whole pattern or continues it with `/` (so `/v1/messages` also covers
    `/v1/messages/count_tokens`)."""

    def problems(self) -> dict[str, str]:
        out = {}
        bad_hosts = [h for h in self.hosts if not _HOST_PATTERN.match(h) or "**" in h]
        if not self.hosts or bad_hosts:
            out["hosts"] = (
                "must be a non-empty list of host names or patterns such as "
                f"bedrock-runtime.*.amazonaws.com (lower case, no scheme or port), got {bad_hosts}"
            )
        bad_paths = [
            p
            for p in self.paths
            if not p.startswith("/") or "**" in p or any(c in p for c in "?#,") or _SPACE.search(p)
        ]
        if not self.paths or bad_paths:
            out["paths"] = (
                "must be a non-empty list of paths starting with '/' (no query, fragment, comma,"
                f" space or '**'), got {bad_paths}"
            )
        return out


DEFAULT_PROVIDERS: Final = (
    ProviderConfig(name="anthropic", hosts=["api.anthropic.com"], paths=["/v1/messages"]),
    ProviderConfig(
        name="bedrock",
        hosts=["bedrock-runtime.*.amazonaws.com"],
        paths=[
            "/model/*/invoke",
            "/model/*/invoke-with-response-stream",
            "/model/*/count-tokens",
        ],
    ),
    ProviderConfig(
        name="vertex",
        hosts=[
            "*-aiplatform.googleapis.com",
            "aiplatform.googleapis.com",
            "aiplatform.*.rep.googleapis.com",
        ],
        paths=[
            "/v1/projects/*/locations/*/publishers/anthropic/models/*:rawPredict",
            "/v1/projects/*/locations/*/publishers/anthropic/models/*:streamRawPredict",
        ],
    ),
)
"""What `capture.providers` is when config.yaml does not say (config.yaml lists the same)."""


def _listed(value: Any) -> list[str]:
    """A retired key's value as a list of strings (a lone string was one item)."""
    items = value if isinstance(value, list) else [value]
    return [str(v) for v in items]


@dataclass(frozen=True, kw_only=True)
class CaptureConfig:
    dir: Path = Path("captures")
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    web_port: int = 8081
    confdir: Path = Path("~/.mitmproxy")
    providers: list[ProviderConfig] = field(default_factory=lambda: list(DEFAULT_PROVIDERS))
    """What is captured: the first entry whose host and path patterns match a POST names
    its provider (capture/providers.py matches them)."""
    proxyauth: str | None = field(default=None, repr=False)  # a secret: never in a repr or log
    """mitmproxy's `proxyauth`: "user:pass" or "@/path/to/htpasswd"; needed off loopback."""
    allow_remote: bool = False
    """Listen off loopback without `proxyauth`: whoever reaches the port may use the proxy."""
    # -- compaction and retention (capture/compact.py, capture/retention.py) --
    compress_after_days: int | None = 7
    """Day folders older than this many days are gzipped file by file; None: never."""
    delete_after_days: int | None = None
    """Day folders older than this many days are deleted; None: kept forever."""
    keep_days_with_memories: bool = True
    """Retention keeps a day that a current memory cites in its `sources`."""

    @staticmethod
    def retired(raw: dict[str, Any]) -> str | None:
        """The one line for a config that still has `hosts`/`paths` (before `providers`)."""
        old = {k: raw[k] for k in ("hosts", "paths") if k in raw}
        if not old:
            return None
        if old == {"hosts": ["api.anthropic.com"], "paths": ["/v1/messages"]}:
            todo = "delete them (the default providers include api.anthropic.com /v1/messages)"
        else:
            hosts = _listed(old.get("hosts", ["api.anthropic.com"]))
            hosts = [h.lower() for h in hosts if h.lower() != "api.anthropic.com"]
            paths = _listed(old.get("paths", ["/v1/messages"]))
            entry = yaml.safe_dump(
                {"name": "gateway", "hosts": hosts or ["api.anthropic.com"], "paths": paths},
                default_flow_style=True,
            ).strip()
            todo = (
                f"add this entry after the default providers in config.yaml: {entry}"
                if hosts
                else "delete them and edit the anthropic entry's paths in config.yaml"
            )
        keys = " and ".join(f"'capture.{k}'" for k in old)
        return f"{keys} are replaced by 'capture.providers': {todo}"

    @property
    def remote(self) -> bool:
        """`listen_host` is reachable from other machines (not a loopback address)."""
        return not is_loopback(self.listen_host)

    def problems(self) -> dict[str, str]:
        out = {}
        if self.proxyauth is not None and not _proxyauth_ok(self.proxyauth):
            out["proxyauth"] = (
                "must be user:pass (one colon, a user name not starting with 'ldap') "
                "or @/path/to/htpasswd"
            )
        if self.remote and self.proxyauth is None and not self.allow_remote:
            out["listen_host"] = (
                f"is {self.listen_host}, not a loopback address: set capture.proxyauth "
                "(user:pass or @/path/to/htpasswd), or capture.allow_remote: true to let "
                "anyone who reaches the port use the proxy"
            )
        for name in ("compress_after_days", "delete_after_days"):
            if getattr(self, name) == 0:
                out[name] = "must be at least 1 (the current day is never touched), or null"
        for name in ("listen_port", "web_port"):
            if not 1 <= getattr(self, name) <= 65535:
                out[name] = "must be a port number from 1 to 65535"
        if not self.providers:
            out["providers"] = "must name at least one provider (see config.yaml for the defaults)"
        if self.web_port == self.listen_port:
            out["web_port"] = "must differ from listen_port"
        return out


def is_loopback(host: str) -> bool:
    """`localhost` or a loopback IP address (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def _proxyauth_ok(spec: str) -> bool:
    """The two forms mitmproxy's `proxyauth` takes that authenticate one known user set."""
    if spec.startswith("@"):
        return len(spec) > 1
    user, colon, password = spec.partition(":")
    # mitmproxy reads any value starting with "ldap" as an LDAP spec, and splits at every colon
    return bool(colon and user and password) and ":" not in password and not user.startswith("ldap")


@dataclass(frozen=True, kw_only=True)
class AnalyzeConfig:
    batch_size: int = 10
    max_wait_s: float = 60.0
    backend: Literal["anthropic", "claude-cli"] = "anthropic"
    model: str = "claude-haiku-5-5"
    base_url: str | None = None
    max_input_tokens: int = 40_000
    max_output_tokens: int = 4_096
    max_retries: int = 6
    timeout_s: float = 120.0
    claude_bin: str = "claude"
    proxy: str | None = None
    max_tool_result_chars: int = 2_000
    known_memories: int = 40
    store: Path | None = None
    """None: memories.jsonl in capture.dir."""
    state_dir: Path | None = None
    """None: .analyze in capture.dir."""
    observer: Literal["native", "polling"] = "native"
    incomplete_after_s: float = 600.0

    def problems(self) -> dict[str, str]:
        out = {}
        for name in (
            "batch_size",
            "max_input_tokens",
            "max_output_tokens",
            "max_tool_result_chars",
        ):
            if getattr(self, name) < 1:
                out[name] = "must be at least 1"
        if self.timeout_s <= 0:
            out["timeout_s"] = "must be more than 0"
        return out

    @property
    def store_path(self) -> Path:
        """`store` once resolved (`load_config` always resolves it)."""
        if self.store is None:
            raise ValueError("analyze.store is unresolved: build the config with load_config()")
        return self.store

    @property
    def state_path(self) -> Path:
        """`state_dir` once resolved (`load_config` always resolves it)."""
        if self.state_dir is None:
            raise ValueError("analyze.state_dir is unresolved: build the config with load_config()")
        return self.state_dir


@dataclass(frozen=True, kw_only=True)
class UsageConfig:
    genai_prices: bool = True
    """Price models out of the box from the genai-prices package (offline); False: `prices` only."""
    prices: dict[str, Price] = field(default_factory=dict)
    """Dollars per million tokens per model: an override, before genai-prices."""


HOOK_OUTPUT_LIMIT: Final = 10_000
"""Characters of `additionalContext` Claude Code passes on whole (README, "The hook contract")."""


@dataclass(frozen=True, kw_only=True)
class RecallConfig:
    """What Claude Code gets back from the store (hooks, search), and near-duplicates."""

    max_chars: int = 6_000
    """Upper bound of the session-start block, at most HOOK_OUTPUT_LIMIT."""
    prompt_max_chars: int = 1_500
    """Upper bound of the block a prompt adds."""
    prompt_min_chars: int = 12
    """Prompts shorter than this add nothing."""
    prompt_limit: int = 3
    """At most this many memories per prompt (0: prompts add nothing)."""
    prompt_min_score: float = 1.6
    """The "nothing matches well" threshold on `Hit.relevance` (0 and up: the IDF-weighted count
    of shared words, 1 = one word only one memory has; independent of the store's size): hits
    below it are not added. Tuned on the labelled set in tests/data/recall
    (`python -m bench.recall_bench --sweep`)."""
    kinds: list[str] = field(default_factory=lambda: list(MEMORY_KINDS))
    """Which kinds of memories are recalled."""
    near_duplicate_threshold: float = 0.85
    """Lexical similarity (0..1) from which a new memory counts as a near-duplicate."""

    def problems(self) -> dict[str, str]:
        out = {}
        for name in ("max_chars", "prompt_max_chars"):
            if getattr(self, name) < 1:
                out[name] = "must be at least 1"
        if self.max_chars > HOOK_OUTPUT_LIMIT:
            out["max_chars"] = (
                f"must be at most {HOOK_OUTPUT_LIMIT:,}: Claude Code replaces a longer hook"
                " output by a 2 KB preview"
            )
        if self.prompt_max_chars > self.max_chars:
            out["prompt_max_chars"] = "must not exceed max_chars"
        unknown = [k for k in self.kinds if k not in MEMORY_KINDS]
        if not self.kinds or unknown or len(set(self.kinds)) != len(self.kinds):
            out["kinds"] = "must be a non-empty list of distinct kinds out of " + ", ".join(
                MEMORY_KINDS
            )
        if not 0 < self.near_duplicate_threshold <= 1:
            out["near_duplicate_threshold"] = "must be more than 0 and at most 1"
        return out


VIEW_STATE_DIR = ".view"
"""The viewer's default state folder (its index), inside the captures folder."""


@dataclass(frozen=True, kw_only=True)
class ViewConfig:
    """The local web viewer (`make view`, view/)."""

    listen_host: str = "127.0.0.1"
    port: int = 8082
    allow_remote: bool = False
    """Serve on a non-loopback `listen_host`: anyone who reaches the port reads the captures."""
    state_dir: Path | None = None
    """None: .view in capture.dir (the viewer's index, a cache that may be deleted)."""

    @property
    def remote(self) -> bool:
        """`listen_host` is reachable from other machines (not a loopback address)."""
        return not is_loopback(self.listen_host)

    def problems(self) -> dict[str, str]:
        out = {}
        if not 1 <= self.port <= 65535:
            out["port"] = "must be a port number from 1 to 65535"
        if self.remote and not self.allow_remote:
            out["listen_host"] = (
                f"is {self.listen_host}, not a loopback address: set view.allow_remote: true "
                "to let anyone who reaches the port read every capture"
            )
        return out

    @property
    def state_path(self) -> Path:
        """`state_dir` once resolved (`load_config` always resolves it)."""
        if self.state_dir is None:
            raise ValueError("view.state_dir is unresolved: build the config with load_config()")
        return self.state_dir


@dataclass(frozen=True, kw_only=True)
class Config:
    path: Path | None = None  # the file it was read from; None for built-in defaults
    capture: CaptureConfig = field(default_factory=CaptureConfig)
    analyze: AnalyzeConfig = field(default_factory=AnalyzeConfig)
    usage: UsageConfig = field(default_factory=UsageConfig)
    recall: RecallConfig = field(default_factory=RecallConfig)
    view: ViewConfig = field(default_factory=ViewConfig)


def load_config(path: str | Path | None = None) -> Config:
    """Read and validate a config file.

    With no path, `config.yaml` in the current folder is used if it exists,
    and the built-in defaults otherwise. A path that was asked for explicitly
    must exist.
    """
    explicit = path is not None
    path = DEFAULT_CONFIG if path is None else Path(path)
    if not path.exists():
        if explicit:
            raise ConfigError(f"{path}: config file not found")
        return _resolve_paths(Config(), base=Path.cwd())
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{path}{where}: not valid YAML: {problem}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {e}") from None
    if raw is None:
        raw = {}
    values = _build(Config, raw, file=path, key="", skip={"path"})
    config = dataclasses.replace(values, path=path)
    return _resolve_paths(config, base=path.resolve().parent)


def _resolve_paths(config: Config, *, base: Path) -> Config:
    """Relative paths against the config's folder; the analyzer's files default into capture.dir."""

    def fix(section):
        changes = {
            f.name: _absolute(getattr(section, f.name), base)
            for f in dataclasses.fields(section)
            if isinstance(getattr(section, f.name), Path)
        }
        return dataclasses.replace(section, **changes)

    capture, analyze, view = fix(config.capture), fix(config.analyze), fix(config.view)
    if capture.proxyauth and capture.proxyauth.startswith("@"):  # an htpasswd file
        htpasswd = _absolute(Path(capture.proxyauth[1:]), base)
        capture = dataclasses.replace(capture, proxyauth=f"@{htpasswd}")
    claude_bin = analyze.claude_bin
    if "/" in claude_bin:  # a path, not a command name to look up on PATH
        claude_bin = str(_absolute(Path(claude_bin), base))
    analyze = dataclasses.replace(
        analyze,
        store=analyze.store or capture.dir / MEMORIES_FILE,
        state_dir=analyze.state_dir or capture.dir / STATE_DIR,
        claude_bin=claude_bin,
    )
    view = dataclasses.replace(view, state_dir=view.state_dir or capture.dir / VIEW_STATE_DIR)
    return dataclasses.replace(config, capture=capture, analyze=analyze, view=view)


class _StrictLoader(yaml.SafeLoader):
    """safe_load that refuses a key given twice in one mapping (YAML would keep the last)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _absolute(p: Path, base: Path) -> Path:
    p = p.expanduser()
    return p if p.is_absolute() else base / p


# -- schema-driven validation --------------------------------------------------


def _build(cls, raw: Any, *, file: Path, key: str, skip: Set[str] = frozenset()):
    where = f"'{key}'" if key else "the top level"
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: {where} must be a mapping, got {_kind(raw)}")
    retired = getattr(cls, "retired", None)
    if retired is not None and (problem := retired(raw)):
        raise ConfigError(f"{file}: {problem}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in skip}
    for name in raw:
        if name not in fields:
            known = ", ".join(fields)
            raise ConfigError(
                f"{file}: unknown key '{_join(key, name)}' (known keys here: {known})"
            )
    kwargs = {}
    for name, f in fields.items():
        if name in raw:
            kwargs[name] = _value(hints[name], raw[name], file=file, key=_join(key, name))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{file}: missing key '{_join(key, name)}'")
    built = cls(**kwargs)
    for name, problem in getattr(built, "problems", dict)().items():
        raise ConfigError(f"{file}: '{_join(key, name)}' {problem}")
    return built


def _value(tp, value: Any, *, file: Path, key: str):
    def wrong(expected: str) -> ConfigError:
        return ConfigError(f"{file}: '{key}' must be {expected}, got {_kind(value)} {value!r}")

    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, file=file, key=key)
    if origin in (types.UnionType, typing.Union):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _value(inner, value, file=file, key=key)
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise wrong("one of " + ", ".join(repr(c) for c in choices))
        return value
    if origin is list:
        (inner,) = typing.get_args(tp)
        if isinstance(value, str) or not isinstance(value, list):
            raise wrong("a list")
        return [_value(inner, v, file=file, key=f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        _, inner = typing.get_args(tp)
        if not isinstance(value, dict):
            raise wrong("a mapping")
        return {
            str(k): _value(inner, v, file=file, key=_join(key, str(k))) for k, v in value.items()
        }
    if tp is bool:
        if not isinstance(value, bool):
            raise wrong("true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong("an integer")
        if value < 0:
            raise wrong("a non-negative integer")
        return value
    if tp is float:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise wrong("a number")
        if value < 0:
            raise wrong("a non-negative number")
        return float(value)
    if tp is str:
        if not isinstance(value, str) or not value:
            raise wrong("a non-empty string")
        return value
    if tp is Path:
        if not isinstance(value, str) or not value:
            raise wrong("a path")
        return Path(value)
    raise TypeError(f"config schema has an unsupported type {tp!r} at {key}")


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _kind(value: Any) -> str:
    return {
        type(None): "null",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)
