"""How the chosen node is used (offline): GPUs per replica (gpu_requests = tensor-parallel size),
replicas per node, num_workers, and the instance range, validated against the node's GPUs and
memory. Without --confirm it only proposes (the num_workers checkpoint); with --confirm it
records the answer in the plan.

num_workers means different things per inference server:
- vLLM (both deployment paths): one engine per service instance serves many requests at once by
  continuous batching; no Snowflake source gives num_workers a vLLM meaning, so it stays 1 (unset)
  and throughput scales with replicas (instances) instead.
- Python inference server (Model Registry without vLLM): num_workers is the number of model copies
  per instance, spread over the instance's GPUs (or CPUs); every copy must fit in its share.
"""

from __future__ import annotations

import math

from .. import catalog, plan_file
from ..errors import SpcsLlmError
from ..output import StepResult

ENGINES = ("registry", "custom-image")
SERVERS = ("vllm", "python")
# Transformers inference needs about 20% over the raw weights (accelerate's size estimator docs).
PYTHON_SERVER_OVERHEAD = 1.2
# Left to the node when splitting it between replicas: a stage-volume mount runs a sidecar, and a
# request for the whole published capacity can keep the last instance PENDING.
NODE_MEMORY_HEADROOM_GIB = 1
NODE_CPU_HEADROOM = 1


def add_arguments(parser) -> None:
    parser.add_argument("--engine", required=True, choices=ENGINES, help="deployment path")
    parser.add_argument("--server", choices=SERVERS, default="vllm",
                        help="inference server: vllm (default) or the Model Registry's python server")
    parser.add_argument("--family", help="python server on a CPU pool: the CPU instance family, e.g. CPU_X64_M")
    parser.add_argument("--num-workers", type=int, help="workers per instance (see --help text above)")
    parser.add_argument("--min-instances", type=int,
                        help="instances kept running even when idle (default: one node's worth, the replicas per "
                             "node: a node is billed whole, so fewer leave its GPUs idle at the same cost); 0 on "
                             "the registry path lets an endpoint-less service suspend itself when idle")
    parser.add_argument("--max-instances", type=int,
                        help="default: the instances that fill the nodes the plan's --concurrency bills (every GPU "
                             "of every billed node serving; at least --min-instances)")
    parser.add_argument("--confirm", action="store_true", help="record this answer in the plan")
    parser.add_argument("--plan", default=plan_file.DEFAULT_PLAN_PATH,
                        help=f"the plan file (default {plan_file.DEFAULT_PLAN_PATH})")


