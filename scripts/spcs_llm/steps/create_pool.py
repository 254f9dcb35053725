"""Create the plan's compute pool: CREATE COMPUTE POOL IF NOT EXISTS with the selected instance
family. A GPU pool costs credits from the moment it starts, so this needs --yes; without it the
step prints what it would create (and its hourly cost) and exits 2. An existing pool of the same
name is reported, not changed. Records snowflake.compute_pool in the plan.
Exit codes: 0 created or already there with the same family, 1 a pool of that name exists with
another family, 2 bad input or --yes missing, 3 Snowflake or connection error."""

from __future__ import annotations

import math

from .. import plan_file
from ..errors import EXIT_NEGATIVE, EXIT_USAGE, SpcsLlmError
from ..output import StepResult
from ..render.identifiers import identifier
from ..snowflake import statements
from ..snowflake.access import SqlRunner
from ..snowflake.args import add_snowflake_arguments
from ..snowflake.targets import load_plan_optional

DEFAULT_AUTO_SUSPEND_SECS = 3600  # Snowflake's default too: an idle pool suspends after an hour


def add_arguments(parser) -> None:
    add_snowflake_arguments(parser, writes=True)
    parser.add_argument("--name", help="pool name (default: the plan's snowflake.compute_pool)")
    parser.add_argument("--instance-family", metavar="FAMILY",
                        help="instance family (default: the plan's selection.instance_family)")
    parser.add_argument("--min-nodes", type=int, default=1, help="MIN_NODES (default 1; must be at least 1)")
    parser.add_argument("--max-nodes", type=int,
                        help="MAX_NODES (default: nodes for the plan's workers.max_instances, else MIN_NODES)")
    parser.add_argument("--auto-suspend-secs", type=int, default=DEFAULT_AUTO_SUSPEND_SECS,
                        help="suspend after this many seconds without services; 0 never suspends "
                        f"(default {DEFAULT_AUTO_SUSPEND_SECS})")
    parser.add_argument("--no-auto-resume", action="store_true", help="AUTO_RESUME = FALSE")
    parser.add_argument("--initially-suspended", action="store_true", help="create the pool suspended")


def run(args) -> StepResult:
    plan = load_plan_optional(args.plan)
    request = _request(args, plan)
    sql = statements.create_compute_pool(**request)
    summary = _summary(request, plan)
    with SqlRunner.from_args(args) as runner:
        existing = [p for p in runner.query(statements.show_compute_pools(request["name"]), doc="show-compute-pools")
                    if str(p.get("name")).upper() == request["name"]]
        data = {"mode": runner.mode, "pool": request, "statement": sql, **summary, "existing": None,
                "created": False, "statements": runner.statements}
        if existing:
            return _already_there(existing[0], request, data, plan, args, runner)
        if not runner.dry_run and not runner.yes:
            try:
                runner.execute(sql)  # refuses and logs the refusal
            except SpcsLlmError as err:
                if err.exit_code != EXIT_USAGE:
                    raise
            data["needs_yes"] = True
            text = _summary_text(data) + "\n\nnot created: this costs credits; re-run with --yes to create it " \
                                         "(or --dry-run to only print the statement)"
            return StepResult(data=data, text=text, prompt="create_pool_summary", exit_code=EXIT_USAGE)
        rows = runner.execute(sql)
    data["created"] = not runner.dry_run
    data["status"] = rows[0].get("status") if rows else None
    if data["created"]:
        _record(plan, args.plan, request["name"], data)
    text = _summary_text(data) + ("\n\ndry run: not created" if runner.dry_run else
                                  f"\n\ncreated {request['name']}" + (f" ({data['status']})" if data["status"] else ""))
    if data.get("plan_updated"):
        text += "\nrecorded in the plan: snowflake.compute_pool"
    return StepResult(data=data, text=text, prompt="create_pool_summary")


def _request(args, plan: dict | None) -> dict:
    plan = plan or {}
    name = args.name or plan_file.get(plan, "snowflake.compute_pool")
    if not name:
        raise SpcsLlmError("no compute pool name given", hint="pass --name POOL (it is recorded in the plan)")
    family = args.instance_family or plan_file.get(plan, "selection.instance_family")
    if not family:
        raise SpcsLlmError("no instance family given",
                           hint="pass --instance-family FAMILY, or choose one with spcs-llm plan / spcs-llm select")
    if args.min_nodes < 1:
        raise SpcsLlmError(f"--min-nodes {args.min_nodes} is not valid; MIN_NODES must be at least 1")
    if args.max_nodes is not None and args.max_nodes < args.min_nodes:  # 0 included: not "unset"
        raise SpcsLlmError(f"--max-nodes {args.max_nodes} is below --min-nodes {args.min_nodes}; MAX_NODES must be "
                           "at least MIN_NODES (and at least 1)")
    # several instances share a node when TP is smaller than the node's GPU count
    per_node = int(plan_file.get(plan, "selection.replicas_per_node", 1) or 1)
    nodes_needed = math.ceil(int(plan_file.get(plan, "workers.max_instances", 1)) / per_node)
    max_nodes = args.max_nodes if args.max_nodes is not None else max(args.min_nodes, nodes_needed)
    if args.auto_suspend_secs < 0:
        raise SpcsLlmError(f"--auto-suspend-secs {args.auto_suspend_secs} is not valid; use 0 (never) or more")
    model = plan_file.get(plan, "model.id")
    return {
        "name": identifier(name, "compute pool name"),
        "instance_family": identifier(family, "instance family"),
        "min_nodes": args.min_nodes,
        "max_nodes": max_nodes,
        "auto_suspend_secs": args.auto_suspend_secs,
        "auto_resume": not args.no_auto_resume,
        "initially_suspended": args.initially_suspended,
        "comment": f"spcs-llm: {model}" if model else "spcs-llm",
    }


