"""Operate a deployed service: suspend, resume, scale (min/max instances), auto-suspend (the service's
AUTO_SUSPEND_SECS with AUTO_RESUME, plus the pool's AUTO_SUSPEND_SECS, so an idle deployment stops
billing) and upgrade (a new specification or image: ALTER SERVICE ... FROM SPECIFICATION; a Model
Registry service is redeployed instead). Works from the plan or from --service DB.SCHEMA.NAME alone.
Every action changes the account: --dry-run prints its statements, --format prompt its summary (what
changes, what it costs, how long a wake-up takes), and only --yes runs it.
Exit codes: 0 done (or dry run), 1 the action does not apply (e.g. auto-suspend on a public endpoint,
an in-place upgrade of a registry service, a missing service), 2 bad input or --yes missing, 3 Snowflake."""

from __future__ import annotations

import difflib
from pathlib import Path

from .. import plan_file
from ..errors import EXIT_NEGATIVE, EXIT_USAGE, SpcsLlmError
from ..operate import billing, sql
from ..operate.target import Target, add_target_arguments, pool_name, resolve
from ..output import StepResult
from ..snowflake import statements
from ..snowflake.access import SqlError, SqlRunner
from ..snowflake.args import add_snowflake_arguments

ACTIONS = ("suspend", "resume", "scale", "auto-suspend", "upgrade")
DEFAULT_AUTO_SUSPEND_SECS = 1800  # the registry's own idle suspension waits 30 minutes too
MIN_AUTO_SUSPEND_SECS = 300  # ALTER SERVICE: "300 seconds or more to enable auto-suspension"
DEFAULT_POOL_AUTO_SUSPEND_SECS = 3600  # CREATE COMPUTE POOL's default
SPEC_FILE = "service_spec.yaml"


def add_arguments(parser) -> None:
    parser.add_argument("action", choices=ACTIONS, help="what to do with the service")
    add_target_arguments(parser)
    parser.add_argument("--with-pool", action="store_true",
                        help="suspend: also suspend the pool now, when no other service or job runs on it")
    wake = parser.add_mutually_exclusive_group()
    wake.add_argument("--no-auto-resume", dest="auto_resume", action="store_false", default=None,
                      help="suspend: also set AUTO_RESUME = FALSE, so a service-function call or endpoint request "
                           "does not wake (and bill) it; only `manage resume` starts it again")
    wake.add_argument("--auto-resume", dest="auto_resume", action="store_true", default=None,
                      help="resume: also set AUTO_RESUME = TRUE again (after a suspend with --no-auto-resume)")
    parser.add_argument("--min-instances", type=int, metavar="N", help="scale: MIN_INSTANCES")
    parser.add_argument("--max-instances", type=int, metavar="N", help="scale: MAX_INSTANCES")
    parser.add_argument("--pool-max-nodes", type=int, metavar="N",
                        help="scale: also set the pool's MAX_NODES (more instances than nodes stay PENDING)")
    parser.add_argument("--secs", type=int, metavar="S",
                        help="auto-suspend: idle seconds before the service suspends (at least "
                        f"{MIN_AUTO_SUSPEND_SECS}; 0 turns it off; default {DEFAULT_AUTO_SUSPEND_SECS})")
    parser.add_argument("--pool-secs", type=int, metavar="S",
                        help="auto-suspend: seconds without services before the pool suspends (default: keep the "
                        f"pool's value when it already suspends, else {DEFAULT_POOL_AUTO_SUSPEND_SECS}; 0 never)")
    parser.add_argument("--spec-file", metavar="PATH",
                        help=f"upgrade: the new service specification (default: the plan's rendered {SPEC_FILE})")
    add_snowflake_arguments(parser, writes=True)


def run(args) -> StepResult:
    _check_flags(args)
    target = resolve(args)
    spec_text = _spec_text(args, target) if args.action == "upgrade" and not _is_registry(target) \
        and (args.spec_file or target.plan_value("custom_image.rendered_dir")) else None
    with SqlRunner.from_args(args) as runner:
        facts = _read(runner, args, target)
        data = {"mode": runner.mode, "action": args.action, "service": target.service, **facts,
                "statements_to_run": [], "notes": [], "applies": True, "done": False, "needs_yes": False}
        _build(args, target, data, spec_text)
        data["summary"] = _effect(args, data)
        if not data["applies"]:
            data["statements"] = runner.statements
            return _result(data, EXIT_NEGATIVE)
        if not runner.dry_run and not runner.yes:
            data["needs_yes"] = True
            data["statements"] = runner.statements
            return _result(data, EXIT_USAGE)
        for statement in data["statements_to_run"]:
            runner.execute(statement)
        data["done"] = not runner.dry_run
        data["statements"] = runner.statements
    if data["done"]:
        _record(args, target, data)
    return _result(data, 0)


