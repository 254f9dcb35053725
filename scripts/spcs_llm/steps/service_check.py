"""Is the plan's service name free? SHOW SERVICES in the target schema, then one of three answers
for an existing service: rename (deploy under a free name, recorded in the plan), replace (DROP
SERVICE: destructive, needs --action replace --yes) or keep (leave it running and skip deploying).
Exit codes: 0 the name is free or the chosen action was done, 1 a service of that name exists and
no action was chosen, 2 bad input or --yes missing, 3 Snowflake or connection error."""

from __future__ import annotations

import shlex

from .. import plan_file
from ..errors import EXIT_NEGATIVE, SpcsLlmError
from ..output import StepResult
from ..render.identifiers import service_name
from ..snowflake import statements
from ..snowflake.access import SqlRunner
from ..snowflake.args import add_snowflake_arguments
from ..snowflake.targets import fqn, load_plan_optional, require_schema, require_service

ACTIONS = ("rename", "replace", "keep")
_EXISTING_KEYS = ("name", "status", "compute_pool", "dns_name", "current_instances", "target_instances",
                  "min_instances", "max_instances", "owner", "created_on", "updated_on", "is_job")


def add_arguments(parser) -> None:
    add_snowflake_arguments(parser, writes=True)
    parser.add_argument("--name", help="service name (default: the plan's snowflake.service_name)")
    parser.add_argument("--database", help="database (default: the plan's snowflake.database)")
    parser.add_argument("--schema", help="schema (default: the plan's snowflake.schema)")
    parser.add_argument("--action", choices=ACTIONS, help="what to do when the service exists")
    parser.add_argument("--new-name", help="with --action rename: the new name (default: a free NAME_<n>)")


def run(args) -> StepResult:
    plan = load_plan_optional(args.plan)
    schema = require_schema(args.database, args.schema, plan)
    name = require_service(args.name, plan)
    if args.new_name and args.action != "rename":
        raise SpcsLlmError("--new-name goes with --action rename")
    with SqlRunner.from_args(args) as runner:
        rows = runner.query(statements.show_services_like(name, schema), doc="show-services")
        taken = {str(r.get("name")).upper() for r in rows}
        existing = next((r for r in rows if str(r.get("name")).upper() == name), None)
        suggestion = _free_name(name, taken)
        data = {
            "mode": runner.mode,
            "service": fqn(schema, name),
            "state": "exists" if existing else "absent",
            "status": existing.get("status") if existing else None,
            "existing": {k: existing.get(k) for k in _EXISTING_KEYS} if existing else None,
            "suggested_name": suggestion,
            "options": _options(schema, name, suggestion, _target_flags(args, name)) if existing else [],
            "action": args.action,
            "result": None,
            "statements": runner.statements,
        }
        if not runner.reads:
            data["state"] = "unknown"
        exit_code = _act(args, runner, data, plan, schema, name, existing, taken)
    return StepResult(data=data, text=_text(data), prompt="service_check", exit_code=exit_code)


def _act(args, runner: SqlRunner, data: dict, plan: dict | None, schema: str, name: str, existing, taken) -> int:
    action = args.action
    if action is None:
        if existing:
            return EXIT_NEGATIVE
        if data["state"] == "absent":
            _record(plan, args.plan, runner, name, "name is free")
            data["result"] = f"{name} is free"
        return 0
    if action == "keep":
        if not existing:
            raise SpcsLlmError(f"there is no service {data['service']} to keep",
                               hint="run without --action: the name is free, so deploy under it")
        _record(plan, args.plan, runner, name, "kept the existing service")
        data["result"] = f"kept {data['service']} ({data['status']}); skip the deploy step and check it with " \
                         "spcs-llm status"
        return 0
    if action == "rename":
        new = service_name(args.new_name) if args.new_name else data["suggested_name"]
        if new in taken or (args.new_name and _exists(runner, schema, new)):
            raise SpcsLlmError(f"service {schema}.{new} exists too; pick another --new-name")
        _record(plan, args.plan, runner, new, f"renamed from {name}")
        data["service"] = fqn(schema, new)
        data["result"] = f"deploy as {data['service']}" + ("" if plan is not None else " (no plan file to record it)")
        return 0
    # replace
    if not existing and runner.reads:
        data["result"] = f"{data['service']} does not exist; nothing to drop"
        _record(plan, args.plan, runner, name, "name is free")
        return 0
    rows = runner.execute(statements.drop_service(data["service"]))
    data["dropped"] = not runner.dry_run
    data["result"] = ("dry run: would drop " if runner.dry_run else "dropped ") + data["service"]
    if rows and rows[0].get("status"):
        data["result"] += f" ({rows[0]['status']})"
    _record(plan, args.plan, runner, name, "replaced: dropped the old service")
    return 0


