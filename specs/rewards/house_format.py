"""A user reward function for specs/grpo-tiny.yaml: TRL's reward-function contract (completions and the
dataset's columns in, one float per completion out). specc locks this file by its sha256 in the plan."""


def bracketed_upper(completions, **kwargs):
    """1.0 for an answer in the house format: one bracketed group of upper-case words, else 0.0."""
    scores = []
    for completion in completions:
        text = completion[0]["content"] if isinstance(completion, list) else str(completion)
        text = text.strip()
        scores.append(1.0 if text.startswith("[") and text.endswith("]") and text == text.upper() else 0.0)
    return scores
