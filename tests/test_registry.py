"""Closed-API matching (no false positives on open weights) and open-weight licence lookups."""

from __future__ import annotations

import pytest

from specc.plan.registry.lookup import closed_api_match, licence_for_model, licence_info, model_licence_info

CLOSED = [
    # OpenAI
    ("gpt-4o", "OpenAI"), ("gpt-4o-mini", "OpenAI"), ("openai/gpt-4o", "OpenAI"), ("OpenAI/GPT-4", "OpenAI"),
    ("openai:gpt-4.1-mini", "OpenAI"), ("gpt-3.5-turbo", "OpenAI"), ("GPT_4_Turbo", "OpenAI"),
    ("gpt-5", "OpenAI"), ("gpt-5-mini", "OpenAI"), ("o1", "OpenAI"), ("o1-preview", "OpenAI"),
    ("o3-mini", "OpenAI"), ("o4-mini", "OpenAI"), ("chatgpt-4o-latest", "OpenAI"), ("text-davinci-003", "OpenAI"),
    ("davinci-002", "OpenAI"), ("azure/my-gpt4-deployment", "OpenAI"), ("openrouter/openai/gpt-4o", "OpenAI"),
    (" openai / gpt-4o ", "OpenAI"),
    # Anthropic
    ("claude-3-5-sonnet-20241022", "Anthropic"), ("anthropic:claude-3-5-sonnet-20241022", "Anthropic"),
    ("anthropic/claude-3-opus", "Anthropic"), ("Claude-Opus-4", "Anthropic"),
    ("anthropic.claude-3-sonnet-20240229-v1:0", "Anthropic"), ("bedrock/anthropic.claude-v2", "Anthropic"),
    ("us.anthropic.claude-3-5-haiku-20241022-v1:0", "Anthropic"), ("vertex_ai/claude-3-5-sonnet", "Anthropic"),
    # Google
    ("gemini-1.5-pro", "Google"), ("models/gemini-1.5-pro", "Google"), ("google/gemini-2.0-flash", "Google"),
    ("vertex_ai/gemini-1.5-flash", "Google"), ("gemini/gemini-pro", "Google"), ("google-gla:gemini-1.5-flash", "Google"),
    ("text-bison", "Google"), ("chat-bison@001", "Google"), ("palm-2", "Google"),
    # others
    ("command-r-plus", "Cohere"), ("cohere/command-r", "Cohere"), ("command", "Cohere"),
    ("grok-2", "xAI"), ("xai/grok-beta", "xAI"),
    ("mistral-large-latest", "Mistral AI (API)"), ("mistral/mistral-small-latest", "Mistral AI (API)"),
    ("mistral-medium", "Mistral AI (API)"), ("mistral:codestral-latest", "Mistral AI (API)"),
    ("jamba-1.5-large", "AI21 Labs"), ("ai21/jamba-instruct", "AI21 Labs"),
    ("sonar-pro", "Perplexity"), ("perplexity/llama-3.1-sonar-large-128k-online", "Perplexity"),
    ("amazon.nova-pro-v1:0", "Amazon"), ("bedrock/amazon.titan-text-express-v1", "Amazon"),
    ("reka-core", "Reka"), ("inflection-2.5", "Inflection"),
]

OPEN = [
    "openai-community/gpt2", "gpt2", "gpt2-xl", "openai/gpt-oss-20b", "openai/gpt-oss-120b", "openai/whisper-large-v3",
    "openai/clip-vit-base-patch32", "google/gemma-2-9b", "google/gemma-2-9b-it", "google/flan-t5-large",
    "google/paligemma-3b", "CohereForAI/aya-23-8B", "CohereForAI/c4ai-command-r-v01", "mistralai/Mistral-7B-v0.1",
    "mistralai/Mistral-Large-Instruct-2407", "mistralai/Mixtral-8x7B-Instruct-v0.1", "xai-org/grok-1",
    "meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen2.5-7B-Instruct", "./models/gpt-4o-distilled",
    "/data/checkpoints/claude-like", "runs/gemini-clone/checkpoint-500", "someuser/gpt-4-distilled-llama-7b",
    "bedrock/meta.llama3-70b-instruct-v1:0", "vertex_ai/meta/llama-3.1-405b", "Writer/palmyra-base",
    "palmyra-small", "deepseek-ai/DeepSeek-R1", "", "tiiuae/falcon-7b", "microsoft/Phi-3-mini-4k-instruct",
]


@pytest.mark.parametrize("ref, provider", CLOSED)
def test_closed_api_models_are_caught(ref, provider):
    match = closed_api_match(ref)
    assert match is not None, ref
    assert match.provider == provider
    assert match.pattern and match.source and "compet" in match.reason
    assert match.ref == ref


@pytest.mark.parametrize("ref", OPEN)
def test_open_weights_and_local_paths_are_not_flagged(ref):
    assert closed_api_match(ref) is None


