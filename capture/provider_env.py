"""Which provider Claude Code will call, read off its environment; what PROVIDER= sets.

`make run-claude PROVIDER=bedrock|vertex` goes through `provider_environment()`: it
sets `CLAUDE_CODE_USE_BEDROCK=1` or `CLAUDE_CODE_USE_VERTEX=1` and the region (and
Vertex project) Claude Code needs, each only when the user has not set it; the
`CLAUDE_CODE_SKIP_*_AUTH` variables are never set (they are for offline tests: a real
user's cloud login must sign the calls). Without PROVIDER, the user's own
`CLAUDE_CODE_USE_*` variables are passed through untouched.

`claude_target()` then reads the environment as Claude Code 2.x does and returns where
its Messages calls go (`ClaudeTarget`: the provider, the base URL and the variable that
named it), and `preflight_line()` is the one line `make run-claude` prints about it:
the provider it expects to be captured, or, when no `capture.providers` entry would
match that URL (an `ANTHROPIC_BASE_URL` gateway nobody configured), the warning that
nothing would be captured. Matching itself is the capture stage's (injected here as
`captured_as`); this module only builds the URL of a typical Messages call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import urlsplit

from glass.config import is_loopback

ProviderName = Literal["anthropic", "bedrock", "vertex"]
PROVIDERS: Final[tuple[ProviderName, ...]] = ("anthropic", "bedrock", "vertex")
"""What `PROVIDER=` accepts (`anthropic`: the first-party API, no variable set)."""

USE_VARIABLE: Final[dict[ProviderName, str]] = {
    "bedrock": "CLAUDE_CODE_USE_BEDROCK",
    "vertex": "CLAUDE_CODE_USE_VERTEX",
}
BASE_URL_VARIABLE: Final[dict[ProviderName, str]] = {
    "anthropic": "ANTHROPIC_BASE_URL",
    "bedrock": "ANTHROPIC_BEDROCK_BASE_URL",
    "vertex": "ANTHROPIC_VERTEX_BASE_URL",
}
TITLES: Final[dict[ProviderName, str]] = {
    "anthropic": "the Anthropic API",
    "bedrock": "Amazon Bedrock",
    "vertex": "Google Vertex AI",
}
BEDROCK_REGION: Final = "us-east-1"
"""AWS_REGION when neither it nor AWS_DEFAULT_REGION is set."""
VERTEX_REGION: Final = "us-east5"
"""CLOUD_ML_REGION when it is not set."""
VERTEX_PROJECT_SOURCES: Final = ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT")
"""Where ANTHROPIC_VERTEX_PROJECT_ID is taken from when it is not set (gcloud's own names)."""
SAMPLE_MODEL: Final[dict[ProviderName, str]] = {
    "anthropic": "claude-sonnet-4-5",
    "bedrock": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "vertex": "claude-sonnet-4-5@20250929",
}
"""The model in the sample URL whose matching the pre-flight checks (patterns take any)."""
ANY_ADDRESS: Final = ("", "0.0.0.0", "::")
"""Listen hosts that also answer on loopback."""
TRUTHY: Final = ("1", "true", "yes", "on")
"""What Claude Code takes as "set" for a CLAUDE_CODE_USE_* variable."""


class ProviderError(Exception):
    """PROVIDER= and the environment disagree, or something it needs is missing."""


@dataclass(frozen=True, kw_only=True)
class ClaudeTarget:
    """Where Claude Code's Messages calls go under an environment."""

    provider: ProviderName
    base_url: str
    variable: str | None
    """The variable that named `base_url`; None: the provider's default URL."""
    sample_url: str
    """The full URL of a streamed Messages call (the pre-flight matches it)."""


def _on(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in TRUTHY


def chosen_provider(env: Mapping[str, str]) -> ProviderName:
    """The provider the user's own CLAUDE_CODE_USE_* variables choose (Bedrock first, as
    Claude Code checks them)."""
    for provider, variable in USE_VARIABLE.items():
        if _on(env, variable):
            return provider
    return "anthropic"


def provider_environment(provider: str | None, *, env: Mapping[str, str]) -> dict[str, str]:
    """The variables to add to `env` for `PROVIDER=provider` (None: none, `env` decides).

    Raises ProviderError for an unknown provider, for a CLAUDE_CODE_USE_* of another
    provider already set, and for Vertex without any project.
    """
    if not provider:
        return {}
    if provider not in PROVIDERS:
        raise ProviderError(f"PROVIDER={provider}: must be one of {', '.join(PROVIDERS)}")
    chosen = chosen_provider(env)
    if chosen != provider and chosen != "anthropic":
        raise ProviderError(
            f"PROVIDER={provider}, but {USE_VARIABLE[chosen]}={env[USE_VARIABLE[chosen]]} "
            "is set in your environment; unset one of them"
        )
    if provider == "anthropic":
        return {}
    add = {USE_VARIABLE[provider]: "1"} if chosen != provider else {}
    if provider == "bedrock":
        if not env.get("AWS_REGION"):
            add["AWS_REGION"] = env.get("AWS_DEFAULT_REGION") or BEDROCK_REGION
        return add
    if not env.get("CLOUD_ML_REGION"):
        add["CLOUD_ML_REGION"] = VERTEX_REGION
    if not env.get("ANTHROPIC_VERTEX_PROJECT_ID"):
        project = next((env[n] for n in VERTEX_PROJECT_SOURCES if env.get(n)), None)
        if project is None:
            raise ProviderError(
                "PROVIDER=vertex needs your Google Cloud project: set "
                "ANTHROPIC_VERTEX_PROJECT_ID=your-project (or GOOGLE_CLOUD_PROJECT)"
            )
        add["ANTHROPIC_VERTEX_PROJECT_ID"] = project
    return add


def _default_base_url(provider: ProviderName, env: Mapping[str, str]) -> str:
    if provider == "bedrock":
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or BEDROCK_REGION
        return f"https://bedrock-runtime.{region}.amazonaws.com"
    if provider == "vertex":
        region = env.get("CLOUD_ML_REGION") or VERTEX_REGION
        if region == "global":
            return "https://aiplatform.googleapis.com/v1"
        if region in ("us", "eu"):  # Claude Code's multi-region endpoints
            return f"https://aiplatform.{region}.rep.googleapis.com/v1"
        return f"https://{region}-aiplatform.googleapis.com/v1"
    return "https://api.anthropic.com"


def claude_target(env: Mapping[str, str]) -> ClaudeTarget:
    """Where Claude Code sends its Messages calls under `env`."""
    provider = chosen_provider(env)
    variable: str | None = BASE_URL_VARIABLE[provider]
    base_url = env.get(variable or "", "").strip()
    if not base_url:
        variable, base_url = None, _default_base_url(provider, env)
    base = base_url.rstrip("/")
    model = SAMPLE_MODEL[provider]
    if provider == "bedrock":
        sample = f"{base}/model/{model}/invoke-with-response-stream"
    elif provider == "vertex":
        project = env.get("ANTHROPIC_VERTEX_PROJECT_ID") or "project"
        region = env.get("CLOUD_ML_REGION") or VERTEX_REGION
        sample = (
            f"{base}/projects/{project}/locations/{region}"
            f"/publishers/anthropic/models/{model}:streamRawPredict"
        )
    else:
        sample = f"{base}/v1/messages"
    return ClaudeTarget(provider=provider, base_url=base_url, variable=variable, sample_url=sample)


def preflight_line(
    target: ClaudeTarget, *, captured_as: Callable[[str], str | None], proxy: tuple[str, int]
) -> str:
    """The one line `make run-claude` prints about what it expects to be captured.

    `captured_as(url)`: the `capture.providers` entry a request to `url` is captured
    under, None when none matches. `proxy`: the proxy's (listen host, port): a base URL
    naming the proxy itself (any loopback name for a loopback proxy) is its reverse mode,
    where the captures name the upstream.
    """
    where = urlsplit(target.sample_url)
    named = f"{target.variable}={target.base_url}" if target.variable else target.base_url
    host, port = proxy
    local = is_loopback(where.hostname or "")
    same_host = where.hostname == host or (local and (is_loopback(host) or host in ANY_ADDRESS))
    if where.port == port and same_host:
        return (
            f"Glass: Claude Code calls the proxy itself ({named}): captured as the "
            "upstream of its reverse mode"
        )
    provider = captured_as(target.sample_url)
    if provider is None:
        return (
            f"Glass: warning: Claude Code calls {named}, which no capture.providers entry "
            f"matches ({where.hostname}{where.path}): nothing would be captured; add an "
            "entry for it to capture.providers"
        )
    return (
        f"Glass: Claude Code calls {TITLES[target.provider]} at {where.hostname}: "
        f"captured as provider {provider}"
    )
