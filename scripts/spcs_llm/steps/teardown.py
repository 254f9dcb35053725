"""Tear a deployment down in dependency order: service functions, the service, its compute pool (only
when SHOW SERVICES IN COMPUTE POOL lists nothing else on it), and on request the model version
(--model-version), the image repository (--image-repository), the weight stage (--stage) and the
external access integration with its network rule (--integration); --all asks for all four. Works
from the plan or from --service DB.SCHEMA.NAME alone. Everything is destroyed for good: --dry-run
lists each statement in order, --format prompt the summary to confirm, and only --yes drops.
--suspend-pool keeps the pool but suspends it (it stops billing; another team's pool stays).
Exit codes: 0 done (or dry run), 2 bad input or --yes missing, 3 Snowflake error (the list says which
drops ran before it; re-running is safe: every statement has IF EXISTS)."""

from __future__ import annotations

import datetime as _dt

from .. import plan_file
from ..errors import EXIT_ENVIRONMENT, EXIT_USAGE
from ..operate import sql
from ..operate.target import add_target_arguments, pool_name, resolve
from ..operate.teardown_plan import build
from ..output import StepResult, table
from ..snowflake import statements
from ..snowflake.access import SqlError, SqlRunner
from ..snowflake.args import add_snowflake_arguments

OPTIONAL = {"model_version": "model", "image_repository": "repository", "stage": "stage", "integration": "integration"}


def add_arguments(parser) -> None:
    add_target_arguments(parser)
    pool = parser.add_mutually_exclusive_group()
    pool.add_argument("--keep-pool", action="store_true",
                      help="never drop the compute pool (it bills until its own AUTO_SUSPEND_SECS pass with no "
                      "service)")
    pool.add_argument("--suspend-pool", action="store_true",
                      help="keep the compute pool but suspend it after the service is dropped, so it stops billing "
                      "now and stays for whoever else uses it (left running when another service runs on it)")
    parser.add_argument("--function", metavar="NAME(TYPES)", action="append", default=[],
                        help="a service function to drop first, with its argument types, e.g. "
                        "DB.SCHEMA.ASK(VARCHAR) (repeatable; the plan's custom-image functions are added)")
    extra = parser.add_argument_group("also drop (the plan names them; nothing is dropped by pattern)")
    extra.add_argument("--model-version", action="store_true",
                       help="the registry model version (DROP MODEL when it is the only version)")
    extra.add_argument("--image-repository", action="store_true", help="the custom image's repository and images")
    extra.add_argument("--stage", action="store_true", help="the custom image's weight-cache stage")
    extra.add_argument("--integration", action="store_true",
                       help="the custom image's external access integration and network rule")
    extra.add_argument("--all", action="store_true", help="all four of the above that the plan names")
    add_snowflake_arguments(parser, writes=True)


def run(args) -> StepResult:
    target = resolve(args)
    want = set(OPTIONAL.values()) if args.all else {v for k, v in OPTIONAL.items() if getattr(args, k)}
    with SqlRunner.from_args(args) as runner:
        described, exists = _describe(runner, target.service)
        pool = pool_name(args, target, described)
        others = _others_on_pool(runner, target.service, pool) if pool and not args.keep_pool else None
        versions = _versions(runner, target) if "model" in want else None
        actions = build(target, pool, explicit_functions=args.function, keep_pool=args.keep_pool,
                        suspend_pool=args.suspend_pool, other_services=others, model_versions=versions, want=want)
        data = {"mode": runner.mode, "service": target.service, "service_exists": exists, "pool": pool,
                "actions": [a.as_dict() for a in actions], "dropped": [], "suspended": [], "failed": None,
                "needs_yes": False, "done": False}
        if not runner.dry_run and not runner.yes:
            data["needs_yes"] = True
            data["statements"] = runner.statements
            return _result(data, EXIT_USAGE)
        exit_code = 0
        for action in actions:
            if action.statement is None:
                continue
            try:
                runner.execute(action.statement)
            except SqlError as err:
                data["failed"] = {"name": action.name, "kind": action.kind, "error": err.message,
                                  "hint": _failure_hint(action.kind)}
                exit_code = EXIT_ENVIRONMENT
                break
            if not runner.dry_run:
                done = "suspended" if action.decision.startswith("suspend") else "dropped"
                data[done].append(f"{action.kind} {action.name}")
        data["done"] = not runner.dry_run and exit_code == 0
        data["statements"] = runner.statements
    if data["dropped"] and target.plan is not None:
        plan_file.update(target.plan, "teardown", {
            "operate.torn_down_at": _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
            "operate.torn_down": data["dropped"], "operate.last_action": "teardown"})
        plan_file.save(target.plan, target.plan_path)
        data["plan_updated"] = ["operate.torn_down_at", "operate.torn_down"]
    return _result(data, exit_code)


