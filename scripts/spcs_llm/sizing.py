"""vLLM's GPU memory model, as pure functions: what one replica of a model needs per GPU.

Follows the accounting of the vLLM release that will run (vllm_versions.py; docs/sizing.md):

    budget   = torch-visible total memory x gpu_memory_utilization
    kv       = budget - weights - profile-run peak - non-torch memory [- CUDA graphs, from 0.20]
    blocks   = kv // (page bytes per layer x layers per KV group)     (16-token pages)
    fits     = the blocks one request of max_model_len needs <= blocks

Weights, KV layout (GQA, KV-head replication when TP > KV heads, explicit head_dim, sliding
window and hybrid layers, MLA) and the fit check follow vLLM's code; the profile-run peak,
non-torch and CUDA-graph memory are estimates per release, calibrated on public start-up logs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from . import observed, vllm_versions
from .catalog import Gpu
from .errors import SpcsLlmError
from .models import SLIDING, ModelSpec

GIB = 2**30
BLOCK_SIZE = 16  # vLLM's KV block size on CUDA
# vLLM's CacheConfig default before 0.20 (0.92 from 0.20.0: vllm_versions.default_gpu_memory_utilization)
DEFAULT_GPU_MEMORY_UTILIZATION = 0.90
GPU_MEMORY_UTILIZATION_HELP = ("vLLM's share of GPU memory, 0-1 (default: that vLLM release's own default, 0.92 from "
                               f"0.20, {DEFAULT_GPU_MEMORY_UTILIZATION} before)")  # size and plan's flag

BATCHED_TOKENS_DEFAULT = 2048  # the V1 scheduler default on GPUs under 70 GiB (vllm_versions.py)

DTYPE_BYTES = {"float16": 2, "bfloat16": 2, "float32": 4}
KV_CACHE_DTYPES = ("auto", "fp8")
# Average stored bits per weight, scales included: AWQ/GPTQ 4-bit with group size 128 carry a
# 16-bit scale and a 4-bit zero per group; MXFP4 blocks of 32 carry one 8-bit scale; NF4
# (bitsandbytes) blocks of 64 carry a 32-bit absmax.
GROUP_SCALE_BITS = (16 + 4) / 128  # AWQ/GPTQ: a 16-bit scale and a 4-bit zero per group of 128 weights
QUANT_BITS = {"fp8": 8.0, "int8": 8.0, "awq": 4 + GROUP_SCALE_BITS, "gptq": 4 + GROUP_SCALE_BITS, "mxfp4": 4.25,
              "bitsandbytes": 4.5}
QUANTIZATIONS = tuple(QUANT_BITS)
UNKNOWN_QUANT_BITS = 4.25  # a checkpoint method we do not know: sized as 4-bit
# Methods vLLM applies at load time to a 16-bit checkpoint; the rest need a quantized checkpoint.
ONLINE_QUANTIZATIONS = ("fp8", "bitsandbytes")


@dataclass(frozen=True)
class SizingRequest:
    model: ModelSpec
    gpu: Gpu
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float | None = None  # None: the default of the vLLM release (0.92 from 0.20)
    max_model_len: int | None = None  # None: the model's max_position_embeddings (vLLM's default)
    dtype: str = "auto"
    quantization: str | None = None
    kv_cache_dtype: str = "auto"
    max_num_batched_tokens: int | None = None
    max_num_seqs: int | None = None
    enforce_eager: bool = False
    vllm_version: str | None = None  # None: the custom image's pin (vllm_versions.CUSTOM_IMAGE_VLLM_VERSION)
    vllm_version_source: str = ""  # where the version came from, said in the reasons when given
    # KV caches vLLM logged for configurations of this plan (observed.py): the one matching this
    # model, GPU, TP, utilization and quantization replaces the estimated KV budget
    observations: tuple[dict, ...] = ()


@dataclass
class Sizing:
    model: str
    gpu: str
    tensor_parallel_size: int
    gpu_memory_utilization: float
    max_model_len: int
    dtype: str
    quantization: str | None
    kv_cache_dtype: str
    max_num_batched_tokens: int
    max_num_seqs: int
    gpu_total_gib: float
    budget_gib: float
    weights_gib_per_gpu: float
    activation_gib: float
    non_torch_gib: float
    cuda_graph_gib: float
    kv_cache_gib_per_gpu: float
    kv_bytes_per_token: int  # per GPU, summed over this rank's layers
    kv_cache_blocks: int
    kv_cache_tokens: int  # as vLLM logs "GPU KV cache size: N tokens"
    max_concurrency: float  # full-length requests served at once, vLLM's "Maximum concurrency"
    fits: bool
    valid: bool  # False: vLLM would refuse this configuration outright (TP, dtype, quantization)
    max_model_len_that_fits: int
    weight_bytes: int  # the whole checkpoint as loaded (all GPUs)
    active_weight_bytes: int  # weights read per decoded token (MoE: active experts only)
    vllm_args: list[str]
    reasons: list[str] = field(default_factory=list)  # everything worth saying, verdict last
    blockers: list[str] = field(default_factory=list)  # why it is invalid or does not fit (empty: fits)
    suggestions: list[str] = field(default_factory=list)
    kv_source: str = "estimate"  # or "observed: <where the logged number came from>"
    vllm_version: str = vllm_versions.CUSTOM_IMAGE_VLLM_VERSION
    vllm_accounting: str = vllm_versions.V1_GRAPHS  # v0 | v1-early | v1 | v1-graphs (vllm_versions.py)
    cuda_graph_outside_gib: float = 0.0  # graphs this release captures outside the budget (in the headroom)
    kv_budget_gib: float = 0.0  # memory left for the KV cache before it is cut into blocks (negative: none)

    def as_dict(self) -> dict:
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, float):
                out[key] = round(value, 3)
        return out


def valid_tp_sizes(model: ModelSpec, max_tp: int) -> list[int]:
    """TP sizes vLLM accepts: they divide the attention heads, and KV heads shard or replicate evenly."""
    out = []
    for tp in range(1, max_tp + 1):
        if model.num_heads % tp:
            continue
        kv = model.num_kv_heads
        if kv % tp and tp % kv:
            continue
        out.append(tp)
    return out


def resolve_dtype(model: ModelSpec, gpu: Gpu, requested: str) -> tuple[str, list[str]]:
    """The dtype vLLM computes in, following its 'auto' rule and the bf16 compute-capability check."""
    notes = []
    if requested == "auto":
        dtype = "bfloat16" if model.dtype == "bfloat16" else "float16"
    else:
        dtype = {"half": "float16", "bf16": "bfloat16", "fp16": "float16"}.get(requested, requested)
    if dtype not in DTYPE_BYTES:
        raise SpcsLlmError(f"dtype {requested!r} is not valid; allowed: auto, float16, bfloat16, float32")
    if dtype == "bfloat16" and "bfloat16" not in gpu.dtypes:
        notes.append(f"{gpu.name} (compute capability {gpu.compute_capability}) has no bfloat16: "
                     "vLLM must run the model in float16 (--dtype=half)")
        dtype = "float16"
    return dtype, notes


def weight_bytes(model: ModelSpec, quantization: str | None, dtype: str, active: bool = False) -> int:
    """Bytes of weights: quantized linear layers at their stored bits; embeddings stay 16-bit."""
    total = (model.active_b if active else model.total_params_b) * 1e9
    element = DTYPE_BYTES[dtype]
    if not quantization:
        return int(total * element)
    if quantization == model.checkpoint_quantization and model.checkpoint_bits:
        # the config states the integer width; group-wise methods also store a scale and zero per group
        bits = model.checkpoint_bits + (GROUP_SCALE_BITS if quantization in ("awq", "gptq") else 0.0)
    else:
        bits = QUANT_BITS.get(quantization, UNKNOWN_QUANT_BITS)
    if quantization == "mxfp4" and model.is_moe:
        # gpt-oss: only the MoE experts are MXFP4; attention, router and embeddings stay 16-bit
        ffn = model.moe_intermediate_size or model.intermediate_size
        experts = model.experts_per_token if active else model.num_experts
        # vLLM's Marlin/FlashInfer MXFP4 MoE pads the hidden size to a multiple of 256 and the expert
        # width to 128 (vllm/model_executor/layers/quantization/mxfp4.py): 2880 -> 3072 x 2944 for gpt-oss
        padded = _round_up(model.hidden_size, 256) * _round_up(ffn, 128)
        quantized = model.num_layers * experts * 3 * model.hidden_size * ffn
        padding = model.num_layers * experts * 3 * (padded - model.hidden_size * ffn)
    else:
        quantized, padding = total - model.embedding_params_b * 1e9, 0
    quantized = max(0.0, min(quantized, total))
    return int((quantized + padding) * bits / 8 + (total - quantized) * element)


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def kv_bytes_per_token_per_layer(model: ModelSpec, tp: int, kv_element_bytes: int) -> int:
    if model.is_mla:  # one latent vector per token, not split across TP ranks
        return model.mla_kv_dim * kv_element_bytes
    kv_heads_per_rank = max(1, model.num_kv_heads // tp)  # replicated when TP > KV heads
    return 2 * kv_heads_per_rank * model.head_dim * kv_element_bytes


def _kv_groups(model: ModelSpec) -> tuple[int, list[str]]:
    """vLLM's hybrid KV manager: layers grouped by type in groups of min(#layers per type).

    Returns (layers per group, the type of each group). Uniform models are one group of all layers.
    """
    full, sliding = model.full_layers, model.sliding_layers
    if not full or not sliding:
        return model.num_layers, [SLIDING if sliding else "full"]
    size = min(full, sliding)
    return size, ["full"] * math.ceil(full / size) + [SLIDING] * math.ceil(sliding / size)


def _blocks_per_request(model: ModelSpec, groups: list[str], max_len: int, batched_tokens: int) -> int:
    return sum(_sliding_blocks(model, max_len, batched_tokens) if kind == SLIDING
               else math.ceil(max_len / BLOCK_SIZE) for kind in groups)


def batch_defaults(gpu: Gpu, vllm_version: str | None = None, max_model_len: int = 0) -> tuple[int, int]:
    """`vllm serve`'s (max_num_batched_tokens, max_num_seqs) on this GPU for that release."""
    acc = vllm_versions.accounting(vllm_version)
    return vllm_versions.scheduler_defaults(acc, gpu.torch_total_gib, gpu.name, max_model_len)


