"""capture/providers.py: explicit host and path patterns, the endpoint and the model of a URL."""

import pytest

from capture import providers
from glass.config import DEFAULT_PROVIDERS, ProviderConfig

DEFAULTS = providers.Matcher(DEFAULT_PROVIDERS)
BEDROCK_MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
VERTEX = "/v1/projects/proj/locations/us-east5/publishers/anthropic/models"


def provider(host: str, path: str, matcher: providers.Matcher = DEFAULTS) -> str | None:
    match = matcher.match(hosts=[host], path=path)
    return None if match is None else match.provider


@pytest.mark.parametrize(
    ("host", "path", "expected"),
    [
        ("api.anthropic.com", "/v1/messages?beta=true", "anthropic"),
        ("API.Anthropic.com", "/v1/messages/count_tokens", "anthropic"),
        ("bedrock-runtime.us-east-1.amazonaws.com", f"/model/{BEDROCK_MODEL}/invoke", "bedrock"),
        (
            "bedrock-runtime.eu-west-3.amazonaws.com",
            "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream",
            "bedrock",
        ),
        ("us-east5-aiplatform.googleapis.com", f"{VERTEX}/claude-x@1:streamRawPredict", "vertex"),
        ("aiplatform.googleapis.com", f"{VERTEX}/claude-x@1:rawPredict", "vertex"),
        ("aiplatform.eu.rep.googleapis.com", f"{VERTEX}/claude-x@1:streamRawPredict", "vertex"),
        ("aiplatform.googleapis.com", f"{VERTEX}/count-tokens:rawPredict", "vertex"),
        ("API.Anthropic.com.", "/v1/messages", "anthropic"),  # case and the root's trailing dot
    ],
)
def test_the_defaults_match_what_the_cli_sends(host, path, expected):
    assert provider(host, path) == expected


@pytest.mark.parametrize(
    ("host", "path"),
    [
        ("api.anthropic.com.evil.test", "/v1/messages"),  # a substring, not the host
        ("evil-api.anthropic.com", "/v1/messages"),
        ("api.anthropic.com", "/v1/messagesX"),  # a prefix inside a segment
        ("api.anthropic.com", "/v2/messages"),
        ("bedrock-runtime.amazonaws.com", f"/model/{BEDROCK_MODEL}/invoke"),  # * is 1+ chars
        ("bedrock-runtime.a.b.amazonaws.com", f"/model/{BEDROCK_MODEL}/invoke"),  # one label
        ("bedrock-runtime.us-east-1.amazonaws.com.evil.test", f"/model/{BEDROCK_MODEL}/invoke"),
        ("bedrock.us-east-1.amazonaws.com", f"/model/{BEDROCK_MODEL}/invoke"),  # the control API
        ("bedrock-runtime.us-east-1.amazonaws.com", "/model/a/b/invoke"),  # * within a segment
        ("bedrock-runtime.us-east-1.amazonaws.com", f"/model/{BEDROCK_MODEL}/converse"),
        ("aiplatform.googleapis.com.evil.test", f"{VERTEX}/claude-x@1:rawPredict"),
        ("aiplatform.rep.googleapis.com", f"{VERTEX}/claude-x@1:rawPredict"),
        ("x.us-east5-aiplatform.googleapis.com", f"{VERTEX}/claude-x@1:rawPredict"),
        ("aiplatform.googleapis.com", f"{VERTEX}/claude-x@1:predict"),
        ("aiplatform.googleapis.com", f"{VERTEX.replace('anthropic', 'google')}/g:rawPredict"),
        ("bedrock-runtime.us-east-1.amazonaws.com", "/v1/messages"),  # host and path of 2 entries
    ],
)
def test_patterns_are_explicit_never_substrings(host, path):
    assert provider(host, path) is None


def test_the_first_matching_entry_wins_and_any_candidate_host_counts():
    gateway = ProviderConfig(name="gateway", hosts=["llm.example.com"], paths=["/v1/messages"])
    matcher = providers.Matcher([gateway, *DEFAULT_PROVIDERS])
    assert provider("llm.example.com", "/v1/messages", matcher) == "gateway"
    assert provider("api.anthropic.com", "/v1/messages", matcher) == "anthropic"
    # after --map-remote the host is the stand-in's; SNI still names the provider
    match = matcher.match(hosts=["127.0.0.1", None, "API.anthropic.com"], path="/v1/messages")
    assert match == providers.Match(provider="anthropic", host="api.anthropic.com")


