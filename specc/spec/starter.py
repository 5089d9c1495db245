"""The commented starter spec written by ``specc init``.

Every section is present with its defaults spelled out, so a newcomer learns the language by editing one
file; the comments say what each choice changes in the plan. A test checks that the starter validates.
Its ``$schema`` header points at the schema file ``specc init`` writes next to it, so an editor finds a real
file (an address on the web would have to exist, be reachable and match the installed version).
"""

from __future__ import annotations

from specc.spec.schema import SCHEMA_FILE

STARTER = """\
# yaml-language-server: $schema={schema_file}
# (editor completion from the JSON Schema `specc init` wrote next to this file;
#  after upgrading specc, `specc schema -o {schema_file}` refreshes it)
#
# A specc spec states goals and constraints; `specc plan` decides whether to prompt, retrieve,
# fine-tune or distill, and explains why. Paths are relative to this file.
specc: 1
name: {name}
description: What this experiment is for, in a sentence a reviewer can check.

goal:
  # style, tone, format, skill, reasoning, knowledge, preference, latency, serving_cost
  behaviours: [format]
  summary: Answers follow our house format on every call.
  consistency_required: true     # must hold without re-explaining it in every prompt

evidence:                        # what you already tried, scored on eval.metric
  prompting:
    score: 0.55
    notes: few-shot prompt with the format spelled out
  # retrieval: {{score: 0.60, notes: BM25 over the docs}}

constraints:
  hardware:
    gpus: 1                      # per node; 0 = CPU only
    gpu_memory_gb: 24
    nodes: 1
  knowledge_change: never        # never, yearly, monthly, weekly, daily, realtime (monthly+ → retrieval)
  citations_required: false      # true → retrieval
  serving:
    max_latency_ms: null
  budget:
    gpu_hours: 8
    allow_full_finetune: false   # LoRA/QLoRA unless this is true

base_model:
  id: Qwen/Qwen2.5-1.5B-Instruct # or `path: models/my-base` (a local directory)
  licence: apache-2.0

data:
  train:
    path: data/train.jsonl       # {{"messages": [...]}} or {{"prompt": ..., "completion": ...}}
  golden:
    path: data/golden.jsonl      # held out; never seen by training
  general_suites:
    - name: general-mc
      kind: multiple_choice
      path: data/general_mc.jsonl

method:                          # optional overrides; omit to let specc decide
  method: auto                   # sft, dpo, rlhf, distill
  parameter_budget: auto         # full, lora, qlora

eval:
  metric: exact_match
  bar: 0.80
  forgetting:
    max_abs_drop: 0.02
    max_rel_drop: 0.05
  firewall:
    ngram: 13
    threshold: 0.0

tracking:
  backend: wandb
  mode: auto                     # offline unless WANDB_API_KEY is set
"""


def starter_spec(name: str) -> str:
    """The starter for experiment ``name``; its ``$schema`` header names :data:`SCHEMA_FILE` next to it."""
    return STARTER.format(name=name, schema_file=SCHEMA_FILE)
