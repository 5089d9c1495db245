"""Open-weight licences: may a model's outputs train another model, and may it be used commercially?

Distilling from (or generating training data with) an open model is allowed only as far as its licence
allows. The planner asks two questions: which licence does this model carry (``licence_for_model``), and
what does that licence say (``licence_info``). Unknown or "other" licences return None on purpose: the
planner then asks the user for an explicit acknowledgement instead of guessing.

The summaries are specc's own short readings, not legal advice; ``source`` names the document and
section to read. Stdlib only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Union

__all__ = ["LicenceInfo", "LICENCES", "licence_info", "licence_for_model"]

OutputsVerdict = Literal["yes", "conditions", "no"]
Commercial = Union[bool, Literal["conditions"]]


@dataclass(frozen=True)
class LicenceInfo:
    """What a licence says about using the model's outputs to train other models, in short."""

    id: str
    name: str
    outputs_may_train_other_models: OutputsVerdict
    conditions: str
    commercial_use: Commercial
    source: str


_PERMISSIVE = "No restriction on outputs; keep the copyright and licence notice when redistributing the weights."

LICENCES: tuple[LicenceInfo, ...] = (
    LicenceInfo("apache-2.0", "Apache License 2.0", "yes", _PERMISSIVE, True,
                "Apache License, Version 2.0, sections 2 (copyright grant) and 4 (redistribution)"),
    LicenceInfo("mit", "MIT License", "yes", _PERMISSIVE, True, "MIT License (permission notice)"),
    LicenceInfo("bsd-3-clause", "BSD 3-Clause License", "yes", _PERMISSIVE, True,
                "BSD 3-Clause License, conditions 1-3"),
    LicenceInfo("cc-by-4.0", "Creative Commons Attribution 4.0", "yes",
                "Credit the licensor when sharing the model or adapted material.", True,
                "CC BY 4.0 legal code, section 3(a) (attribution)"),
    LicenceInfo("cc-by-nc-4.0", "Creative Commons Attribution-NonCommercial 4.0", "conditions",
                "Non-commercial purposes only, with attribution; a model trained on the outputs should stay "
                "non-commercial.", False,
                "CC BY-NC 4.0 legal code, sections 1(i) (NonCommercial) and 2(a)(1) (licence grant)"),
    LicenceInfo("cc-by-sa-4.0", "Creative Commons Attribution-ShareAlike 4.0", "conditions",
                "Credit the licensor and share adapted material under the same licence.", True,
                "CC BY-SA 4.0 legal code, sections 3(a) (attribution) and 3(b) (ShareAlike)"),
    LicenceInfo("cc-by-nc-sa-4.0", "Creative Commons Attribution-NonCommercial-ShareAlike 4.0", "conditions",
                "Non-commercial purposes only, with attribution, and adapted material under the same licence.", False,
                "CC BY-NC-SA 4.0 legal code, sections 1(k) (NonCommercial) and 2(a)(1) (licence grant)"),
    LicenceInfo("cc-by-nc-nd-4.0", "Creative Commons Attribution-NonCommercial-NoDerivatives 4.0", "no",
                "Non-commercial purposes only, with attribution; adapted material may not be shared.", False,
                "CC BY-NC-ND 4.0 legal code, sections 1(i) (NonCommercial) and 2(a)(1) (licence grant)"),
    LicenceInfo("cc0-1.0", "Creative Commons Zero 1.0 (public domain dedication)", "yes",
                "No conditions: the material is dedicated to the public domain.", True,
                "CC0 1.0 Universal, section 2 (waiver)"),
    LicenceInfo("odc-by", "Open Data Commons Attribution License", "yes",
                "Attribute the database when using or sharing it.", True,
                "ODC-By 1.0, section 4.2 (notices)"),
    LicenceInfo("openrail-m", "Open RAIL-M", "conditions",
                "Outputs are yours, but the use-based restrictions of the licence's attachment bind every use and "
                "must be passed on to derivatives, including models trained on the outputs.", True,
                "Open RAIL-M licence, paragraph 5 (use-based restrictions), paragraph 6 (output) and Attachment A"),
    LicenceInfo("bigscience-openrail-m", "BigScience Open RAIL-M", "conditions",
                "Outputs are yours, but the use-based restrictions (Attachment A) bind every use and carry over "
                "to derivatives of the model.", True,
                "BigScience OpenRAIL-M, sections 4-6 and Attachment A (use restrictions)"),
    LicenceInfo("bigscience-bloom-rail-1.0", "BigScience BLOOM RAIL 1.0", "conditions",
                "Use-based restrictions (Attachment A) bind every use and carry over to derivatives.", True,
                "BigScience BLOOM RAIL License v1.0, sections 4-6 and Attachment A"),
    LicenceInfo("llama2", "Llama 2 Community License", "no",
                "Outputs may not be used to improve any other large language model; improving Llama 2 or its "
                "derivatives is allowed. Services with over 700M monthly active users need a separate licence.",
                "conditions",
                "Llama 2 Community License Agreement, section 1(b)(v) (outputs) and section 2 (commercial terms)"),
    LicenceInfo("llama3", "Meta Llama 3 Community License", "no",
                "Outputs may not be used to improve any other large language model, except Meta Llama 3 and its "
                "derivatives (which must be named starting with \"Llama 3\" and show \"Built with Meta Llama 3\"). "
                "Over 700M monthly active users needs a separate licence.",
                "conditions",
                "Meta Llama 3 Community License Agreement, section 1(b)(i) (attribution) and 1(b)(v) (outputs)"),
    LicenceInfo("llama3.1", "Llama 3.1 Community License", "conditions",
                "Outputs may train other models; a model so created and distributed must have a name starting "
                "with \"Llama\", and products must show \"Built with Llama\". Acceptable Use Policy applies; over "
                "700M monthly active users needs a separate licence.",
                "conditions",
                "Llama 3.1 Community License Agreement, section 1(b)(i) (redistribution and attribution)"),
    LicenceInfo("llama3.2", "Llama 3.2 Community License", "conditions",
                "Outputs may train other models; a distributed model built that way must be named starting with "
                "\"Llama\" and credited \"Built with Llama\". Acceptable Use Policy applies (it withholds the "
                "multimodal models' rights from EU-domiciled users); over 700M monthly active users needs a "
                "separate licence.",
                "conditions",
                "Llama 3.2 Community License Agreement, section 1(b)(i); Llama 3.2 Acceptable Use Policy"),
    LicenceInfo("llama3.3", "Llama 3.3 Community License", "conditions",
                "Outputs may train other models; a distributed model built that way must be named starting with "
                "\"Llama\" and credited \"Built with Llama\". Acceptable Use Policy applies; over 700M monthly "
                "active users needs a separate licence.",
                "conditions",
                "Llama 3.3 Community License Agreement, section 1(b)(i); Llama 3.3 Acceptable Use Policy"),
    LicenceInfo("gemma", "Gemma Terms of Use", "conditions",
                "A model trained to imitate Gemma from its outputs (distillation) counts as a Model Derivative: "
                "it must be distributed under the Gemma terms, carry their use restrictions, and follow the "
                "Gemma Prohibited Use Policy.", True,
                "Gemma Terms of Use, section 1.1(e) ('Model Derivatives'), sections 3.1-3.2; Gemma Prohibited "
                "Use Policy"),
    LicenceInfo("qwen", "Qwen License Agreement (Tongyi Qianwen)", "conditions",
                "Outputs may train other models if a distributed model credits Qwen (\"Built with Qwen\" or "
                "\"Improved using Qwen\"); products with over 100M monthly active users need a separate licence.",
                "conditions",
                "Qwen LICENSE AGREEMENT (Tongyi Qianwen), sections 4 (redistribution and attribution) and 5 "
                "(commercial use)"),
    LicenceInfo("qwen-research", "Qwen Research License Agreement", "conditions",
                "Research and non-commercial use only; a model trained on the outputs inherits that limit and "
                "must credit Qwen.", False,
                "Qwen RESEARCH LICENSE AGREEMENT, sections 3 (non-commercial) and 4 (attribution)"),
    LicenceInfo("deepseek", "DeepSeek License Agreement", "conditions",
                "Outputs are yours, but the use-based restrictions (Attachment A) bind every use and pass on to "
                "derivatives, including models trained on the outputs.", True,
                "DeepSeek License Agreement v1.0, sections 4-5 (use restrictions, output) and Attachment A"),
    LicenceInfo("falcon", "TII Falcon License", "conditions",
                "Use must follow TII's acceptable use policy and derivatives carry the licence; the Falcon 180B "
                "licence also forbids offering the model as a hosted service without a separate licence.",
                "conditions",
                "TII Falcon License 2.0 / Falcon-180B TII License, acceptable use and hosting sections"),
    LicenceInfo("mistral-research", "Mistral AI Research License (MRL)", "conditions",
                "Research and personal, non-production use only; derivatives, including models trained on the "
                "outputs, inherit that limit. Commercial use needs a licence from Mistral AI.", False,
                "Mistral AI Research License, sections 1 (definitions of research purposes) and 3 (derivatives)"),
    LicenceInfo("mnpl", "Mistral AI Non-Production License (MNPL)", "conditions",
                "Testing, research and personal use only, never in production or for business; derivatives "
                "inherit the licence.", False,
                "Mistral AI Non-Production License, sections 1-3"),
)

