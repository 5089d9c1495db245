"""Hypothesis strategies for hostile and broken specs (used by tests/test_fuzz_specs.py).

Three families, all producing spec *text* (what a user or an attacker can actually hand to specc):

* :func:`valid_specs` - well-formed specs built from the spec language's own choices (behaviours, methods,
  budgets, hardware, data roles, tracking), with free-text fields drawn from :func:`hostile_text`. They
  mostly validate, plan and compile, which is what exercises the emitter's literal rendering.
* :func:`mutated_specs` - a valid spec with one to three structural mutations: a key dropped, renamed
  (typos), moved to the wrong section, given a value of the wrong type, a huge or non-finite number, odd
  unicode, or text-level damage (truncation, a tab, a duplicated line, a YAML tag or alias).
* :func:`yamlish_texts` - random YAML-ish documents: arbitrary nested data dumped as YAML, and raw text.

The data files named in generated specs are the ones :func:`write_fuzz_project` writes, so specs that are
valid also plan without "data missing" findings and reach the compiler.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parent.parent

CANARY_TOKEN = "SPECCCANARY"
"""Appears in every hostile payload; emitted code must carry it only inside string literals."""


def hostile_payloads(canary: str) -> list[str]:
    """Strings that would run a command or create ``canary`` if any layer pasted them in as code."""
    c = canary
    return [
        f'"""; __import__("os").system("touch {c}") #{CANARY_TOKEN}',
        f"'''; open('{c}', 'w') #{CANARY_TOKEN}",
        f"{CANARY_TOKEN}'); __import__('os').system('touch {c}'); ('",
        f'{CANARY_TOKEN}"); __import__("os").system("touch {c}"); ("',
        f"{CANARY_TOKEN}\nimport os; os.system('touch {c}')\n",
        f"{CANARY_TOKEN} $(touch {c})",
        f"{CANARY_TOKEN} `touch {c}`",
        f"{CANARY_TOKEN}'; touch {c}; echo '",
        f'{CANARY_TOKEN}"; touch {c}; echo "',
        f"{CANARY_TOKEN} && touch {c} || touch {c} | touch {c} & touch {c}",
        f"{CANARY_TOKEN}\ntouch {c}\n",
        f"{CANARY_TOKEN}\r\ntouch {c}\r\n",
        f"{CANARY_TOKEN} ${{IFS}}touch${{IFS}}{c} $((1+1)) ${{PATH}} !! \\ \\n",
        f"{CANARY_TOKEN} {{{{ 7*7 }}}} {{% include '/etc/passwd' %}} {{# x #}} {{{{ cycler.__init__.__globals__.os.system('touch {c}') }}}}",
        f"{CANARY_TOKEN}\x00\x1b[31m\u2028\u2029\x85\ufeff",
        f"{CANARY_TOKEN} ; rm -rf {c}-dir ; > {c} ; < /dev/null",
        f"{CANARY_TOKEN}: {{a: b}}\n- [x]\n--- !!python/object:os.system\n&a *a",
        f"{CANARY_TOKEN} \\x00 \\u0000 %s %(x)s {{0}} {{0.__class__}}",
        f"{CANARY_TOKEN} \u202etxt.exe \U0001f600 \u0130 \ufb01 e\u0301",
    ]


class Draw:
    """Fast drawing of spec parts from a seeded ``random.Random``.

    Hypothesis supplies the ``Random`` (``st.randoms``), so runs are reproducible under
    ``derandomize=True``; building a spec from a plain ``Random`` costs microseconds where ~200 separate
    hypothesis draws cost ~20 ms, which is what lets the fuzz push 10,000 specs through in CI.
    """

    def __init__(self, rnd: random.Random, canary: str = ""):
        self.r = rnd
        self.payloads = hostile_payloads(canary)

    def boolean(self) -> bool:
        return self.r.random() < 0.5

    def integer(self, lo: int, hi: int) -> int:
        return self.r.randint(lo, hi)

    def floating(self, lo: float, hi: float) -> float:
        return self.r.choice([lo, hi, self.r.uniform(lo, hi), self.r.uniform(lo, hi)])

    def choice(self, options: Any) -> Any:
        return self.r.choice(list(options))

    def subset(self, options: list[Any], lo: int, hi: int) -> list[Any]:
        return self.r.sample(options, self.r.randint(lo, min(hi, len(options))))

    def chars(self, max_size: int, min_size: int = 0, alphabet: str | None = None) -> str:
        n = self.r.randint(min_size, max_size)
        if alphabet is not None:
            return "".join(self.r.choice(alphabet) for _ in range(n))
        return "".join(chr(self.r.choice(self._codepoints())) for _ in range(n))

    def _codepoints(self) -> range:
        return self.r.choice(_CODEPOINT_RANGES)

    def name(self) -> str:
        """Hostile text for names, ids and paths: the spec refuses control characters there (they reach file
        names, shell exports and logs), so a *valid* spec carries every other hostile character."""
        return "".join(c for c in self.text() if ord(c) >= 32 and ord(c) != 127)

    def text(self) -> str:
        """Free text: a hostile payload, random unicode, or both."""
        pick = self.r.random()
        if pick < 0.45:
            return self.r.choice(self.payloads)
        if pick < 0.7:
            return self.chars(40)
        return self.chars(12) + self.r.choice(self.payloads) + self.chars(12)


