"""W&B checks that read the offline run files back, and a W&B outage that must not fail training.

wandb 0.31 offline writes ``wandb/offline-run-*/run-*.wandb`` only: no config.yaml, no summary json, and
no datastore reader in the package any more. The file is a LevelDB-style log (a 7-byte header
``:W&B`` + magic 0xBEE1 + version, then 32 KiB blocks of chunks ``crc32 | length u16 | type u8 | data``,
types full/first/middle/last) of ``wandb_internal_pb2.Record`` protobufs. :func:`read_records`
decodes it with wandb's own protobuf classes, so tests assert on what W&B would upload.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any, Iterator

import pytest

BLOCK = 32768
HEADER = struct.Struct("<4sHB")
CHUNK = struct.Struct("<IHB")
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def read_records(path: Path) -> Iterator[Any]:
    """Every Record in a ``run-*.wandb`` file, checksums verified."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    ident, magic, version = HEADER.unpack_from(data, 0)
    assert ident == b":W&B" and magic == 0xBEE1 and version == 0, (ident, hex(magic), version)
    pos, pending = HEADER.size, b""
    while pos + CHUNK.size <= len(data):
        room = BLOCK - pos % BLOCK
        if room < CHUNK.size:  # block trailer padding
            pos += room
            continue
        crc, length, kind = CHUNK.unpack_from(data, pos)
        if kind == 0 and length == 0:  # zero padding at the end of a block or of a file being written
            pos += room
            continue
        body = data[pos + CHUNK.size: pos + CHUNK.size + length]
        assert len(body) == length, "truncated record"
        assert zlib.crc32(bytes([kind]) + body) & 0xFFFFFFFF == crc, f"bad checksum at {pos}"
        pos += CHUNK.size + length
        pending += body
        if kind in (FULL, LAST):
            record = pb.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record
        else:
            assert kind in (FIRST, MIDDLE), kind


def _items(updates: Any) -> dict[str, Any]:
    out = {}
    for u in updates:
        key = u.key or "/".join(u.nested_key)
        out[key] = json.loads(u.value_json)
    return out


def read_run(path: Path) -> dict[str, Any]:
    """The run record (name, group, job type, project, config) plus merged history keys and summary."""
    run: dict[str, Any] = {"name": None, "group": None, "history": {}, "summary": {}, "config": {}, "exit": None,
                           "path": path}
    for rec in read_records(path):
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            r = rec.run
            run.update(id=r.run_id, name=r.display_name, group=r.run_group, job_type=r.job_type,
                       project=r.project)
            run["config"].update(_items(r.config.update))
        elif kind == "config":
            run["config"].update(_items(rec.config.update))
        elif kind == "history":
            for key, val in _items(rec.history.item).items():
                run["history"].setdefault(key, []).append(val)
        elif kind == "summary":
            run["summary"].update(_items(rec.summary.update))
        elif kind == "exit":
            run["exit"] = rec.exit.exit_code
    return run


def offline_runs(build: Path) -> list[dict[str, Any]]:
    """Every offline run under the build's own ``wandb/`` directory, read back."""
    return [read_run(p) for p in sorted(build.glob("wandb/offline-run-*/run-*.wandb"))]


def test_reader_reads_a_real_offline_run(tmp_path):
    code = ("import wandb\n"
            "r = wandb.init(project='p', group='g-1', name='stage-x', job_type='sft', config={'lr': 0.1, 'n': {'a': 1}})\n"
            "r.log({'loss': 1.5}); r.log({'loss': 1.25}); r.summary['score'] = 0.75; r.finish()\n")
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_DIR": str(tmp_path), "WANDB_SILENT": "true"}
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=True, capture_output=True)
    (run,) = offline_runs(tmp_path)
    assert (run["name"], run["group"], run["job_type"], run["project"]) == ("stage-x", "g-1", "sft", "p")
    assert run["config"]["lr"] == 0.1 and run["config"]["n"] == {"a": 1}
    assert run["history"]["loss"] == [1.5, 1.25] and run["summary"]["score"] == 0.75
    assert run["exit"] == 0


