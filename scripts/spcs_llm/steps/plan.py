"""Rank the SPCS instance families for a model (offline) and write the plan file.

For every GPU family (of one cloud, or all): the smallest tensor-parallel size that serves the
model with headroom, replicas per node, the vLLM flags, a roofline decode speed and the credit
cost, each with a reason. The top fitting family becomes the plan's selection until the user
confirms one with `spcs-llm select`.
"""

from __future__ import annotations

from .. import __version__, observed, plan_file, vllm_versions
from ..catalog import CLOUDS
from ..errors import EXIT_NEGATIVE, SpcsLlmError
from ..models import resolve_model, spec_for_catalog_id
from ..output import StepResult, table
from ..planner import DEFAULT_PRIORITY, PRIORITIES, PlanRequest, alternatives, plan
from ..sizing import GPU_MEMORY_UTILIZATION_HELP, KV_CACHE_DTYPES, QUANTIZATIONS


def add_arguments(parser) -> None:
    parser.add_argument("--model",
                        help="catalog id (spcs-llm models), Hugging Face id, or path to a config.json "
                             "(required unless --replan)")
    parser.add_argument("--cloud", choices=CLOUDS, help="your account's cloud (default: all clouds)")
    parser.add_argument("--region", help="region id, e.g. us-west-2 or cn-northwest-1 (drops families not offered)")
    parser.add_argument("--max-model-len", type=int, help="context length to serve (default: the model's maximum)")
    parser.add_argument("--concurrency", type=int, help="full-length requests to serve at once (default 1)")
    parser.add_argument("--quantization", choices=QUANTIZATIONS, help="size a quantized variant")
    parser.add_argument("--kv-cache-dtype", choices=KV_CACHE_DTYPES, help="default auto (the model's dtype)")
    parser.add_argument("--gpu-memory-utilization", type=float,
                        help=GPU_MEMORY_UTILIZATION_HELP)
    parser.add_argument("--vllm-version", metavar="X.Y.Z",
                        help="size with the memory accounting of this vLLM release (default: the release the plan's "
                             f"path runs: the custom image's pin {vllm_versions.CUSTOM_IMAGE_VLLM_VERSION}; the "
                             "registry path's release is not published and is assumed the same)")
    parser.add_argument("--priority", choices=PRIORITIES,
                        help=f"what the layout optimises (default {DEFAULT_PRIORITY}): cheapest = fewest credits per "
                             "hour (pre-quantized checkpoints always considered); fastest = quickest single request; "
                             "balanced = credits per 1M output tokens, the asked weights first")
    parser.add_argument("--out", default=plan_file.DEFAULT_PLAN_PATH, help="plan file to write (deployment.yaml)")
    parser.add_argument("--force", action="store_true", help="replace an existing plan file")
    parser.add_argument("--replan", action="store_true",
                        help="rank again from the plan file (--out): its model and request, changed by any flags "
                             "given, sized on the account's live GPU families when `spcs-llm pools` recorded them; "
                             "keeps the Snowflake decisions, resets the hardware choice to unconfirmed")
    parser.add_argument("--observed-kv-tokens", type=int, metavar="N",
                        help="with --replan: the KV cache tokens the deployed vLLM logged ('GPU KV cache size: N "
                             "tokens'); recorded for the plan's selected model, GPU, TP and utilization, and used "
                             "instead of the estimate for that configuration from now on")
    parser.add_argument("--observed-log", metavar="FILE",
                        help="with --replan: a saved vLLM log (or one pasted line) to read the KV cache tokens from, "
                             "as --observed-kv-tokens")
    parser.add_argument("--no-write", action="store_true", help="print the ranking only")
    parser.add_argument("--all", action="store_true", help="show families that do not fit too (text output)")