_CODEPOINT_RANGES = [range(0x20, 0x7F), range(0x20, 0x7F), range(0x0, 0x20), range(0x80, 0x250),
                     range(0x2000, 0x2070), range(0x3000, 0xD800), range(0xE000, 0x10000),
                     range(0x10000, 0x10FFFF)]
"""Printable ASCII (twice as likely), C0 controls, Latin, punctuation/format characters, the rest of the
BMP without surrogates (they cannot be encoded as UTF-8), and the astral planes."""


def hostile_text(canary: str) -> st.SearchStrategy[str]:
    """A strategy of free text as :meth:`Draw.text` makes it."""
    return st.randoms(use_true_random=True).map(lambda r: Draw(r, canary).text())


# ------------------------------------------------------------------------------------------ the project

MODEL_CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "vocab_size": 512,
    "max_position_embeddings": 256,
    "tie_word_embeddings": False,
}

DATA = {
    "train": ["data/narrow_train.jsonl"],
    "preference": ["data/preference.jsonl"],
    "prompts": ["data/prompts.jsonl"],
    "golden": ["data/narrow_golden.jsonl"],
}
SUITES = [
    ("arithmetic", "exact_match", "data/arithmetic.jsonl"),
    ("copy-reverse", "exact_match", "data/copy_reverse.jsonl"),
    ("capitals", "multiple_choice", "data/capitals.jsonl"),
    ("heldout-nll", "perplexity", "data/heldout_nll.jsonl"),
]