def _check_flags(args) -> None:
    if args.auto_resume is not None and args.action != ("resume" if args.auto_resume else "suspend"):
        flag = "--auto-resume" if args.auto_resume else "--no-auto-resume"
        raise SpcsLlmError(f"{flag} goes with `manage {'resume' if args.auto_resume else 'suspend'}`, "
                           f"not `manage {args.action}`")
    scale_only = {"--min-instances": args.min_instances, "--max-instances": args.max_instances,
                  "--pool-max-nodes": args.pool_max_nodes}
    wrong = [flag for flag, value in scale_only.items() if value is not None and args.action != "scale"]
    wrong += [flag for flag, value in {"--secs": args.secs, "--pool-secs": args.pool_secs}.items()
              if value is not None and args.action != "auto-suspend"]
    wrong += ["--with-pool"] if args.with_pool and args.action != "suspend" else []
    wrong += ["--spec-file"] if args.spec_file and args.action != "upgrade" else []
    if wrong:
        raise SpcsLlmError(f"{', '.join(wrong)} does not go with `manage {args.action}`",
                           hint="see spcs-llm manage --help for which flags each action takes")
    if args.action == "scale":
        if args.min_instances is None and args.max_instances is None:
            raise SpcsLlmError("scale needs --min-instances and/or --max-instances")
        for flag, value in (("--min-instances", args.min_instances), ("--max-instances", args.max_instances)):
            if value is not None and value < 0:
                raise SpcsLlmError(f"{flag} {value} is not valid; use a whole number >= 0")
        if args.max_instances is not None and args.max_instances < 1:
            raise SpcsLlmError(f"--max-instances {args.max_instances} is not valid; MAX_INSTANCES must be at least 1")
        if None not in (args.min_instances, args.max_instances) and args.max_instances < args.min_instances:
            raise SpcsLlmError(f"--max-instances {args.max_instances} is below --min-instances {args.min_instances}")
        if args.pool_max_nodes is not None and args.pool_max_nodes < 1:
            raise SpcsLlmError(f"--pool-max-nodes {args.pool_max_nodes} is not valid; MAX_NODES must be at least 1")
    if args.action == "auto-suspend":
        secs = DEFAULT_AUTO_SUSPEND_SECS if args.secs is None else args.secs
        if secs != 0 and secs < MIN_AUTO_SUSPEND_SECS:
            raise SpcsLlmError(f"--secs {secs} is not valid; use 0 (off) or at least {MIN_AUTO_SUSPEND_SECS} "
                               "(Snowflake's minimum for a service's AUTO_SUSPEND_SECS)")
        if args.pool_secs is not None and args.pool_secs < 0:
            raise SpcsLlmError(f"--pool-secs {args.pool_secs} is not valid; use 0 (never) or more")


def _is_registry(target: Target) -> bool:
    return target.engine_path == "registry"


def _spec_text(args, target: Target) -> str:
    from ..custom_image.render import validate_spec_text

    if args.spec_file:
        path = Path(args.spec_file)
    elif target.plan_value("custom_image.rendered_dir"):
        path = Path(target.plan_value("custom_image.rendered_dir")) / SPEC_FILE
    else:
        raise SpcsLlmError("upgrade needs the new service specification",
                           hint="pass --spec-file PATH, or render it from the plan with spcs-llm render-custom")
    if not path.is_file():
        raise SpcsLlmError(f"specification file {str(path)!r} does not exist",
                           hint="render it with spcs-llm render-custom, or pass --spec-file PATH")
    text = path.read_text(encoding="utf-8")
    try:
        problems = validate_spec_text(text)
    except (TypeError, AttributeError) as err:  # a field of the wrong shape (e.g. volumes: 3) trips the checker
        problems = [f"a field has the wrong shape: {err}"]
    if problems:
        raise SpcsLlmError(f"{path} is not a valid service specification:\n  - " + "\n  - ".join(problems))
    return text