def run(args) -> StepResult:
    existing = plan_file.load(args.out) if args.replan else {}
    observed_now = _observation(args, existing)
    asked = plan_file.get(existing, "request") or {}
    # --replan sizes the model the user asked for (request.model), not the checkpoint chosen last time
    model_ref = (args.model or plan_file.get(existing, "request.model") or plan_file.get(existing, "model.config_path")
                 or plan_file.get(existing, "model.id"))
    if not model_ref:
        raise SpcsLlmError("--model is required", hint="or rank an existing plan again with --replan")
    def pick(flag, key, default=None):
        """A flag given wins; then the value the plan records (--replan); then the default."""
        if flag is not None:
            return flag
        return default if asked.get(key) is None else asked[key]

    concurrency = pick(args.concurrency, "concurrency", 1)
    if concurrency < 1:
        raise SpcsLlmError(f"--concurrency {concurrency} must be at least 1")
    region = pick(args.region, "region")
    cloud = _cloud(pick(args.cloud, "cloud"), region)
    model = resolve_model(model_ref)
    accounting = _vllm_accounting(args, existing)
    req = PlanRequest(model=model, cloud=cloud, region=region, max_model_len=pick(args.max_model_len, "max_model_len"),
                      concurrency=concurrency, quantization=pick(args.quantization, "quantization"),
                      kv_cache_dtype=pick(args.kv_cache_dtype, "kv_cache_dtype", "auto"),
                      gpu_memory_utilization=pick(args.gpu_memory_utilization, "gpu_memory_utilization",
                                                  vllm_versions.default_gpu_memory_utilization(accounting)),
                      live_families=tuple(plan_file.get(existing, "snowflake.live_families") or ()),
                      observations=tuple(plan_file.get(existing, observed.PLAN_FIELD) or ()),
                      vllm_version=accounting.version,
                      priority=pick(args.priority, "priority", DEFAULT_PRIORITY))
    candidates = plan(req)
    if not candidates:
        raise SpcsLlmError(f"no GPU instance family in the catalog for cloud={cloud} region={region}",
                           hint="drop --region, or check the region id (e.g. us-west-2, cn-northwest-1)")
    best = next((c for c in candidates if c["fits"]), None)
    data = {
        "model": checkpoint_facts(best["model_id"], model) if best else _model_facts(model),
        "asked_model": model.id,
        "request": {"model": model.config_path or model_ref, "priority": req.priority,
                    "cloud": cloud, "region": region,
                    "max_model_len": req.max_model_len or model.max_position_embeddings,
                    "concurrency": concurrency, "quantization": req.quantization,
                    "kv_cache_dtype": req.kv_cache_dtype, "gpu_memory_utilization": req.gpu_memory_utilization,
                    "vllm_version": accounting.version, "vllm_version_source": accounting.source},
        "sized_on": "live" if req.live_families else "catalog",
        "recommendation": best,
        "what_would_fit": [] if best else alternatives(req, candidates),
        "candidates": candidates,
        "plan_path": None,
    }
    data["observed"] = observed_now
    data["kv_observed_for"] = sorted({f"{c['instance_family']} TP={o['tensor_parallel_size']}"
                                      for c in candidates for o in c.get("options", [])
                                      if str(o.get("kv_source", "")).startswith("observed")})
    if best and not args.no_write:
        data["plan_path"] = str(_write_plan(args, data, best, existing))
    elif observed_now and not args.no_write:  # nothing fits any more: the measurement is still kept
        data["plan_path"] = str(plan_file.save(existing, args.out))
    text = _text(data, args.all)
    return StepResult(data=data, text=text, prompt="hardware_choice", exit_code=0 if best else EXIT_NEGATIVE)


def _observation(args, existing: dict) -> dict | None:
    """Record --observed-kv-tokens / --observed-log in the plan (before ranking, so it is used)."""
    if args.observed_kv_tokens is None and args.observed_log is None:
        return None
    if not args.replan:
        raise SpcsLlmError("--observed-kv-tokens and --observed-log need --replan",
                           hint="the measurement belongs to the configuration the plan file (--out) selected")
    if args.observed_kv_tokens is not None and args.observed_log is not None:
        raise SpcsLlmError("give --observed-kv-tokens or --observed-log, not both")
    version = None
    if args.observed_log is not None:
        text = _read_log(args.observed_log)
        tokens, version = observed.kv_tokens_from_log(text), observed.vllm_version_from_log(text)
        if tokens is None:
            raise SpcsLlmError(f"--observed-log {args.observed_log!r} has no vLLM KV cache line",
                               hint="expected 'GPU KV cache size: N tokens', '# GPU blocks: N' or '... maximum "
                                    "number of tokens that can be stored in KV cache (N)'")
        source = f"vLLM log {args.observed_log}"
    else:
        tokens, source = args.observed_kv_tokens, "--observed-kv-tokens"
    if tokens < 1:
        raise SpcsLlmError(f"--observed-kv-tokens {tokens} must be at least 1")
    observed.record_observed_kv(existing, tokens, source=source, vllm_version=version)
    return plan_file.get(existing, observed.PLAN_FIELD)[-1]


