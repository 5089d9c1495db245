"""Memory and compute estimates for a training run, before a single GPU hour is spent.

The planner uses these numbers to pick the parameter budget (full, LoRA, QLoRA) and to explain the
choice in the plan ("LoRA needs 19.2 GiB of the 20.4 GiB usable on one 24 GB card"). The formulas are
back-of-envelope accounting of what a PyTorch/Hugging Face training step keeps in memory; they are
documented, with their sources, in docs/ESTIMATOR.md and checked there against published figures and a
measured run. They are estimates: a plan shows them as such.

Pure functions over frozen dataclasses; stdlib only (light commands import this).
Units: bytes internally; "GB" of a GPU is read as GiB (a "24 GB" card has 24 GiB), as vendors mean it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from specc.plan.modelinfo import ModelFacts

__all__ = [
    "TrainingShape", "MemoryEstimate", "DeviceBudget", "BudgetOption", "BudgetChoice", "ComputeEstimate",
    "estimate_memory", "choose_budget", "estimate_compute", "lora_trainable_params", "GIB",
]

GIB = 1024**3
BUDGETS = ("full", "lora", "qlora")
PRECISIONS = ("fp32", "mixed_bf16", "mixed_fp16", "bf16", "fp16")
"""``bf16``/``fp16``: pure 16-bit (weights, gradients and optimiser state in 16 bits: what a stage does when it loads
the model in that dtype); ``mixed_*``: automatic mixed precision over fp32 master weights."""
OPTIMIZERS = ("adamw", "adamw_8bit", "sgd")
SHARDINGS = ("none", "ddp", "fsdp", "zero2", "zero3")
METHODS = ("sft", "dpo", "reward", "rlhf", "distill_logit", "distill_sequence")

# Bits per parameter that 4-bit NF4 with double quantization spends on quantization constants
# (QLoRA paper, section 2: 0.127 bits/param); 8-bit LLM.int8 stores one fp32 scale per row (tiny).
_QUANT_CONSTANT_BITS = {4: 0.127, 8: 0.01}
# Optimiser state bytes per trainable parameter when states are fp32; "bf16" precision halves them.
_OPTIMIZER_BYTES = {"adamw": 8.0, "adamw_8bit": 2.0, "sgd": 4.0}
DEFAULT_GPU_TFLOPS = 312.0  # NVIDIA A100 dense BF16 tensor-core peak (A100 datasheet)

GPU_PEAK_TFLOPS: dict[str, float] = {
    # Dense (no sparsity) 16-bit tensor-core peaks from the vendors' datasheets; BF16 where supported,
    # FP16 for cards without BF16 (T4, V100). Keys are matched case-insensitively as substrings of
    # constraints.hardware.gpu_type, longest first ("a100-80gb" → "a100").
    "h200": 989.0, "h100": 989.0, "gh200": 989.0, "b200": 2250.0, "a100": 312.0, "a10g": 125.0, "a10": 125.0,
    "l40s": 362.0, "l40": 181.0, "l4": 121.0, "a6000": 155.0, "rtx-6000-ada": 364.0, "rtx-4090": 165.0,
    "rtx-4080": 97.0, "rtx-3090": 71.0, "v100": 125.0, "t4": 65.0, "mi300x": 1307.0, "mi250x": 383.0,
}


def gpu_peak_tflops(gpu_type: str | None) -> float | None:
    """Peak 16-bit TFLOPS of a GPU named like ``A100-80GB``, ``H100``, ``RTX 4090``; None when unknown."""
    if not gpu_type:
        return None
    name = gpu_type.lower().replace(" ", "-").replace("_", "-")
    for key in sorted(GPU_PEAK_TFLOPS, key=len, reverse=True):
        if key in name:
            return GPU_PEAK_TFLOPS[key]
    return None
DEFAULT_CPU_TFLOPS = 0.5  # a many-core server CPU in fp32; a laptop is several times slower
DEFAULT_EFFECTIVE_BATCH_TOKENS = 131_072  # e.g. 64 sequences of 2048 tokens per optimizer step


@dataclass(frozen=True)
class TrainingShape:
    """How a run trains: the knobs that decide memory. Defaults are the usual TRL/PEFT choices.

    ``method`` adds the models a method holds besides the trained one: DPO a reference (unless the
    budget is LoRA/QLoRA, where the base with adapters disabled is the reference); online RL a
    reference, a reward model and a generation KV cache; logit distillation a teacher (``teacher``).
    ``reward_model`` defaults to a copy of the policy's size when None.
    """

    budget: str = "lora"
    precision: str = "mixed_bf16"
    quant_bits: int = 4
    optimizer: str = "adamw"
    lora_r: int = 16
    lora_targets: str = "all-linear"  # or "attention"
    seq_len: int = 2048
    micro_batch: int = 1
    gradient_checkpointing: bool = True
    num_gpus: int = 1
    sharding: str = "none"
    offload: bool = False  # FSDP/ZeRO-3: parameters, gradients and optimiser state on CPU; ZeRO-2: optimiser state
    device: str = "cuda"
    method: str = "sft"
    teacher: ModelFacts | None = None
    reward_model: ModelFacts | None = None
    flash_attention: bool = True  # SDPA/flash kernels: no seq×seq attention matrix is kept
    cuda_context_gib: float = 0.75
    fragmentation: float = 0.05  # allocator fragmentation and cache slack, as a fraction

    def __post_init__(self) -> None:
        for value, allowed, what in (
            (self.budget, BUDGETS, "budget"), (self.precision, PRECISIONS, "precision"),
            (self.optimizer, OPTIMIZERS, "optimizer"), (self.sharding, SHARDINGS, "sharding"),
            (self.device, ("cuda", "cpu"), "device"), (self.method, METHODS, "method"),
            (self.lora_targets, ("all-linear", "attention"), "lora_targets"),
        ):
            if value not in allowed:
                raise ValueError(f"{what} must be one of {allowed}, not {value!r}")
        if self.quant_bits not in _QUANT_CONSTANT_BITS:
            raise ValueError(f"quant_bits must be 4 or 8, not {self.quant_bits}")
        if min(self.seq_len, self.micro_batch, self.num_gpus, self.lora_r) < 1:
            raise ValueError("seq_len, micro_batch, num_gpus and lora_r must be positive")


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes per GPU (or per process on CPU), component by component, and the total over all GPUs."""

    budget: str
    device: str
    num_gpus: int
    sharding: str
    params: int
    trainable_params: int
    weights: int
    gradients: int
    optimizer_state: int
    activations: int
    logits: int
    extra_models: int
    runtime_overhead: int  # CUDA context
    fragmentation: int
    assumptions: tuple[str, ...] = ()
    cpu_offloaded: int = 0  # bytes per process moved to host RAM by CPU offload (not in per_gpu)

    @property
    def per_gpu(self) -> int:
        return (self.weights + self.gradients + self.optimizer_state + self.activations + self.logits
                + self.extra_models + self.runtime_overhead + self.fragmentation)

    @property
    def total(self) -> int:
        return self.per_gpu * self.num_gpus

    @property
    def per_gpu_gib(self) -> float:
        return self.per_gpu / GIB

    @property
    def total_gib(self) -> float:
        return self.total / GIB

    @property
    def model_states(self) -> int:
        """Weights, gradients and optimiser state: the ZeRO paper's "model states"."""
        return self.weights + self.gradients + self.optimizer_state

    def breakdown(self) -> tuple[tuple[str, float], ...]:
        """(component, GiB per GPU) pairs in a fixed order, for plan tables."""
        names = ("weights", "gradients", "optimizer_state", "activations", "logits", "extra_models",
                 "runtime_overhead", "fragmentation")
        return tuple((name, round(getattr(self, name) / GIB, 3)) for name in names)