def _read(runner: SqlRunner, args, target: Target) -> dict:
    """The service, its pool and endpoints as they are now (nothing read in a plain dry run)."""
    facts: dict = {"read": runner.reads, "exists": None, "service_status": None, "current": {}, "pool": None,
                   "pool_row": None, "public_endpoint": None, "other_services": None, "managed_by": None}
    try:
        described = runner.query(statements.describe_service(target.service), doc="describe-service")
    except SqlError as err:
        if not err.does_not_exist:
            raise
        facts["exists"] = False
        described = []
    desc = described[0] if described else None
    if desc:
        facts["exists"] = True
        facts["service_status"] = desc.get("status")
        facts["current"] = {k: desc.get(k) for k in ("min_instances", "max_instances", "auto_suspend_secs",
                                                     "auto_resume", "current_instances", "is_upgrading")}
        # desc-service: "NULL if the service is not managed by a Snowflake entity" (a model service is)
        facts["managed_by"] = desc.get("managing_object_domain")
        facts["running_spec"] = desc.get("spec")  # desc-service: the running specification (YAML)
    pool = pool_name(args, target, desc)
    facts["pool"] = pool
    if facts["exists"] is False:
        return facts
    if pool:
        rows = runner.query(statements.show_compute_pools(pool), doc="show-compute-pools")
        row = next((r for r in rows if str(r.get("name")).upper() == pool), None)
        facts["pool_row"] = {k: row.get(k) for k in ("name", "state", "instance_family", "min_nodes", "max_nodes",
                                                      "num_services", "num_jobs", "auto_suspend_secs", "auto_resume",
                                                      "active_nodes", "idle_nodes")} if row else None
    if args.action == "auto-suspend":
        endpoints = runner.query(statements.show_endpoints(target.service), doc="show-endpoints")
        facts["public_endpoint"] = any(str(e.get("is_public")).lower() == "true" for e in endpoints) \
            if runner.reads else None
    if args.action == "suspend" and args.with_pool and pool:
        rows = runner.query(sql.services_in_pool(pool), doc="show-services")
        facts["other_services"] = [f"{r.get('database_name')}.{r.get('schema_name')}.{r.get('name')}" for r in rows
                                   if f"{r.get('database_name')}.{r.get('schema_name')}.{r.get('name')}".upper()
                                   != target.service] if runner.reads else None
    return facts


def _build(args, target: Target, data: dict, spec_text: str | None) -> None:
    run, notes = data["statements_to_run"], data["notes"]
    if data["exists"] is False:
        data["applies"] = False
        notes.append(f"{target.service} does not exist (or your role cannot see it); nothing to {args.action}")
        return
    pool, pool_row = data["pool"], data["pool_row"] or {}
    if args.action == "suspend":
        run.append(sql.service_state(target.service, suspend=True))
        if args.auto_resume is False:  # after SUSPEND: a call in between would wake it
            run.append(sql.service_set(target.service, auto_resume=False))
            notes.append("AUTO_RESUME = FALSE: calls fail while suspended instead of waking the service; "
                         "`manage resume --auto-resume` undoes both")
        if args.with_pool:
            if not pool:
                notes.append("no compute pool known: pass --pool NAME to suspend it too")
            elif data["other_services"]:
                notes.append(f"pool {pool} kept running: {', '.join(data['other_services'])} also run(s) on it")
            else:
                run.append(sql.pool_state(pool, suspend=True))
                if data["other_services"] is None:
                    notes.append(f"dry run: SHOW SERVICES IN COMPUTE POOL {pool} decides whether the pool is "
                                 "suspended too (only when nothing else runs on it)")
    elif args.action == "resume":
        if pool and str(pool_row.get("state") or "").upper() == "SUSPENDED" \
                and str(pool_row.get("auto_resume")).lower() == "false":
            run.append(sql.pool_state(pool, suspend=False))  # AUTO_RESUME FALSE: the pool must be resumed first
        run.append(sql.service_state(target.service, suspend=False))
        if args.auto_resume:
            run.append(sql.service_set(target.service, auto_resume=True))
    elif args.action == "scale":
        _scale(args, target, data)
    elif args.action == "auto-suspend":
        _auto_suspend(args, target, data)
    else:
        _upgrade(args, target, data, spec_text)