def _vllm_accounting(args, existing: dict) -> vllm_versions.Accounting:
    """--vllm-version wins; then the release a deployment logged (an observed log that names it: the
    fact that replaces the registry path's assumption); then a version the user gave before
    (--replan); then the plan's path's release."""
    if args.vllm_version:
        return vllm_versions.accounting(args.vllm_version, source="--vllm-version")
    logged = [o for o in plan_file.get(existing, observed.PLAN_FIELD) or [] if o.get("vllm_version")]
    if logged:
        try:
            return vllm_versions.accounting(logged[-1]["vllm_version"],
                                            source=f"logged by the deployment ({logged[-1].get('source')})")
        except SpcsLlmError:
            pass  # a version this tool does not model: fall back to the others
    if plan_file.get(existing, "request.vllm_version_source") == "--vllm-version":
        return vllm_versions.accounting(plan_file.get(existing, "request.vllm_version"), source="--vllm-version")
    path = plan_file.get(existing, "engine_path") or plan_file.get(existing, "workers.engine_path")
    version, source = vllm_versions.default_for_path(path)
    return vllm_versions.accounting(version, source=source)


def _read_log(path: str) -> str:
    from pathlib import Path

    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise SpcsLlmError(f"--observed-log {path!r} cannot be read: {err.strerror}",
                           hint="save the service log (SYSTEM$GET_SERVICE_LOGS) to a file first") from None


def _cloud(cloud: str | None, region: str | None) -> str | None:
    """A region belongs to one cloud: infer --cloud from it, and refuse a contradiction."""
    from ..catalog import cloud_of_region

    implied = cloud_of_region(region) if region else None
    if cloud and implied and cloud != implied:
        raise SpcsLlmError(f"region {region!r} belongs to {implied}, but --cloud is {cloud}")
    return cloud or implied


def _model_facts(model) -> dict:
    return {
        "id": model.id, "source": model.source, "config_path": model.config_path, "architecture": model.architecture,
        "params_b": round(model.total_params_b, 2),
        "active_params_b": round(model.active_b, 2) if model.is_moe else None,
        "dtype": model.dtype, "checkpoint_quantization": model.checkpoint_quantization,
        "max_position_embeddings": model.max_position_embeddings, "num_attention_heads": model.num_heads,
        "num_key_value_heads": model.num_kv_heads, "licence": model.licence, "gated": model.gated,
        "trust_remote_code": model.trust_remote_code, "base_model": model.base_model,
        "modelscope_id": model.modelscope_id,
    }


def checkpoint_facts(model_id: str, asked) -> dict:
    """The plan's model section for the checkpoint a layout deploys: the asked model, or one of its
    catalog checkpoints (then model.id is that checkpoint's repository and model.base_model the asked one)."""
    if model_id == asked.id:
        return _model_facts(asked)
    spec = spec_for_catalog_id(model_id)
    if spec is None:
        raise SpcsLlmError(f"internal: checkpoint {model_id!r} is not in the model catalog", exit_code=3)
    return _model_facts(spec)


def model_changes(plan: dict, facts: dict) -> dict:
    """Replace the plan's model section (a field the new checkpoint lacks must not linger)."""
    plan.pop("model", None)
    return {f"model.{k}": v for k, v in facts.items() if v is not None}


def _write_plan(args, data: dict, best: dict, existing: dict):
    from pathlib import Path

    path = Path(args.out)
    if existing:  # --replan: keep the account decisions, re-open the hardware ones
        plan = existing
        changes = {"workers.confirmed": False} if plan.get("workers") else {}
    else:
        if path.exists() and not args.force:
            raise SpcsLlmError(f"plan file {str(path)!r} already exists",
                               hint="rank it again with --replan, pass --force to replace it (its decisions are "
                                    "lost), or use --out another.yaml")
        plan, changes = plan_file.new_plan(__version__), {}
    changes.update(model_changes(plan, data["model"]))
    changes.update({f"request.{k}": v for k, v in data["request"].items() if v is not None})
    changes["candidates"] = data["candidates"]
    changes.update(selection_from_candidate(best, confirmed=False))
    plan_file.update(plan, "plan --replan" if existing else "plan", changes)
    return plan_file.save(plan, path)


def selection_from_candidate(c: dict, *, confirmed: bool, option: dict | None = None) -> dict:
    """The plan's selection fields for one candidate (and one of its layouts): the layout that fills
    the billed nodes and what it costs."""
    option = option or next(o for o in c["options"] if o["tensor_parallel_size"] == c["tensor_parallel_size"]
                            and o.get("model_id", c.get("model_id")) == c.get("model_id"))
    tp = option["tensor_parallel_size"]
    return {
        "selection.instance_family": c["instance_family"],
        "selection.gpu": c["gpu"],
        "selection.gpu_count": c["gpu_count"],
        "selection.tensor_parallel_size": tp,
        "selection.replicas_per_node": c["gpu_count"] // tp,
        "selection.max_model_len": option["max_model_len"],
        "selection.gpu_memory_utilization": _flag(option["vllm_args"], "--gpu-memory-utilization", float),
        "selection.dtype": option.get("dtype", c.get("dtype")),
        # only a method vLLM applies at load time is a flag; a pre-quantized checkpoint's config names its own
        "selection.quantization": _flag(option["vllm_args"], "--quantization", str),
        "selection.kv_cache_dtype": _flag(option["vllm_args"], "--kv-cache-dtype", str) or "auto",
        "selection.vllm_args": option["vllm_args"],
        "selection.credits_per_hour": c["credits_per_hour"],
        "selection.node_memory_gib": c["node_memory_gib"],
        "selection.node_vcpu": c["node_vcpu"],
        "selection.instances": option.get("instances"),
        "selection.nodes": option.get("nodes"),
        "selection.credits_per_hour_for_layout": option.get("credits_per_hour_for_layout"),
        "selection.est_decode_tokens_per_s": option.get("est_decode_tokens_per_s"),
        "selection.est_decode_tokens_per_s_single_stream": option.get("est_decode_tokens_per_s_single_stream"),
        "selection.credits_per_million_output_tokens": option.get("credits_per_million_output_tokens"),
        "selection.confirmed": confirmed,
    }


