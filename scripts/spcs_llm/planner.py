"""Per instance family: the smallest tensor-parallel size that serves the model with headroom,
how many replicas a node holds, the vLLM flags, a roofline speed and what it costs; ranked, with
a reason for every pick and every rejection."""

from __future__ import annotations

import math
from dataclasses import dataclass

from . import catalog
from .catalog import InstanceFamily
from .models import ModelSpec
from .sizing import DEFAULT_GPU_MEMORY_UTILIZATION, Sizing, SizingRequest, decode_tokens_per_s, size, valid_tp_sizes

# A pick should hold at least this many full-length requests per replica; a tighter fit is
# reported as such (short requests still batch well, but a burst of long ones would queue).
HEADROOM_CONCURRENCY = 2.0
# Average context per sequence assumed by the decode roofline (KV read per step grows with it).
ROOFLINE_CONTEXT_TOKENS = 1024


@dataclass(frozen=True)
class PlanRequest:
    model: ModelSpec
    cloud: str | None = None
    region: str | None = None
    max_model_len: int | None = None
    concurrency: int = 1
    quantization: str | None = None
    kv_cache_dtype: str = "auto"
    gpu_memory_utilization: float = DEFAULT_GPU_MEMORY_UTILIZATION
    # GPU families the account reports (SHOW COMPUTE POOL INSTANCE FAMILIES, recorded by `pools`):
    # when given they replace the catalog's facts, and families the account does not offer are dropped
    live_families: tuple[dict, ...] = ()
    # KV caches vLLM logged for this plan (plan file observed.kv_cache): truth for their configuration
    observations: tuple[dict, ...] = ()
    vllm_version: str | None = None  # the release whose memory accounting sizes the plan (None: the image pin)


def tp_options(model: ModelSpec, gpu_count: int) -> list[int]:
    """TP sizes that vLLM accepts and that split a node's GPUs into whole replicas."""
    return [tp for tp in valid_tp_sizes(model, gpu_count) if gpu_count % tp == 0]


def _size(req: PlanRequest, family: InstanceFamily, tp: int) -> Sizing:
    return size(SizingRequest(
        model=req.model, gpu=catalog.gpu(family.gpu), tensor_parallel_size=tp,
        gpu_memory_utilization=req.gpu_memory_utilization, max_model_len=req.max_model_len,
        quantization=req.quantization, kv_cache_dtype=req.kv_cache_dtype, observations=req.observations,
        vllm_version=req.vllm_version,
    ))


def candidate(req: PlanRequest, family: InstanceFamily) -> dict:
    """Size every valid TP on this family and pick one (or say why none works)."""
    gpu = catalog.gpu(family.gpu)
    options = [_size(req, family, tp) for tp in tp_options(req.model, family.gpu_count)]
    fitting = [s for s in options if s.fits]
    roomy = [s for s in fitting if s.max_concurrency >= HEADROOM_CONCURRENCY]
    # nothing fits: report the largest TP, the closest this family gets
    pick = (roomy or fitting or options[-1:] or [None])[0]
    out = {
        "instance_family": family.name,
        "cloud": family.cloud,
        "gpu": gpu.name,
        "gpu_count": family.gpu_count,
        "gpu_memory_gib": family.gpu_memory_gib,
        "node_vcpu": family.vcpu,
        "node_memory_gib": family.memory_gib,
        "credits_per_hour": family.credits_per_hour,
        "availability": "on request" if family.node_limit is None else f"up to {family.node_limit} nodes",
        "china": family.china,
        "fits": bool(fitting),
        "options": [_option(s) for s in options],
    }
    if pick is None:
        out.update(tensor_parallel_size=None, replicas_per_node=0, credits_per_hour_for_concurrency=None, reason=(
            f"no valid TP: {req.model.num_heads} heads / {req.model.num_kv_heads} KV heads do not split over "
            f"{family.gpu_count} GPUs"))
        return out
    replicas = family.gpu_count // pick.tensor_parallel_size
    per_replica_batch = max(1, min(math.ceil(req.concurrency / replicas), int(pick.max_concurrency) or 1))
    context = min(pick.max_model_len, ROOFLINE_CONTEXT_TOKENS)
    replica_tps = decode_tokens_per_s(gpu, pick.tensor_parallel_size, pick.active_weight_bytes,
                                      req.model.active_b * 1e9, pick.kv_bytes_per_token, per_replica_batch, context)
    single_tps = decode_tokens_per_s(gpu, pick.tensor_parallel_size, pick.active_weight_bytes,
                                     req.model.active_b * 1e9, pick.kv_bytes_per_token, 1, context)
    node_tps = replica_tps * replicas if pick.fits else 0.0
    node_concurrency = pick.max_concurrency * replicas
    nodes = math.ceil(req.concurrency / node_concurrency) if pick.fits and node_concurrency else None
    out.update(
        tensor_parallel_size=pick.tensor_parallel_size,
        replicas_per_node=replicas,
        max_model_len=pick.max_model_len,
        max_model_len_that_fits=pick.max_model_len_that_fits,
        max_concurrency_per_replica=round(pick.max_concurrency, 2),
        node_max_concurrency=round(node_concurrency, 2),
        nodes_for_concurrency=nodes,
        credits_per_hour_for_concurrency=round(nodes * family.credits_per_hour, 3) if nodes else None,
        weights_gib_per_gpu=round(pick.weights_gib_per_gpu, 2),
        kv_cache_tokens=pick.kv_cache_tokens,
        dtype=pick.dtype,
        quantization=pick.quantization,
        est_decode_tokens_per_s=round(node_tps, 1),
        est_decode_tokens_per_s_single_stream=round(single_tps, 1) if pick.fits else 0.0,
        roofline_batch_per_replica=per_replica_batch,
        credits_per_million_output_tokens=(round(family.credits_per_hour / (node_tps * 3600) * 1e6, 3)
                                           if node_tps else None),
        vllm_args=pick.vllm_args,
        reason=_reason(req, family, pick, options, replicas, node_concurrency),
    )
    return out


