"""W&B offline: a stage run writes an offline run under the build's wandb/ with the plan's group and
the stage's resolved config. The binary ``run-*.wandb`` file is read back record by record."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

pytestmark = pytest.mark.train

_BLOCK = 32 * 1024
_FILE_HEADER = 7  # ":W&B", magic (uint16), version (uint8)
_RECORD_HEADER = 7  # crc32 (uint32), length (uint16), type (uint8)
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def read_wandb_records(path: Path):
    """Protobuf records of a ``.wandb`` transaction log (LevelDB log format with a W&B file header)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B", "not a W&B transaction log"
    pos, pending, records = _FILE_HEADER, b"", []
    while pos + _RECORD_HEADER <= len(data):
        left_in_block = _BLOCK - pos % _BLOCK
        if left_in_block < _RECORD_HEADER:  # block trailer padding
            pos += left_in_block
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + _RECORD_HEADER])
        if kind == 0 and length == 0:
            break
        chunk = data[pos + _RECORD_HEADER:pos + _RECORD_HEADER + length]
        pos += _RECORD_HEADER + length
        pending = chunk if kind in (_FULL, _FIRST) else pending + chunk
        if kind in (_FULL, _LAST):
            record = pb.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records


def test_offline_run_has_group_and_config(write_spec, compile_spec, stage_runner):
    plan, build = compile_spec(write_spec(extra="tracking: {backend: wandb, project: specc-tests, mode: auto}\n"))
    stage_runner(build, plan.stage("firewall").script)
    env = {"SPECC_WANDB_MODE": "offline", "WANDB_API_KEY": ""}
    stage_runner(build, plan.stage("sft").script, "--max-steps", "1", env=env)
    runs = sorted((build / "wandb").glob("offline-run-*"))
    assert len(runs) == 1, list((build / "wandb").iterdir())
    logs = list(runs[0].glob("run-*.wandb"))
    assert len(logs) == 1
    records = read_wandb_records(logs[0])
    run = next(r.run for r in records if r.WhichOneof("record_type") == "run")
    assert run.run_group == plan.tracking.group
    assert run.display_name == "sft" and run.job_type == "sft" and run.project == "specc-tests"
    config = {}
    for r in records:
        items = r.run.config.update if r.WhichOneof("record_type") == "run" else (
            r.config.update if r.WhichOneof("record_type") == "config" else [])
        for item in items:
            config[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
    assert config["stage"] == "sft"
    assert config["train"]["learning_rate"] == plan.stage("sft").config["train"]["learning_rate"]
    assert config["peft"]["r"] == 4
    # the Trainer joined the same run: its arguments and losses are in this log too
    assert "learning_rate" in config and config.get("max_steps") == 1
    history_keys = {item.key or "/".join(item.nested_key) for r in records
                    if r.WhichOneof("record_type") == "history" for item in r.history.item}
    assert "train/loss" in history_keys


def test_firewall_and_merge_are_tracked_runs_and_log_the_model(write_spec, compile_spec, stage_runner):
    from test_wandb_offline import offline_runs, read_records

    plan, build = compile_spec(write_spec(
        name="tracked", extra="tracking: {backend: wandb, project: specc-tests, mode: offline, log_model: true}\n"))
    env = {"SPECC_WANDB_MODE": "offline", "WANDB_API_KEY": ""}
    stage_runner(build, plan.stage("firewall").script, env=env)
    stage_runner(build, plan.stage("sft").script, "--max-steps", "1", env=env)
    stage_runner(build, plan.stage("merge").script, env=env)
    runs = {r["name"]: r for r in offline_runs(build)}
    assert set(runs) == {"firewall", "sft", "merge"}
    report = json.loads((build / "reports/firewall.json").read_text())
    summary = runs["firewall"]["summary"]
    assert summary["firewall/passed"] == 1 and runs["firewall"]["group"] == plan.tracking.group
    for key in ("golden_rows", "training_rows", "total_hits", "contaminated_rows"):
        assert summary[f"firewall/{key}"] == report["summary"][key]
    assert runs["merge"]["summary"]["merge/model_dir"] == "artifacts/merge/model"
    assert runs["merge"]["job_type"] == "merge" and runs["merge"]["exit"] == 0
    # tracking.log_model: the sft adapter and the merged model are logged as model artifacts
    for sid, name in (("sft", "sft-adapter"), ("merge", "merge-model")):
        records = read_records(runs[sid]["path"])
        artifacts = [r.artifact for r in records if r.WhichOneof("record_type") == "artifact"]
        assert [(a.name, a.type) for a in artifacts] == [(name, "model")], sid
