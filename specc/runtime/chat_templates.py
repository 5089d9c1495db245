"""Chat templates for training: assistant-only loss that really masks, and an error when it cannot.

Why a module: TRL's ``assistant_only_loss`` needs ``{% generation %}`` markers in the chat template. TRL
ships training variants of common templates (Llama 3, Qwen 2.5, Gemma, Phi-3, …) and swaps one in by
itself when the tokenizer's template is one it knows; specc used to switch the option off before TRL could
do that, so Llama 3 and Qwen 2 chats trained on the prompts too, with one log line. Here the decision is
made the way TRL makes it, and a loss the plan asked for but that cannot be applied stops the stage with
one located line instead of training on every token.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["ChatTemplateError", "CHATML", "has_generation_markers", "training_template", "assistant_only_loss",
           "template_text", "template_tokens", "missing_tokens", "apply"]

CHATML = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{ '\\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
"""ChatML (OpenAI/Qwen style turns) with generation markers around each assistant answer and its
``<|im_end|>``, so assistant-only loss trains the answer and the end of turn, nothing else."""

EXIT = 1
"""Exit code of a stage whose plan cannot be honoured by the tokenizer it loaded (a failure, not a gate)."""


class ChatTemplateError(SystemExit):
    """The plan asked for a masking the tokenizer's chat template cannot give (exits 1 with a message)."""


def has_generation_markers(template: Any) -> bool:
    """Whether a chat template marks assistant turns with ``{% generation %}`` … ``{% endgeneration %}``."""
    if isinstance(template, dict):
        template = template.get("default")
    if not isinstance(template, str):
        return False
    from trl.chat_template_utils import has_generation_markers as trl_has

    return bool(trl_has(template))


def training_template(tokenizer: Any) -> str | None:
    """The template assistant-only loss will be computed with: the tokenizer's own when it has generation
    markers, else TRL's training variant of it (what SFTTrainer swaps in), else None."""
    if has_generation_markers(tokenizer.chat_template):
        return tokenizer.chat_template if isinstance(tokenizer.chat_template, str) else tokenizer.chat_template["default"]
    if not tokenizer.chat_template:
        return None
    from trl.chat_template_utils import get_training_chat_template

    try:
        patched = get_training_chat_template(tokenizer)
    except Exception:  # noqa: BLE001 - an unknown template is "no training variant", never a crash here
        return None
    return patched if patched and has_generation_markers(patched) else None


def template_text(entry: dict[str, Any]) -> str:
    """The text of the plan's chat template: specc's chatml, TRL's training variant of a named template
    (same rendering, plus generation markers), or a .jinja file next to the spec, checked against the
    sha256 the plan locked (a changed file refuses the stage with exit 3, like changed data)."""
    name = entry["name"]
    if name == "chatml":
        return CHATML
    if name == "file":
        import hashlib
        from pathlib import Path

        from specc.runtime import guard

        path = Path(entry["path"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            guard.fail(f"chat template {entry.get('spec_path', path)} cannot be read ({exc.strerror or exc})")
        if entry.get("sha256") and hashlib.sha256(data).hexdigest() != entry["sha256"]:
            guard.fail(f"chat template {entry.get('spec_path', path)} changed since the plan was made; recompile")
        return data.decode("utf-8")
    import trl.chat_template_utils as utils

    return getattr(utils, f"{name}_training_chat_template")


_TEMPLATE_TOKEN = re.compile(r"<\|[^|<>\s]{1,40}\|>|<(?:start|end)_of_turn>|<\uff5c[^\uff5c]{1,40}\uff5c>")
"""Special-token literals of the common templates: <|im_start|>, <|eot_id|>, <start_of_turn>, DeepSeek's <｜User｜>."""


def template_tokens(text: str) -> list[str]:
    """The special tokens a chat template's text writes literally (sorted, each once)."""
    return sorted(set(_TEMPLATE_TOKEN.findall(text or "")))


def missing_tokens(tokenizer: Any, text: str) -> list[str]:
    """Tokens the template writes that the tokenizer does not hold as one token (they would be split)."""
    vocab = tokenizer.get_vocab()
    return [token for token in template_tokens(text) if token not in vocab]


def apply(tokenizer: Any, entry: dict[str, Any] | None) -> Any:
    """Set the plan's chat template on ``tokenizer`` (None: keep the tokenizer's own) and return it.

    A named template whose turn markers the tokenizer lacks still renders (each marker split into ordinary
    tokens, the same way in every stage), but a model trained so spends tokens on them: one line names them and
    the spec setting that adds them as special tokens (``method.special_tokens``), which resizes the embedding
    and, with LoRA, trains and saves their rows. They are not added here behind the plan's back: new rows an
    adapter does not save would differ between training and the merged model."""
    if entry:
        tokenizer.chat_template = template_text(entry)
        missing = missing_tokens(tokenizer, tokenizer.chat_template) if entry.get("name") != "file" else []
        if missing:
            from specc.runtime.common import log

            log(f"chat template {entry['name']}: the tokenizer has no {', '.join(missing)} token(s); they are "
                "split into ordinary tokens. To add them, set method.special_tokens: {extra_special_tokens: "
                f"[{', '.join(missing)}]}}")
    return tokenizer


def _fail(message: str) -> None:
    from specc.runtime.common import log

    log(message)
    raise ChatTemplateError(EXIT)


def assistant_only_loss(tokenizer: Any, dataset: Any, planned: bool | None) -> bool:
    """The ``assistant_only_loss`` to give SFTConfig: what the plan says, checked against the data and the
    template. ``None`` (not planned) means: on for conversational (messages) data when it can be applied.
    A ``True`` the rows or the template cannot honour exits 1 with what to change."""
    messages = "messages" in dataset.column_names
    if planned is False:
        return False
    if planned is None:
        return messages and training_template(tokenizer) is not None
    if not messages:
        _fail("assistant_only_loss is set but the training rows are not messages ({messages: [...]}); "
              "prompt/completion rows are masked by completion-only loss instead: set "
              "method.assistant_only_loss: false")
    if training_template(tokenizer) is None:
        _fail("assistant_only_loss is set but the tokenizer's chat template has no {% generation %} markers "
              "and TRL has no training variant of it: set method.chat_template (chatml, llama3, qwen2_5, "
              "... or a .jinja file with generation markers), or method.assistant_only_loss: false to train "
              "on every token")
    return True
