"""vLLM's GPU memory model, as pure functions: what one replica of a model needs per GPU.

Follows vLLM V1 (see docs/sizing.md and ../shared/reference/llm_sizing.md §1, §6):

    budget   = torch-visible total memory x gpu_memory_utilization
    kv       = budget - weights - peak activations - non-torch memory - CUDA graphs
    blocks   = kv // (page bytes per layer x layers per KV group)     (16-token pages)
    fits     = the blocks one request of max_model_len needs <= blocks

Weights, KV layout (GQA, KV-head replication when TP > KV heads, explicit head_dim, sliding
window and hybrid layers, MLA) and the fit check follow vLLM's code; activations, non-torch and
CUDA-graph memory are estimates calibrated on published logs and kept deliberately conservative.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from . import observed
from .catalog import Gpu
from .errors import SpcsLlmError
from .models import SLIDING, ModelSpec

GIB = 2**30
BLOCK_SIZE = 16  # vLLM's KV block size on CUDA
DEFAULT_GPU_MEMORY_UTILIZATION = 0.90  # vLLM CacheConfig default (newer releases quote 0.92)

# Scheduler defaults of the OpenAI server (`vllm serve`), EngineArgs.get_batch_defaults: large
# GPUs (>= 70 GiB, except A100, where a large value lowers throughput) get bigger batches.
LARGE_GPU_GIB = 70
BATCHED_TOKENS_LARGE, BATCHED_TOKENS_DEFAULT = 8192, 2048
MAX_NUM_SEQS_LARGE, MAX_NUM_SEQS_DEFAULT = 1024, 256

# Non-torch memory (NCCL, custom all-reduce, cuBLAS workspaces). Measured 0.05-1.79 GiB at TP=1
# and 3.58 GiB at TP=2 on the same 80 GB GPU (vLLM PR #10511): conservative constants per size.
NON_TORCH_GIB_SMALL_GPU, NON_TORCH_GIB_LARGE_GPU = 1.0, 1.8
NON_TORCH_TP_FACTOR = 2.0  # TP > 1 adds NCCL buffers and custom all-reduce
# CUDA graphs: 1-3 GiB per GPU (vLLM V0 warning); 2.46 GiB measured for a 60-layer 34B at TP=4
# (vLLM issue #7553). Since v0.21 vLLM profiles them inside the budget, so they reduce the KV cache.
CUDA_GRAPH_BASE_GIB, CUDA_GRAPH_PER_LAYER_GIB, CUDA_GRAPH_MAX_GIB = 0.5, 0.03, 3.0
LOGIT_COPIES = 2  # float32 logits plus one working copy in the sampler warm-up

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
    gpu_memory_utilization: float = DEFAULT_GPU_MEMORY_UTILIZATION
    max_model_len: int | None = None  # None: the model's max_position_embeddings (vLLM's default)
    dtype: str = "auto"
    quantization: str | None = None
    kv_cache_dtype: str = "auto"
    max_num_batched_tokens: int | None = None
    max_num_seqs: int | None = None
    enforce_eager: bool = False
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
        quantized = model.num_layers * experts * 3 * model.hidden_size * ffn
    else:
        quantized = total - model.embedding_params_b * 1e9
    quantized = max(0.0, min(quantized, total))
    return int(quantized * bits / 8 + (total - quantized) * element)


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


def batch_defaults(gpu: Gpu) -> tuple[int, int]:
    large = gpu.torch_total_gib >= LARGE_GPU_GIB and "a100" not in gpu.name.lower()
    if large:
        return BATCHED_TOKENS_LARGE, MAX_NUM_SEQS_LARGE
    return BATCHED_TOKENS_DEFAULT, MAX_NUM_SEQS_DEFAULT


def activation_gib(model: ModelSpec, tp: int, batched_tokens: int, max_seqs: int, dtype: str) -> float:
    """Peak of vLLM's profile run: one forward pass of max_num_batched_tokens plus sampler logits."""
    if model.is_moe:
        ffn = model.experts_per_token * (model.moe_intermediate_size or model.intermediate_size)
    else:
        ffn = model.intermediate_size
    per_token = (3 * ffn / tp + 4 * model.hidden_size) * DTYPE_BYTES[dtype]
    logits = LOGIT_COPIES * min(max_seqs, batched_tokens) * model.vocab_size * 4
    return (batched_tokens * per_token + logits) / GIB


