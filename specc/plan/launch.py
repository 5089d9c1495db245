"""Step 5 of planning: how training stages are launched — one process, DDP replicas or FSDP shards — decided
from the hardware and the memory estimate, and traced like every other decision.

Why the planner decides it (and not the build): a reviewer reading plan.json must see the launch strategy and the
rule that chose it; the build only renders ``Plan.launch``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from specc.plan.model import Estimate, Launch
from specc.plan.trace import Trace

if TYPE_CHECKING:  # the spec is read while planning only; the build imports config_name from here
    from specc.spec.language import Hardware

__all__ = ["choose_launch", "config_name"]


def choose_launch(hw: Hardware, budget: str | None, estimate: Estimate | None, t: Trace) -> Launch:
    """The plan's :class:`~specc.plan.model.Launch`: strategy, process counts, rendezvous and launcher."""
    total = max(hw.gpus, 1) * hw.nodes
    rdv = hw.rendezvous
    common = {"num_machines": hw.nodes, "num_processes": total, "use_cpu": hw.gpus == 0,
              "main_process_ip": rdv.host if rdv else None, "main_process_port": rdv.port if rdv else None}
    if total == 1:
        t.decide("LAUNCH-SINGLE-DEVICE", "one device on one machine: each stage is one python process.")
        return Launch(strategy="none", launcher="python", **common)
    where = f"{total} processes on {hw.nodes} machine{'s' if hw.nodes > 1 else ''}"
    row = next((m for m in estimate.memory if m.budget == budget), None) if estimate is not None else None
    offload = hw.cpu_offload and (hw.strategy if hw.strategy != "auto" else (row.strategy if row else "ddp")) in (
        "fsdp", "zero2", "zero3")
    common["cpu_offload"] = offload
    if hw.strategy != "auto":
        if row is not None and not row.fits:
            t.find("LAUNCH-STRATEGY-DOESNT-FIT",
                   f"constraints.hardware.strategy is {hw.strategy}, under which {budget} needs about "
                   f"{row.per_device_gb:g} GiB per device: it does not fit ({row.note})",
                   "set strategy: auto (the plan then picks the cheapest strategy that fits), or a sharded one "
                   "(fsdp, zero3), or cpu_offload: true")
        if hw.strategy in ("zero2", "zero3"):
            t.find("LAUNCH-NEEDS-DEEPSPEED", f"strategy {hw.strategy} launches with DeepSpeed, which specc's train "
                   "extra does not install", "pip install deepspeed on every training machine (built for its CUDA)")
        numbers = f" {budget} needs about {row.per_device_gb:g} GiB per device under it." if row is not None else ""
        t.decide("LAUNCH-STRATEGY-FORCED", f"constraints.hardware.strategy is {hw.strategy}; {where}.{numbers}",
                 verdict=f"launch with {hw.strategy}" + (" and CPU offload" if offload else ""))
        return Launch(strategy=hw.strategy, launcher="accelerate", **common)
    if row is None:
        t.decide("LAUNCH-DDP-REPLICATED", f"the memory per device is not estimated (model size unknown), so "
                 f"replicas are assumed to fit; {where}.", verdict="data parallel (DDP)")
        return Launch(strategy="ddp", launcher="accelerate", **common)
    if row.strategy in ("none", "ddp"):
        t.decide("LAUNCH-DDP-REPLICATED", f"{budget} needs about {row.per_device_gb:g} GiB per device as a replica "
                 f"and fits; {where}.", verdict="data parallel (DDP)")
        return Launch(strategy="ddp", launcher="accelerate", **common)
    t.decide("LAUNCH-SHARDED", f"{budget} fits only sharded: about {row.per_device_gb:g} GiB per device with "
             f"{row.strategy}{' and CPU offload' if offload else ''}; {where}.",
             verdict=f"sharded data parallel ({row.strategy})")
    return Launch(strategy=row.strategy, launcher="accelerate", **common)  # type: ignore[arg-type]


def config_name(launch: Launch) -> str:
    """The accelerate config file of a launch, relative to the build directory (stage configs name it)."""
    return f"launch/{launch.strategy if launch.strategy != 'none' else 'single'}.yaml"
