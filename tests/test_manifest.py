"""Manifest hashing and atomic persistence."""

from __future__ import annotations

import json
import os
import shutil

from specc.run.manifest import MISSING, HashCache, Manifest, hash_path


def _tree(root):
    (root / "sub/deeper").mkdir(parents=True)
    (root / "a.txt").write_text("alpha")
    (root / "sub/b.bin").write_bytes(b"\0\1\2")
    (root / "empty").mkdir()
    return root


def test_directory_hash_is_deterministic_and_location_independent(tmp_path):
    one = _tree(tmp_path / "one")
    two = tmp_path / "two"
    shutil.copytree(one, two)
    assert hash_path(one) == hash_path(two)
    os.utime(two / "a.txt", (1, 1))  # timestamps are not content
    assert hash_path(one) == hash_path(two)


def test_directory_hash_sees_content_names_and_empty_dirs(tmp_path):
    root = _tree(tmp_path / "t")
    base = hash_path(root)
    (root / "a.txt").write_text("alphA")
    changed = hash_path(root)
    assert changed != base
    (root / "a.txt").write_text("alpha")
    assert hash_path(root) == base
    (root / "a.txt").rename(root / "c.txt")
    assert hash_path(root) != base
    (root / "c.txt").rename(root / "a.txt")
    (root / "empty2").mkdir()
    assert hash_path(root) != base


def test_missing_and_file_hashes(tmp_path):
    assert hash_path(tmp_path / "nope") == MISSING
    f = tmp_path / "f"
    f.write_text("x")
    assert hash_path(f) == "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"


def test_hash_cache_reuses_unchanged_files_and_notices_changes(tmp_path):
    f = tmp_path / "w.bin"
    f.write_bytes(b"1" * 1000)
    cache = HashCache(root=tmp_path)
    first = cache.file_sha256(f)
    assert cache.entries["w.bin"][3] == first
    cache.entries["w.bin"][3] = "poisoned"  # a hit must not re-read the file
    assert cache.file_sha256(f) == "poisoned"
    f.write_bytes(b"2" * 1001)  # size/mtime changed -> re-read
    assert cache.file_sha256(f) not in ("poisoned", first)


def test_save_is_atomic_and_round_trips(tmp_path):
    m = Manifest(tmp_path)
    m.sync_stages([("a", "sft", "stages/00_a.py"), ("b", "eval", "stages/01_b.py")])
    m.update("a", status="completed", exit_code=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run_manifest.json"]  # no temp file left
    again = Manifest.load(tmp_path)
    assert again.stage("a")["status"] == "completed" and again.stage("b")["status"] == "pending"
    # a recompiled plan that drops b and adds c keeps a's record
    again.sync_stages([("a", "sft", "stages/00_a.py"), ("c", "eval", "stages/01_c.py")])
    again.save()
    data = json.loads((tmp_path / "run_manifest.json").read_text())
    assert list(data["stages"]) == ["a", "c"] and data["stages"]["a"]["exit_code"] == 0