def activation_gib(model: ModelSpec, tp: int, batched_tokens: int, max_seqs: int, dtype: str,
                   acc: vllm_versions.Accounting | None = None) -> float:
    """Peak of vLLM's profile run: one forward pass of max_num_batched_tokens (the MLP's gate/up and
    activation outputs plus a few hidden-size buffers per token), and the sampler warm-up over
    min(max_num_seqs, max_num_batched_tokens) requests. V0 keeps both at once; V1 frees the forward
    pass's buffers before sampling, so its peak is the larger of the two."""
    acc = acc or vllm_versions.accounting()
    if model.is_moe:
        ffn = model.experts_per_token * (model.moe_intermediate_size or model.intermediate_size)
    else:
        ffn = model.intermediate_size
    per_token = (3 * ffn / tp + 4 * model.hidden_size) * DTYPE_BYTES[dtype]
    forward = batched_tokens * per_token
    sampler = min(max_seqs, batched_tokens) * model.vocab_size * vllm_versions.sampler_bytes_per_logit(acc)
    peak = forward + sampler if acc.kind == vllm_versions.V0 else max(forward, sampler)
    return peak / GIB


def non_torch_gib(gpu: Gpu, tp: int, acc: vllm_versions.Accounting | None = None) -> float:
    return vllm_versions.non_torch_gib(acc or vllm_versions.accounting(), gpu.torch_total_gib, tp)