@pytest.mark.parametrize(
    ("path", "endpoint", "model"),
    [
        ("/v1/messages?beta=true", "messages", None),
        ("/v1/messages/count_tokens", "count_tokens", None),
        (f"/model/{BEDROCK_MODEL}/invoke", "messages", BEDROCK_MODEL),
        (
            "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream",
            "messages",
            BEDROCK_MODEL,
        ),
        (f"/model/{BEDROCK_MODEL}/count-tokens", "count_tokens", BEDROCK_MODEL),
        (
            "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fus.x/invoke",
            "messages",
            "arn:aws:bedrock:us-east-1:1:inference-profile/us.x",
        ),
        (
            f"{VERTEX}/claude-sonnet-4-5@20250929:streamRawPredict",
            "messages",
            "claude-sonnet-4-5@20250929",
        ),
        (
            f"{VERTEX}/claude-sonnet-4-5%4020250929:rawPredict",
            "messages",
            "claude-sonnet-4-5@20250929",
        ),
        (f"{VERTEX}/count-tokens:rawPredict", "count_tokens", None),
        ("/anthropic/v1/messages", "messages", None),
        # Bedrock behind a gateway's path prefix (ANTHROPIC_BEDROCK_BASE_URL=https://gw/bedrock)
        (f"/bedrock/model/{BEDROCK_MODEL}/invoke-with-response-stream", "messages", BEDROCK_MODEL),
        ("/notmodel/x/invoke", "invoke", None),
    ],
)
def test_endpoint_and_model_of_a_path(path, endpoint, model):
    assert providers.endpoint_of(path) == endpoint
    assert providers.model_of(path) == model


def test_the_option_form_round_trips_every_default():
    for entry in DEFAULT_PROVIDERS:
        assert providers.from_option(providers.to_option(entry)) == entry
    assert providers.from_option("gateway LLM.example.com /x").hosts == ["llm.example.com"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("anthropic api.anthropic.com", "is not 'NAME HOST"),
        ("openai api.openai.com /v1", "the name must be one of anthropic, bedrock"),
        ("gateway https://x.test /v1", "hosts must be a non-empty list"),
        ("gateway x.test v1/messages", "paths must be a non-empty list of paths starting"),
        ("gateway **.test /v1", "hosts must be"),
    ],
)
def test_a_bad_option_says_why_in_one_line(text, problem):
    with pytest.raises(ValueError, match=problem) as e:
        providers.from_option(text)
    assert "\n" not in str(e.value)


def test_a_trailing_slash_adds_nothing_and_a_lone_slash_matches_every_path():
    entry = ProviderConfig(name="gateway", hosts=["gw.test"], paths=["/v2/"])
    assert provider("gw.test", "/v2/messages", providers.Matcher([entry])) == "gateway"
    assert provider("gw.test", "/v2", providers.Matcher([entry])) == "gateway"
    assert provider("gw.test", "/v2x", providers.Matcher([entry])) is None
    everything = ProviderConfig(name="gateway", hosts=["gw.test"], paths=["/"])
    assert provider("gw.test", "/any/path?q=1", providers.Matcher([everything])) == "gateway"


def test_a_line_end_is_no_part_of_a_match():
    assert provider("api.anthropic.com\n", "/v1/messages") is None
    assert provider("api.anthropic.com", "/v1/messages\n") is None
    assert providers.model_of("/model/m/invoke\n") is None


def test_a_whole_url_such_as_a_base_url_plus_the_messages_path():
    gateway = ProviderConfig(name="gateway", hosts=["llm.example.com"], paths=["/anthropic"])
    matcher = providers.Matcher([*DEFAULT_PROVIDERS, gateway])
    assert matcher.match_url("https://LLM.example.com:8443/anthropic/v1/messages") == (
        providers.Match(provider="gateway", host="llm.example.com")
    )
    assert matcher.match_url("http://127.0.0.1:4000/v1/messages") is None
    assert matcher.match_url("not a url") is None
