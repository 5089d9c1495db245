"""What leaves a build: the model card written into the output folders (eval stage) and the Hub push (push
stage), with ``huggingface_hub``'s ``create_repo`` + ``upload_folder``.

Why here: the eval and push stages import it; rendering is :mod:`specc.run.modelcard` (stdlib), this module adds
the files and the network. The token is read from the environment by ``huggingface_hub.get_token()`` (HF_TOKEN,
or the login's token file) and handed to ``HfApi`` in memory only: it is never written, logged or put in CONFIG.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from specc.exit_codes import ExitCode
from specc.run.modelcard import CARD_FILE, render_card
from specc.runtime.common import build_path, log, write_json, write_text

__all__ = ["write_cards", "push"]


def _document() -> dict[str, Any]:
    from specc.build.reader import read_document

    return read_document("plan.json")


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_cards(config: dict[str, Any], results: dict[str, Any] | None) -> list[Path]:
    """README.md into every folder of ``config["model_card"]["folders"]`` that exists: before the verdict
    (``results`` None) it says the model is not evaluated yet; after, it carries the before/after table."""
    document = _document()
    written = []
    for folder in (config.get("model_card") or {}).get("folders") or []:
        directory = build_path(folder["dir"])
        if directory.is_dir():
            write_text(directory / CARD_FILE, render_card(document, results, artifact=folder["artifact"]))
            written.append(directory / CARD_FILE)
    return written


def _eval_is_current(document: dict[str, Any]) -> bool:
    """The eval stage's done marker carries the fingerprint the current build expects (it writes the marker
    only when the gate passed)."""
    from specc.run import fingerprint as fpmod

    stage = fpmod.stage_entry(document, "eval")
    if stage is None:
        return False
    marker = _read(build_path(fpmod.done_marker_path(stage) or "artifacts/eval/specc_done.json")) or {}
    return (marker.get("fingerprint") or {}).get("digest") == fpmod.stage_fingerprint(document, "eval").digest


def gate_allows(config: dict[str, Any]) -> tuple[bool, dict[str, Any] | None]:
    """(may push, the eval results). Refusals are logged with their reason."""
    results = _read(build_path(config["results"]))
    verdict = (results or {}).get("verdict")
    if not verdict:
        log(f"REFUSED: {config['results']} has no gate verdict: run the eval stage first")
        return False, None
    if verdict.get("passed"):
        if not _eval_is_current(_document()):
            log(f"REFUSED: {config['results']} was not made for the current model (the eval stage is not "
                "current): re-run the eval stage first")
            return False, None
        return True, results
    reasons = "; ".join(r for r in [(verdict.get("target") or {}).get("reason"), *(verdict.get("reasons") or [])] if r)
    if not config.get("push_if_gate_fails"):
        log(f"REFUSED: the forgetting gate failed ({reasons or 'see ' + config['results']}): nothing is pushed. "
            "outputs.push_if_gate_fails: true publishes it anyway")
        return False, results
    log(f"WARNING: the forgetting gate failed ({reasons}); pushing anyway because outputs.push_if_gate_fails is "
        "true (the model card states the failed verdict)")
    return True, results


def push(config: dict[str, Any]) -> int:
    """The push stage: gate → token → create_repo → one upload_folder per artifact → reports/push.json."""
    allowed, results = gate_allows(config)
    if not allowed:
        return int(ExitCode.REFUSED)
    from huggingface_hub import HfApi, get_token

    token = get_token()
    if not token:
        log("no Hugging Face token: set HF_TOKEN or run `hf auth login`, then run this stage again "
            "(nothing was uploaded)")
        return int(ExitCode.NEEDS_USER)
    document = _document()
    repo_id = config["hub_model_id"]
    api = HfApi(token=token)
    url = api.create_repo(repo_id, private=bool(config["private"]), repo_type="model", exist_ok=True)
    commits = []
    for upload in config["uploads"]:
        folder = build_path(upload["folder"])
        write_text(folder / CARD_FILE, render_card(document, results, artifact=upload["artifact"]))
        info = api.upload_folder(repo_id=repo_id, repo_type="model", folder_path=str(folder),
                                 path_in_repo=upload["path_in_repo"] or None,
                                 commit_message=f"specc: {upload['artifact']} of {document['plan']['name']}",
                                 ignore_patterns=["specc_done.json", "checkpoints/*"])
        commits.append({"artifact": upload["artifact"], "path_in_repo": upload["path_in_repo"],
                        "commit": info.oid, "commit_url": info.commit_url})
        log(f"pushed {upload['artifact']} to {repo_id}{'/' + upload['path_in_repo'] if upload['path_in_repo'] else ''}")
    write_json(build_path("reports/push.json", create_parent=True),
               {"repo_id": repo_id, "url": str(url), "private": bool(config["private"]), "commits": commits,
                "gate_passed": bool(((results or {}).get("verdict") or {}).get("passed"))})
    return int(ExitCode.OK)
