"""Closed-API models: whose outputs may not be used to train a model that competes with the provider.

The planner must refuse a distillation (or synthetic-data) plan whose teacher is a closed model reached
through an API: the providers' terms forbid using outputs to develop competing models. The hard part is
matching without false positives, because the same organisations publish open weights under the same
names on the hub ("openai/gpt-oss-20b", "openai-community/gpt2", "google/gemma-2-9b",
"CohereForAI/aya-23-8B", "mistralai/Mistral-7B-v0.1"). So a reference is split into an optional
routing prefix (an API client's "provider/" or "provider:" or a cloud's "bedrock/") and a model name, and
a match needs either a closed model name or a routing prefix that only ever reaches a closed API.

Terms change; ``source`` names the document and section a reviewer should re-read. Stdlib only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ClosedApiMatch", "ClosedProvider", "PROVIDERS", "closed_api_match"]


@dataclass(frozen=True)
class ClosedApiMatch:
    """Why a model reference was judged a closed-API model."""

    ref: str
    provider: str
    pattern: str
    reason: str
    source: str


@dataclass(frozen=True)
class ClosedProvider:
    """A provider of closed models.

    ``name_patterns`` match a bare model name (after any routing prefix). ``exclusive_prefixes`` are
    routing prefixes that reach only this provider's closed API, so anything behind them is closed.
    ``shared_prefixes`` are namespaces that also hold open weights (a hub organisation): behind them
    only a closed model name counts.
    """

    name: str
    name_patterns: tuple[str, ...]
    exclusive_prefixes: tuple[str, ...]
    shared_prefixes: tuple[str, ...]
    reason: str
    source: str


_COMPETE = "the provider's terms forbid using outputs to develop models that compete with it"

PROVIDERS: tuple[ClosedProvider, ...] = (
    ClosedProvider(
        name="OpenAI",
        name_patterns=(
            r"gpt-?3\.5.*", r"gpt-?4.*", r"gpt-?5.*", r"chatgpt.*", r"o[134](-.*)?", r"text-davinci.*",
            r"davinci.*", r"curie.*", r"babbage.*", r"ada-0\d\d", r"codex.*", r"code-davinci.*",
            r"gpt-image.*", r"dall-e.*", r"text-embedding-.*", r"computer-use-preview.*",
        ),
        exclusive_prefixes=("openai:", "azure/", "azure:", "azure_ai/openai", "openai_api/"),
        shared_prefixes=("openai/",),
        reason=_COMPETE,
        source="OpenAI Terms of Use, 'What you cannot do' (using Output to develop competing models)",
    ),
    ClosedProvider(
        name="Anthropic",
        name_patterns=(r"claude.*", r"anthropic\.claude.*"),
        exclusive_prefixes=("anthropic/", "anthropic:", "bedrock/anthropic.", "vertex_ai/claude"),
        shared_prefixes=(),
        reason=_COMPETE,
        source="Anthropic Commercial Terms of Service, section D.4 'Use Restrictions' (training competing AI models)",
    ),
    ClosedProvider(
        name="Google",
        name_patterns=(r"gemini.*", r"(text|chat|code)-bison.*", r"codechat-bison.*", r"palm(-?2)?(-.*)?", r"bard(-.*)?",
                       r"learnlm.*"),
        exclusive_prefixes=("gemini/", "gemini:", "google-gla:", "google-vertex:", "vertex_ai/gemini",
                            "vertex_ai_beta/", "palm/"),
        shared_prefixes=("google/", "models/", "vertex_ai/"),
        reason=_COMPETE,
        source="Gemini API Additional Terms of Service, 'Use Restrictions'; Google Generative AI Prohibited Use Policy",
    ),
    ClosedProvider(
        name="Cohere",
        name_patterns=(r"command(-[a-z0-9.-]*)?", r"embed-(english|multilingual)-.*", r"rerank-.*"),
        exclusive_prefixes=("cohere/", "cohere:", "cohere_chat/", "bedrock/cohere."),
        shared_prefixes=(),
        reason=_COMPETE,
        source="Cohere Terms of Use, usage restrictions (developing competing models)",
    ),
    ClosedProvider(
        name="xAI",
        name_patterns=(r"grok.*",),
        exclusive_prefixes=("xai/", "xai:", "x-ai/"),
        shared_prefixes=(),
        reason=_COMPETE,
        source="xAI Terms of Service, prohibited uses (using outputs to develop competing models)",
    ),
    ClosedProvider(
        name="Mistral AI (API)",
        name_patterns=(r"mistral-(large|medium)(-.*)?", r"magistral-medium.*", r"mistral-saber.*",
                       r"mistral-(tiny|small)-latest", r"codestral-latest", r"pixtral-large-latest",
                       r"mistral-embed"),
        exclusive_prefixes=("mistral/", "mistral:", "la-plateforme/"),
        shared_prefixes=(),
        reason="served through Mistral AI's API under its commercial terms, which restrict using outputs "
               "to develop competing models; Mistral's open weights (mistralai/* on the hub) are not affected",
        source="Mistral AI Terms of Service / Commercial Terms of Service, usage restrictions",
    ),
    ClosedProvider(
        name="AI21 Labs",
        name_patterns=(r"jamba-(1\.5-)?(large|mini|instruct)(-.*)?", r"j2-.*", r"jurassic.*"),
        exclusive_prefixes=("ai21/", "ai21:", "bedrock/ai21."),
        shared_prefixes=(),
        reason=_COMPETE,
        source="AI21 Labs Terms of Use, restrictions (developing competing models)",
    ),
    ClosedProvider(
        name="Perplexity",
        name_patterns=(r"sonar.*", r"pplx-.*", r"llama-3(\.1)?-sonar.*"),
        exclusive_prefixes=("perplexity/", "perplexity:"),
        shared_prefixes=(),
        reason=_COMPETE,
        source="Perplexity API Terms of Service, restrictions",
    ),
    ClosedProvider(
        name="Amazon",
        name_patterns=(r"(amazon\.)?nova-.*", r"(amazon\.)?titan-.*"),
        exclusive_prefixes=("bedrock/amazon.",),
        shared_prefixes=(),
        reason=_COMPETE,
        source="AWS Service Terms, Amazon Bedrock section (restrictions on Amazon models' outputs)",
    ),
    ClosedProvider(
        name="Reka",
        name_patterns=(r"reka-(core|flash|edge)(-.*)?",),
        exclusive_prefixes=("reka/", "reka:"),
        shared_prefixes=(),
        reason=_COMPETE,
        source="Reka Terms of Use, restrictions",
    ),
    ClosedProvider(
        name="Inflection",
        name_patterns=(r"inflection-.*",),
        exclusive_prefixes=("inflection/", "inflection:"),
        shared_prefixes=(),
        reason=_COMPETE,
        source="Inflection AI Terms of Service, restrictions",
    ),
)

# Open weights whose names could be mistaken for a closed pattern. Checked first, always win.
_OPEN_NAMES = (
    r"gpt-?oss.*",  # openai/gpt-oss-20b, -120b: Apache-2.0 weights
    r"gpt-?2.*",  # openai-community/gpt2 and friends: MIT
    r"whisper.*", r"clip-.*", r"shap-e.*", r"jukebox.*", r"diffusers-.*",  # OpenAI open releases
    r"grok-1(-.*)?",  # xai-org/grok-1: Apache-2.0 weights
)
# Routing prefixes that put an open model behind a cloud API; its own licence then governs outputs.
_ROUTERS = ("bedrock/", "vertex_ai/", "openrouter/", "together_ai/", "azure_ai/", "groq/", "fireworks_ai/",
            "deepinfra/", "replicate/", "huggingface/", "ollama/", "ollama_chat/")


def _normalise(ref: str) -> str:
    """Lowercase, trim, and unify separators so "OpenAI/GPT-4", "openai / gpt_4" read the same."""
    text = ref.strip().lower().replace("\\", "/")
    text = re.sub(r"\s*([/:])\s*", r"\1", text)
    return re.sub(r"[\s_]+", "-", text)


def _looks_local(ref: str) -> bool:
    """Paths are the user's own checkpoints, never an API model."""
    return ref.startswith((".", "/", "~")) or ref.endswith((".safetensors", ".bin", ".gguf"))


