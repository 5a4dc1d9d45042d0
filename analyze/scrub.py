"""Replace secret-shaped strings before anything is written to the memory store.

Known token formats are replaced wherever they appear; credentials given as
assignments (`password=…`, `api_key: …`) keep their name and lose their
value. A memory is one sentence about a project, so a false positive costs
little; a secret that reaches the store is the failure to avoid.
"""

from __future__ import annotations

import re

from glass.contract import REDACTED

_VALUE = r"(?:\"[^\"]*\"|'[^']*'|[^\s,;]+)"

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # PEM private keys, whole block
    (
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
            re.DOTALL,
        ),
        REDACTED,
    ),
    # Anthropic (sk-ant-api03-…, sk-ant-oat01-…) before the generic OpenAI shape
    (re.compile(r"\bsk-ant-[A-Za-z0-9_-]{8,}"), REDACTED),
    # OpenAI: sk-…, sk-proj-…, sk-svcacct-…
    (re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"), REDACTED),
    # Stripe live/test secret and restricted keys
    (re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"), REDACTED),
    # GitHub tokens: classic (ghp_, gho_, ghu_, ghs_, ghr_) and fine-grained
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}"), REDACTED),
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"), REDACTED),
    # Slack tokens, Google API keys
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), REDACTED),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}"), REDACTED),
    # AWS access key ids
    (re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"), REDACTED),
    # JSON Web Tokens, and bearer tokens in general
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), REDACTED),
    (re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{16,}"), rf"\1{REDACTED}"),
    # user:password@ in URLs (postgres://app:hunter2@db/...)
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s@/]+@"), rf"\1{REDACTED}@"),
    # password = anything; key/secret/token = something long
    (
        re.compile(
            rf"(?i)((?<![a-z0-9])(?:password|passwd|pwd)(?![a-z0-9])[\"']?\s*[=:]\s*){_VALUE}"
        ),
        rf"\1{REDACTED}",
    ),
    (
        re.compile(
            r"(?i)((?<![a-z0-9])(?:aws_secret_access_key|aws_session_token|api[_-]?key|secret|"
            r"client[_-]?secret|access[_-]?key|token)(?![a-z0-9])[\"']?\s*[=:]\s*)"
            r"[\"']?[A-Za-z0-9_/+=.-]{16,}[\"']?"
        ),
        rf"\1{REDACTED}",
    ),
]


def scrub(text: str) -> str:
    """`text` with every secret-shaped substring replaced by [REDACTED]."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