def non_torch_gib(gpu: Gpu, tp: int) -> float:
    base = NON_TORCH_GIB_LARGE_GPU if gpu.torch_total_gib >= 40 else NON_TORCH_GIB_SMALL_GPU
    return base * (NON_TORCH_TP_FACTOR if tp > 1 else 1.0)


def cuda_graph_gib(model: ModelSpec, enforce_eager: bool) -> float:
    if enforce_eager:
        return 0.0
    return min(CUDA_GRAPH_MAX_GIB, CUDA_GRAPH_BASE_GIB + CUDA_GRAPH_PER_LAYER_GIB * model.num_layers)


def size(req: SizingRequest) -> Sizing:
    model, gpu, tp = req.model, req.gpu, req.tensor_parallel_size
    reasons: list[str] = []
    blockers: list[str] = []
    suggestions: list[str] = []
    valid = True
    if not 0 < req.gpu_memory_utilization <= 1:
        raise SpcsLlmError(f"gpu_memory_utilization {req.gpu_memory_utilization} must be in (0, 1]")
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
    batched, seqs = batch_defaults(gpu)
    batched = req.max_num_batched_tokens or batched
    seqs = req.max_num_seqs or seqs

    weights_total = weight_bytes(model, quantization, dtype)
    active_total = weight_bytes(model, quantization, dtype, active=True)
    weights = weights_total / tp / GIB
    act = activation_gib(model, tp, batched, seqs, dtype)
    non_torch = non_torch_gib(gpu, tp)
    graphs = cuda_graph_gib(model, req.enforce_eager)
    budget = gpu.torch_total_gib * req.gpu_memory_utilization
    kv_budget = budget - weights - act - non_torch - graphs

    kv_element = 1 if req.kv_cache_dtype == "fp8" else DTYPE_BYTES[dtype]
    kv_source = "estimate"
    seen = observed.find(req.observations, model_id=model.id, gpu=gpu.name, tensor_parallel_size=tp,
                         gpu_memory_utilization=req.gpu_memory_utilization, quantization=quantization)
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
                       f"{budget:.1f} GiB budget ({req.gpu_memory_utilization} x {gpu.torch_total_gib} GiB)")
    elif valid and not kv.fits:
        blockers.append(f"one request of {max_len} tokens needs {kv.needed_gib:.2f} GiB of KV cache, more than the "
                       f"{kv.gib:.2f} GiB available; the largest max_model_len that fits is {max_fit}")
    if fits:
        reasons.append(f"fits: {kv_tokens} KV tokens, {concurrency:.1f} concurrent requests of {max_len} tokens")

    if not fits and valid:
        suggestions += _suggestions(model, gpu, tp, max_len, max_fit, quantization, req.kv_cache_dtype)

    online = quantization in ONLINE_QUANTIZATIONS and quantization != model.checkpoint_quantization
    args = vllm_args(tp, max_len, req.gpu_memory_utilization, dtype if dtype != model.dtype else None,
                     quantization if online else None, req.kv_cache_dtype, req.enforce_eager)
    return Sizing(
        model=model.id, gpu=gpu.name, tensor_parallel_size=tp,
        gpu_memory_utilization=req.gpu_memory_utilization, max_model_len=max_len, dtype=dtype,
        quantization=quantization, kv_cache_dtype=req.kv_cache_dtype, max_num_batched_tokens=batched,
        max_num_seqs=seqs, gpu_total_gib=gpu.torch_total_gib, budget_gib=budget, weights_gib_per_gpu=weights,
        activation_gib=act, non_torch_gib=non_torch, cuda_graph_gib=graphs,
        kv_cache_gib_per_gpu=kv.gib, kv_bytes_per_token=kv.bytes_per_token,
        kv_cache_blocks=kv.blocks, kv_cache_tokens=kv_tokens, max_concurrency=concurrency, fits=fits, valid=valid,
        max_model_len_that_fits=max_fit, weight_bytes=weights_total, active_weight_bytes=active_total,
        vllm_args=args, reasons=reasons + blockers, blockers=blockers, suggestions=suggestions, kv_source=kv_source,
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
    if max_fit >= 1024:
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