def _option(s: Sizing) -> dict:
    return {"tensor_parallel_size": s.tensor_parallel_size, "fits": s.fits, "valid": s.valid,
            "max_concurrency": round(s.max_concurrency, 2), "kv_cache_tokens": s.kv_cache_tokens,
            "weights_gib_per_gpu": round(s.weights_gib_per_gpu, 2), "max_model_len": s.max_model_len,
            "max_model_len_that_fits": s.max_model_len_that_fits, "vllm_args": s.vllm_args,
            "reasons": s.reasons, "suggestions": s.suggestions, "kv_source": s.kv_source}


def _reason(req: PlanRequest, family: InstanceFamily, pick: Sizing, options: list[Sizing], replicas: int,
            node_concurrency: float) -> str:
    tp = pick.tensor_parallel_size
    if not pick.fits:
        why = pick.blockers[0] if pick.blockers else "it does not fit"
        return f"rejected: even at TP={tp}, {why}"
    smaller = [s for s in options if s.tensor_parallel_size < tp]
    parts = [f"TP={tp} x {replicas} replica(s) per node, {pick.max_concurrency:.1f} full-length "
             f"({pick.max_model_len}-token) requests per replica"]
    if smaller:
        parts.append(f"TP={smaller[-1].tensor_parallel_size} "
                     + ("is too tight" if smaller[-1].fits else "does not fit"))
    if pick.max_concurrency < HEADROOM_CONCURRENCY:
        parts.append("tight: fewer than 2 full-length requests per replica")
    if req.concurrency > node_concurrency:
        parts.append(f"{req.concurrency} concurrent requests need {math.ceil(req.concurrency / node_concurrency)} "
                     "nodes or instances")
    if family.node_limit is None:
        parts.append("available on request only")
    if family.china == "unverified" and catalog.is_china(req.region):
        parts.append("China availability and GPU model unverified: check SHOW COMPUTE POOL INSTANCE FAMILIES "
                     "(spcs-llm pools)")
    return "; ".join(parts)


def rank(candidates: list[dict]) -> list[dict]:
    """Fitting first; then generally available before on-request; then the cheapest way to serve
    the requested concurrency (nodes needed x credits per hour); then the cheapest per token."""
    def key(c: dict):
        return (not c["fits"], c["availability"] == "on request",
                c["credits_per_hour_for_concurrency"] if c["fits"] else math.inf,
                c.get("credits_per_million_output_tokens") or math.inf, c["credits_per_hour"])

    ordered = sorted(candidates, key=key)
    for i, c in enumerate(ordered, 1):
        c["rank"] = i
    return ordered


def plan(req: PlanRequest) -> list[dict]:
    if req.live_families:  # the account's own list is the truth for its region
        families = _as_offered(catalog.families_for(cloud=req.cloud, gpu_only=True), req.live_families)
    else:
        families = catalog.families_for(cloud=req.cloud, region=req.region, gpu_only=True)
    out = [candidate(req, f) for f in families]
    for c in out:
        c["source"] = "live" if req.live_families else "catalog"
    return rank(out)


def _as_offered(families: list[InstanceFamily], live_families: tuple[dict, ...]) -> list[InstanceFamily]:
    """The catalog families the account offers, with the account's GPU facts (credit rates stay the catalog's)."""
    live = {str(f.get("name", "")).upper(): f for f in live_families}
    offered = []
    for fam in families:
        if fam.name in live:
            updated = catalog.with_live_facts(fam, live[fam.name])
            if updated is not None and updated.gpu_count:
                offered.append(updated)
    return offered


def alternatives(req: PlanRequest, candidates: list[dict]) -> list[str]:
    """When no family fits: the changes that would make one fit, most specific first."""
    out = []
    best_len = max(((o["max_model_len_that_fits"], c["instance_family"], o["tensor_parallel_size"])
                    for c in candidates for o in c["options"] if o["valid"]), default=None)
    if best_len and best_len[0] >= 1024:
        length, family, tp = best_len
        out.append(f"lower --max-model-len to {length}: fits {family} at TP={tp}")
    if req.kv_cache_dtype != "fp8":
        out.append("halve the KV cache with --kv-cache-dtype fp8")
    if not req.quantization and not req.model.checkpoint_quantization:
        entry = catalog.model_entry(req.model.id) or {}
        variants = entry.get("quantized_variants") or []
        named = f" (e.g. {', '.join(variants)})" if variants else ""
        out.append(f"use a quantized checkpoint{named}: rerun with --quantization awq, gptq or fp8")
    if req.cloud or req.region:
        out.append("look at other regions or clouds (drop --region / --cloud), or families available on request")
    return out