# --------------------------------------------------------------------------------------------------
# Shapes
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Dims:
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    embedding_params: int
    gated: bool
    experts: int
    guessed: bool


def _dims(facts: ModelFacts) -> _Dims:
    """Architecture numbers; guessed from the parameter count when only the size is known.

    The guess uses the usual decoder proportions (layers ≈ hidden/128, 12·hidden² parameters per layer,
    a 32k vocabulary, untied head) so activation and LoRA estimates stay in the right range.
    """
    if facts.has_architecture:
        heads = facts.num_heads or 1
        hidden = facts.hidden_size or 0
        return _Dims(
            hidden=hidden, layers=facts.num_layers or 0, heads=heads, kv_heads=facts.num_kv_heads or heads,
            head_dim=facts.head_dim or hidden // heads, intermediate=facts.intermediate_size or 4 * hidden,
            vocab=facts.vocab_size or 32000, embedding_params=facts.embedding_params or 0,
            gated=facts.gated_mlp, experts=facts.num_experts or 1, guessed=False,
        )
    vocab = 32000
    hidden = max(64, int(round((facts.params * 128 / 12) ** (1 / 3) / 64)) * 64)
    embedding = min(2 * vocab * hidden, facts.params // 2)
    layers = max(1, round((facts.params - embedding) / (12 * hidden * hidden)))
    heads = max(1, hidden // 128)
    return _Dims(hidden, layers, heads, heads, hidden // heads, 8 * hidden // 3, vocab, embedding, True, 1, True)


def lora_trainable_params(facts: ModelFacts, r: int, targets: str = "all-linear") -> int:
    """Adapter parameters: r·(in + out) for each adapted linear layer, over all layers (and experts)."""
    d = _dims(facts)
    q_dim, kv_dim = d.heads * d.head_dim, d.kv_heads * d.head_dim
    if d.gated:
        attention = (d.hidden + q_dim) + 2 * (d.hidden + kv_dim) + (q_dim + d.hidden)
        mlp = d.experts * (2 * (d.hidden + d.intermediate) + (d.intermediate + d.hidden))
    else:  # GPT-2: fused qkv (h → 3h) and output projection; two-matrix MLP
        attention = (d.hidden + 3 * d.hidden) + (d.hidden + d.hidden)
        mlp = 2 * (d.hidden + d.intermediate)
    per_layer = attention + (mlp if targets == "all-linear" else 0)
    return r * per_layer * d.layers


def _activation_bytes_per_token_layer(d: _Dims, act_bytes: int, seq_len: int, flash: bool) -> float:
    """Bytes one decoder layer saves for backward, per token (Korthikanti et al. 2022 style count).

    Attention: normed input (h); q, k, v and the attention output, plus the contiguous copy of that
    output that feeds o_proj (5·q_dim: k/v counted at full head count, as when KV heads are repeated).
    MLP: normed input (h) and, when gated, the gate output, its activation, the up output and their
    product (4·i); ungated, two tensors of i. Each of the two norms keeps its input and normalised
    value in fp32 (RMSNorm upcasts): 4·h at 4 bytes. Eager attention adds the seq×seq probabilities.
    """
    q_dim = d.heads * d.head_dim
    mlp = 4 * d.intermediate if d.gated else 2 * d.intermediate
    elements = 2 * d.hidden + 5 * q_dim + mlp
    per_token = act_bytes * elements + 4 * 4 * d.hidden
    if not flash:
        per_token += d.heads * seq_len * (act_bytes + 4)
    return per_token


def _logit_bytes_per_element(act_bytes: int) -> int:
    """Peak bytes per logit during the loss: the logits, an fp32 upcast (skipped when already fp32),
    the fp32 log-softmax kept for backward, and the fp32 gradient flowing back into the logits."""
    return act_bytes + (4 if act_bytes != 4 else 0) + 8


# --------------------------------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------------------------------


def _frozen_bytes(params: int, precision: str) -> float:
    return params * (4 if precision == "fp32" else 2)


def _trained_model_states(facts: ModelFacts, shape: TrainingShape, d: _Dims, trainable: int) -> tuple[float, float, float]:
    """(weights, gradients, optimiser state) bytes of the trained model on one replica (unsharded)."""
    n = facts.params
    opt = _OPTIMIZER_BYTES[shape.optimizer]
    if shape.budget == "full":
        if shape.precision == "fp32":
            return 4.0 * n, 4.0 * n, opt * n
        if shape.precision in ("bf16", "fp16"):  # pure 16-bit: weights, grads and states all 16-bit
            return 2.0 * n, 2.0 * n, (opt / 2 if shape.optimizer != "adamw_8bit" else opt) * n
        # mixed precision (AMP): fp32 master weights + a 16-bit working copy; fp32 grads and states
        return 6.0 * n, 4.0 * n, opt * n
    adapters = (4.0 * trainable, 4.0 * trainable, opt * trainable)  # PEFT keeps adapters in fp32
    if shape.budget == "lora":
        base = _frozen_bytes(n, shape.precision)
    else:
        quantized = max(0, n - d.embedding_params)
        bits = shape.quant_bits + _QUANT_CONSTANT_BITS[shape.quant_bits]
        base = quantized * bits / 8 + _frozen_bytes(d.embedding_params, shape.precision)
    return base + adapters[0], adapters[1], adapters[2]


def _tokens_in_flight(shape: TrainingShape) -> int:
    """Sequences a micro-batch pushes through the trained model: pairs count twice for DPO/reward."""
    per_example = 2 if shape.method in ("dpo", "reward") else 1
    return shape.seq_len * shape.micro_batch * per_example


def _extra_models(facts: ModelFacts, shape: TrainingShape, d: _Dims, act_bytes: int) -> tuple[float, list[str]]:
    notes: list[str] = []
    extra = 0.0
    adapters = shape.budget in ("lora", "qlora")
    if shape.method in ("dpo", "rlhf"):
        if adapters:
            notes.append("reference model: the frozen base with adapters disabled (no extra copy)")
        else:
            extra += _frozen_bytes(facts.params, shape.precision)
            notes.append("reference model: a frozen 16-bit copy of the policy")
    if shape.method == "rlhf":
        reward = shape.reward_model or facts
        extra += _frozen_bytes(reward.params, shape.precision)
        kv_cache = 2 * d.layers * d.kv_heads * d.head_dim * shape.seq_len * shape.micro_batch * act_bytes
        extra += kv_cache
        notes.append(f"reward model ({reward.params / 1e9:.2f}B params, frozen 16-bit) and a generation KV cache")
    if shape.method == "distill_logit":
        if shape.teacher is None:
            raise ValueError("logit distillation needs the teacher's facts (TrainingShape.teacher)")
        teacher_dims = _dims(shape.teacher)
        tokens = _tokens_in_flight(shape)
        extra += _frozen_bytes(shape.teacher.params, shape.precision)
        extra += tokens * teacher_dims.vocab * (act_bytes + 4)  # teacher logits and their fp32 softmax
        notes.append(f"teacher ({shape.teacher.params / 1e9:.2f}B params, frozen 16-bit) and its logits")
    if shape.method == "distill_sequence":
        notes.append("sequence-level distillation: the teacher generates in an earlier stage, not during training")
    return extra, notes


def estimate_memory(facts: ModelFacts, shape: TrainingShape) -> MemoryEstimate:
    """Peak memory of one training step, per GPU and in total, component by component.

    See docs/ESTIMATOR.md for every formula and its source. Sharding: ZeRO-2 splits gradients and
    optimiser state over the GPUs; FSDP/ZeRO-3 also split weights and frozen extra models, plus a
    buffer for gathering two layers at a time. Activations and logits are per GPU.
    """
    d = _dims(facts)
    gpus = shape.num_gpus
    sharding = "none" if gpus == 1 else ("ddp" if shape.sharding == "none" else shape.sharding)
    act_bytes = 4 if shape.precision == "fp32" else 2
    trainable = facts.params if shape.budget == "full" else lora_trainable_params(facts, shape.lora_r, shape.lora_targets)
    weights, grads, optim = _trained_model_states(facts, shape, d, trainable)

    tokens = _tokens_in_flight(shape)
    per_layer = _activation_bytes_per_token_layer(d, act_bytes, shape.seq_len, shape.flash_attention)
    if shape.gradient_checkpointing:  # keep each layer's input; recompute one layer at a time
        activations = tokens * (d.layers * d.hidden * act_bytes + per_layer)
    else:
        activations = tokens * d.layers * per_layer
    logits = 0.0 if shape.method == "reward" else tokens * d.vocab * _logit_bytes_per_element(act_bytes)
    extra, notes = _extra_models(facts, shape, d, act_bytes)

    offloaded = 0.0
    if sharding in ("zero2", "zero3", "fsdp"):  # offload applies to sharded strategies only
        grads, optim = grads / gpus, optim / gpus
        if shape.offload:  # the optimiser step runs on the CPU over the (sharded) fp32 states
            offloaded += optim
            optim = 0.0
    if sharding in ("zero3", "fsdp"):
        layer_params = (facts.params - d.embedding_params) / max(1, d.layers)
        gather = 2 * max(layer_params, d.embedding_params / 2) * act_bytes
        if shape.offload:  # parameters and gradients live on the CPU; the GPU holds the gathered layers
            offloaded += weights / gpus + grads
            weights, grads = gather, 0.0
        else:
            weights = weights / gpus + gather
        extra = extra / gpus

    assumptions = [
        f"{shape.budget}, {shape.precision}, {shape.optimizer}, seq_len {shape.seq_len}, micro_batch "
        f"{shape.micro_batch}, gradient checkpointing {'on' if shape.gradient_checkpointing else 'off'}, "
        f"{'flash/SDPA' if shape.flash_attention else 'eager'} attention",
        *notes,
        *([f"CPU offload: {offloaded / GIB:.1f} GiB per process in host RAM"] if shape.offload and offloaded else []),
    ]
    if d.guessed:
        assumptions.append("architecture guessed from the parameter count (only the size was known)")
    if shape.device == "cpu":
        assumptions.append("CPU: no CUDA context; memory is process RAM")
    overhead = int(shape.cuda_context_gib * GIB) if shape.device == "cuda" else 0
    subtotal = weights + grads + optim + activations + logits + extra
    return MemoryEstimate(
        budget=shape.budget, device=shape.device, num_gpus=gpus, sharding=sharding, params=facts.params,
        trainable_params=trainable, weights=int(weights), gradients=int(grads), optimizer_state=int(optim),
        activations=int(activations), logits=int(logits), extra_models=int(extra), runtime_overhead=overhead,
        fragmentation=int(shape.fragmentation * subtotal), assumptions=tuple(assumptions),
        cpu_offloaded=int(offloaded),
    )


# --------------------------------------------------------------------------------------------------
# Budget choice
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceBudget:
    """What the run may use. ``gpus`` is per node; ``gpus == 0`` means CPU only (``cpu_memory_gb`` RAM)."""

    gpus: int
    gpu_memory_gb: float = 0.0
    nodes: int = 1
    cpu_memory_gb: float | None = None

    @property
    def total_gpus(self) -> int:
        return self.gpus * self.nodes


@dataclass(frozen=True)
class BudgetOption:
    """One budget, estimated on the given hardware: does it fit, and by how much."""

    budget: str
    fits: bool
    sharding: str
    needed_gib: float  # per GPU (or process)
    usable_gib: float  # device memory × margin
    estimate: MemoryEstimate
    reason: str


@dataclass(frozen=True)
class BudgetChoice:
    """The chosen budget (None when nothing fits), every option considered, and why."""

    budget: str | None
    fits: bool
    forced: bool
    options: tuple[BudgetOption, ...]
    reasons: tuple[str, ...]
    suggestions: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def option(self, budget: str) -> BudgetOption | None:
        return next((o for o in self.options if o.budget == budget), None)


_CPU_ASSUMED_RAM_GB = 16.0
DEFAULT_MARGIN = 0.95
"""Share of a device's memory a plan may fill (5% headroom, ``constraints.hardware.memory_headroom``). The
estimate already counts the CUDA context and allocator fragmentation; a wider margin refused set-ups that the
published tables run (7B LoRA on 16 GB, 70B QLoRA on 48 GB): see docs/ESTIMATOR.md, 'Calibration'."""
_TINY_ON_CPU = 1e9  # beyond this, CPU training is measured in days


def _shardings_to_try(budget: str, shape: TrainingShape, gpus: int) -> tuple[str, ...]:
    if gpus <= 1:
        return ("none",)
    if shape.sharding != "none":
        return (shape.sharding,)
    # DDP, then FSDP: both ship with torch. ZeRO (DeepSpeed, not a dependency of the train extra) only when named.
    return ("ddp", "fsdp")


def _evaluate(facts: ModelFacts, shape: TrainingShape, budget: str, gpus: int, usable_gib: float,
              cpu_usable_gib: float | None = None, gpus_per_node: int | None = None) -> BudgetOption:
    """The first strategy (cheapest communication first) under which ``budget`` fits, else the tightest miss.

    With CPU offload the host RAM of a node must hold what its processes offload (``cpu_usable_gib``)."""
    best: BudgetOption | None = None
    for sharding in _shardings_to_try(budget, shape, gpus):
        estimate = estimate_memory(facts, replace(shape, budget=budget, num_gpus=max(1, gpus), sharding=sharding))
        needed = estimate.per_gpu_gib
        host = estimate.cpu_offloaded * (gpus_per_node or max(1, gpus)) / GIB
        host_ok = cpu_usable_gib is None or host <= cpu_usable_gib
        fits = needed <= usable_gib and host_ok
        verdict = "fits" if fits else "does not fit"
        where = f"{max(1, gpus)} GPU(s), {estimate.sharding}" if gpus else "CPU"
        if estimate.cpu_offloaded:
            where += (f", CPU offload {host:.1f} GiB of host RAM per node"
                      + ("" if host_ok else f" of {cpu_usable_gib:.1f} GiB usable"))
        reason = (f"{budget} {verdict}: needs {needed:.1f} GiB per device of {usable_gib:.1f} GiB usable "
                  f"({where}; {estimate.trainable_params / 1e6:,.1f}M trainable params)")
        option = BudgetOption(budget, fits, estimate.sharding, round(needed, 3), round(usable_gib, 3), estimate, reason)
        if fits:
            return option
        if best is None or needed < best.needed_gib:
            best = option
    assert best is not None
    return best


def _suggestions(facts: ModelFacts, shape: TrainingShape, budget: str, hardware: DeviceBudget, usable_gib: float,
                 margin: float) -> list[str]:
    """What would make ``budget`` fit: checkpointing, a shorter sequence, more GPUs, a smaller model."""
    tips: list[str] = []
    gpus = hardware.total_gpus
    current = _evaluate(facts, shape, budget, gpus, usable_gib)
    if not shape.gradient_checkpointing:
        with_gc = _evaluate(facts, replace(shape, gradient_checkpointing=True), budget, gpus, usable_gib)
        if with_gc.fits:
            tips.append(f"turn on gradient checkpointing: {budget} then needs {with_gc.needed_gib:.1f} GiB")
    seq = shape.seq_len // 2
    while seq >= 128:
        shorter = _evaluate(facts, replace(shape, seq_len=seq), budget, gpus, usable_gib)
        if shorter.fits:
            tips.append(f"shorten sequences to {seq} tokens: {budget} then needs {shorter.needed_gib:.1f} GiB")
            break
        seq //= 2
    if hardware.gpus > 0:
        n = max(2, gpus * 2)
        while n <= 512:
            more = _evaluate(facts, replace(shape, sharding="fsdp"), budget, n, usable_gib)
            if more.fits:
                tips.append(f"use {n} GPUs of {hardware.gpu_memory_gb:g} GB with FSDP: {budget} then needs "
                            f"{more.needed_gib:.1f} GiB per GPU")
                break
            n *= 2
        tips.append(f"a GPU with at least {current.needed_gib / margin:.0f} GB would fit {budget} as configured")
    low, high = 1e6, float(facts.params)
    if _evaluate(ModelFacts("probe", int(low), "name"), shape, budget, gpus, usable_gib).fits:
        for _ in range(30):
            mid = math.sqrt(low * high)
            if _evaluate(ModelFacts("probe", int(mid), "name"), shape, budget, gpus, usable_gib).fits:
                low = mid
            else:
                high = mid
        tips.append(f"a smaller model: about {low / 1e9:.2g}B parameters or fewer fits with {budget}")
    return tips


def choose_budget(
    facts: ModelFacts,
    hardware: DeviceBudget,
    shape_defaults: TrainingShape,
    *,
    margin: float = DEFAULT_MARGIN,
    allow: tuple[str, ...] = BUDGETS,
    goal_needs_full: bool = False,
    forced: str | None = None,
) -> BudgetChoice:
    """Pick the smallest parameter budget that fits the hardware with ``margin`` headroom.

    LoRA first (the smallest intervention); QLoRA when LoRA's 16-bit frozen base does not fit; full
    fine-tuning only when the goal needs it and it fits. A ``forced`` budget is chosen regardless and
    reported with its numbers (the planner decides whether not fitting is an error). When nothing
    fits, ``suggestions`` say what would.
    """
    notes: list[str] = []
    on_cpu = hardware.total_gpus == 0
    shape = shape_defaults
    if on_cpu:
        ram = hardware.cpu_memory_gb
        if ram is None:
            ram = _CPU_ASSUMED_RAM_GB
            notes.append(f"no GPU and no CPU memory given: assuming {ram:g} GB of RAM")
        usable = ram * margin
        shape = replace(shape, device="cpu", precision="fp32", num_gpus=1, sharding="none")
        notes.append("no GPU: training runs on CPU RAM in fp32; only tiny models are realistic")
        if facts.params > _TINY_ON_CPU:
            notes.append(f"{facts.params / 1e9:.1f}B parameters on CPU would take days per epoch even if memory fits")
    else:
        usable = hardware.gpu_memory_gb * margin
        shape = replace(shape, device="cuda")

    candidates = [b for b in BUDGETS if b in allow or b == forced]
    cpu_usable = (hardware.cpu_memory_gb * margin) if (hardware.cpu_memory_gb and not on_cpu) else None
    options = tuple(_evaluate(facts, shape, b, hardware.total_gpus, usable, cpu_usable, hardware.gpus)
                    for b in candidates)
    by_name = {o.budget: o for o in options}
    reasons: list[str] = [o.reason for o in options]

    if forced is not None:
        if forced not in BUDGETS:
            raise ValueError(f"forced budget must be one of {BUDGETS}, not {forced!r}")
        chosen = by_name[forced]
        reasons.append(f"{forced} forced by the spec; it {'fits' if chosen.fits else 'does NOT fit'}")
        return BudgetChoice(forced, chosen.fits, True, options, tuple(reasons), (), tuple(notes))

    order = (["full"] if goal_needs_full else []) + ["lora", "qlora"]
    if not goal_needs_full and "full" in by_name and by_name["full"].fits:
        reasons.append("full fine-tuning fits but the goal does not need it: LoRA forgets less and adapters are small")
    for budget in order:
        option = by_name.get(budget)
        if option is None:
            continue
        if option.fits:
            if budget == "qlora":
                reasons.append("qlora chosen: the frozen base does not fit at 16 bits, so it is quantized")
            elif budget == "lora" and goal_needs_full:
                reasons.append("lora chosen: the goal asks for full fine-tuning but it does not fit")
            else:
                reasons.append(f"{budget} chosen: the smallest allowed intervention that fits")
            return BudgetChoice(budget, True, False, options, tuple(reasons), (), tuple(notes))

    smallest = min(options, key=lambda o: o.needed_gib) if options else None
    suggestions: list[str] = []
    if smallest is not None:
        suggestions = _suggestions(facts, shape, smallest.budget, hardware, usable, margin)
    reasons.append("nothing fits on this hardware")
    return BudgetChoice(None, False, False, options, tuple(reasons), tuple(suggestions), tuple(notes))


# --------------------------------------------------------------------------------------------------
# Compute
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComputeEstimate:
    """Training FLOPs and GPU-hours. An estimate: real throughput depends on kernels and data."""

    tokens: int
    optimizer_steps: int
    effective_batch_tokens: int
    flops: float
    formula: str
    gpu_tflops: float
    mfu: float
    gpu_hours: float
    wall_hours: float
    notes: tuple[str, ...] = ()


def estimate_compute(
    facts: ModelFacts,
    *,
    train_tokens: int,
    epochs: float,
    budget: str,
    hardware: DeviceBudget,
    effective_batch_tokens: int | None = None,
    gpu_tflops: float | None = None,
    mfu: float = 0.35,
    gradient_checkpointing: bool = False,
    lora_r: int = 16,
    method: str = "sft",
    extra_model_params: int = 0,
) -> ComputeEstimate:
    """FLOPs of training: 6·N·T for full fine-tuning (Kaplan et al. 2020), about 4·N·T for LoRA/QLoRA.

    LoRA skips the weight-gradient matmuls of the frozen base (2·N·T) but still back-propagates
    activations through it; the adapters add 6·P·T. Checkpointing adds one more forward (2·N·T).
    DPO adds a reference forward (2·N·T); online RL adds generation, reference and reward forwards;
    logit distillation adds the teacher's forward (pass its size as ``extra_model_params``).
    Mixture-of-experts models count only active parameters.
    """
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {BUDGETS}, not {budget!r}")
    if train_tokens < 0 or epochs <= 0 or not 0 < mfu <= 1:
        raise ValueError("train_tokens must be >= 0, epochs > 0 and 0 < mfu <= 1")
    n = facts.active_params or facts.params
    tokens = int(round(train_tokens * epochs))
    batch = effective_batch_tokens or DEFAULT_EFFECTIVE_BATCH_TOKENS
    notes: list[str] = []
    if effective_batch_tokens is None:
        notes.append(f"effective batch assumed {batch:,} tokens per optimizer step")
    if budget == "full":
        flops, formula = 6.0 * n * tokens, "6·N·T (full fine-tuning)"
    else:
        p = lora_trainable_params(facts, lora_r)
        flops, formula = 4.0 * n * tokens + 6.0 * p * tokens, "4·N·T + 6·P_lora·T (LoRA: no weight gradients for the base)"
        if budget == "qlora":
            notes.append("QLoRA dequantizes weights on the fly: expect lower throughput than the FLOPs suggest")
    if gradient_checkpointing:
        flops += 2.0 * n * tokens
        formula += " + 2·N·T (recompute)"
    if method == "dpo":
        flops += 2.0 * n * tokens
        formula += " + 2·N·T (reference forward)"
    elif method == "rlhf":
        flops += 4.0 * n * tokens + 2.0 * (extra_model_params or n) * tokens
        formula += " + 4·N·T (generation, reference) + 2·N_rm·T (reward)"
    elif method == "distill_logit":
        flops += 2.0 * extra_model_params * tokens
        formula += " + 2·N_teacher·T (teacher forward)"
    gpus = hardware.total_gpus
    if gpu_tflops is None:
        gpu_tflops = DEFAULT_GPU_TFLOPS if gpus else DEFAULT_CPU_TFLOPS
        notes.append(f"throughput assumed {gpu_tflops:g} TFLOPS peak per {'GPU (A100 BF16)' if gpus else 'CPU'} "
                     f"at {mfu:.0%} utilisation")
    device_hours = flops / (gpu_tflops * 1e12 * mfu) / 3600
    return ComputeEstimate(
        tokens=tokens, optimizer_steps=max(1, math.ceil(tokens / batch)) if tokens else 0,
        effective_batch_tokens=batch, flops=flops, formula=formula, gpu_tflops=gpu_tflops, mfu=mfu,
        gpu_hours=device_hours, wall_hours=device_hours / max(1, gpus), notes=tuple(notes),
    )
