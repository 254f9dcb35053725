"""Render the custom-image deployment from the plan (offline): the service spec, the weight-cache
job spec and the SQL (image repository and stage, egress rule and integration, weight-cache job,
CREATE SERVICE, service functions, a test call, an upgrade), with both specs checked against the
documented specification fields; files go to custom-image/ beside the plan. Flags such as
--weight-sources or --hf-secret record the user's choices in the plan first. To run SQL, pick one
part: --part P --dry-run prints its statements without connecting; --part P --execute runs them
through the access layer, and parts that change the account need --yes. Parts in order: setup
(repository, stage, network rule), egress (the integration: needs CREATE INTEGRATION), cache-job
(CPU credits), wait-cache, service (GPU credits), wait-service, function, test, upgrade.
Exit codes: 0 ok, 2 bad plan or flags or --yes missing, 3 Snowflake error."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from .. import catalog, plan_file
from ..custom_image import render, settings, sources
from ..errors import SpcsLlmError
from ..fileio import write_atomic
from ..output import StepResult

SPCS_WAIT_FOR_DOC = "https://docs.snowflake.com/en/sql-reference/functions/spcs_wait_for"
SERVICE_FUNCTION_DOC = "https://docs.snowflake.com/en/sql-reference/sql/create-function-spcs"
DEFAULT_OUT = "custom-image"

LIVE_FLAGS = ("--part",)  # without --part it only renders files (offline)


def add_arguments(parser) -> None:
    from ..snowflake.args import add_snowflake_arguments

    parser.add_argument("--out", metavar="DIR",
                        help=f"where to write the files (default: {DEFAULT_OUT}/ beside the plan)")
    parser.add_argument("--part", choices=list(render.PARTS),
                        help="the SQL part to print (--dry-run) or run (--execute)")
    parser.add_argument("--execute", action="store_true", help="run --part through the access layer")
    target = parser.add_argument_group("where to deploy (default: the plan's snowflake.* fields, recorded by "
                                       "preflight and create-pool; given here, they are recorded in the plan)")
    target.add_argument("--database", help="database of the service and its objects")
    target.add_argument("--schema", help="schema of the service and its objects")
    target.add_argument("--compute-pool", metavar="NAME", help="the GPU compute pool the service runs on")
    choices = parser.add_argument_group("choices recorded in the plan (custom_image.*)")
    choices.add_argument("--name", "--service-name", dest="service_name", metavar="SERVICE",
                         help="service name, as --name in the other steps (default: LLM_<model name>; "
                              "--service-name is the old spelling)")
    choices.add_argument("--weight-sources", metavar="LIST",
                         help=f"comma list in order of preference from: {', '.join(sources.SOURCE_NAMES)} "
                         "(default: huggingface; in China hf-mirror,modelscope)")
    choices.add_argument("--hf-mirror-endpoint", metavar="URL", help="HF mirror for hf-mirror (default https://hf-mirror.com)")
    choices.add_argument("--modelscope-model-id", metavar="ID", help="the model's id on ModelScope when it differs")
    choices.add_argument("--model-revision", metavar="REV", help="Hugging Face branch, tag or commit (default main)")
    choices.add_argument("--hf-secret", metavar="NAME", help="Snowflake secret (GENERIC_STRING) holding the HF token")
    choices.add_argument("--extra-egress-host", metavar="HOST", action="append",
                         help="another host the download may be redirected to (repeatable; added to the plan's)")
    choices.add_argument("--function-name", metavar="NAME", help="service function name (default <service>_COMPLETE)")
    choices.add_argument("--proxy-concurrency", type=int, metavar="N", help="rows in flight to vLLM (default 32)")
    choices.add_argument("--max-batch-rows", type=int, metavar="N", help="MAX_BATCH_ROWS (default: the concurrency)")
    choices.add_argument("--image-tag", metavar="TAG", help="image tag (default <vLLM tag>-spcs-llm-<version>)")
    choices.add_argument("--cache-pool", metavar="NAME",
                         help="CPU pool of the weight-cache job (default SPCS_LLM_CPU_POOL)")
    choices.add_argument("--consumer-role", metavar="ROLE", action="append",
                         help="role that may call the function (repeatable; added to the plan's)")
    choices.add_argument("--log-level", choices=settings.LOG_LEVELS, help="container logs exported to the event table")
    choices.add_argument("--public-endpoint", action=argparse.BooleanOptionalAction, default=None,
                         help="a public (ingress) endpoint for REST and OpenAI clients, with a service role for it "
                         "(needs BIND SERVICE ENDPOINT; a running service takes it with --part upgrade)")
    add_snowflake_arguments(parser, writes=True)


def _added(plan: dict, field: str, new: list[str] | None) -> list[str] | None:
    """A repeatable flag adds to what the plan already lists (in order, without repeats)."""
    if not new:
        return None
    out = list(plan_file.get(plan, field) or [])
    return out + [value for value in new if value not in out]


def _choices(args, plan: dict) -> dict[str, object]:
    changes: dict[str, object] = {}
    simple = {"service_name": args.service_name, "hf_mirror_endpoint": args.hf_mirror_endpoint,
              "modelscope_model_id": args.modelscope_model_id, "model_revision": args.model_revision,
              "hf_secret": args.hf_secret, "function_name": args.function_name,
              "proxy_concurrency": args.proxy_concurrency, "max_batch_rows": args.max_batch_rows,
              "image_tag": args.image_tag, "cache_job_pool": args.cache_pool, "log_level": args.log_level,
              "public_endpoint": args.public_endpoint}
    changes.update({f"custom_image.{k}": v for k, v in simple.items() if v is not None})
    where = {"database": args.database, "schema": args.schema, "compute_pool": args.compute_pool}
    changes.update({f"snowflake.{k}": v for k, v in where.items() if v is not None})
    if args.weight_sources is not None:
        changes["custom_image.weight_sources"] = [n.strip() for n in args.weight_sources.split(",") if n.strip()]
    for field, new in (("custom_image.extra_egress_hosts", args.extra_egress_host),
                       ("custom_image.consumer_roles", args.consumer_role)):
        merged = _added(plan, field, new)
        if merged is not None:
            changes[field] = merged
    if args.proxy_concurrency is not None and args.max_batch_rows is None:
        changes["custom_image.max_batch_rows"] = args.proxy_concurrency  # keep them matched
    return changes




def _costs(d: settings.CustomImage, plan: dict) -> dict:
    nodes = math.ceil(d.max_instances / d.resources.instances_per_node)
    gpu_rate = d.credits_per_hour
    try:
        cpu_rate = catalog.family(d.cache_job_family, plan_file.get(plan, "request.cloud")).credits_per_hour
    except SpcsLlmError:
        cpu_rate = None
    return {"service_nodes_max": nodes, "gpu_credits_per_node_hour": gpu_rate,
            "service_credits_per_hour_max": round(nodes * gpu_rate, 3) if gpu_rate else None,
            "cache_job_credits_per_hour": cpu_rate}


def run(args) -> StepResult:
    if (args.execute or args.dry_run) and not args.part:
        raise SpcsLlmError("--execute and --dry-run need --part", hint=f"choose one of: {', '.join(render.PARTS)}")
    if args.part and not (args.execute or args.dry_run):
        raise SpcsLlmError(f"--part {args.part} needs --dry-run (print) or --execute (run)")
    plan = plan_file.load(args.plan)
    changes = _choices(args, plan)
    for key, value in changes.items():  # resolve against the changed plan before recording anything
        node = plan
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    d = settings.resolve(plan)
    files = render.render_all(d)
    out = Path(args.out) if args.out else Path(args.plan).resolve().parent / DEFAULT_OUT
    if not args.dry_run:  # a dry run shows what would run; it writes neither files nor the plan
        for name, text in files.items():
            write_atomic(out / name, text)
    recorded = {**changes, **d.plan_fields(), "custom_image.rendered_dir": str(out)}
    data = _data(d, plan, out, files)
    data.update(plan_path=args.plan, part=None, executed=False, statements=[], rows=[], dry_run=bool(args.dry_run))
    if args.part:
        data["part"] = args.part
        data.update(_run_part(args, d, files))
        if args.execute and not args.dry_run and data.get("executed"):
            if args.part == "service":
                recorded["snowflake.service_name"] = d.service_name
            done = list(plan_file.get(plan, "custom_image.executed_parts") or [])
            recorded["custom_image.executed_parts"] = done + [args.part] if args.part not in done else done
    if not args.dry_run:
        plan_file.update(plan, "render-custom", recorded)
        plan_file.save(plan, args.plan)
    return StepResult(data=data, text=_text(data), prompt="deployment_summary_custom")


def _run_part(args, d: settings.CustomImage, files: dict[str, str]) -> dict:
    from ..snowflake.access import SqlRunner

    file_name, _, kind = render.PARTS[args.part]
    statements = render.statements(files[file_name])
    rows: list = []
    with SqlRunner.from_args(args) as runner:
        for sql in statements:
            if kind == "query":
                doc = SERVICE_FUNCTION_DOC if args.part == "test" else SPCS_WAIT_FOR_DOC
                rows.extend(runner.query(sql, doc=doc))
            else:
                runner.execute(sql)
        return {"mode": runner.mode, "statements": runner.statements, "rows": rows,
                "executed": runner.mode != "dry-run"}


def _data(d: settings.CustomImage, plan: dict, out: Path, files: dict[str, str]) -> dict:
    r = d.resources
    return {
        "out_dir": str(out),
        "files": sorted(files),
        "model_id": d.model_id,
        "service": f"{d.database}.{d.schema}.{d.service_name}",
        "compute_pool": d.compute_pool,
        "instance_family": r.node_family,
        "node": {"gpus": r.node_gpus, "memory_gib": r.node_memory_gib, "vcpu": r.node_vcpu, "facts": r.node_facts},
        "container": {"gpus": r.gpus, "memory_gib": r.memory_gib, "cpu": r.cpu, "shm_gib": r.shm_gib,
                      "instances_per_node": r.instances_per_node, "budget_gib": r.budget_gib},
        "instances": {"min": d.min_instances, "max": d.max_instances},
        "image": d.image_path,
        "vllm_base_image": d.vllm_base_image,
        "weight_sources": list(d.weight_sources),
        "egress_hosts": list(d.egress_hosts),
        "weights_stage": d.stage_path,
        "weights_on_missing": d.weights_on_missing,
        "hf_secret": d.hf_secret,
        "eai": d.eai,
        "cache_job": {"pool": d.cache_job_pool, "family": d.cache_job_family, "name": d.cache_job_name},
        "function": f"{d.database}.{d.schema}.{d.function_name}",
        "max_batch_rows": d.max_batch_rows,
        "proxy_concurrency": d.proxy_concurrency,
        "public_endpoint": d.public_endpoint,
        "vllm": {"tensor_parallel_size": d.tensor_parallel_size, "max_model_len": d.max_model_len,
                 "gpu_memory_utilization": d.gpu_memory_utilization, "dtype": d.dtype,
                 "quantization": d.quantization, "extra_args": list(d.vllm_extra_args)},
        "costs": _costs(d, plan),
        "notes": list(d.notes),
    }


def _budget_words(c: dict) -> str:
    """The workers step states the instance's whole budget; the container gets it minus /dev/shm and the
    stage volume, so both numbers appear (walk china1: "26 GiB" at workers, "24 GiB" here, unexplained)."""
    return (f"of the {c['budget_gib']} GiB per instance; the rest holds /dev/shm "
            "and the stage volume")


def _endpoint_words(public: bool) -> str:
    """Whether REST can reach the service: the one thing an upgrade for REST changes (walk gw1: invisible)."""
    return ("public: REST and OpenAI clients through the ingress (rest-access playbook)" if public
            else "not public: SQL function only; REST needs --public-endpoint")


def _text(data: dict) -> str:
    c, n = data["container"], data["node"]
    rows = [
        {"what": "service", "value": f"{data['service']} on {data['compute_pool']} ({data['instance_family']}), "
                                     f"instances {data['instances']['min']}..{data['instances']['max']}"},
        {"what": "container", "value": f"{c['gpus']} GPU(s) (TP={data['vllm']['tensor_parallel_size']}), "
                                       f"{c['memory_gib']} GiB memory, {c['cpu']} vCPU, /dev/shm {c['shm_gib']} GiB"
                                       f" ({_budget_words(c)})"},
        {"what": "node", "value": f"{n['gpus']} GPU(s), {n['memory_gib']:g} GiB, {n['vcpu']:g} vCPU ({n['facts']})"},
        {"what": "image", "value": f"{data['image']} (base {data['vllm_base_image']})"},
        {"what": "weights", "value": f"{data['weights_stage']} from {', '.join(data['weight_sources'])}"},
        {"what": "egress", "value": f"{data['eai']}: {', '.join(data['egress_hosts'])}"},
        {"what": "function", "value": f"{data['function']} MAX_BATCH_ROWS={data['max_batch_rows']} "
                                      f"(proxy concurrency {data['proxy_concurrency']})"},
        {"what": "endpoint", "value": _endpoint_words(data["public_endpoint"])},
    ]
    written = "would write files to" if data.get("dry_run") else "files written to"
    lines = [f"{row['what']:<10} {row['value']}" for row in rows] + [f"{written} {data['out_dir']}/"]
    lines += [f"  - {name}" for name in data["files"]]
    lines += [f"note: {note}" for note in data["notes"]]
    if data.get("part"):
        verb = "ran" if data.get("executed") else "printed (dry run)"
        lines.append(f"part {data['part']}: {verb} {len(data['statements'])} statement(s)")
        for row in data.get("rows") or []:
            lines.append(f"  {row}")
    return "\n".join(lines)
