"""Local dataset repositories laid out as the Hugging Face Hub lays them out, for tests without network.

A repository is a git clone with a dataset card (``README.md`` whose YAML front matter lists ``configs``)
and Parquet data files under ``data/`` named as the Hub's converter names them
(``data/train-00000-of-00001.parquet``). ``SPECC_HUB_MIRROR`` pointing at the parent folder makes the
Hub id ``org/name`` load from it through :mod:`specc.runtime.datasource`, the same code a Hub id takes.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def _git(folder: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "PATH": "/usr/bin:/bin", "HOME": str(folder)}
    done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=True, env=env)
    return done.stdout.strip()


def write_parquet(path: Path, rows: list[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


def make_hub_repo(mirror: Path, repo_id: str, splits: dict[str, list[dict]] | None = None, *,
                  configs: dict[str, dict[str, list[dict]]] | None = None) -> str:
    """Write (or update, as a new commit) the repository ``mirror/repo_id``; return its commit sha.

    ``splits`` are the splits of the ``default`` configuration; ``configs`` adds named configurations
    (subsets), each with its own splits (all splits of one configuration share its columns, as on the Hub)."""
    folder = mirror / repo_id
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / ".git").is_dir():
        _git(folder, "init", "-q", "-b", "main")
    all_configs = {**({"default": splits} if splits else {}), **(configs or {})}
    card = "---\nconfigs:\n"
    for config, parts in all_configs.items():
        files = []
        for split, rows in parts.items():
            rel = f"data/{split}-00000-of-00001.parquet" if config == "default" else f"{config}/{split}-00000-of-00001.parquet"
            write_parquet(folder / rel, rows)
            files.append(f"  - split: {split}\n    path: {rel}")
        card += f"- config_name: {config}\n  data_files:\n" + "\n".join(files) + "\n"
    card += "---\n# Test dataset\n\nLaid out as on the Hub.\n"
    (folder / "README.md").write_text(card, encoding="utf-8")
    _git(folder, "add", "-A")
    _git(folder, "commit", "-q", "-m", "data")
    return _git(folder, "rev-parse", "HEAD")
