"""Per instance family: every layout that serves the request (checkpoint, tensor-parallel size,
instances per node, nodes), what that layout costs and delivers, and the one the user's priority
picks; families ranked by the same priority, with a reason for every pick and every rejection.

A layout always fills the nodes it bills: replicas per node = GPUs per node / TP, and the
instances deployed are nodes x replicas per node. Its figures are for that deployed layout:
credits per hour of the billed nodes, total decode throughput at the user's concurrency (the
roofline at the batch each instance's KV cache can hold), one request's decode speed, and
credits per 1M output tokens.

Checkpoints: the model asked for, plus its published pre-quantized checkpoints from the catalog
(`base_model` entries), which are offered whenever the asked model does not fit a family and
always under the `cheapest` priority.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from . import catalog
from .catalog import InstanceFamily
from .models import ModelSpec, group_split_ok, spec_for_catalog_id
from .sizing import (
    DEFAULT_GPU_MEMORY_UTILIZATION,
    ONLINE_QUANTIZATIONS,
    Sizing,
    SizingRequest,
    decode_tokens_per_s,
    size,
    valid_tp_sizes,
)

PRIORITIES = ("cheapest", "fastest", "balanced")
DEFAULT_PRIORITY = "balanced"
# Average context per sequence assumed by the decode roofline (KV read per step grows with it).
ROOFLINE_CONTEXT_TOKENS = 1024
# A same-cost layout holding at least this many times the pick's full-length requests is named in
# the reason, so that a tight pick is never silent about the roomier layout the bill already pays for.
ROOMIER_FACTOR = 2.0


@dataclass(frozen=True)
class PlanRequest:
    model: ModelSpec
    cloud: str | None = None
    region: str | None = None
    max_model_len: int | None = None
    concurrency: int = 1  # the stated minimum: full-length requests the layout must hold at once
    quantization: str | None = None
    kv_cache_dtype: str = "auto"
    gpu_memory_utilization: float = DEFAULT_GPU_MEMORY_UTILIZATION
    # GPU families the account reports (SHOW COMPUTE POOL INSTANCE FAMILIES, recorded by `pools`):
    # when given they replace the catalog's facts, and families the account does not offer are dropped
    live_families: tuple[dict, ...] = ()
    # KV caches vLLM logged for this plan (plan file observed.kv_cache): truth for their configuration
    observations: tuple[dict, ...] = ()
    vllm_version: str | None = None  # the release whose memory accounting sizes the plan (None: the image pin)
    priority: str = DEFAULT_PRIORITY
    # offer the catalog's pre-quantized checkpoints of the model (the `models` shortlist sizes each
    # catalog entry on its own and turns this off)
    offer_checkpoints: bool = True


@dataclass(frozen=True)
class Checkpoint:
    """One set of weights the planner sizes."""
    model: ModelSpec
    quantization: str | None  # what sizing is asked for (a pre-quantized checkpoint: its own method)
    substitute: bool  # a checkpoint the user did not ask for, offered by the planner
    needs_checkpoint: bool  # sized as a method vLLM cannot apply at load time, with no known checkpoint


def checkpoints(req: PlanRequest) -> list[Checkpoint]:
    """The asked model and its known pre-quantized checkpoints; `--quantization q` narrows to method q."""
    asked, q = req.model, req.quantization
    variants = []
    if req.offer_checkpoints and asked.source == "catalog":
        variants = [spec for spec in (spec_for_catalog_id(e["id"]) for e in catalog.variants_of(asked.id)) if spec]
    if q is None or q == asked.checkpoint_quantization:
        return [Checkpoint(asked, q, False, False)] + [Checkpoint(v, None, True, False) for v in variants]
    matching = [v for v in variants if v.checkpoint_quantization == q]
    out = []
    if q in ONLINE_QUANTIZATIONS or not matching:
        out.append(Checkpoint(asked, q, False, needs_checkpoint=q not in ONLINE_QUANTIZATIONS and not matching))
    return out + [Checkpoint(v, None, False, False) for v in matching]


def tp_options(model: ModelSpec, gpu_count: int) -> list[int]:
    """TP sizes that vLLM accepts, that split a node's GPUs into whole replicas and keep quantization
    groups whole."""
    return [tp for tp in valid_tp_sizes(model, gpu_count) if gpu_count % tp == 0 and group_split_ok(model, tp)]


def _size(req: PlanRequest, ck: Checkpoint, family: InstanceFamily, tp: int) -> Sizing:
    return size(SizingRequest(
        model=ck.model, gpu=catalog.gpu(family.gpu), tensor_parallel_size=tp,
        gpu_memory_utilization=req.gpu_memory_utilization, max_model_len=req.max_model_len,
        quantization=ck.quantization, kv_cache_dtype=req.kv_cache_dtype, observations=req.observations,
        vllm_version=req.vllm_version,
    ))


def candidate(req: PlanRequest, family: InstanceFamily, cks: list[Checkpoint] | None = None) -> dict:
    """Size every checkpoint at every valid TP on this family and pick the layout the priority prefers."""
    cks = cks if cks is not None else checkpoints(req)
    options = [_option(req, family, ck, _size(req, ck, family, tp))
               for ck in cks for tp in tp_options(ck.model, family.gpu_count)]
    out = {
        "instance_family": family.name,
        "cloud": family.cloud,
        "gpu": family.gpu,
        "gpu_count": family.gpu_count,
        "gpu_memory_gib": family.gpu_memory_gib,
        "node_vcpu": family.vcpu,
        "node_memory_gib": family.memory_gib,
        "credits_per_hour": family.credits_per_hour,
        "node_limit": family.node_limit,
        "availability": "on request" if family.node_limit is None else f"up to {family.node_limit} nodes",
        "china": family.china,
        "priority": req.priority,
        "options": options,
    }
    pick, serves = pick_option(req, options)
    if pick is None:
        out.update(fits=False, tensor_parallel_size=None, replicas_per_node=0, model_id=req.model.id,
                   credits_per_hour_for_concurrency=None, reason=(
                       f"no valid TP: {req.model.num_heads} heads / {req.model.num_kv_heads} KV heads do not split "
                       f"over {family.gpu_count} GPUs"))
        return out
    out.update({key: pick[key] for key in _LAYOUT_KEYS})
    out.update(fits=serves, credits_per_hour_for_concurrency=pick["credits_per_hour_for_layout"],
               roofline_batch_per_replica=pick["roofline_batch_per_instance"])  # the name `endpoint bench` reads
    out["reason"] = _reason(req, family, pick, options, serves)
    return out


# The pick's fields copied to the candidate (the layout it recommends and what it costs).
_LAYOUT_KEYS = (
    "model_id", "checkpoint_quantization", "substitute", "needs_checkpoint", "tensor_parallel_size",
    "replicas_per_node", "instances", "nodes", "within_node_limit", "credits_per_hour_for_layout",
    "est_decode_tokens_per_s", "est_decode_tokens_per_s_single_stream", "credits_per_million_output_tokens",
    "roofline_batch_per_instance", "max_model_len", "max_model_len_that_fits", "max_concurrency_per_replica",
    "layout_max_concurrency", "weights_gib_per_gpu", "kv_cache_tokens", "dtype", "quantization", "vllm_args",
)


def pick_option(req: PlanRequest, options: list[dict]) -> tuple[dict | None, bool]:
    """The layout the priority prefers among those that serve the request; else the closest one.
    Returns (option, serves)."""
    serving = [o for o in options if o["fits"] and o["within_node_limit"]]
    if req.priority != "cheapest" and any(not o["substitute"] for o in serving):
        serving = [o for o in serving if not o["substitute"]]  # the asked weights first, unless cheapest
    if serving:
        return min(serving, key=lambda o: _layout_key(o, req.priority)), True
    fitting = [o for o in options if o["fits"]]
    if fitting:  # fits, but more nodes than the family allows
        return min(fitting, key=lambda o: (o["nodes"], o["substitute"])), False
    asked = [o for o in options if not o["substitute"]] or options
    return (asked[-1] if asked else None), False  # the largest TP of the asked weights: the closest to fitting


def _layout_key(o: dict, priority: str) -> tuple:
    cost, cpm = o["credits_per_hour_for_layout"], o["credits_per_million_output_tokens"] or math.inf
    if priority == "cheapest":
        return (cost, o["substitute"], o["tensor_parallel_size"], cpm)
    if priority == "fastest":
        return (o["substitute"], -o["est_decode_tokens_per_s_single_stream"], cost, o["tensor_parallel_size"])
    # balanced: the fewest billed nodes, then the smallest TP that holds the stated concurrency, the
    # other GPUs becoming replicas (data parallelism adds no all-reduce per token, which the roofline
    # does not count), then the cost per token
    return (o["substitute"], cost, o["tensor_parallel_size"], cpm)


def _option(req: PlanRequest, family: InstanceFamily, ck: Checkpoint, s: Sizing) -> dict:
    out = {"model_id": ck.model.id, "checkpoint_quantization": ck.model.checkpoint_quantization,
           "substitute": ck.substitute, "needs_checkpoint": ck.needs_checkpoint,
           "tensor_parallel_size": s.tensor_parallel_size, "fits": s.fits, "valid": s.valid,
           "max_concurrency": round(s.max_concurrency, 2), "max_concurrency_per_replica": round(s.max_concurrency, 2),
           "kv_cache_tokens": s.kv_cache_tokens, "weights_gib_per_gpu": round(s.weights_gib_per_gpu, 2),
           "weights_leave_no_kv_cache": s.kv_cache_blocks == 0, "max_model_len": s.max_model_len,
           "max_model_len_that_fits": s.max_model_len_that_fits, "dtype": s.dtype, "quantization": s.quantization,
           "vllm_args": s.vllm_args, "reasons": s.reasons, "blockers": s.blockers,
           "suggestions": _useful_suggestions(s), "kv_source": s.kv_source}
    out.update(_layout(req, family, ck.model, s))
    return out


def _useful_suggestions(s: Sizing) -> list[str]:
    """Sizing's hints, minus those that lead nowhere: a context length not below the one asked, and
    KV-cache hints when the weights alone leave no KV cache."""
    out = []
    for hint in s.suggestions:
        if hint.startswith("lower --max-model-len"):
            length = int("".join(ch for ch in hint.split(" to ", 1)[-1].split()[0] if ch.isdigit()) or 0)
            if s.kv_cache_blocks == 0 or length >= s.max_model_len or len(s.blockers) > 1:
                continue
        if "--kv-cache-dtype" in hint and s.kv_cache_blocks == 0:
            continue
        out.append(hint)
    return out


def _layout(req: PlanRequest, family: InstanceFamily, model: ModelSpec, s: Sizing) -> dict:
    """The deployed layout of one sizing on this family: nodes filled with replicas, and its figures."""
    tp = s.tensor_parallel_size
    replicas = family.gpu_count // tp
    empty = {"replicas_per_node": replicas, "instances": None, "nodes": None, "within_node_limit": False,
             "credits_per_hour_for_layout": None, "est_decode_tokens_per_s": 0.0,
             "est_decode_tokens_per_s_single_stream": 0.0, "credits_per_million_output_tokens": None,
             "roofline_batch_per_instance": None, "layout_max_concurrency": 0.0}
    if not s.fits or s.max_concurrency <= 0:
        return empty
    per_instance = s.max_concurrency
    nodes = math.ceil(math.ceil(req.concurrency / per_instance) / replicas)
    instances = nodes * replicas
    kv_batch = max(1, math.floor(per_instance))  # full-length requests one instance's KV cache holds
    busy = min(instances, req.concurrency)
    batch = min(math.ceil(req.concurrency / busy), kv_batch)
    gpu = catalog.gpu(family.gpu)
    context = min(s.max_model_len, ROOFLINE_CONTEXT_TOKENS)

    def speed(b: int) -> float:
        return decode_tokens_per_s(gpu, tp, s.active_weight_bytes, model.active_b * 1e9, s.kv_bytes_per_token,
                                   b, context)

    total = busy * speed(batch)
    cost = nodes * family.credits_per_hour
    return {"replicas_per_node": replicas, "instances": instances, "nodes": nodes,
            "within_node_limit": family.node_limit is None or nodes <= family.node_limit,
            "credits_per_hour_for_layout": round(cost, 3), "est_decode_tokens_per_s": round(total, 1),
            "est_decode_tokens_per_s_single_stream": round(speed(1), 1),
            "credits_per_million_output_tokens": round(cost / (total * 3600) * 1e6, 3) if total else None,
            "roofline_batch_per_instance": batch, "layout_max_concurrency": round(per_instance * instances, 2)}


def _reason(req: PlanRequest, family: InstanceFamily, pick: dict, options: list[dict], serves: bool) -> str:
    tp = pick["tensor_parallel_size"]
    if not pick["fits"]:
        why = pick["blockers"][0] if pick["blockers"] else "it does not fit"
        return f"rejected: even at TP={tp}, {why}"
    layout = (f"TP={tp} x {pick['replicas_per_node']} instance(s) per node, {pick['nodes']} node(s) = "
              f"{pick['instances']} instance(s)")
    if not serves:
        return (f"rejected: {req.concurrency} concurrent {pick['max_model_len']}-token requests need {layout}, "
                f"more than the {family.node_limit} nodes this family offers")
    parts = [f"{layout}, {pick['layout_max_concurrency']:g} full-length ({pick['max_model_len']}-token) requests "
             f"at once, {pick['credits_per_hour_for_layout']:g} credits/h"]
    if pick["substitute"]:
        why = ("cheapest" if req.priority == "cheapest" and any(o["fits"] and not o["substitute"] for o in options)
               else f"{req.model.id} does not fit here")
        parts.append(f"serves the pre-quantized checkpoint {pick['model_id']} "
                     f"({pick['checkpoint_quantization']}): {why}")
    if pick["needs_checkpoint"]:
        parts.append(f"sized as {req.quantization} weights, but no pre-quantized {req.quantization} checkpoint "
                     f"of {req.model.id} is known: select and deploy refuse it until --model names one")
    roomier = [o for o in options if o["fits"] and o["within_node_limit"] and o is not pick
               and o["substitute"] == pick["substitute"] and o["model_id"] == pick["model_id"]
               and o["credits_per_hour_for_layout"] == pick["credits_per_hour_for_layout"]
               and o["layout_max_concurrency"] >= ROOMIER_FACTOR * pick["layout_max_concurrency"]]
    if roomier:
        best = max(roomier, key=lambda o: o["layout_max_concurrency"])
        parts.append(f"TP={best['tensor_parallel_size']} x {best['replicas_per_node']} holds "
                     f"{best['layout_max_concurrency']:g} at the same cost (select --tp "
                     f"{best['tensor_parallel_size']})")
    if family.node_limit is None:
        parts.append("available on request only")
    if family.china == "unverified" and catalog.is_china(req.region):
        parts.append("China availability and GPU model unverified: check SHOW COMPUTE POOL INSTANCE FAMILIES "
                     "(spcs-llm pools)")
    return "; ".join(parts)


def rank(candidates: list[dict], priority: str = DEFAULT_PRIORITY) -> list[dict]:
    """Serving families first; then generally available before on-request; then by the priority:
    cheapest = credits per hour of the layout, fastest = one request's decode speed, balanced =
    credits per 1M output tokens at the requested concurrency. Checkpoints the user did not ask for
    come after the asked weights, except under cheapest."""
    def key(c: dict):
        if not c["fits"]:
            return (True, False, (math.inf,))
        cost = c["credits_per_hour_for_layout"]
        cpm = c.get("credits_per_million_output_tokens") or math.inf
        if priority == "cheapest":
            metric = (cost, c["substitute"], cpm)
        elif priority == "fastest":
            metric = (c["substitute"], -c["est_decode_tokens_per_s_single_stream"], cost)
        else:
            metric = (c["substitute"], cpm, cost)
        return (False, c["availability"] == "on request", metric)

    ordered = sorted(candidates, key=key)
    for i, c in enumerate(ordered, 1):
        c["rank"] = i
    return ordered


def plan(req: PlanRequest) -> list[dict]:
    if req.priority not in PRIORITIES:
        from .errors import SpcsLlmError

        raise SpcsLlmError(f"priority {req.priority!r} is not valid; allowed: {', '.join(PRIORITIES)}")
    cks = checkpoints(req)
    out = [candidate(req, f, cks) for f in _families(req)]
    for c in out:
        c["source"] = "live" if req.live_families else "catalog"
    return rank(out, req.priority)


def _families(req: PlanRequest) -> list[InstanceFamily]:
    if req.live_families:  # the account's own list is the truth for its region
        offered = _as_offered(catalog.families_for(cloud=req.cloud, gpu_only=True), req.live_families)
        # a China account listing the family settles its availability there (no "unverified" caveat)
        return [replace(f, china="yes") for f in offered] if catalog.is_china(req.region) else offered
    return catalog.families_for(cloud=req.cloud, region=req.region, gpu_only=True)


def cheapest_fit(req: PlanRequest) -> tuple[dict | None, dict | None]:
    """(the cheapest family that serves one request, the first family sized): families are sized in
    order of availability and credits per hour, stopping at the first that serves. For one request a
    serving layout bills one node, so this is the `cheapest` ranking's first family (the `models`
    shortlist sizes every catalog entry this way, at a fraction of a full ranking's cost)."""
    cks = checkpoints(req)
    first = None
    for fam in sorted(_families(req), key=lambda f: (f.node_limit is None, f.credits_per_hour)):
        c = candidate(req, fam, cks)
        first = first or c
        if c["fits"]:
            return c, first
    return None, first


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
    """When no family serves the request: changes that would make one serve it. Every length named is
    below the one asked and comes from a layout that nothing else blocks; when the weights alone
    leave no KV cache anywhere, checkpoints and more GPU memory lead, not KV-cache options."""
    out: list[str] = []
    options = [(c, o) for c in candidates for o in c["options"] if o["valid"]]
    over_limit = [c for c in candidates if not c["fits"] and c.get("within_node_limit") is False
                  and c.get("nodes")]
    for c in over_limit[:2]:
        most = int(c["node_limit"] * c["replicas_per_node"] * c["max_concurrency_per_replica"])
        if most >= 1:
            out.append(f"lower --concurrency to {most}: {c['instance_family']} holds that many on its "
                       f"{c['node_limit']} nodes")
    weights_overflow = bool(options) and all(o["weights_leave_no_kv_cache"] for _, o in options)
    known = [e["id"] for e in catalog.variants_of(req.model.id)] if req.offer_checkpoints else []
    tried = {o["model_id"] for c in candidates for o in c["options"]}  # sized, whether valid here or not
    checkpoint_hint = None
    if not req.model.checkpoint_quantization:
        untried = [k for k in known if k not in tried]
        if untried:
            checkpoint_hint = f"a pre-quantized checkpoint: rerun with --model {untried[0]}"
        elif not known:
            checkpoint_hint = ("a pre-quantized checkpoint (none is in the catalog for this model): rerun with "
                               "--model <its Hugging Face repo>, e.g. an AWQ, GPTQ or FP8 upload of it")
    larger = "more GPU memory per replica: a family with more or larger GPUs"
    if req.cloud or req.region:
        larger += " in another region or cloud (drop --region / --cloud)"
    larger += ", or families available on request"
    if weights_overflow:
        return out + [h for h in (checkpoint_hint, larger) if h]
    lengths = [(o["max_model_len_that_fits"], c["instance_family"], o["tensor_parallel_size"], o["model_id"])
               for c, o in options if _only_too_long(o)]
    if lengths:
        length, family, tp, model_id = max(lengths)
        which = "" if model_id == req.model.id else f" with {model_id}"
        out.append(f"lower --max-model-len to {length}: fits {family} at TP={tp}{which}")
    if req.kv_cache_dtype != "fp8" and any(not o["weights_leave_no_kv_cache"] and len(o["blockers"]) == 1
                                           for _, o in options):
        out.append("halve the KV cache with --kv-cache-dtype fp8")
    return out + [h for h in (checkpoint_hint, larger) if h]


def _only_too_long(o: dict) -> bool:
    """A layout that only the context length blocks, at a length worth serving (1024+) below the asked one."""
    return (not o["fits"] and not o["weights_leave_no_kv_cache"] and len(o["blockers"]) == 1
            and 1024 <= o["max_model_len_that_fits"] < o["max_model_len"])
