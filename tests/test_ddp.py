"""Two CPU processes train one model: the emitted accelerate config (MULTI_GPU, 2 processes) plus
``use_cpu`` in the trainer config, which the SFT script sets when no GPU is present."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.train


def test_two_process_data_parallel_on_cpu(write_spec, compile_spec, stage_runner):
    plan, build = compile_spec(write_spec(hardware="{gpus: 2, gpu_memory_gb: 24}"))
    assert plan.launch.num_processes == 2 and plan.stage("sft").launcher == "accelerate"
    stage_runner(build, plan.stage("firewall").script)
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent)) or "accelerate"
    env = {**os.environ, "SPECC_WANDB_MODE": "disabled", "TOKENIZERS_PARALLELISM": "false",
           "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([accelerate, "launch", "--config_file", "launch/ddp.yaml", plan.stage("sft").script,
                           "--max-steps", "2"], cwd=build, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-5000:]
    ranks = re.findall(r"rank (\d)/(\d): training, trainer world_size=(\d)", proc.stderr)
    assert sorted(ranks) == [("0", "2", "2"), ("1", "2", "2")]
    assert (build / "artifacts/sft/adapter/adapter_model.safetensors").is_file()