def test_openai_match_names_the_terms_section():
    match = closed_api_match("openai/gpt-4o")
    assert "OpenAI Terms of Use" in match.source and "forbid" in match.reason


@pytest.mark.parametrize(
    "alias, licence_id",
    [
        ("apache-2.0", "apache-2.0"), ("Apache 2.0", "apache-2.0"), ("APACHE-2.0", "apache-2.0"), ("MIT", "mit"),
        ("bsd-3-clause", "bsd-3-clause"), ("cc-by-4.0", "cc-by-4.0"), ("CC BY-NC 4.0", "cc-by-nc-4.0"),
        ("openrail", "openrail-m"), ("bigscience-openrail-m", "bigscience-openrail-m"), ("llama2", "llama2"),
        ("Llama 2 Community License", "llama2"), ("llama3", "llama3"), ("llama-3.1", "llama3.1"),
        ("llama3_1", "llama3.1"), ("Llama 3.1 Community License", "llama3.1"), ("llama3.2", "llama3.2"),
        ("LLAMA3.3", "llama3.3"), ("gemma", "gemma"), ("Gemma Terms of Use", "gemma"), ("qwen", "qwen"),
        ("tongyi-qianwen", "qwen"), ("qwen-research", "qwen-research"), ("deepseek", "deepseek"),
        ("falcon", "falcon"), ("MRL", "mistral-research"), ("Mistral AI Research License", "mistral-research"),
        ("mnpl", "mnpl"), ("phi", "mit"),
    ],
)
def test_licence_aliases_normalise(alias, licence_id):
    info = licence_info(alias)
    assert info is not None and info.id == licence_id
    assert info.source and info.name and info.conditions


@pytest.mark.parametrize("alias", ["other", "unknown", "", "proprietary", "llama4"])
def test_unknown_licences_return_none(alias):
    assert licence_info(alias) is None


def test_outputs_verdicts_follow_the_licence_texts():
    assert licence_info("apache-2.0").outputs_may_train_other_models == "yes"
    assert licence_info("mit").commercial_use is True
    llama2 = licence_info("llama2")
    assert llama2.outputs_may_train_other_models == "no" and "1(b)(v)" in llama2.source
    llama31 = licence_info("llama3.1")
    assert llama31.outputs_may_train_other_models == "conditions"
    assert "Built with Llama" in llama31.conditions and '"Llama"' in llama31.conditions
    assert licence_info("llama3.3").outputs_may_train_other_models == "conditions"
    assert licence_info("cc-by-nc-4.0").commercial_use is False
    assert licence_info("mistral-research").commercial_use is False
    assert "Prohibited Use Policy" in licence_info("gemma").source


@pytest.mark.parametrize(
    "ref, licence_id",
    [
        ("meta-llama/Llama-2-7b-chat-hf", "llama2"), ("meta-llama/Meta-Llama-3-8B-Instruct", "llama3"),
        ("meta-llama/Llama-3.1-8B", "llama3.1"), ("meta-llama/Meta-Llama-3.1-70B-Instruct", "llama3.1"),
        ("meta-llama/Llama-3.2-1B", "llama3.2"), ("meta-llama/Llama-3.3-70B-Instruct", "llama3.3"),
        ("mistralai/Mistral-7B-v0.1", "apache-2.0"), ("mistralai/Mixtral-8x7B-v0.1", "apache-2.0"),
        ("mistralai/Mistral-Large-Instruct-2407", "mistral-research"), ("mistralai/Codestral-22B-v0.1", "mnpl"),
        ("Qwen/Qwen2.5-7B-Instruct", "apache-2.0"), ("Qwen/Qwen2.5-3B", "qwen-research"),
        ("Qwen/Qwen2.5-72B-Instruct", "qwen"), ("google/gemma-2-9b", "gemma"), ("microsoft/Phi-3-mini-4k-instruct", "mit"),
        ("HuggingFaceTB/SmolLM2-135M", "apache-2.0"), ("openai-community/gpt2", "mit"), ("openai/gpt-oss-20b", "apache-2.0"),
        ("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "mit"), ("deepseek-ai/deepseek-llm-7b-base", "deepseek"),
        ("tiiuae/falcon-7b", "apache-2.0"), ("tiiuae/falcon-180B", "falcon"), ("CohereForAI/aya-23-8B", "cc-by-nc-4.0"),
        ("TinyLlama/TinyLlama-1.1B-Chat-v1.0", "apache-2.0"), ("huggyllama/llama-65b", "other"),
        ("my-org/secret-model", None), ("./local/checkpoint", None),
    ],
)
def test_licence_for_model(ref, licence_id):
    assert licence_for_model(ref) == licence_id


def test_model_licence_info_resolves_and_leaves_other_to_the_planner():
    assert model_licence_info("google/gemma-2-2b").id == "gemma"
    assert model_licence_info("huggyllama/llama-7b") is None  # "other": the planner asks for acknowledgement
