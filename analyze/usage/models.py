"""Which provider carried a capture, which model it names, and that model's first-party id.

A capture names its provider in its top-level `provider` key (`anthropic`,
`bedrock`, `vertex`, `gateway`; absent in files written before providers
existed, which were all first-party); which model it names is
`analyze.conversation.model` (README, "Capture file format").

Bedrock and Vertex name Claude models their own way; `first_party()` maps
both to the id the Anthropic API uses, so `--by model` puts a model's calls
on every provider in one row:

- Bedrock: `us.anthropic.claude-sonnet-4-5-20250929-v1:0` (a cross-region
  prefix such as `us.`, `eu.`, `apac.`, `global.`, then `anthropic.`, the id,
  a `-v1:0` version), or an inference-profile ARN ending in such an id;
- Vertex: `claude-sonnet-4-5@20250929`.

Prices are looked up with the id as sent (`analyze.usage.prices`): Bedrock's
prefix decides between its regional and global price.
"""

from __future__ import annotations

import re
from typing import Any

DEFAULT_PROVIDER = "anthropic"
"""The provider of a capture without a `provider` key (written before there were others)."""

_BEDROCK = re.compile(r"^(?:[a-z]{2,6}(?:-[a-z]+)?\.)?anthropic\.(claude-.+?)(?:-v\d+(?::\d+)?)?$")
"""`[region.]anthropic.<id>[-vN[:M]]`; the region prefix is `us`, `eu`, `apac`, `global`, `us-gov`..."""
_VERTEX = re.compile(r"^(claude-.+?)(?:-v\d+)?@(\d{8}|latest)$")
"""`<id>[-vN]@<date>`: Vertex names a second version of a model `-v2` (`claude-3-5-sonnet-v2@20241022`
is the Anthropic API's `claude-3-5-sonnet-20241022`)."""
_ARN = re.compile(r"^arn:aws[a-z-]*:bedrock:[^/]*/(.+)$")


def provider_of(doc: dict[str, Any]) -> str:
    """The capture's `provider` key, or `anthropic` for a file without one."""
    provider = doc.get("provider")
    return provider if isinstance(provider, str) and provider else DEFAULT_PROVIDER


def bedrock_id(model: str) -> str:
    """`model` without the ARN around an inference-profile id (other ids unchanged)."""
    arn = _ARN.match(model)
    return arn.group(1) if arn else model


def first_party(model: str) -> str:
    """The Anthropic API's id of a Bedrock or Vertex model id; any other id as it is."""
    match = _BEDROCK.match(bedrock_id(model))
    if match:
        return match.group(1)
    match = _VERTEX.match(model)
    if match:
        base, date = match.groups()
        return base if date == "latest" else f"{base}-{date}"
    return model
