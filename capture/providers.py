"""Which provider carried a request: `capture.providers` matched against a host and a path.

An entry (`glass.config.ProviderConfig`) names a provider, host patterns and path patterns.
Patterns are explicit, never substring matches: in a host `*` is one or more characters within
one DNS label (`bedrock-runtime.*.amazonaws.com` matches `bedrock-runtime.us-east-1.amazonaws.com`
and not `bedrock-runtime.evil.com.amazonaws.com`), in a path one or more characters within one
segment; a path matches a pattern in full, or continues it with `/` (`/v1/messages` covers
`/v1/messages/count_tokens`, not `/v1/messagesX`). The first entry that matches both wins.

Also here, since they read the same URLs: the endpoint a capture file is named by
(`endpoint_of`: every provider's Messages call is `messages`, its token count `count_tokens`),
the model a URL names (`model_of`: Bedrock's and Vertex's bodies carry none), and the text form
of the entries in the addon's `capture_providers` option (`to_option`, `from_option`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import cast
from urllib.parse import unquote, urlsplit

from capture import files
from glass.config import PROVIDER_NAMES, ProviderConfig, ProviderName

_BEDROCK = re.compile(
    r"(?:^|/)model/(?P<model>[^/]+)/(?P<op>invoke|invoke-with-response-stream|count-tokens)\Z"
)
"""Bedrock's runtime paths, also under a gateway's prefix (`/bedrock/model/…/invoke`)."""
_VERTEX = re.compile(r"/models/(?P<model>[^/:]+):(?P<op>rawPredict|streamRawPredict)\Z")
_VERTEX_COUNT = "count-tokens"
"""The model segment of Vertex's token-count call (`…/models/count-tokens:rawPredict`)."""


def _compile(pattern: str, *, within: str, tail: str) -> re.Pattern[str]:
    parts = (re.escape(p) for p in pattern.split("*"))
    return re.compile(f"[^{within}]+".join(parts) + tail)  # used with fullmatch


@dataclass(frozen=True, kw_only=True)
class Provider:
    """One `capture.providers` entry, its patterns compiled."""

    name: ProviderName
    hosts: tuple[re.Pattern[str], ...]
    paths: tuple[re.Pattern[str], ...]

    @classmethod
    def of(cls, entry: ProviderConfig) -> Provider:
        return cls(
            name=entry.name,
            hosts=tuple(_compile(h.lower(), within=".", tail="") for h in entry.hosts),
            # a trailing `/` adds nothing: `/v2/` is `/v2`, and `/` matches every path
            paths=tuple(_compile(p.rstrip("/"), within="/", tail="(?:/.*)?") for p in entry.paths),
        )

    def host_matches(self, host: str) -> bool:
        return any(p.fullmatch(host.lower().rstrip(".")) for p in self.hosts)

    def path_matches(self, path: str) -> bool:
        return any(p.fullmatch(path) for p in self.paths)


@dataclass(frozen=True, kw_only=True)
class Match:
    provider: ProviderName
    host: str
    """The host that matched, lower-cased."""


class Matcher:
    """`capture.providers`, compiled, asked host by host."""

    def __init__(self, entries: Iterable[ProviderConfig]) -> None:
        self.entries = tuple(entries)
        self.providers = tuple(Provider.of(e) for e in self.entries)

    def match(self, *, hosts: Sequence[str | None], path: str) -> Match | None:
        """The first entry matching the path and one of `hosts` (candidates, best first: the
        host the client asked for, the one it connected to, TLS SNI)."""
        path = path.split("?", 1)[0]
        for provider in self.providers:
            if not provider.path_matches(path):
                continue
            for host in hosts:
                if host and provider.host_matches(host):
                    return Match(provider=provider.name, host=host.lower().rstrip("."))
        return None

    def match_url(self, url: str) -> Match | None:
        """`match` for a whole URL (e.g. ANTHROPIC_BASE_URL + `/v1/messages`, which the SDK
        sends to)."""
        parts = urlsplit(url)
        return self.match(hosts=[parts.hostname], path=parts.path or "/")

    def describe(self) -> str:
        """One line for the start message: every entry with its hosts."""
        return "; ".join(f"{e.name} {' '.join(e.hosts)}" for e in self.entries)


def endpoint_of(path: str) -> str:
    """The `<endpoint>` of a capture's name: `messages` for every provider's Messages call,
    `count_tokens` for their token counts, else the path's last segment (files.endpoint_of)."""
    bare = path.split("?", 1)[0]
    if m := _BEDROCK.search(bare):
        return "count_tokens" if m["op"] == "count-tokens" else "messages"
    if m := _VERTEX.search(bare):
        return "count_tokens" if unquote(m["model"]) == _VERTEX_COUNT else "messages"
    return files.endpoint_of(path)


def model_of(path: str) -> str | None:
    """The model a Bedrock or Vertex URL names (their bodies have none), percent-decoded:
    `us.anthropic.claude-sonnet-4-5-20250929-v1:0`, `claude-sonnet-4-5@20250929`, or an
    inference profile's ARN (whose `/` the URL carries as `%2F`)."""
    bare = path.split("?", 1)[0]
    if m := _BEDROCK.search(bare):
        return unquote(m["model"])
    if (m := _VERTEX.search(bare)) and unquote(m["model"]) != _VERTEX_COUNT:
        return unquote(m["model"])
    return None


def to_option(entry: ProviderConfig) -> str:
    """An entry as one `capture_providers` value: `NAME HOST,HOST PATH,PATH`."""
    return f"{entry.name} {','.join(entry.hosts)} {','.join(entry.paths)}"


def from_option(text: str) -> ProviderConfig:
    """The inverse of `to_option`; ValueError with a one-line reason for anything else."""
    fields = text.split()
    if len(fields) != 3:
        raise ValueError(f"{text!r} is not 'NAME HOST[,HOST…] PATH[,PATH…]'")
    name, hosts, paths = fields
    if name not in PROVIDER_NAMES:
        raise ValueError(f"{text!r}: the name must be one of {', '.join(PROVIDER_NAMES)}")
    entry = ProviderConfig(
        name=cast(ProviderName, name), hosts=hosts.lower().split(","), paths=paths.split(",")
    )
    for key, problem in entry.problems().items():
        raise ValueError(f"{text!r}: {key} {problem}")
    return entry