_BY_ID = {info.id: info for info in LICENCES}

# Aliases after normalisation (lowercase, separators removed). "other"/"unknown" deliberately absent.
_ALIASES = {
    "apache2": "apache-2.0", "apache20": "apache-2.0", "apachelicense20": "apache-2.0", "apache": "apache-2.0",
    "mitlicense": "mit", "bsd3": "bsd-3-clause", "bsd3clause": "bsd-3-clause", "ccby40": "cc-by-4.0",
    "ccbync40": "cc-by-nc-4.0", "ccbysa40": "cc-by-sa-4.0", "ccbyncsa40": "cc-by-nc-sa-4.0",
    "ccbyncnd40": "cc-by-nc-nd-4.0", "cc0": "cc0-1.0", "cc010": "cc0-1.0", "odcby": "odc-by", "odcby10": "odc-by", "openrail": "openrail-m", "openrailm": "openrail-m",
    "creativemlopenrailm": "openrail-m", "bigscienceopenrailm": "bigscience-openrail-m",
    "bigsciencebloomrail10": "bigscience-bloom-rail-1.0",
    "llama2": "llama2", "llama2communitylicense": "llama2", "llama2communitylicenseagreement": "llama2",
    "llama3": "llama3", "metallama3": "llama3", "metallama3communitylicense": "llama3", "llama3communitylicense": "llama3",
    "llama31": "llama3.1", "llama31communitylicense": "llama3.1", "llama31communitylicenseagreement": "llama3.1",
    "llama32": "llama3.2", "llama32communitylicense": "llama3.2",
    "llama33": "llama3.3", "llama33communitylicense": "llama3.3",
    "gemma": "gemma", "gemmatermsofuse": "gemma",
    "qwen": "qwen", "tongyiqianwen": "qwen", "qwenlicense": "qwen", "qwenlicenseagreement": "qwen",
    "qwenresearch": "qwen-research", "qwenresearchlicense": "qwen-research",
    "deepseek": "deepseek", "deepseeklicense": "deepseek", "deepseeklicenseagreement": "deepseek",
    "falcon": "falcon", "tiifalconlicense": "falcon", "falconllmlicense": "falcon", "falcon180btiilicense": "falcon",
    "tiifalconlicense20": "falcon", "falconllmtiilicense": "falcon",
    "mrl": "mistral-research", "mistralresearch": "mistral-research", "mistralresearchlicense": "mistral-research",
    "mistralairesearchlicense": "mistral-research",
    "mnpl": "mnpl", "mistralnonproductionlicense": "mnpl", "mistralainonproductionlicense": "mnpl",
    "phi": "mit",
}