def write_fuzz_project(root: Path) -> Path:
    """A spec directory with the example data and two local model directories (config.json only: the
    planner reads facts, it never loads weights). Returns ``root``."""
    shutil.copytree(REPO / "specs" / "data", root / "data")
    for name, layers in (("model", 2), ("teacher", 4)):
        (root / name).mkdir(parents=True)
        cfg = {**MODEL_CONFIG, "num_hidden_layers": layers}
        (root / name / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    return root


def write_data_spec(root: Path, *, train: str, golden: str, name: str = "sources") -> Path:
    """``root/spec.yaml``: a minimal spec for a :func:`write_fuzz_project` directory whose ``data.train`` and
    ``data.golden`` are the given YAML flow (or block) values; the data tests vary only those two."""
    spec = root / "spec.yaml"
    spec.write_text(f"""\
specc: 1
name: {name}
goal: {{behaviours: [format], consistency_required: true}}
evidence: {{prompting: {{score: 0.1}}}}
constraints: {{hardware: {{gpus: 0, cpu_memory_gb: 16}}}}
base_model: {{path: model, licence: apache-2.0}}
data:
  train: {train}
  golden: {golden}
eval: {{bar: 0.5}}
tracking: {{mode: disabled}}
""", encoding="utf-8")
    return spec


# ------------------------------------------------------------------------------------------ valid specs

BEHAVIOURS = ["style", "tone", "format", "skill", "reasoning", "knowledge", "preference", "latency", "serving_cost"]
NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789._-"


def spec_dicts(draw: Draw) -> dict[str, Any]:
    """A spec as data: every section drawn from the language's choices, free text hostile."""
    text = draw.text
    name = draw.choice("abcdefghijklmnopqrstuvwxyz0123456789") + draw.chars(20, alphabet=NAME_CHARS)
    spec: dict[str, Any] = {"specc": 1, "name": name}
    if draw.boolean():
        spec["description"] = text()
    goal: dict[str, Any] = {"behaviours": draw.subset(BEHAVIOURS, 1, 4)}
    if draw.boolean():
        goal["summary"] = text()
    if draw.boolean():
        goal["consistency_required"] = draw.boolean()
    spec["goal"] = goal
    evidence: dict[str, Any] = {}
    for lever in ("prompting", "retrieval"):
        if draw.integer(0, 3):
            attempt: dict[str, Any] = {"score": draw.floating(0, 1)}
            if draw.boolean():
                attempt["notes"] = text()
            evidence[lever] = attempt
    if evidence:
        spec["evidence"] = evidence
    hardware: dict[str, Any] = {"gpus": draw.choice([0, 0, 1, 1, 2, 8]),
                                "gpu_memory_gb": draw.choice([8, 24, 80, 0.5]),
                                "cpu_memory_gb": draw.choice([2, 16, 64])}
    if draw.integer(0, 4) == 0:
        hardware["nodes"] = 2
        rdzv: dict[str, Any] = {"host": text()}
        if draw.boolean():
            rdzv["port"] = draw.integer(1, 65535)
        hardware["rendezvous"] = rdzv
    if draw.boolean():
        hardware["gpu_type"] = draw.choice(["A100-80GB", "H100", "T4"]) if draw.boolean() else text()
    if draw.boolean():
        hardware["strategy"] = draw.choice(["auto", "ddp", "fsdp", "zero2", "zero3"])
    constraints: dict[str, Any] = {"hardware": hardware}
    if draw.boolean():
        constraints["serving"] = {"max_latency_ms": draw.integer(1, 5000),
                                  "current_latency_ms": draw.integer(1, 5000), "too_costly": draw.boolean()}
    if draw.boolean():
        constraints["knowledge_change"] = draw.choice(["never", "yearly", "monthly", "weekly", "daily", "realtime"])
    if draw.boolean():
        constraints["citations_required"] = draw.boolean()
    if draw.boolean():
        constraints["budget"] = {"allow_full_finetune": draw.boolean(), "gpu_hours": draw.floating(0, 1e6)}
    spec["constraints"] = constraints
    spec["base_model"] = _model_ref(draw, "model")
    if draw.integer(0, 3) == 0:
        spec["teacher"] = _model_ref(draw, "teacher")
    data: dict[str, Any] = {}
    for role, paths in DATA.items():
        if draw.integer(0, 3):
            entry: dict[str, Any] = {"path": draw.choice(paths)}
            if draw.integer(0, 5) == 0:
                entry["format"] = draw.choice(["auto", "messages", "prompt_completion", "preference", "text",
                                               "prompts"])
            data[role] = entry
    suites = draw.subset(SUITES, 0, 4)
    if suites:
        data["general_suites"] = [{"name": n, "kind": k, "path": p} for n, k, p in suites]
    if draw.integer(0, 5) == 0:
        data.setdefault("general_suites", []).append({"name": "lm", "kind": "lm_eval", "task": draw.name()})
    spec["data"] = data
    method: dict[str, Any] = {}
    for key, make in _method_keys(draw).items():
        if draw.integer(0, 3) == 0:
            method[key] = make()
    if method:
        spec["method"] = method
    ev: dict[str, Any] = {}
    if draw.boolean():
        ev["metric"] = draw.choice(["exact_match", "accuracy", "perplexity"])
    if draw.boolean():
        ev["bar"] = draw.floating(-1e6, 1e6)
    if draw.boolean():
        ev["forgetting"] = {"max_abs_drop": draw.floating(0, 10), "max_rel_drop": draw.floating(0, 1)}
    if draw.boolean():
        ev["firewall"] = {"ngram": draw.integer(3, 64), "threshold": draw.floating(0, 0.99),
                          "near_duplicates": draw.boolean()}
        if draw.boolean():  # declared boilerplate: free text that reaches plan.json and the firewall stage
            ev["firewall"]["ignore"] = ["shared boilerplate " + draw.text()]
    if ev:
        spec["eval"] = ev
    if draw.boolean():
        tracking: dict[str, Any] = {"backend": draw.choice(["wandb", "none"]),
                                    "mode": draw.choice(["auto", "online", "offline", "disabled"])}
        if draw.boolean():
            tracking["project"] = draw.name()
        if draw.boolean():
            tracking["entity"] = draw.name()
        spec["tracking"] = tracking
    return spec


def _method_keys(draw: Draw) -> dict[str, Any]:
    return {
        "method": lambda: draw.choice(["auto", "sft", "dpo", "rlhf", "distill"]),
        "parameter_budget": lambda: draw.choice(["auto", "full", "lora", "qlora"]),
        "lora_r": lambda: draw.integer(1, 1024),
        "lora_dropout": lambda: draw.floating(0, 0.99),
        "lora_targets": lambda: draw.choice(["all-linear", "attention"]) if draw.boolean()
        else [draw.text() for _ in range(draw.integer(0, 3))],
        "quant_bits": lambda: draw.choice([4, 8]),
        "epochs": lambda: draw.floating(0.01, 100),
        "max_steps": lambda: draw.integer(1, 10**9),
        "learning_rate": lambda: draw.floating(1e-9, 1.0),
        "max_seq_length": lambda: draw.integer(8, 1 << 17),
        "micro_batch_size": lambda: draw.integer(1, 4096),
        "gradient_accumulation": lambda: draw.integer(1, 4096),
        "gradient_checkpointing": draw.boolean,
        "packing": draw.boolean,
        "precision": lambda: draw.choice(["auto", "bf16", "fp16", "fp32"]),
        "rl_algorithm": lambda: draw.choice(["rloo", "grpo"]),
        "distillation": lambda: draw.choice(["auto", "sequence", "logit"]),
        "seed": lambda: draw.integer(0, 2**32 - 1),
    }


def _model_ref(draw: Draw, local: str) -> dict[str, Any]:
    if draw.integer(0, 2):
        ref: dict[str, Any] = {"path": local}
    else:
        ref = {"id": draw.choice(["Qwen/Qwen2.5-0.5B-Instruct", "meta-llama/Llama-3.1-8B-Instruct", "gpt-4o",
                                  "mistralai/Mistral-7B-v0.1", "org/unknown-3b"]) if draw.boolean() else draw.name()}
        if draw.boolean():
            ref["revision"] = draw.name()
    if draw.integer(0, 5):
        ref["licence"] = draw.choice(["apache-2.0", "apache-2.0", "mit", "llama3.1", "gemma"]) \
            if draw.integer(0, 3) else draw.name()
    if draw.boolean():
        ref["licence_acknowledged"] = True
    return ref


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def dump(data: Any, draw: Draw) -> str:
    """YAML text for ``data`` in one of several equivalent styles a person might write."""
    return yaml.dump(data, Dumper=_DUMPER, sort_keys=draw.boolean(), allow_unicode=draw.boolean(),
                     default_flow_style=draw.choice([False, None, True]), width=draw.choice([80, 40, 10_000]))


def valid_specs(canary: str) -> st.SearchStrategy[tuple[str, str]]:
    """("valid", text) of a spec built by :func:`spec_dicts`."""

    def build(rnd: random.Random) -> tuple[str, str]:
        draw = Draw(rnd, canary)
        return "valid", dump(spec_dicts(draw), draw)

    return st.randoms(use_true_random=True).map(build)


# ------------------------------------------------------------------------------------------ mutations

TYPOS = {"behaviours": "behaviors", "base_model": "base-model", "golden": "gold", "train": "training",
         "path": "pth", "format": "fromat", "prompt": "promt", "hardware": "hardwear", "gpus": "gpu",
         "lora_r": "lora_rank", "learning_rate": "lr", "summary": "sumary", "tracking": "wandb",
         "method": "methods", "metric": "metrics"}
WRONG_VALUES: list[Any] = [
    None, True, "", "  ", [], {}, [[]], {"x": 1}, 10**400, -(10**30), 1e308, -1, 0, 1.5, "1e999", "NaN",
    float("nan"), float("inf"), "yes", "\u0000", "\ud7ff\ue000", "${HOME}", "../../etc/passwd", "/abs/path",
    "x" * 5000, [1, "a", None], {"": ""}, {"1": [1, {"2": None}]},
]
TEXT_DAMAGE = ["truncate", "tab", "dup_line", "tag", "alias", "insert", "bom", "crlf", "nul", "anchor_bomb",
               "recursive_alias", "merge_key", "flow_break", "doc_marker", "raw_unicode_escape"]


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    if isinstance(data, dict):
        for k, v in data.items():
            out.append(prefix + (k,))
            out.extend(_paths(v, prefix + (k,)))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out.append(prefix + (i,))
            out.extend(_paths(v, prefix + (i,)))
    return out


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


def _mutate_data(data: dict[str, Any], draw: Draw) -> str:
    path = draw.choice(_paths(data))
    parent, last = _parent(data, path), path[-1]
    op = draw.choice(["drop", "rename", "misplace", "wrong_type", "wrong_type", "huge", "unicode_key",
                      "hostile_value", "wrap_list"])
    if op == "drop":
        if isinstance(parent, dict):
            del parent[last]
        else:
            parent.pop(last)
    elif op == "rename" and isinstance(parent, dict):
        new = TYPOS.get(last) or draw.choice([str(last) + "s", str(last)[:-1] or "x", str(last).upper(),
                                              str(last).replace("_", "-"), " " + str(last)])
        parent[new] = parent.pop(last)
    elif op == "misplace" and isinstance(parent, dict):
        value = parent.pop(last)
        holders = [data] + [_parent(data, p + ("x",)) for p in _paths(data)
                            if isinstance(_parent(data, p + ("x",)), dict)]
        draw.choice(holders)[last] = value
    elif op == "wrong_type":
        parent[last] = draw.choice(WRONG_VALUES)
    elif op == "huge":
        parent[last] = draw.choice([10**30, 2**64, -(2**63), 1e300, -1e300, 10**4000, 1e-320])
    elif op == "unicode_key" and isinstance(parent, dict):
        parent[draw.chars(8, min_size=1)] = parent.pop(last)
    elif op == "hostile_value":
        parent[last] = draw.text()
    else:
        parent[last] = [parent[last]]
    return op


def _damage_text(text: str, draw: Draw) -> tuple[str, str]:
    op = draw.choice(TEXT_DAMAGE)
    lines = text.splitlines(keepends=True) or ["\n"]
    i = draw.integer(0, len(lines) - 1)
    if op == "truncate":
        text = text[: draw.integer(0, max(0, len(text) - 1))]
    elif op == "tab":
        lines[i] = "\t" + lines[i]
        text = "".join(lines)
    elif op == "dup_line":
        lines.insert(i, lines[i])
        text = "".join(lines)
    elif op == "tag":
        tag = draw.choice(["!!python/object/apply:os.system ['true']", "!!python/name:os.system",
                           "!custom {a: 1}", "!!set {a, b}", "!!omap [a: 1]", "!!binary aGk=",
                           "!!timestamp 2001-12-14", "!!str 1", "!!int '3'", "!!float 'nan'"])
        text += f"description: {tag}\n"
    elif op == "alias":
        text += "x: &a {k: v}\ny: *a\nz: *undefined\n"
    elif op == "insert":
        pos = draw.integer(0, len(text))
        text = text[:pos] + draw.choice([":", "-", "[", "{", "}", "'", '"', "#", "&", "*", "!", "|", ">", "%",
                                         "@", "`", "\n", " ", "? ", "---\n"]) + text[pos:]
    elif op == "bom":
        text = "\ufeff" + text
    elif op == "crlf":
        text = text.replace("\n", "\r\n")
    elif op == "nul":
        text = text[: len(text) // 2] + "\x00" + text[len(text) // 2:]
    elif op == "anchor_bomb":  # "billion laughs", kept small: test_alias_bomb_is_refused_quickly has the big one
        levels = draw.integer(1, 3)
        bomb = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"]
        bomb += [f"l{k}: &l{k} [{', '.join([f'*l{k - 1}'] * 10)}]\n" for k in range(1, levels)]
        text += "".join(bomb)
    elif op == "recursive_alias":
        text += "loop: &loop [*loop]\n"
    elif op == "merge_key":
        text += "base: &b {gpus: 1}\nmore:\n  <<: *b\n  <<: [*b, 3]\n"
    elif op == "flow_break":
        text += "goal: {behaviours: [style\n"
    elif op == "doc_marker":
        text += "---\nspecc: 1\n"
    else:
        text += 'description: "\\ud800 \\x00 \\U0010ffff \\N \\_ \\L \\P"\n'
    return text, op


def mutated_specs(canary: str) -> st.SearchStrategy[tuple[str, str]]:
    """(label, text): a valid spec with 1-3 structural or textual mutations."""

    def build(rnd: random.Random) -> tuple[str, str]:
        draw = Draw(rnd, canary)
        data = spec_dicts(draw)
        ops: list[str] = []
        for _ in range(draw.integer(1, 3)):
            if draw.integer(0, 3) == 0:
                text, op = _damage_text(dump(data, draw), draw)
                return "mutated:" + "+".join(ops + [op]), text
            ops.append(_mutate_data(data, draw))
        try:
            return "mutated:" + "+".join(ops), dump(data, draw)
        except (ValueError, OverflowError, yaml.YAMLError):  # e.g. a value PyYAML cannot emit
            return "mutated:" + "+".join(ops), json.dumps(data, default=str, allow_nan=True)

    return st.randoms(use_true_random=True).map(build)


# ------------------------------------------------------------------------------------------ YAML-ish noise

_KEYS = ["specc", "name", "goal", "behaviours", "base_model", "data", "method", "path", "id", "eval", "tracking",
         "constraints", "hardware"]
_RAW = list("specc: 1\nname-x[]{},:&*!|>'\"#\t?%@`") + ["\u00e9", "\U0001f600", "\ufeff"]


def _scalar(draw: Draw) -> Any:
    return draw.choice([
        lambda: None, draw.boolean, lambda: draw.integer(-(2**70), 2**70), lambda: draw.floating(-1e308, 1e308),
        lambda: draw.choice([float("nan"), float("inf"), -0.0]), lambda: draw.chars(20),
        lambda: draw.choice(["specc", "name", "goal", "1", "~", "yes", "0x1F", "2001-01-01", "=", "<<"]),
    ])()


def _tree(draw: Draw, depth: int) -> Any:
    pick = draw.integer(0, 4)
    if depth <= 0 or pick < 2:
        return _scalar(draw)
    if pick == 2:
        return [_tree(draw, depth - 1) for _ in range(draw.integer(0, 4))]
    return {(draw.choice(_KEYS) if draw.boolean() else draw.chars(10)): _tree(draw, depth - 1)
            for _ in range(draw.integer(0, 4))}


def yamlish_texts() -> st.SearchStrategy[tuple[str, str]]:
    """(label, text): arbitrary YAML-ish documents, from nested data or raw characters."""

    def build(rnd: random.Random) -> tuple[str, str]:
        draw = Draw(rnd)
        kind = draw.choice(["data", "data", "spec_like", "raw"])
        if kind == "raw":
            return "yamlish:raw", "".join(draw.choice(_RAW) for _ in range(draw.integer(0, 200)))
        data = _tree(draw, 4)
        if kind == "spec_like":
            data = {"specc": draw.choice([1, 1, 2, "1", True, None]),
                    **{draw.choice(_KEYS): _tree(draw, 3) for _ in range(draw.integer(0, 6))}}
        try:
            return f"yamlish:{kind}", dump(data, draw)
        except (ValueError, OverflowError, yaml.YAMLError):
            return f"yamlish:{kind}", json.dumps(data, default=str)

    return st.randoms(use_true_random=True).map(build)


# ------------------------------------------------------------------------------------------ light builds

LIGHT_SPEC = """\
specc: 1
name: {name}
description: {description}
goal: {{behaviours: [format], consistency_required: true}}
evidence: {{prompting: {{score: 0.1}}}}
constraints: {{hardware: {{gpus: 0, cpu_memory_gb: 16}}}}
base_model: {{path: model, licence: apache-2.0}}
data:
  train: {{path: data/narrow_train.jsonl}}
  golden: {{path: data/narrow_golden.jsonl}}
  general_suites: [{{name: arithmetic, kind: exact_match, path: data/arithmetic.jsonl}}]
eval: {{bar: 0.5}}
tracking: {tracking}
"""


def light_spec(root: Path, *, name: str = "light", description: str = "a light build",
               tracking: str = "{mode: disabled}") -> Path:
    """A project (example data + a config.json-only model) and a valid SFT spec in it. Its firewall stage
    runs without the training stack; its training stages are never run by these tests."""
    proj = write_fuzz_project(root / "proj")
    spec = proj / "spec.yaml"
    spec.write_text(LIGHT_SPEC.format(name=name, description=json.dumps(description), tracking=tracking),
                    encoding="utf-8")
    return spec


def tree_bytes(root: Path) -> dict[str, bytes | str]:
    """Every entry under ``root``: file bytes, or ``-> target`` for links, or ``<dir>``."""
    out: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            out[rel] = f"-> {path.readlink()}"
        elif path.is_dir():
            out[rel] = "<dir>"
        else:
            out[rel] = path.read_bytes()
    return out