def _scale(args, target: Target, data: dict) -> None:
    current = data["current"]
    new_min = args.min_instances if args.min_instances is not None else current.get("min_instances")
    new_max = args.max_instances if args.max_instances is not None else current.get("max_instances")
    if new_min is not None and new_max is not None and int(new_max) < int(new_min):
        raise SpcsLlmError(f"MAX_INSTANCES {new_max} would be below MIN_INSTANCES {new_min}",
                           hint="pass both --min-instances and --max-instances")
    data["statements_to_run"].append(sql.service_set(target.service, min_instances=args.min_instances,
                                                     max_instances=args.max_instances))
    per_node = target.plan_value("selection.replicas_per_node")
    data["instances_per_node"] = per_node
    data["new_instances"] = {"min": new_min, "max": new_max}
    if new_max is not None:
        needed = billing.nodes_for(int(new_max), per_node)
        data["nodes_needed_at_max"] = needed
        pool_max = (data["pool_row"] or {}).get("max_nodes")
        if args.pool_max_nodes is not None:
            data["statements_to_run"].append(sql.pool_set(data["pool"], max_nodes=args.pool_max_nodes))
            pool_max = args.pool_max_nodes
        if pool_max is not None and needed > int(pool_max):
            data["notes"].append(f"{new_max} instances need {needed} node(s) but the pool allows {pool_max}: the "
                                 f"extra instances stay PENDING; add --pool-max-nodes {needed}")
        if per_node is None:
            data["notes"].append("instances per node unknown without the plan: node counts assume one per node")
    if new_min == 0:
        data["notes"].append("MIN_INSTANCES 0: a Model Registry service without a public endpoint then suspends "
                             "after 30 minutes without traffic, and the first request waits for a cold start")


def _auto_suspend(args, target: Target, data: dict) -> None:
    secs = DEFAULT_AUTO_SUSPEND_SECS if args.secs is None else args.secs
    data["auto_suspend_secs"] = secs
    pool, row = data["pool"], data["pool_row"] or {}
    current = row.get("auto_suspend_secs")
    data["pool_auto_suspend_secs"] = int(current) if current not in (None, "") else None
    registry = _is_registry(target) or bool(data["managed_by"])
    if secs and (data["public_endpoint"] or registry):
        data["applies"] = False
        if data["public_endpoint"]:
            data["notes"].append(
                "this service has a public endpoint: Snowflake does not support a service's auto-suspend there (it "
                "tracks service-function calls only, not ingress). Suspend it by hand: spcs-llm manage suspend")
        if registry:
            data["notes"].append(
                "a Model Registry service suspends itself after 30 minutes without traffic when it has no public "
                "endpoint (deploy-registry --no-ingress) and MIN_INSTANCES is 0: spcs-llm manage scale "
                f"--service {target.service} --min-instances 0; the next request resumes it")
        return
    if data["public_endpoint"] is None and data["read"] is False:
        data["notes"].append("dry run: SHOW ENDPOINTS IN SERVICE decides; a public endpoint refuses auto-suspend")
    data["statements_to_run"].append(sql.service_set(target.service, auto_suspend_secs=secs,
                                                     auto_resume=True if secs else None))
    if args.pool_secs is not None:
        pool_secs = args.pool_secs
    elif current not in (None, 0, "0"):
        pool_secs = None  # the pool already suspends on its own: keep its value
    elif pool and not data["pool_row"]:
        pool_secs = None  # not read (dry run): the live run decides
        if secs:
            data["notes"].append(f"dry run: the live run reads pool {pool}'s AUTO_SUSPEND_SECS and sets "
                                 f"{DEFAULT_POOL_AUTO_SUSPEND_SECS} only when it is 0 (never); --pool-secs S sets it")
    else:
        pool_secs = DEFAULT_POOL_AUTO_SUSPEND_SECS if secs else None
    resume = True if str(row.get("auto_resume")).lower() == "false" and secs else None
    if pool and (pool_secs is not None or resume):
        data["statements_to_run"].append(sql.pool_set(pool, auto_suspend_secs=pool_secs, auto_resume=resume))
    if pool and pool_secs is not None:
        data["pool_auto_suspend_secs"] = pool_secs
    if not pool:
        data["notes"].append("no compute pool known: the pool's own AUTO_SUSPEND_SECS was not checked (--pool NAME)")