def _describe(runner: SqlRunner, service: str) -> tuple[dict | None, bool | None]:
    try:
        rows = runner.query(statements.describe_service(service), doc="describe-service")
    except SqlError as err:
        if err.does_not_exist:
            return None, False
        raise
    return (rows[0], True) if rows else (None, None if not runner.reads else False)


def _others_on_pool(runner: SqlRunner, service: str, pool: str) -> list[str] | None:
    """Services and jobs on the pool other than this one; None when nothing was read (dry run)."""
    if not runner.reads:
        runner.query(sql.services_in_pool(pool), doc="show-services")  # listed in the dry run
        return None
    try:
        rows = runner.query(sql.services_in_pool(pool), doc="show-services")
    except SqlError as err:
        if err.does_not_exist:
            return []
        raise
    names = [f"{r.get('database_name')}.{r.get('schema_name')}.{r.get('name')}" for r in rows]
    return [n for n in names if n.upper() != service]


def _versions(runner: SqlRunner, target) -> list[dict] | None:
    if target.engine_path != "registry" or not target.plan_value("registry.model_name") \
            or target.plan_value("registry.source") == "pre-logged":
        return None
    from ..render.identifiers import qualified_name

    model = qualified_name(f"{target.database}.{target.schema}.{target.plan_value('registry.model_name')}",
                           "registry model name", parts=(3,))
    if not runner.reads:
        runner.query(sql.versions_in_model(model), doc="show-versions-in-model")
        return None
    try:
        return runner.query(sql.versions_in_model(model), doc="show-versions-in-model")
    except SqlError as err:
        if err.does_not_exist:
            return []
        raise


def _failure_hint(kind: str) -> str:
    if kind == "compute pool":
        return ("a pool cannot be dropped while a service on it is still stopping: wait a minute and run the same "
                "teardown again (dropped objects are skipped: IF EXISTS)")
    return "fix the cause above (often a missing privilege: dropping needs OWNERSHIP), then run the same teardown again"


def _result(data: dict, exit_code: int) -> StepResult:
    return StepResult(data=data, text=_text(data), prompt="teardown_summary", exit_code=exit_code)


def _text(data: dict) -> str:
    lines = [f"teardown of {data['service']}" + ("" if data["service_exists"] is not False else
                                                  " (the service does not exist any more)")]
    lines += ["", table(data["actions"], [("order", "#"), ("kind", "OBJECT"), ("name", "NAME"),
                                          ("decision", "DECISION"), ("reason", "WHY")])]
    run = [a["statement"] + ";" for a in data["actions"] if a["statement"]]
    if run:
        lines += ["", *run]
    if data["failed"]:
        failed = data["failed"]
        lines += ["", f"failed at {failed['kind']} {failed['name']}: {failed['error']}", f"hint: {failed['hint']}"]
    if data["dropped"]:
        lines += ["", "dropped: " + "; ".join(data["dropped"])]
    if data.get("suspended"):
        lines += ["suspended: " + "; ".join(data["suspended"])]
    if data["needs_yes"]:
        lines.append("\nnothing dropped: this destroys the objects above for good; re-run with --yes "
                     "(or --dry-run to only print the statements)")
    elif data["mode"] == "dry-run":
        lines.append("\ndry run: nothing was dropped")
    elif data["done"]:
        lines.append("\nteardown done")
    if data.get("plan_updated"):
        lines.append("recorded in the plan: " + ", ".join(data["plan_updated"]))
    return "\n".join(lines)