def _full_match(patterns: tuple[str, ...], name: str) -> str | None:
    for pattern in patterns:
        if re.fullmatch(pattern, name):
            return pattern
    return None


def _strip_routers(text: str) -> str:
    changed = True
    while changed:
        changed = False
        for router in _ROUTERS:
            router = _normalise(router)
            if text.startswith(router) and len(text) > len(router):
                text = text[len(router):]
                changed = True
    return text


def closed_api_match(ref: str) -> ClosedApiMatch | None:
    """Return why ``ref`` names a closed-API model, or None if it does not (open weights, local paths).

    Decision order: local paths are open; an exclusive API prefix ("openai:", "anthropic/") is closed;
    otherwise the model name (after a hub organisation or cloud router) must match a closed model
    name, and known open-weight names ("gpt-oss", "gpt2", "gemma", ...) never match.
    """
    if not ref or _looks_local(ref.strip()):
        return None
    text = re.sub(r":\d+$", "", _normalise(ref))  # Bedrock ids end in a ":0" revision
    unrouted = _strip_routers(text)
    # Split off the namespace ("org/", "provider:"); what is left is the model name.
    namespace, name = "", unrouted
    cut = max(unrouted.rfind("/"), unrouted.rfind(":"))
    if cut >= 0:
        namespace, name = unrouted[: cut + 1], unrouted[cut + 1 :]
    if _full_match(_OPEN_NAMES, name):
        return None
    for candidate in (text, unrouted):
        for provider in PROVIDERS:
            for prefix in provider.exclusive_prefixes:
                if candidate.startswith(_normalise(prefix)):
                    return ClosedApiMatch(ref, provider.name, f"{prefix}*", provider.reason, provider.source)
    if namespace and not _namespace_may_be_closed(namespace):
        return None
    for provider in PROVIDERS:
        pattern = _full_match(provider.name_patterns, name) or _bedrock_match(provider, name)
        if pattern:
            return ClosedApiMatch(ref, provider.name, pattern, provider.reason, provider.source)
    return None


def _bedrock_match(provider: ClosedProvider, name: str) -> str | None:
    """Bedrock ids look like "anthropic.claude-3-sonnet-...-v1:0" or "us.amazon.nova-pro-v1:0"."""
    if "." not in name:
        return None
    tail = name.split(".")
    for start in range(1, len(tail)):
        candidate = ".".join(tail[start:])
        pattern = _full_match(provider.name_patterns, candidate)
        if pattern:
            return pattern
    return None


def _namespace_may_be_closed(namespace: str) -> bool:
    """A hub organisation is only a closed namespace when a closed provider publishes under it.

    "openai/gpt-4o" is closed, but "someuser/gpt-4-distilled-llama" is a community model whose own
    card governs it; "models/gemini-1.5-pro" is the Gemini API's resource name.
    """
    for provider in PROVIDERS:
        if namespace in {_normalise(prefix) for prefix in provider.shared_prefixes}:
            return True
    return False