def cuda_graph_gib(model: ModelSpec, enforce_eager: bool, acc: vllm_versions.Accounting | None = None) -> float:
    """Captured CUDA graphs per GPU, wherever this release keeps them (see Sizing.cuda_graph_outside_gib)."""
    return vllm_versions.cuda_graph_gib(acc or vllm_versions.accounting(), model.num_layers, enforce_eager)


def size(req: SizingRequest) -> Sizing:
    model, gpu, tp = req.model, req.gpu, req.tensor_parallel_size
    reasons: list[str] = []
    blockers: list[str] = []
    suggestions: list[str] = []
    valid = True
    acc = vllm_versions.accounting(req.vllm_version, source=req.vllm_version_source)
    gmu = req.gpu_memory_utilization
    if gmu is None:
        gmu = vllm_versions.default_gpu_memory_utilization(acc)
    if not 0 < gmu <= 1:
        raise SpcsLlmError(f"gpu_memory_utilization {gmu} must be in (0, 1]")
    if req.kv_cache_dtype not in KV_CACHE_DTYPES:
        raise SpcsLlmError(f"kv_cache_dtype {req.kv_cache_dtype!r} is not valid; allowed: "
                           + ", ".join(KV_CACHE_DTYPES))
    if tp < 1:
        raise SpcsLlmError(f"tensor parallel size {tp} must be at least 1")
    max_len = model.max_position_embeddings if req.max_model_len is None else req.max_model_len
    if max_len < 1:
        raise SpcsLlmError(f"max_model_len {max_len} must be at least 1")
    if max_len > model.max_position_embeddings:
        raise SpcsLlmError(
            f"max_model_len {max_len} exceeds the model's max_position_embeddings "
            f"{model.max_position_embeddings}",
            hint="vLLM refuses a longer context unless rope scaling is configured; "
                 f"use --max-model-len {model.max_position_embeddings} or less")

    if tp not in valid_tp_sizes(model, tp):
        valid = False
        blockers.append(f"TP={tp} is invalid: {model.num_heads} attention heads and {model.num_kv_heads} KV heads "
                       f"must split evenly (valid: {', '.join(map(str, valid_tp_sizes(model, 8)))})")

    dtype, dtype_notes = resolve_dtype(model, gpu, req.dtype)
    reasons += dtype_notes
    quantization = _resolve_quantization(model, gpu, req.quantization, reasons)
    if quantization is False:
        valid, quantization = False, req.quantization or model.checkpoint_quantization
        blockers.append(reasons.pop())

    for name, value in (("max_num_batched_tokens", req.max_num_batched_tokens), ("max_num_seqs", req.max_num_seqs)):
        if value is not None and value < 1:
            raise SpcsLlmError(f"{name} {value} must be at least 1")
    batched, seqs = vllm_versions.scheduler_defaults(acc, gpu.torch_total_gib, gpu.name, max_len)
    batched = req.max_num_batched_tokens or batched
    seqs = req.max_num_seqs or seqs

    weights_total = weight_bytes(model, quantization, dtype)
    active_total = weight_bytes(model, quantization, dtype, active=True)
    weights = weights_total / tp / GIB
    act = activation_gib(model, tp, batched, seqs, dtype, acc)
    non_torch = non_torch_gib(gpu, tp, acc)
    all_graphs = cuda_graph_gib(model, req.enforce_eager, acc)
    graphs, graphs_outside = (all_graphs, 0.0) if acc.graphs_in_budget else (0.0, all_graphs)
    budget = gpu.torch_total_gib * gmu
    kv_budget = budget - weights - act - non_torch - graphs
    reasons.append(acc.describe())
    headroom = gpu.torch_total_gib - budget
    if graphs_outside and graphs_outside > headroom:
        reasons.append(f"CUDA graphs (~{graphs_outside:.1f} GiB) are captured outside the budget in this release, "
                       f"more than the {headroom:.1f} GiB left by gpu_memory_utilization "
                       f"{gmu}: start-up may run out of memory (lower it, or --enforce-eager)")

    kv_element = 1 if req.kv_cache_dtype == "fp8" else DTYPE_BYTES[dtype]
    kv_source = "estimate"
    # the plan records only a load-time method (--quantization) for a configuration: a checkpoint's own
    # quantization is part of the model id
    load_time_method = None if quantization == model.checkpoint_quantization else quantization
    seen = observed.find(req.observations, model_id=model.id, gpu=gpu.name, tensor_parallel_size=tp,
                         gpu_memory_utilization=gmu, quantization=load_time_method)
    if seen:
        kv_budget = observed_kv_gib(model, tp, seen, dtype)
        kv_source = f"observed: {seen.get('source') or 'recorded'}"
        reasons.append(f"KV cache from the {seen['kv_cache_tokens']:,} tokens vLLM logged for this configuration "
                       f"({seen.get('source') or 'recorded'}), not the estimate")
    kv = kv_layout(model, tp, kv_element, kv_budget, max_len, batched)
    fits = valid and kv.fits
    kv_tokens, concurrency, max_fit = kv.tokens, kv.max_concurrency, kv.max_model_len_that_fits

    if quantization == "fp8" and model.checkpoint_quantization != "fp8":
        load_peak = weight_bytes(model, None, dtype) / tp / GIB
        if load_peak > budget:
            fits = False
            blockers.append(f"online fp8 quantization loads the {dtype} weights first ({load_peak:.1f} GiB per GPU), "
                           f"more than the {budget:.1f} GiB budget: use a pre-quantized FP8 checkpoint")

    if kv_budget <= 0 and seen:
        blockers.append("the observed vLLM log reports no KV cache for this configuration")
    elif kv_budget <= 0:
        blockers.append(f"no memory left for the KV cache: weights {weights:.1f} + activations {act:.1f} + "
                       f"non-torch {non_torch:.1f} + CUDA graphs {graphs:.1f} GiB exceed the "
                       f"{budget:.1f} GiB budget ({gmu} x {gpu.torch_total_gib} GiB)")
    elif valid and not kv.fits:
        blockers.append(f"one request of {max_len} tokens needs {kv.needed_gib:.2f} GiB of KV cache, more than the "
                       f"{kv.gib:.2f} GiB available; the largest max_model_len that fits is {max_fit}")
    if fits:
        reasons.append(f"fits: {kv_tokens} KV tokens, {concurrency:.1f} concurrent requests of {max_len} tokens")

    if not fits and valid:
        suggestions += _suggestions(model, gpu, tp, max_len, max_fit, quantization, req.kv_cache_dtype)

    online = quantization in ONLINE_QUANTIZATIONS and quantization != model.checkpoint_quantization
    args = vllm_args(tp, max_len, gmu, dtype if dtype != model.dtype else None,
                     quantization if online else None, req.kv_cache_dtype, req.enforce_eager)
    return Sizing(
        model=model.id, gpu=gpu.name, tensor_parallel_size=tp,
        gpu_memory_utilization=gmu, max_model_len=max_len, dtype=dtype,
        quantization=quantization, kv_cache_dtype=req.kv_cache_dtype, max_num_batched_tokens=batched,
        max_num_seqs=seqs, gpu_total_gib=gpu.torch_total_gib, budget_gib=budget, weights_gib_per_gpu=weights,
        activation_gib=act, non_torch_gib=non_torch, cuda_graph_gib=graphs,
        kv_cache_gib_per_gpu=kv.gib, kv_bytes_per_token=kv.bytes_per_token,
        kv_cache_blocks=kv.blocks, kv_cache_tokens=kv_tokens, max_concurrency=concurrency, fits=fits, valid=valid,
        max_model_len_that_fits=max_fit, weight_bytes=weights_total, active_weight_bytes=active_total,
        vllm_args=args, reasons=reasons + blockers, blockers=blockers, suggestions=suggestions, kv_source=kv_source,
        vllm_version=acc.version, vllm_accounting=acc.kind, cuda_graph_outside_gib=graphs_outside,
        kv_budget_gib=kv_budget,
    )


