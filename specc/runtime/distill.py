"""Teacher-side helpers for distillation stages: refuse API teachers, read prompts, generate in batches.

Why a runtime module and not template code: sequence-level distillation spends most of its GPU hours in
the teacher's bulk generation, so the emitted ``generate`` script stays short and this module carries the
parts that must be right every time:

* **open weights only** — the planner already rejects closed-API teachers (their terms forbid training
  competing models); :func:`refuse_api_teacher` re-checks at run time, because an emitted script is
  "edit freely" and a hand-edited teacher ref must not slip through;
* **left padding** — a decoder-only model continues from the last position of each row, so batched prompts
  are padded on the left (right padding makes short prompts continue from pad tokens);
* **resumable output** — rows are appended and flushed batch by batch; a rerun skips prompts whose answer
  is already in the file (a crash mid-write leaves at most one torn last line, which is cut off);
* **vLLM when installed, transformers otherwise** — same prompts, same output rows.

Imports of torch/transformers/vllm happen inside functions: importing this module is cheap.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

__all__ = [
    "TeacherRefused",
    "PromptRow",
    "refuse_api_teacher",
    "read_prompts",
    "completed_keys",
    "render_prompts",
    "output_row",
    "generate_transformers",
    "generate_vllm",
    "vllm_available",
    "append_rows",
    "prompts_dataset",
    "vocabulary_mismatch",
]

_URL_RE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


class TeacherRefused(RuntimeError):
    """The teacher reference points at a closed API model; distilling from it is not allowed."""


def refuse_api_teacher(ref: str) -> None:
    """Raise :class:`TeacherRefused` when ``ref`` looks like a closed-API model or an HTTP endpoint.

    Uses the same registry the planner uses (:mod:`specc.plan.registry.closed_api`), plus a URL check: an open
    teacher is a local directory or a hub id, never an endpoint.
    """
    if _URL_RE.match(ref.strip()):
        raise TeacherRefused(
            f"teacher {ref!r} is an endpoint URL; distillation needs an open-weights model (hub id or local dir)"
        )
    from specc.plan.registry.closed_api import closed_api_match

    match = closed_api_match(ref)
    if match is not None:
        raise TeacherRefused(
            f"teacher {ref!r} is a closed-API model ({match.provider}): {match.reason}. Source: {match.source}"
        )


@dataclass(frozen=True)
class PromptRow:
    """One prompt as read from the prompts file: a plain string or a list of chat messages."""

    prompt: str | list[dict[str, str]]

    @property
    def conversational(self) -> bool:
        return isinstance(self.prompt, list)

    @property
    def key(self) -> str:
        """Content key used for resuming: identical prompts share it (they are generated once)."""
        return _key(self.prompt)


def _key(prompt: Any) -> str:
    return hashlib.sha256(json.dumps(prompt, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def read_prompts(path: str | Path | dict | list, limit: int | None = None) -> list[PromptRow]:
    """Prompts from rows ``{"prompt": str | messages}`` or ``{"messages": [...]}``.

    ``path`` is a JSONL file, or a stage CONFIG data entry (any source, read through
    :func:`specc.data.sources.iter_source_rows`, with its column mapping). For ``messages`` rows a trailing
    assistant turn is dropped (the teacher writes it). Duplicate prompts are kept once, in first-seen order,
    so the output has one answer per distinct prompt.
    """
    from specc.data.jsonl import iter_jsonl  # the reader `specc check` and the firewall stage validated with

    rows: list[PromptRow] = []
    seen: set[str] = set()
    if isinstance(path, list):  # a mixture of prompt sources, drawn as for training
        from specc.runtime.datasource import load_mixture

        numbered = enumerate(load_mixture(path), 1)
        path = "mixture of " + ", ".join(str(e.get("spec_path")) for e in path)
    elif isinstance(path, dict):
        from specc.data.sources import Source, iter_source_rows

        source = Source.from_entry(path)
        path = source.name
        numbered = ((line, row) for _name, line, row in iter_source_rows(source))
    else:
        numbered = iter_jsonl(path)  # the reader `specc check` and the firewall stage validated with
    for lineno, obj in numbered:
        if "prompt" in obj:
            prompt = obj["prompt"]
        elif "messages" in obj:
            prompt = list(obj["messages"])
            if prompt and prompt[-1].get("role") == "assistant":
                prompt = prompt[:-1]
        else:
            raise ValueError(f"{path}:{lineno}: a prompts row needs `prompt` or `messages`")
        if not prompt:
            raise ValueError(f"{path}:{lineno}: empty prompt")
        row = PromptRow(prompt)
        if row.key not in seen:
            seen.add(row.key)
            rows.append(row)
        if limit is not None and len(rows) >= limit:
            break
    return rows


def _prompt_of_output(obj: dict) -> Any:
    if "messages" in obj:
        msgs = obj["messages"]
        return msgs[:-1] if msgs and msgs[-1].get("role") == "assistant" else msgs
    return obj.get("prompt")


def completed_keys(out_path: str | Path) -> set[str]:
    """Keys of prompts already answered in ``out_path``; cuts off a torn last line left by a crash.

    A one-turn user conversation also counts as its plain-string prompt: the ``messages`` output format
    wraps string prompts that way.
    """
    path = Path(out_path)
    if not path.is_file():
        return set()
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        with open(path, "r+b") as fh:
            fh.truncate(cut)
        data = data[:cut]
    keys: set[str] = set()
    for line in data.decode("utf-8").splitlines():
        if not line.strip():
            continue
        prompt = _prompt_of_output(json.loads(line))
        if isinstance(prompt, list) and len(prompt) == 1 and prompt[0].get("role") == "user":
            keys.add(_key(prompt[0]["content"]))
        keys.add(_key(prompt))
    return keys


def _as_messages(prompt: str | list[dict[str, str]]) -> list[dict[str, str]]:
    return prompt if isinstance(prompt, list) else [{"role": "user", "content": prompt}]


def render_prompts(tokenizer, rows: Sequence[PromptRow], use_chat_template: bool | str = "auto") -> list[str]:
    """Text the teacher continues: its chat template with the generation prompt when it has one.

    ``auto`` uses the chat template when the tokenizer defines one; a plain base model gets the prompt text
    as is (conversations are then flattened one turn per line).
    """
    chat = bool(getattr(tokenizer, "chat_template", None)) if use_chat_template == "auto" else bool(use_chat_template)
    out: list[str] = []
    for row in rows:
        if chat:
            out.append(tokenizer.apply_chat_template(_as_messages(row.prompt), tokenize=False,
                                                     add_generation_prompt=True))
        elif row.conversational:
            out.append("\n".join(m["content"] for m in row.prompt))
        else:
            out.append(row.prompt)
    return out


def output_row(row: PromptRow, completion: str, fmt: str) -> dict:
    """A training row in the format the student's SFT stage reads.

    ``prompt_completion``: ``{"prompt", "completion"}`` (conversational prompts give TRL's conversational
    prompt/completion shape). ``messages``: the prompt as a conversation plus the teacher's assistant turn.
    """
    if fmt == "messages":
        return {"messages": _as_messages(row.prompt) + [{"role": "assistant", "content": completion}]}
    if fmt == "prompt_completion":
        if row.conversational:
            return {"prompt": row.prompt, "completion": [{"role": "assistant", "content": completion}]}
        return {"prompt": row.prompt, "completion": completion}
    raise ValueError(f"unknown output format {fmt!r}; use prompt_completion or messages")


def append_rows(out_path: str | Path, rows: Sequence[dict]) -> None:
    """Append rows and fsync, so a crash loses at most the batch being written."""
    path = Path(out_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def vllm_available() -> bool:
    """True when vLLM is importable and a CUDA device exists (vLLM does not serve on these CPUs)."""
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        return False
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # pragma: no cover - torch missing is a broken install, not our concern here
        return False


def _batches(items: Sequence, size: int) -> Iterator[tuple[int, Sequence]]:
    for start in range(0, len(items), size):
        yield start, items[start:start + size]


def generate_transformers(model, tokenizer, texts: Sequence[str], *, batch_size: int, max_new_tokens: int,
                          do_sample: bool, temperature: float = 1.0, top_p: float = 1.0, seed: int = 0,
                          add_special_tokens: bool = False) -> Iterator[list[str]]:
    """Yield the decoded continuations batch by batch (left padding; sampling seeded per batch).

    Seeding each batch from ``seed`` and the batch's start index means a resumed run samples the remaining
    batches exactly as an uninterrupted run would, when batch boundaries are unchanged.
    """
    import torch

    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    eos = model.generation_config.eos_token_id
    if eos is None:
        eos = tokenizer.eos_token_id
    for start, chunk in _batches(list(texts), batch_size):
        enc = tokenizer(list(chunk), return_tensors="pt", padding=True, add_special_tokens=add_special_tokens)
        enc = {k: v.to(model.device) for k, v in enc.items() if k in ("input_ids", "attention_mask")}
        kwargs: dict[str, Any] = dict(max_new_tokens=max_new_tokens, do_sample=do_sample,
                                      pad_token_id=tokenizer.pad_token_id, eos_token_id=eos)
        if do_sample:
            torch.manual_seed(seed + start)
            kwargs.update(temperature=temperature, top_p=top_p)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        with torch.no_grad():
            out = model.generate(**enc, **kwargs)
        width = enc["input_ids"].shape[1]
        yield [tokenizer.decode(seq[width:], skip_special_tokens=True).strip() for seq in out.cpu()]


def generate_vllm(model_ref: str, texts: Sequence[str], *, batch_size: int, max_new_tokens: int, do_sample: bool,
                  temperature: float = 1.0, top_p: float = 1.0, seed: int = 0, revision: str | None = None,
                  dtype: str = "auto", tensor_parallel_size: int = 1) -> Iterator[list[str]]:
    """Same contract as :func:`generate_transformers`, served by vLLM (continuous batching inside a chunk).

    Chunks of ``batch_size`` prompts keep the output resumable; vLLM schedules within each chunk.
    """
    from vllm import LLM, SamplingParams

    llm = LLM(model=model_ref, revision=revision, dtype=dtype, seed=seed, tensor_parallel_size=tensor_parallel_size)
    for start, chunk in _batches(list(texts), batch_size):
        params = SamplingParams(max_tokens=max_new_tokens, temperature=temperature if do_sample else 0.0,
                                top_p=top_p if do_sample else 1.0, seed=seed + start)
        outs = llm.generate(list(chunk), params, use_tqdm=False)
        yield [o.outputs[0].text.strip() for o in outs]


def prompts_dataset(path: str | Path | dict | list, *, chat: bool, limit: int | None = None):
    """A ``datasets.Dataset`` with one ``prompt`` column, as TRL's on-policy trainers expect.

    Accepts prompts, prompt/completion and messages rows (answers are dropped: the student writes its own
    and the teacher scores them token by token). ``chat`` gives conversational prompts for a model with a
    chat template; otherwise plain strings.
    """
    from datasets import Dataset

    rows = read_prompts(path, limit=limit)
    if chat:
        return Dataset.from_list([{"prompt": _as_messages(r.prompt)} for r in rows])
    return Dataset.from_list([{"prompt": r.prompt if isinstance(r.prompt, str)
                               else "\n".join(m["content"] for m in r.prompt)} for r in rows])


def vocabulary_mismatch(student_tokenizer, teacher_tokenizer) -> str | None:
    """Why logit distillation cannot pair these tokenizers, or None when they share a vocabulary.

    Token-level losses compare distributions index by index, so the same id must mean the same token in
    both models; the planner checks vocab sizes, this checks the actual token tables at run time.
    """
    s, t = student_tokenizer.get_vocab(), teacher_tokenizer.get_vocab()
    if s == t:
        return None
    only_s, only_t = len(s.keys() - t.keys()), len(t.keys() - s.keys())
    moved = sum(1 for tok, i in s.items() if tok in t and t[tok] != i)
    return (f"student and teacher vocabularies differ ({len(s)} vs {len(t)} tokens; {only_s} only in the student, "
            f"{only_t} only in the teacher, {moved} with different ids): use sequence-level distillation")