def _flag(args: list[str], name: str, cast):
    for arg in args:
        if arg.startswith(name + "="):
            return cast(arg.split("=", 1)[1])
    return None


def _text(data: dict, show_all: bool) -> str:
    model, req = data["model"], data["request"]
    params = f"{model['params_b']}B" + (f" ({model['active_params_b']}B active)" if model["active_params_b"] else "")
    lines = [f"{model['id']}: {params}, {model['dtype']}, max context {model['max_position_embeddings']}"
             + (f" (pre-quantized {model['checkpoint_quantization']} checkpoint of {model['base_model']})"
                if model.get("base_model") else ""),
             f"serving {req['max_model_len']} tokens x {req['concurrency']} concurrent request(s), "
             f"gpu_memory_utilization {req['gpu_memory_utilization']}, priority {req['priority']}"]
    if req.get("vllm_version"):
        lines.append(f"sized with the memory accounting of vLLM {req['vllm_version']} ({req['vllm_version_source']})")
    if data.get("kv_observed_for"):
        lines.append("KV cache as the deployment logged it (not the estimate) for: "
                     + ", ".join(data["kv_observed_for"]))
    if data["sized_on"] == "live":
        lines.append("sized on the GPU families your account reports (spcs-llm pools), not the built-in catalog")
    lines.append("")
    rows = [c for c in data["candidates"] if show_all or c["fits"]]
    for c in rows:
        c.setdefault("checkpoint", _short_checkpoint(c, data["asked_model"]))
    lines.append(table(rows, [("rank", "#"), ("instance_family", "family"), ("cloud", "cloud"), ("gpu", "gpu"),
                              ("gpu_count", "gpus"), ("checkpoint", "checkpoint"), ("tensor_parallel_size", "tp"),
                              ("replicas_per_node", "inst/node"), ("nodes", "nodes"),
                              ("layout_max_concurrency", "full-len reqs"),
                              ("credits_per_hour_for_layout", "credits/h"),
                              ("est_decode_tokens_per_s_single_stream", "tok/s 1 req*"),
                              ("est_decode_tokens_per_s", "tok/s total*"),
                              ("credits_per_million_output_tokens", "credits/Mtok*")]))
    lines.append("* decode roofline upper bound (bandwidth / bytes read per token), not a measurement; credits/h "
                 "and credits/Mtok are for the layout shown (every billed GPU serving)")
    best = data["recommendation"]
    if best:
        lines += ["", f"recommended: {best['instance_family']} ({best['cloud']}): {best['reason']}",
                  f"deploys: {best['model_id']}", f"vLLM args: {' '.join(best['vllm_args'])}"]
    rejected = [c for c in data["candidates"] if not c["fits"]]
    if rejected:
        lines += ["", "rejected:"]
        lines += [f"  {c['instance_family']} ({c['cloud']}, {c['gpu_count']}x {c['gpu']}): {c['reason']}"
                  for c in rejected]
        if not best:
            lines += ["", "what would fit:"] + [f"  - {h}" for h in data["what_would_fit"]]
    if not best and not rejected:
        lines += ["", "what would fit:"] + [f"  - {h}" for h in data["what_would_fit"]]
    if data["plan_path"]:
        lines += ["", f"plan written to {data['plan_path']} (selection not confirmed yet: spcs-llm select)"]
    return "\n".join(lines)


def _short_checkpoint(c: dict, asked: str) -> str:
    """The table's checkpoint column: 'as asked', or the substitute's repository and method."""
    model_id = c.get("model_id") or asked
    if model_id == asked:
        return "as asked" + (" (needs one)" if c.get("needs_checkpoint") else "")
    return f"{model_id} ({c.get('checkpoint_quantization')})"