def observed_kv_gib(model: ModelSpec, tp: int, seen: dict, dtype: str) -> float:
    """The KV memory behind a logged token count (vLLM: tokens = blocks // KV groups x block size),
    in the cache dtype it was logged with; one byte more so the block count floors back exactly."""
    element = 1 if seen.get("kv_cache_dtype") == "fp8" else DTYPE_BYTES[dtype]
    group_size, groups = _kv_groups(model)
    page = kv_bytes_per_token_per_layer(model, tp, element) * BLOCK_SIZE * group_size
    blocks = int(seen["kv_cache_tokens"]) / BLOCK_SIZE * len(groups)
    return (blocks * page + 1) / GIB


@dataclass(frozen=True)
class KvLayout:
    bytes_per_token: int  # per GPU, all of this rank's layers
    blocks: int
    tokens: int  # vLLM's "GPU KV cache size"
    gib: float  # memory the blocks take
    needed_gib: float  # what one request of max_len needs (vLLM's check_enough_kv_cache_memory)
    max_concurrency: float
    fits: bool
    max_model_len_that_fits: int


def kv_layout(model: ModelSpec, tp: int, kv_element_bytes: int, kv_budget_gib: float, max_len: int,
              batched_tokens: int = BATCHED_TOKENS_DEFAULT) -> KvLayout:
    """How vLLM cuts a per-GPU KV budget into blocks, and what one request of max_len needs."""
    per_layer = kv_bytes_per_token_per_layer(model, tp, kv_element_bytes)
    page = per_layer * BLOCK_SIZE
    group_size, groups = _kv_groups(model)
    blocks = max(0, int(kv_budget_gib * GIB // (page * group_size)))
    per_request = _blocks_per_request(model, groups, max_len, batched_tokens)
    needed = page * (model.full_layers * math.ceil(max_len / BLOCK_SIZE)
                     + model.sliding_layers * _sliding_blocks(model, max_len, batched_tokens))
    return KvLayout(
        bytes_per_token=per_layer * model.num_layers,
        blocks=blocks,
        tokens=blocks // len(groups) * BLOCK_SIZE,
        gib=blocks * page * group_size / GIB,
        needed_gib=needed / GIB,
        max_concurrency=blocks / per_request if per_request else 0.0,
        fits=blocks > 0 and per_request <= blocks,
        max_model_len_that_fits=_largest_len(model, groups, blocks, batched_tokens, model.max_position_embeddings),
    )


def _sliding_blocks(model: ModelSpec, max_len: int, batched_tokens: int) -> int:
    tokens = min((model.sliding_window or max_len) - 1 + batched_tokens, max_len)
    return math.ceil(tokens / BLOCK_SIZE) + 1


def _resolve_quantization(model: ModelSpec, gpu: Gpu, requested: str | None, reasons: list[str]):
    """The quantization in effect, or False when this GPU cannot run it."""
    if requested is not None and requested not in QUANT_BITS:
        raise SpcsLlmError(f"quantization {requested!r} is not valid; allowed: {', '.join(QUANTIZATIONS)}")
    method = requested or model.checkpoint_quantization
    if method is None:
        return None
    if method not in QUANT_BITS:
        reasons.append(f"checkpoint quantization {method!r} is sized as 4-bit")
        return method if method in gpu.quantization else False
    support = gpu.quantization.get(method)
    if support is None:
        reasons.append(f"vLLM cannot run {method} on {gpu.name} (compute capability {gpu.compute_capability})")
        return False
    if method == "fp8" and support == "weight_only" and model.is_moe:
        reasons.append(f"FP8 MoE models need compute capability 8.9 or newer; {gpu.name} has "
                       f"{gpu.compute_capability}")
        return False
    if support == "weight_only":
        reasons.append(f"{method} is weight-only on {gpu.name}: the weights shrink, the compute stays 16-bit")
    if requested and requested != model.checkpoint_quantization and requested not in ONLINE_QUANTIZATIONS:
        reasons.append(f"{requested} needs a pre-quantized checkpoint of {model.id} (vLLM does not quantize "
                       f"to {requested} at load time); sized as that checkpoint")
    return method


def _largest_len(model: ModelSpec, groups: list[str], blocks: int, batched: int, upper: int) -> int:
    """Binary search, as vLLM's estimate_max_model_len does."""
    lo, hi = 0, upper
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _blocks_per_request(model, groups, mid, batched) <= blocks:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _suggestions(model: ModelSpec, gpu: Gpu, tp: int, max_len: int, max_fit: int, quantization, kv_dtype) -> list[str]:
    out = []
    if 1024 <= max_fit < max_len:  # never a length at or above the one asked (another blocker is in the way)
        out.append(f"lower --max-model-len to {max_fit} (or less)")
    if kv_dtype != "fp8":
        out.append("halve the KV cache with --kv-cache-dtype fp8")
    if not quantization:
        for method in ("fp8", "awq"):
            if method in gpu.quantization:
                out.append(f"use a {method.upper()} checkpoint (--quantization {method})")
                break
    larger = [t for t in valid_tp_sizes(model, 8) if t > tp]
    if larger:
        out.append(f"use tensor parallelism {larger[0]} (more GPUs per replica)")
    out.append("choose an instance family with more GPU memory")
    return out


def vllm_args(tp: int, max_len: int, gmu: float, dtype: str | None, quantization: str | None,
              kv_cache_dtype: str, enforce_eager: bool = False) -> list[str]:
    """The engine flags that make vLLM run as sized ('--flag=value' form, as create_service requires)."""
    args = [f"--tensor-parallel-size={tp}", f"--max-model-len={max_len}", f"--gpu-memory-utilization={gmu}"]
    if dtype:
        args.append(f"--dtype={'half' if dtype == 'float16' else dtype}")
    if quantization:
        args.append(f"--quantization={quantization}")
    if kv_cache_dtype != "auto":
        args.append(f"--kv-cache-dtype={kv_cache_dtype}")
    if enforce_eager:
        args.append("--enforce-eager")
    return args


def decode_tokens_per_s(gpu: Gpu, tp: int, active_weight_bytes: int, active_params: float,
                        kv_bytes_per_token: int, batch: int, context_tokens: int) -> float:
    """Roofline decode throughput of one replica: each step reads the active weights once and the KV
    cache of every sequence in the batch, and cannot beat the GPUs' dense compute either."""
    batch = max(1, batch)
    bytes_per_step = active_weight_bytes / tp + batch * kv_bytes_per_token * context_tokens
    memory_s = bytes_per_step / (gpu.bandwidth_gb_s * 1e9)
    tflops = gpu.dense_bf16_tflops or gpu.dense_fp16_tflops
    flops_per_step = 2 * active_params * batch / tp  # ~2 FLOPs per parameter per token
    compute_s = flops_per_step / (tflops * 1e12)
    return batch / max(memory_s, compute_s)