def _summary(request: dict, plan: dict | None) -> dict:
    """What the pool will cost while it runs, from the plan's candidate (else the catalog)."""
    rate = None
    for cand in plan_file.get(plan or {}, "candidates", []) or []:
        if str(cand.get("instance_family")).upper() == request["instance_family"]:
            rate = cand.get("credits_per_hour")
            break
    if rate is None:
        from ..catalog import instance_families

        cloud = plan_file.get(plan or {}, "request.cloud")
        rate = next((f.credits_per_hour for f in instance_families()
                     if f.name == request["instance_family"] and (cloud is None or f.cloud == cloud)), None)
    return {
        "credits_per_hour_per_node": rate,
        "credits_per_hour_min": round(rate * request["min_nodes"], 3) if rate is not None else None,
        "credits_per_hour_max": round(rate * request["max_nodes"], 3) if rate is not None else None,
    }


def _already_there(pool: dict, request: dict, data: dict, plan, args, runner: SqlRunner) -> StepResult:
    family = str(pool.get("instance_family") or "").upper()
    data["existing"] = {k: pool.get(k) for k in ("name", "state", "instance_family", "min_nodes", "max_nodes",
                                                  "num_services", "auto_suspend_secs", "owner")}
    text = _summary_text(data)
    if family != request["instance_family"]:
        text += (f"\n\na pool named {request['name']} already exists with INSTANCE_FAMILY {family}, not "
                 f"{request['instance_family']}; CREATE ... IF NOT EXISTS would keep it unchanged. Choose another "
                 "--name, or use that family (spcs-llm select --family " + family + ")")
        return StepResult(data=data, text=text, prompt="create_pool_summary", exit_code=EXIT_NEGATIVE)
    text += f"\n\n{request['name']} already exists ({pool.get('state')}); nothing to create"
    data["shared_warning"] = _shared_warning(pool, request)
    if data["shared_warning"]:
        text += f"\nwarning: {data['shared_warning']}"
    if not runner.dry_run:
        _record(plan, args.plan, request["name"], data)
        if data.get("plan_updated"):
            text += "\nrecorded in the plan: snowflake.compute_pool"
    return StepResult(data=data, text=text, prompt="create_pool_summary")


def _shared_warning(pool: dict, request: dict) -> str | None:
    """An existing pool that already runs services may have no GPUs left for this one (walk reg1: the
    user's 1-node GPU_NV_M pool ran an old test service; a 4-GPU deployment there would stay PENDING)."""
    services = int(pool.get("num_services") or 0)
    if not services:
        return None
    name = request["name"]
    return (f"{name} already runs {services} service(s) on at most {pool.get('max_nodes')} node(s), and this "
            f"deployment needs {request['max_nodes']} node(s) of its own GPUs: whatever those services hold is not "
            f"free, so the new service can stay PENDING. See them with SHOW SERVICES IN COMPUTE POOL {name}; "
            "suspend one that may stop (spcs-llm manage suspend --service DB.SCHEMA.NAME), raise the pool's "
            "MAX_NODES, or use another pool")


def _record(plan: dict | None, path: str, name: str, data: dict) -> None:
    if plan is None:
        return
    plan_file.update(plan, "create-pool", {"snowflake.compute_pool": name})
    plan_file.save(plan, path)
    data["plan_updated"] = ["snowflake.compute_pool"]


def _summary_text(data: dict) -> str:
    pool = data["pool"]
    rate = data["credits_per_hour_per_node"]
    cost = (f"{rate} credits/hour per node: {data['credits_per_hour_min']} at MIN_NODES, "
            f"{data['credits_per_hour_max']} at MAX_NODES" if rate is not None else "credit rate unknown")
    suspend = ("never suspends" if pool["auto_suspend_secs"] == 0
               else f"suspends after {pool['auto_suspend_secs']} s without services")
    return (f"compute pool {pool['name']}: {pool['instance_family']}, {pool['min_nodes']}-{pool['max_nodes']} "
            f"nodes, {suspend}\ncost: {cost}; billed while IDLE, ACTIVE, STOPPING or RESIZING, "
            f"not while STARTING or SUSPENDED"
            f"\n\n{data['statement']};")