@pytest.fixture
def compiled_build(write_spec):
    """A compiled tiny SFT-LoRA build (conftest's spec writer and compiler), W&B set to online."""
    from conftest import plan_and_compile

    def make(name: str) -> Path:
        spec = write_spec(name=name, extra="tracking: {backend: wandb, mode: online}\n")
        return plan_and_compile(spec)[1]

    return make


@pytest.fixture()
def closed_port():
    """A port nothing answers on for the whole test: bound here but never listening, so a connection is
    refused, and no other process (another xdist worker's server on port 0) can be handed it meanwhile, as
    it could once a bound socket was closed again."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


@pytest.mark.train
def test_unreachable_wandb_never_fails_training(compiled_build, monkeypatch, closed_port):
    """Mode online, a fake key and a server on a closed port: training completes, the key stays unwritten."""
    from specc.run.progress import Display
    from specc.run.runner import run_build

    build = compiled_build("wandb-down")
    fake_key = "fake0123456789abcdef0123456789abcdef0123"
    monkeypatch.setenv("SPECC_WANDB_MODE", "online")
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.setenv("WANDB_API_KEY", fake_key)
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("WANDB_INIT_TIMEOUT", "20")
    for stage in ("firewall", "sft"):
        res = run_build(build, only=stage, display=Display(open(os.devnull, "w"), tty=False))
        assert res.exit_code == 0, (build / f"logs/{stage}.log").read_text()[-3000:]
    m = json.loads((build / "run_manifest.json").read_text())
    assert m["stages"]["sft"]["status"] == "completed"
    assert (build / m["stages"]["sft"]["outputs"]["adapter"]["path"]).is_dir()
    for path in build.rglob("*"):
        if path.is_file():
            assert fake_key.encode() not in path.read_bytes(), path


def test_unreachable_wandb_falls_back_to_offline_quickly_with_one_line(tmp_path, closed_port):
    """Issue 17: W&B online with an unreachable server cost ~100 s per stage, then ran untracked. Now
    the init times out after a short wait, records offline (one line says so and how to upload), and the
    next stage of the build goes offline at once. The firewall stage is the smallest real stage."""
    import time

    from specc.build.emitter import compile_plan
    from specc.plan.planner import plan_spec_file

    from strategies import light_spec

    spec = light_spec(tmp_path, tracking="{backend: wandb, mode: online}")
    build = spec.parent / "build"
    compile_plan(plan_spec_file(spec), spec.parent, build)
    [script] = sorted((build / "stages").glob("*firewall*.py"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "SPECC_WANDB"))}
    env.update(WANDB_API_KEY="fake0123456789abcdef0123456789abcdef0123", SPECC_WANDB_MODE="online",
               WANDB_BASE_URL=f"http://127.0.0.1:{closed_port}", WANDB_DIR=str(build))
    timings, logs = [], []
    for init_timeout in ("8", "250"):
        # the second stage gets a 250 s init timeout: it ends well within that only if it never waits on the
        # server (comparing its wall time with the first stage's could fail on a loaded machine, where the
        # stage's own imports can vary by more than the first stage's 8 s wait)
        env["SPECC_WANDB_INIT_TIMEOUT"] = init_timeout
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=400)
        timings.append(time.monotonic() - t0)
        assert proc.returncode == 0, proc.stderr[-3000:]
        logs.append([line for line in proc.stderr.splitlines() if line.startswith("[specc] W&B")])
    assert len(logs[0]) == 1 and "not reachable within 8 s" in logs[0][0] and "wandb sync" in logs[0][0], logs
    assert "unreachable for an earlier stage" in logs[1][0], logs
    assert list((build / "wandb").glob("offline-run-*/run-*.wandb")), "the run was recorded offline"
    assert timings[0] < 60 and timings[1] < 200, timings