def run(args) -> StepResult:
    plan = plan_file.load(args.plan)
    if args.server == "python" and args.engine != "registry":
        raise SpcsLlmError("--server python is the Model Registry's inference server; use it with --engine registry")
    node = _node(plan, args)
    data = _vllm(plan, node, args) if args.server == "vllm" else _python(plan, node, args)
    needed = _instances_for_concurrency(plan) if args.server == "vllm" else 1
    replicas = data["replicas_per_node"]
    min_i = args.min_instances
    if min_i is None:
        min_i = replicas if args.max_instances is None else max(1, min(replicas, args.max_instances))
    filling = math.ceil(max(min_i, needed) / replicas) * replicas  # every GPU of the billed nodes serving
    max_i = args.max_instances if args.max_instances is not None else filling
    # the registry's create_service takes min_instances=0 (its default): the service suspends after 30 idle
    # minutes when it has no public endpoint (snowflake_ml_api.md); the custom-image path keeps at least 1
    lowest = 0 if args.engine == "registry" else 1
    if min_i < lowest or max_i < max(min_i, 1):
        raise SpcsLlmError(f"instances must satisfy {lowest} <= min ({min_i}) <= max ({max_i}) and max >= 1",
                           hint="min 0 (the service suspends itself when idle) is for --engine registry only")
    if min_i == 0:
        data["notes"].append("min_instances 0: Snowflake suspends the service after 30 minutes without traffic "
                             "when it has no public endpoint (deploy-registry --no-ingress), and the next call "
                             "waits for a cold start (node, image, model load: minutes)")
    if max_i < needed:
        wanted = plan_file.get(plan, "request.concurrency")
        data["notes"].append(f"{max_i} instance(s) hold fewer than the plan's {wanted} concurrent full-length "
                             f"requests ({needed} needed); longer requests will queue")
    data["idle_gpus"] = idle_gpus(max_i, replicas, data["gpu_requests"], node["gpu_count"] or 0)
    if data["idle_gpus"]:
        data["notes"].append(idle_note(max_i, replicas, data["gpu_requests"], node["gpu_count"]))
    data["filling_instances"] = filling
    if min_i % replicas and max_i > min_i:
        data["notes"].append(f"at low load {min_i} instance(s) run: "
                             + idle_note(min_i, replicas, data["gpu_requests"], node["gpu_count"]))
    limit = _node_limit(plan, node["name"])
    if limit is not None and math.ceil(max_i / replicas) > limit:
        data["notes"].append(f"{max_i} instance(s) need {math.ceil(max_i / replicas)} nodes; {node['name']} offers "
                             f"up to {limit} per account unless Snowflake raises it")
    data.update(engine_path=args.engine, server=args.server, min_instances=min_i, max_instances=max_i,
                nodes_needed=math.ceil(max_i / replicas), instance_family=node["name"],
                node_gpus=node["gpu_count"], node_memory_gib=node["memory_gib"], node_vcpu=node["vcpu"],
                memory_requests_gib=max(1, math.floor(node["memory_gib"] / replicas) - NODE_MEMORY_HEADROOM_GIB),
                cpu_requests=max(0.5, math.floor(node["vcpu"] / replicas) - NODE_CPU_HEADROOM),
                confirmed=bool(args.confirm), plan_path=args.plan)
    if args.server == "python" and not node["gpu_count"]:
        # the pack's registry deploy script needs a GPU pool; recording a CPU answer would lead to a refusal
        # after the user confirmed it, so the checkpoint says so and --confirm is refused
        data["notes"].append(f"{node['name']} has no GPU: the pack's deploy-registry serves GPU pools only, so "
                             "this CPU sizing is for information; pick a GPU family to deploy")
        if args.confirm:
            raise SpcsLlmError(f"--confirm refused: {node['name']} is a CPU family and the pack's registry "
                               "deployment needs a GPU pool", hint="confirm the Python server on a GPU family "
                               "(--family GPU_NV_S, ...), or run it with vLLM (--server vllm)")
    if args.confirm:
        plan_file.update(plan, "workers", {
            "engine_path": args.engine, "workers.engine_path": args.engine,
            "workers.gpu_requests": data["gpu_requests"], "workers.tensor_parallel_size": data["tensor_parallel_size"],
            "workers.num_workers": data["num_workers"], "workers.server": args.server, "workers.min_instances": min_i,
            "workers.max_instances": max_i, "workers.memory_requests_gib": data["memory_requests_gib"],
            "workers.cpu_requests": data["cpu_requests"], "workers.confirmed": True})
        plan_file.save(plan, args.plan)
    text = "\n".join([
        f"{node['name']}: {node['gpu_count']} GPU(s), {node['vcpu']} vCPU, {node['memory_gib']} GiB per node",
        f"gpu_requests={data['gpu_requests']} (TP={data['tensor_parallel_size']}) x "
        f"{replicas} replica(s) per node; num_workers={data['num_workers']}",
        f"instances {min_i}..{max_i} -> up to {data['nodes_needed']} node(s); "
        f"per instance: {data['memory_requests_gib']} GiB memory, {data['cpu_requests']} vCPU",
        *[f"  - {n}" for n in data["notes"]],
        "recorded in the plan" if args.confirm else "not recorded: rerun with --confirm once the user agrees",
    ])
    return StepResult(data=data, text=text, prompt="num_workers_question")


def idle_gpus(instances: int, replicas: int, gpu_requests: int, node_gpus: int) -> int:
    """GPUs billed but unused: the last node's GPUs that no instance takes."""
    if not node_gpus or not replicas:
        return 0
    nodes = math.ceil(instances / replicas)
    return nodes * node_gpus - instances * gpu_requests


def idle_note(instances: int, replicas: int, gpu_requests: int, node_gpus: int) -> str:
    """'1 instance uses 2 of 4 GPUs; 2 cost the same': what a smaller count leaves idle."""
    nodes = math.ceil(instances / replicas)
    full = nodes * replicas
    return (f"{instances} instance(s) use {instances * gpu_requests} of the {nodes * node_gpus} GPUs billed on "
            f"{nodes} node(s); {full} cost the same (--max-instances {full})")


def _node_limit(plan: dict, family: str) -> int | None:
    for candidate in plan_file.get(plan, "candidates", []):
        if candidate.get("instance_family") == family:
            return candidate.get("node_limit")
    return None


def _instances_for_concurrency(plan: dict) -> int:
    """Replicas needed for the plan's concurrency, from the sizing `plan` recorded for the selection."""
    concurrency = plan_file.get(plan, "request.concurrency", 1)
    family = plan_file.get(plan, "selection.instance_family")
    tp = plan_file.get(plan, "selection.tensor_parallel_size")
    for candidate in plan_file.get(plan, "candidates", []):
        if candidate.get("instance_family") != family:
            continue
        model_id = plan_file.get(plan, "model.id")
        for option in candidate.get("options", []):
            if option.get("model_id", model_id) != model_id:
                continue
            if option.get("tensor_parallel_size") == tp and option.get("max_concurrency"):
                return max(1, math.ceil(concurrency / option["max_concurrency"]))
    return 1


