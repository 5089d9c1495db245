"""Assistant-only loss really masks (issue 12): on the tiny model with chat templates of four families
(specc's own, Llama 3, Qwen 2.5, Gemma — the last three swapped for TRL's training variants by SFTTrainer
itself), the labels of a tokenised row keep exactly the assistant's answer and its end-of-turn token.
A plan that asks for the masking on a template that cannot give it stops the stage, never trains on every
token with a log line."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.train

ANSWER = "HELLO THERE"
ROW = {"messages": [{"role": "user", "content": "say hello please"}, {"role": "assistant", "content": ANSWER}]}


def _templates():
    from trl.chat_template_utils import gemma_chat_template, llama3_chat_template, qwen2_5_chat_template

    return {"tiny": (None, "<|end|>"), "llama3": (llama3_chat_template, "<|eot_id|>"),
            "qwen2_5": (qwen2_5_chat_template, "<|im_end|>"), "gemma": (gemma_chat_template, "<end_of_turn>")}


@pytest.mark.parametrize("family", ["tiny", "llama3", "qwen2_5", "gemma"])
def test_assistant_only_loss_masks_the_prompt_on_common_templates(family, tiny_model, tmp_path):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    from specc.runtime import chat_templates, common

    template, end = _templates()[family]
    tok = common.load_tokenizer(str(tiny_model))
    if template is not None:
        tok.chat_template = template  # the real template text of that family: no generation markers
        assert not chat_templates.has_generation_markers(template)
    dataset = Dataset.from_list([ROW])
    # what the emitted SFT stage decides, then the real trainer's own tokenisation and collator
    assert chat_templates.assistant_only_loss(tok, dataset, True) is True
    args = SFTConfig(output_dir=str(tmp_path), assistant_only_loss=True, use_cpu=True, bf16=False,
                     max_length=512, report_to=[], activation_checkpointing=False)
    trainer = SFTTrainer(model=AutoModelForCausalLM.from_pretrained(tiny_model), args=args,
                         train_dataset=dataset, processing_class=tok)
    batch = trainer.data_collator([trainer.train_dataset[0]])
    ids, labels = batch["input_ids"][0].tolist(), batch["labels"][0].tolist()
    trained = tok.decode([i for i, label in zip(ids, labels) if label != -100])
    assert trained.strip() == ANSWER + end, trained
    assert "say hello please" in tok.decode(ids) and "say hello" not in trained


@pytest.mark.parametrize("name,end", [("chatml", "<|im_end|>"), ("llama3", "<|eot_id|>"), ("gemma", "<end_of_turn>")])
def test_a_chat_template_named_in_the_plan_masks_the_prompt(name, end, tiny_model, tmp_path):
    """``method.chat_template: <name>`` puts a template with generation markers on the tokenizer (specc's
    chatml, TRL's training variants), so TRL masks with it directly."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    from specc.runtime import chat_templates, common

    tok = common.load_tokenizer(str(tiny_model), None, {"name": name})
    assert chat_templates.has_generation_markers(tok.chat_template)
    args = SFTConfig(output_dir=str(tmp_path), assistant_only_loss=True, use_cpu=True, bf16=False,
                     max_length=512, report_to=[], activation_checkpointing=False)
    trainer = SFTTrainer(model=AutoModelForCausalLM.from_pretrained(tiny_model), args=args,
                         train_dataset=Dataset.from_list([ROW]), processing_class=tok)
    batch = trainer.data_collator([trainer.train_dataset[0]])
    ids, labels = batch["input_ids"][0].tolist(), batch["labels"][0].tolist()
    trained = tok.decode([i for i, label in zip(ids, labels) if label != -100])
    assert trained.strip() == ANSWER + end, trained


def test_a_chat_template_file_is_locked_by_its_hash(tmp_path):
    import hashlib

    from specc.runtime import chat_templates

    file = tmp_path / "t.jinja"
    file.write_text("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    entry = {"name": "file", "path": str(file), "spec_path": "t.jinja",
             "sha256": hashlib.sha256(file.read_bytes()).hexdigest()}
    assert chat_templates.template_text(entry) == file.read_text()
    file.write_text("{{ messages }}")
    with pytest.raises(SystemExit) as info:
        chat_templates.template_text(entry)
    assert info.value.code == 3


def test_asked_for_masking_that_cannot_be_applied_is_an_error(tiny_model):
    from datasets import Dataset

    from specc.runtime import chat_templates, common

    tok = common.load_tokenizer(str(tiny_model))
    tok.chat_template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
                         "{% endfor %}")  # a chatml variant TRL has no training version of
    with pytest.raises(SystemExit) as info:
        chat_templates.assistant_only_loss(tok, Dataset.from_list([ROW]), True)
    assert info.value.code == 1
    # not asked for (plan left it open): trained on every token, as planned; asked off: off
    assert chat_templates.assistant_only_loss(tok, Dataset.from_list([ROW]), None) is False
    with pytest.raises(SystemExit):
        chat_templates.assistant_only_loss(tok, Dataset.from_list([{"prompt": "q", "completion": "a"}]), True)


@pytest.mark.parametrize("family", ["llama3", "qwen2_5", "gemma"])
def test_templates_trl_has_a_training_variant_of_count_as_maskable(family, tiny_model):
    """Regression: specc used to look for markers in the tokenizer's own template only, and switched
    assistant-only loss off (one log line) for Llama 3 / Qwen 2.5 chats before TRL could swap in its
    training template; those chats then trained on the prompts too."""
    from specc.runtime import common

    tok = common.load_tokenizer(str(tiny_model))
    tok.chat_template = _templates()[family][0]
    assert common.supports_assistant_only_loss(tok) is True


def test_the_sft_stage_has_no_silent_fallback():
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "templates/stages/sft.py.j2").read_text()
    assert "training on all tokens" not in text and "chat_templates.assistant_only_loss(" in text