def _upgrade(args, target: Target, data: dict, spec_text: str | None) -> None:
    if spec_text is None and not (_is_registry(target) or data["managed_by"]):
        raise SpcsLlmError("upgrade needs the new service specification",
                           hint="pass --spec-file PATH, or render it from the plan with spcs-llm render-custom")
    if _is_registry(target) or data["managed_by"]:
        data["applies"] = False
        data["notes"].append(
            "a Model Registry service has no in-place upgrade in snowflake-ml-python (create_service makes a new "
            "service; its specification belongs to SYSTEM$DEPLOY_MODEL). Redeploy under a new name, check it, then "
            "tear the old one down: spcs-llm service-check --action rename, spcs-llm deploy-registry --execute "
            f"--yes, spcs-llm status --wait, then spcs-llm teardown --service {target.service} --dry-run, then --yes")
        return
    data["spec_changes"] = _spec_changes(data.get("running_spec"), spec_text)
    statements = [sql.service_spec(target.service, spec_text)]
    instances = None if args.spec_file else _plan_instances(target, data["current"])
    if instances:  # the plan's layout changed the instance count (e.g. a higher TP: fewer, larger instances)
        data["new_instances"] = instances
        resize = sql.service_set(target.service, min_instances=instances["min"], max_instances=instances["max"])
        # fewer instances first, so the restarted one finds the GPUs the dropped ones held; more instances after
        shrink = instances["max"] < int(data["current"]["max_instances"])
        statements = [resize, *statements] if shrink else [*statements, resize]
    data["statements_to_run"] += statements


def _plan_instances(target: Target, current: dict) -> dict | None:
    """The plan's MIN/MAX_INSTANCES (workers step) when they differ from the running service's, else None."""
    plan_min, plan_max = target.plan_value("workers.min_instances"), target.plan_value("workers.max_instances")
    if plan_min is None or plan_max is None or current.get("max_instances") is None:
        return None
    if (int(plan_min), int(plan_max)) == (int(current.get("min_instances") or 0), int(current["max_instances"])):
        return None
    return {"min": int(plan_min), "max": int(plan_max)}


