"""capture/provider_env.py: what PROVIDER= sets, where Claude Code calls, the pre-flight line."""

from __future__ import annotations

import pytest

from capture.provider_env import (
    ProviderError,
    claude_target,
    preflight_line,
    provider_environment,
)

PROXY = ("127.0.0.1", 8080)


def test_bedrock_sets_the_switch_and_a_region_only_when_unset():
    assert provider_environment("bedrock", env={}) == {
        "CLAUDE_CODE_USE_BEDROCK": "1",
        "AWS_REGION": "us-east-1",
    }
    assert provider_environment("bedrock", env={"AWS_DEFAULT_REGION": "eu-west-1"}) == {
        "CLAUDE_CODE_USE_BEDROCK": "1",
        "AWS_REGION": "eu-west-1",
    }
    own = {"CLAUDE_CODE_USE_BEDROCK": "true", "AWS_REGION": "ap-south-1"}
    assert provider_environment("bedrock", env=own) == {}  # the user's own values stay


def test_vertex_sets_region_and_takes_the_project_from_gcloud_variables():
    assert provider_environment("vertex", env={"GOOGLE_CLOUD_PROJECT": "p1"}) == {
        "CLAUDE_CODE_USE_VERTEX": "1",
        "CLOUD_ML_REGION": "us-east5",
        "ANTHROPIC_VERTEX_PROJECT_ID": "p1",
    }
    own = {"ANTHROPIC_VERTEX_PROJECT_ID": "mine", "CLOUD_ML_REGION": "global"}
    assert provider_environment("vertex", env=own) == {"CLAUDE_CODE_USE_VERTEX": "1"}
    with pytest.raises(ProviderError, match="set ANTHROPIC_VERTEX_PROJECT_ID=your-project"):
        provider_environment("vertex", env={})


def test_skip_auth_is_never_set_and_no_provider_sets_nothing():
    for provider in ("bedrock", "vertex"):
        added = provider_environment(provider, env={"GCLOUD_PROJECT": "p"})
        assert not [name for name in added if "SKIP" in name]
    own = {"CLAUDE_CODE_USE_VERTEX": "1", "CLAUDE_CODE_SKIP_VERTEX_AUTH": "1"}
    assert provider_environment(None, env=own) == {}
    assert provider_environment("anthropic", env={}) == {}


def test_a_provider_that_contradicts_the_environment_is_one_line():
    with pytest.raises(ProviderError) as err:
        provider_environment("vertex", env={"CLAUDE_CODE_USE_BEDROCK": "1", "GCLOUD_PROJECT": "p"})
    assert str(err.value) == (
        "PROVIDER=vertex, but CLAUDE_CODE_USE_BEDROCK=1 is set in your environment; "
        "unset one of them"
    )
    with pytest.raises(ProviderError, match="must be one of anthropic, bedrock, vertex"):
        provider_environment("azure", env={})
    # a switch that is off does not contradict
    assert provider_environment("bedrock", env={"CLAUDE_CODE_USE_VERTEX": "0"})["AWS_REGION"]


def test_the_target_follows_the_environment_as_claude_code_reads_it():
    bedrock = claude_target({"CLAUDE_CODE_USE_BEDROCK": "1", "AWS_REGION": "us-west-2"})
    assert bedrock.provider == "bedrock" and bedrock.variable is None
    assert bedrock.sample_url == (
        "https://bedrock-runtime.us-west-2.amazonaws.com"
        "/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke-with-response-stream"
    )
    vertex = claude_target(
        {
            "CLAUDE_CODE_USE_VERTEX": "1",
            "CLOUD_ML_REGION": "us-east5",
            "ANTHROPIC_VERTEX_PROJECT_ID": "proj",
        }
    )
    assert vertex.sample_url == (
        "https://us-east5-aiplatform.googleapis.com/v1/projects/proj/locations/us-east5"
        "/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict"
    )
    glob = claude_target({"CLAUDE_CODE_USE_VERTEX": "1", "CLOUD_ML_REGION": "global"})
    assert glob.sample_url.startswith("https://aiplatform.googleapis.com/v1/projects/")
    multi = claude_target({"CLAUDE_CODE_USE_VERTEX": "1", "CLOUD_ML_REGION": "eu"})
    assert multi.sample_url.startswith("https://aiplatform.eu.rep.googleapis.com/v1/projects/")
    assert multi.provider == "vertex"  # the default capture.providers match it
    gateway = claude_target({"ANTHROPIC_BASE_URL": "https://llm.corp.example/anthropic/"})
    assert gateway.provider == "anthropic" and gateway.variable == "ANTHROPIC_BASE_URL"
    assert gateway.sample_url == "https://llm.corp.example/anthropic/v1/messages"
    assert claude_target({}).sample_url == "https://api.anthropic.com/v1/messages"


def test_preflight_names_the_provider_it_expects_to_be_captured():
    target = claude_target({"CLAUDE_CODE_USE_BEDROCK": "1"})
    seen = []

    def captured_as(url):
        seen.append(url)
        return "bedrock"

    line = preflight_line(target, captured_as=captured_as, proxy=PROXY)
    assert line == (
        "Glass: Claude Code calls Amazon Bedrock at bedrock-runtime.us-east-1.amazonaws.com: "
        "captured as provider bedrock"
    )
    assert seen == [target.sample_url]


def test_preflight_warns_in_one_line_when_no_entry_matches_the_base_url():
    target = claude_target({"ANTHROPIC_BASE_URL": "https://llm.corp.example/anthropic"})
    line = preflight_line(target, captured_as=lambda url: None, proxy=PROXY)
    assert "\n" not in line
    assert line.startswith("Glass: warning: Claude Code calls ANTHROPIC_BASE_URL=https://llm.")
    assert "(llm.corp.example/anthropic/v1/messages): nothing would be captured" in line


@pytest.mark.parametrize("listen", ["127.0.0.1", "0.0.0.0"])
def test_a_base_url_at_the_proxy_itself_is_reverse_mode_not_a_warning(listen):
    target = claude_target({"ANTHROPIC_BASE_URL": "http://localhost:8080"})
    line = preflight_line(target, captured_as=lambda url: None, proxy=(listen, 8080))
    assert "reverse mode" in line and "warning" not in line
    other_port = preflight_line(target, captured_as=lambda url: None, proxy=(listen, 9090))
    assert "nothing would be captured" in other_port
