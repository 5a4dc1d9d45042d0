"""analyze/scrub.py: secret-shaped strings never reach the store."""

import pytest

from analyze.scrub import scrub

FAKE_GITHUB = "ghp_" + "a1B2" * 9
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nabc\n-----END RSA PRIVATE KEY-----"


@pytest.mark.parametrize(
    "secret",
    [
        "sk-ant-api03-" + "x" * 40,
        "sk-ant-oat01-AbC_dEf-123456789",
        "sk-proj-" + "Z" * 30,
        "sk-" + "Q" * 40,
        FAKE_GITHUB,
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
        "AKIAIOSFODNN7EXAMPLE",
        PEM,
        "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
        "xoxb-123456789012-abcdefABCDEF",
        "AIza" + "SyA1234567890abcdefghijklmnopqrstuv",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ],
)
def test_secrets_are_replaced(secret):
    out = scrub(f"The key is {secret} here.")
    assert secret not in out and "[REDACTED]" in out
    assert out.startswith("The key is ") and out.endswith(" here.")


@pytest.mark.parametrize(
    "text,expected",
    [
        ("password=hunter2 then", "password=[REDACTED] then"),
        ('DB_PASSWORD: "s3cr3t x"', "DB_PASSWORD: [REDACTED]"),
        (
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "aws_secret_access_key = [REDACTED]",
        ),
        ('api_key = "abcdef0123456789abcd" in .env', "api_key = [REDACTED] in .env"),
        ("Authorization: Bearer abcdefghijklmnop1234", "Authorization: Bearer [REDACTED]"),
        (
            "DATABASE_URL=postgres://app:hunter2@db:5432/x",
            "DATABASE_URL=postgres://app:[REDACTED]@db:5432/x",
        ),
    ],
)
def test_assignments_keep_their_name(text, expected):
    assert scrub(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Use sk-learn? No: scikit-learn. The task-queue uses ghp pages. passwords are hashed with argon2.",
        "All tests pass: run `make test` before pushing.",
        "Set bypass: true in the proxy config.",
        "max_tokens: 4096 and token: 1500 are the limits.",
        "The API server listens on https://localhost:8042/v1.",
    ],
)
def test_ordinary_text_is_untouched(text):
    assert scrub(text) == text
