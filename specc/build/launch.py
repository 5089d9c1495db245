"""How run.sh starts a stage: plain ``python``, ``accelerate launch --config_file …`` or ``torchrun``.

Why here and not in the template: the launcher line is the one place where plan values meet shell
syntax, so it is built from quoted words (:func:`specc.build.literals.sh`) plus a fixed, reviewed set of
environment references (the node rank of a multi-node job is only known on each machine at run time).
"""

from __future__ import annotations

from specc.build.literals import sh
from specc.plan.launch import config_name
from specc.plan.model import Launch, Stage

__all__ = ["config_name", "config_text", "distributed_type", "launch_words", "PYTHON", "ACCELERATE", "TORCHRUN"]

NODE_RANK = '"${SPECC_MACHINE_RANK:-0}"'
"""Machine rank of a multi-node job: each node exports SPECC_MACHINE_RANK (0 on the main node)."""

PYTHON = '"${PYTHON:-python3}"'
ACCELERATE = '"${ACCELERATE:-accelerate}"'
TORCHRUN = '"${TORCHRUN:-torchrun}"'
"""The programs run.sh starts, each overridable from the environment (e.g. ``PYTHON=.venv/bin/python``),
so a build runs without an activated virtualenv. Fixed, reviewed shell text: never plan values."""


def distributed_type(launch: Launch) -> str:
    """accelerate's distributed_type. CPU data parallel uses MULTI_GPU plus ``use_cpu`` in the trainer
    config: accelerate's own ``--cpu`` with several processes silently starts only one (see docs/DECISION-GUIDE.md, 'What runs on CPU')."""
    if launch.num_processes <= 1 and launch.num_machines <= 1:
        return "NO"
    return {"fsdp": "FSDP", "zero2": "DEEPSPEED", "zero3": "DEEPSPEED"}.get(launch.strategy, "MULTI_GPU")


def config_text(launch: Launch) -> str:
    """The accelerate config file of ``launch`` (templates/launch/accelerate.yaml.j2): one function, so the build
    and the test that loads every possible config with accelerate's own loader render the same text."""
    from specc.build.emitter import _environment

    return _environment().get_template("launch/accelerate.yaml.j2").render(
        launch=launch, distributed_type=distributed_type(launch))


def launch_words(stage: Stage, launch: Launch | None) -> str:
    """The shell command (already quoted) that starts ``stage`` from the build directory."""
    script = sh(stage.script)
    if stage.launcher == "python" or launch is None:
        return f"{PYTHON} {script}"
    if stage.launcher == "torchrun":
        words = [TORCHRUN, "--nnodes", sh(launch.num_machines),
                 "--nproc_per_node", sh(max(1, launch.num_processes // max(1, launch.num_machines)))]
        if launch.num_machines > 1:
            words += ["--node_rank", NODE_RANK, "--master_addr", sh(launch.main_process_ip or "127.0.0.1"),
                      "--master_port", sh(launch.main_process_port or 29500)]
        return " ".join(words + [script])
    words = [ACCELERATE, "launch", "--config_file", sh(config_name(launch))]
    if launch.num_machines > 1:
        words += ["--machine_rank", NODE_RANK]
    return " ".join(words + [script])