def _exists(runner: SqlRunner, schema: str, name: str) -> bool:
    rows = runner.query(statements.show_services_like(name, schema), doc="show-services")
    return any(str(r.get("name")).upper() == name for r in rows)


def _free_name(name: str, taken: set[str]) -> str:
    base = name[:60]  # leave room for the suffix within the 63-character DNS label
    for number in range(2, 100):
        candidate = f"{base}_{number}"
        if candidate not in taken:
            return service_name(candidate)
    raise SpcsLlmError(f"no free name of the form {base}_<n>; pass --new-name")


def _target_flags(args, name: str) -> str:
    """The flags that point a follow-up command at the service checked here. Always --name: without
    it the follow-up would act on the plan's service, which need not be this one (replace drops it)."""
    flags = [f"--name {name}"]
    for flag, value in (("--database", args.database), ("--schema", args.schema), ("--connection", args.connection)):
        if value:
            flags.append(f"{flag} {shlex.quote(value)}")
    if args.plan != plan_file.DEFAULT_PLAN_PATH:
        flags.append(f"--plan {shlex.quote(str(args.plan))}")
    return " ".join(flags)


def _options(schema: str, name: str, suggestion: str, target: str) -> list[dict]:
    return [
        {"action": "rename", "destructive": False,
         "detail": f"deploy under a new name, e.g. {suggestion}; the existing service keeps running (and billing)",
         "command": f"spcs-llm service-check {target} --action rename --new-name {suggestion}"},
        {"action": "replace", "destructive": True,
         "detail": "drop the existing service, then deploy under the same name; its SYSTEM$GET_SERVICE_LOGS history "
                   "is lost (event-table rows stay)",
         "statement": statements.drop_service(fqn(schema, name)) + ";",
         "command": f"spcs-llm service-check {target} --action replace --yes"},
        {"action": "keep", "destructive": False,
         "detail": "keep the existing service and skip deploying; check it with spcs-llm status",
         "command": f"spcs-llm service-check {target} --action keep"},
    ]


def _record(plan: dict | None, path: str, runner: SqlRunner, name: str, why: str) -> None:
    if plan is None or runner.dry_run:
        return
    plan_file.update(plan, f"service-check ({why})", {"snowflake.service_name": name})
    plan_file.save(plan, path)


def _text(data: dict) -> str:
    lines = []
    if data["state"] == "unknown":
        lines.append(f"dry run: nothing was read; the statement above would look for {data['service']}")
    elif data["state"] == "absent":
        lines.append(f"{data['service']}: no such service; the name is free")
    else:
        ex = data["existing"]
        lines.append(f"{data['service']} exists: status {ex['status']}, compute pool {ex['compute_pool']}, "
                     f"{ex['current_instances']}/{ex['target_instances']} instances, created {ex['created_on']}")
        if data["action"] is None:
            lines += ["", "choose one:"]
            for option in data["options"]:
                mark = " (destructive)" if option["destructive"] else ""
                lines.append(f"  {option['action']}{mark}: {option['detail']}\n    {option['command']}")
                if option.get("statement"):
                    lines.append(f"    runs: {option['statement']}")
    if data["result"]:
        lines.append(data["result"])
    return "\n".join(lines)