def _squash(text: str) -> str:
    """Lowercase and drop everything but letters and digits: "Llama 3.1", "llama-3_1" → "llama31"."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


def licence_info(licence_id_or_alias: str) -> LicenceInfo | None:
    """The LicenceInfo for an SPDX-like id or a common alias; None when unknown or "other"."""
    if not licence_id_or_alias:
        return None
    key = licence_id_or_alias.strip().lower()
    if key in _BY_ID:
        return _BY_ID[key]
    squashed = _squash(key)
    for id_ in _BY_ID:
        if _squash(id_) == squashed:
            return _BY_ID[id_]
    alias = _ALIASES.get(squashed)
    return _BY_ID[alias] if alias else None


# Model-name patterns → licence id. First match wins, so the specific rules sit above the general ones.
_MODEL_LICENCES: tuple[tuple[str, str], ...] = (
    (r"(^|/)(meta-)?llama-?2", "llama2"),
    (r"(^|/)(meta-)?llama-?3\.3", "llama3.3"),
    (r"(^|/)(meta-)?llama-?3\.2", "llama3.2"),
    (r"(^|/)(meta-)?llama-?3\.1", "llama3.1"),
    (r"(^|/)(meta-)?llama-?3(?![.\d])", "llama3"),
    (r"(^|/)(huggyllama/)?llama-(7|13|30|65)b", "other"),  # LLaMA 1: research-only non-commercial licence
    (r"(^|/)tinyllama", "apache-2.0"),
    (r"(^|/)mistral-small-instruct-2409|(^|/)mistral-large|(^|/)pixtral-large|(^|/)ministral|(^|/)mistral-large-instruct", "mistral-research"),
    (r"(^|/)codestral-22b|(^|/)codestral-v0", "mnpl"),
    (r"(^|/)(mistral|mixtral|mathstral|mistral-nemo|mistral-small|codestral-mamba|pixtral-12b)", "apache-2.0"),
    (r"(^|/)qwen2\.5-3b|(^|/)qwen2\.5-vl-3b", "qwen-research"),
    (r"(^|/)qwen2\.5-72b|(^|/)qwen2\.5-vl-72b|(^|/)qwen-(7b|14b|72b)|(^|/)qwen1\.5-72b", "qwen"),
    (r"(^|/)(qwen2\.5|qwen2|qwen3|qwq|qwen1\.5)", "apache-2.0"),
    (r"(^|/)(code|shield|data|t)?gemma", "gemma"),
    (r"(^|/)phi-?[1-4]", "mit"),
    (r"(^|/)smollm", "apache-2.0"),
    (r"(^|/)gpt-?2", "mit"),
    (r"(^|/)gpt-oss", "apache-2.0"),
    (r"(^|/)deepseek-r1|(^|/)deepseek-v3-0324|(^|/)deepseek-v3\.1", "mit"),
    (r"(^|/)deepseek", "deepseek"),
    (r"(^|/)falcon-(7b|40b|rw)|(^|/)falcon-mamba", "apache-2.0"),
    (r"(^|/)falcon", "falcon"),
    (r"(^|/)aya|(^|/)c4ai-command", "cc-by-nc-4.0"),
    (r"(^|/)bloom", "bigscience-bloom-rail-1.0"),
    (r"(^|/)(olmo|pythia|gpt-neox|gpt-j|t5|flan-t5)", "apache-2.0"),
)


def licence_for_model(ref: str) -> str | None:
    """The licence id of a known open-weight model family, or None when unknown.

    Based on the model name only (no network). Returns "other" for families whose licence specc does
    not model (LLaMA 1's research licence), which ``licence_info`` deliberately maps to None.
    """
    name = ref.strip().lower().replace("_", "-")
    for pattern, licence in _MODEL_LICENCES:
        if re.search(pattern, name):
            return licence
    return None