def _spec_changes(running: str | None, new: str, limit: int = 24) -> list[str] | None:
    """The lines the upgrade changes, as -/+ pairs (None when the running spec was not read)."""
    if not running:
        return None
    diff = difflib.unified_diff(running.strip().splitlines(), new.strip().splitlines(), lineterm="", n=0)
    changed = [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---")) and line[1:].strip()]
    return changed[:limit] + ([f"... {len(changed) - limit} more changed line(s)"] if len(changed) > limit else [])


def _effect(args, data: dict) -> dict:
    """What the action changes and costs, for the summary the user confirms."""
    row = data["pool_row"] or {}
    rate = billing.rate(row.get("instance_family"), None)
    nodes = billing.billed_nodes(row) if row else None
    pool_secs = row.get("auto_suspend_secs")
    effect = {"credits_per_hour_per_node": rate, "pool_nodes_billed": nodes,
              "pool_credits_per_hour_now": billing.per_hour(rate, nodes) if nodes is not None else None}
    if args.action == "suspend":
        effect["what"] = "stops the service's containers (the model unloads); a service-function call or " \
                         "endpoint request resumes it when AUTO_RESUME is on"
        effect["billing"] = ("the pool is suspended too and stops billing" if any("COMPUTE POOL" in s and "SUSPEND" in s
                             for s in data["statements_to_run"]) else
                             f"the pool keeps billing until it suspends itself {pool_secs} s after its last service"
                             if pool_secs else "the pool keeps billing: its AUTO_SUSPEND_SECS is 0 (never), or unknown")
    elif args.action == "resume":
        effect["what"] = "starts the service's containers again with the same image digest; the model loads again"
        effect["billing"] = "the pool bills its nodes while the service runs"
        effect["wake_up"] = _wake_up(row)
    elif args.action == "scale":
        effect["what"] = _instances_change(data)
        needed = data.get("nodes_needed_at_max")
        effect["billing"] = (f"up to {needed} node(s): {billing.per_hour(rate, needed)} credits/hour at most"
                             if needed and rate is not None else "cost depends on the nodes the instances need")
    elif args.action == "auto-suspend":
        secs = data.get("auto_suspend_secs")
        pool_after = data.get("pool_auto_suspend_secs")
        effect["what"] = ("auto-suspend off" if not secs else
                          f"the service suspends after {secs} s without a running service-function query, and "
                          "the next call resumes it (AUTO_RESUME)")
        others = int(row.get("num_services") or 1) - 1
        if not secs:
            effect["billing"] = "the pool keeps billing while the service runs"
        elif not data["pool"] or not data["pool_row"]:
            effect["billing"] = ("billing ends when the pool suspends itself after its own AUTO_SUSPEND_SECS, "
                                 "which was not read: run without --dry-run (reads only, changes nothing without "
                                 "--yes)")
        elif others > 0:
            effect["billing"] = (f"the service's instances stop after {secs} s idle, but the pool keeps billing while "
                                 f"its {others} other service(s) run")
        elif pool_after:
            effect["billing"] = (f"idle billing ends about {secs + pool_after} s after the last call (service "
                                 f"{secs} s, then pool {pool_after} s without services)")
        else:
            effect["billing"] = ("the pool never suspends on its own (AUTO_SUSPEND_SECS 0, or unknown): it keeps "
                                 "billing after the service suspends")
        effect["wake_up"] = _wake_up(row) if secs else None
        effect["preview"] = "a service's AUTO_SUSPEND_SECS is a Snowflake preview feature"
    else:
        effect["what"] = "rolling upgrade: instances restart one at a time with the new specification and the " \
                         "newest image of each tag; the model reloads"
        effect["billing"] = "the pool keeps billing; instances are unavailable while they restart"
        if data.get("new_instances"):
            effect["what"] += f"; {_instances_change(data)} (the plan's)"
        if data.get("spec_changes") is not None:
            effect["spec_changes"] = data["spec_changes"] or ["none: the new specification is the running one"]
    return effect


def _instances_change(data: dict) -> str:
    new, current = data["new_instances"], data["current"]
    before = (f"{current['min_instances']}..{current['max_instances']} -> "
              if current.get("max_instances") is not None else "")
    return f"instances {before}{new['min']}..{new['max']}"


def _wake_up(row: dict) -> str:
    return ("the first call waits for the pool to resume (GPU node provisioning: minutes; Snowflake documents no "
            "figure), the image pull and the model load, as at deployment; a service-function call that waits more "
            "than 30 s is retried, so the first query may time out: run it again once spcs-llm status says ready")


def _record(args, target: Target, data: dict) -> None:
    if target.plan is None:
        return
    changes: dict = {}
    if args.action == "auto-suspend":
        changes["operate.auto_suspend_secs"] = data["auto_suspend_secs"]
        if data.get("pool_auto_suspend_secs") is not None:
            changes["operate.pool_auto_suspend_secs"] = data["pool_auto_suspend_secs"]
    if args.action == "scale":
        if args.min_instances is not None:
            changes["workers.min_instances"] = args.min_instances
        if args.max_instances is not None:
            changes["workers.max_instances"] = args.max_instances
    changes["operate.last_action"] = args.action
    plan_file.update(target.plan, f"manage {args.action}", changes)
    plan_file.save(target.plan, target.plan_path)
    data["plan_updated"] = sorted(changes)


def _result(data: dict, exit_code: int) -> StepResult:
    return StepResult(data=data, text=_text(data), prompt="manage_summary", exit_code=exit_code)


def _text(data: dict) -> str:
    lines = [f"manage {data['action']}: {data['service']}" + (f" (status {data['service_status']})"
                                                              if data["service_status"] else "")]
    if data["pool"]:
        row = data["pool_row"] or {}
        lines.append(f"pool {data['pool']}" + (f": {row.get('state')}, {row.get('instance_family')}, "
                                               f"{row.get('num_services')} service(s), auto-suspend "
                                               f"{row.get('auto_suspend_secs')} s" if row else ""))
    effect = data["summary"]
    for key in ("what", "billing", "wake_up", "preview"):
        if effect.get(key):
            lines.append(f"{key.replace('_', '-')}: {effect[key]}")
    if effect.get("spec_changes"):
        lines += ["specification changes (running -> new):", *[f"  {line}" for line in effect["spec_changes"]]]
    lines += [f"note: {note}" for note in data["notes"]]
    if data["statements_to_run"]:
        lines += ["", *[s + ";" for s in data["statements_to_run"]]]
    if not data["applies"]:
        lines.append("\nnothing to run")
    elif data["needs_yes"]:
        lines.append("\nnot run: this changes the account; re-run with --yes (or --dry-run to only print it)")
    elif data["done"]:
        lines.append("\ndone")
    elif data["mode"] == "dry-run":
        lines.append("\ndry run: nothing was changed")
    if data.get("plan_updated"):
        lines.append("recorded in the plan: " + ", ".join(data["plan_updated"]))
    return "\n".join(lines)