def _node(plan: dict, args) -> dict:
    """The node shape: live facts recorded by `spcs-llm pools` win over the catalog."""
    if args.family:
        fam = catalog.family(args.family, plan_file.get(plan, "request.cloud"))
        return {"name": fam.name, "gpu_count": fam.gpu_count, "memory_gib": fam.memory_gib, "vcpu": fam.vcpu,
                "gpu_memory_gib": fam.gpu_memory_gib}
    name = plan_file.require(plan, "selection.instance_family", "spcs-llm plan, then spcs-llm select")
    node = {"name": name, "gpu_count": plan_file.get(plan, "selection.gpu_count"),
            "memory_gib": plan_file.get(plan, "selection.node_memory_gib"),
            "vcpu": plan_file.get(plan, "selection.node_vcpu"), "gpu_memory_gib": None}
    live = plan_file.get(plan, "snowflake.live_instance_family") or {}
    if str(live.get("name", "")).upper() == name:
        for key in ("gpu_count", "memory_gib", "vcpu", "gpu_memory_gib"):
            if live.get(key) is not None:
                node[key] = live[key]
    return node


def _vllm(plan: dict, node: dict, args) -> dict:
    tp = plan_file.require(plan, "selection.tensor_parallel_size", "spcs-llm select")
    if not node["gpu_count"]:
        raise SpcsLlmError(f"{node['name']} has no GPUs; vLLM needs a GPU instance family",
                           hint="choose a GPU family with spcs-llm select, or use --server python on a CPU pool")
    if node["gpu_count"] % tp:
        raise SpcsLlmError(f"TP={tp} does not divide the {node['gpu_count']} GPUs of {node['name']}")
    if args.num_workers not in (None, 1):
        raise SpcsLlmError(
            f"num_workers={args.num_workers} is not supported with vLLM",
            hint="one vLLM engine per instance already serves requests concurrently (continuous batching); "
                 "no Snowflake source defines num_workers > 1 for vLLM, and extra copies would not fit next to "
                 "the KV cache. Scale with --max-instances instead")
    notes = [f"TP x replicas = {tp} x {node['gpu_count'] // tp} = {node['gpu_count']} GPUs per node",
             "num_workers stays 1 (left unset in create_service): vLLM batches requests inside one engine"]
    if args.engine == "registry":
        notes.append("create_service gets gpu_requests and an explicit --tensor-parallel-size "
                     "(snowflake-ml-python 2.6 no longer derives it)")
    return {"gpu_requests": tp, "tensor_parallel_size": tp, "replicas_per_node": node["gpu_count"] // tp,
            "num_workers": 1, "notes": notes}


def _python(plan: dict, node: dict, args) -> dict:
    weights_gib = _weights_gib(plan)
    need = weights_gib * PYTHON_SERVER_OVERHEAD
    gpus = node["gpu_count"] or 0
    if gpus:
        pool_gib = gpus * (node["gpu_memory_gib"] or plan_file.get(plan, "candidates")[0]["gpu_memory_gib"])
        limit = "GPU memory"
    else:
        pool_gib = node["memory_gib"]
        limit = "node memory"
    fit = max(0, math.floor(pool_gib / need))
    default = min(fit, 2 * int(node["vcpu"]) + 1) if not gpus else min(fit, 1)
    workers = args.num_workers if args.num_workers is not None else default
    if workers < 1 or workers > fit:
        raise SpcsLlmError(
            f"num_workers={workers} does not fit: each worker holds a full model copy (~{need:.1f} GiB) and "
            f"{node['name']} has {pool_gib:.0f} GiB of {limit}; allowed: 1..{fit}" if fit else
            f"one model copy (~{need:.1f} GiB) does not fit in {pool_gib:.0f} GiB of {limit} on {node['name']}")
    notes = [f"each worker is a separate model copy (~{need:.1f} GiB): {workers} copies share {pool_gib:.0f} GiB "
             f"of {limit}", "the python server does not batch across workers like vLLM; prefer vLLM for LLMs"]
    return {"gpu_requests": gpus or 0, "tensor_parallel_size": 1, "replicas_per_node": 1,
            "num_workers": workers, "notes": notes}


def _weights_gib(plan: dict) -> float:
    model_id = plan_file.get(plan, "model.id")
    for candidate in plan_file.get(plan, "candidates", []):
        for option in candidate.get("options", []):
            if option.get("model_id", model_id) == model_id:  # the checkpoint the plan deploys
                return option["weights_gib_per_gpu"] * option["tensor_parallel_size"]
    raise SpcsLlmError("the plan has no sized candidates", hint="run spcs-llm plan first")
