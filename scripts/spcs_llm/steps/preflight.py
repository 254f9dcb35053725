"""Check a Snowflake account before deploying (read-only): user, role, warehouse, region (China
accounts use snowflakecomputing.cn), snowflake-ml-python, the privileges the chosen path needs,
the event table, signs of a trial account, and the rule that a service cannot be created as
ACCOUNTADMIN. Prints each check as ok / missing / unknown with the exact GRANT or ALTER statement
that fixes it. Records account, region, role and warehouse in the plan when the plan file exists,
and the database and schema (from --database/--schema, else the session's when the plan has none).
Exit codes: 0 all required checks pass, 1 something required is missing, 2 bad input,
3 Snowflake or connection error."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .. import plan_file
from ..errors import EXIT_NEGATIVE, one_of
from ..output import StepResult, table
from ..render import identifiers
from ..snowflake import statements
from ..snowflake.access import SqlError, SqlRunner
from ..snowflake.args import add_snowflake_arguments
from ..snowflake.targets import is_china_region, load_plan_optional, region_cloud, schema_target

PATHS = ("registry", "custom-image")
DEFAULT_DEPLOY_ROLE = "SPCS_LLM_ROLE"
DEFAULT_EVENT_TABLE = "SNOWFLAKE.TELEMETRY.EVENTS"
ML_PACKAGE = "snowflake-ml-python"
ML_MIN, ML_BELOW = (2, 6), (3, 0)  # the range pyproject.toml pins
MAX_ROLES = 30  # role hierarchy walk limit (each role is one SHOW GRANTS)
DOCS = {
    "privileges": "https://docs.snowflake.com/en/sql-reference/sql/create-service",
    "pool": "https://docs.snowflake.com/en/sql-reference/sql/create-compute-pool",
    "model": "https://docs.snowflake.com/en/developer-guide/snowflake-ml/model-registry/overview",
    "accountadmin": "https://docs.snowflake.com/en/developer-guide/snowpark-container-services/"
                    "service-network-communications",
    "event_table": "https://docs.snowflake.com/en/developer-guide/logging-tracing/event-table-setting-up",
    "families": "https://docs.snowflake.com/en/sql-reference/sql/show-compute-pool-instance-families",
}


@dataclass
class Check:
    id: str
    title: str
    status: str  # ok | missing | unknown
    required: bool
    detail: str = ""
    fix: list[str] = field(default_factory=list)
    doc: str = ""


def add_arguments(parser) -> None:
    add_snowflake_arguments(parser, writes=False)
    parser.add_argument("--path", choices=PATHS,
                        help="deployment path to check (default: the plan's engine_path; before it is chosen, "
                             "custom-image for a China region, else registry)")
    parser.add_argument("--database", help="database of the service and model (default: plan, else current)")
    parser.add_argument("--schema", help="schema of the service and model (default: plan, else current)")
    parser.add_argument("--compute-pool", metavar="NAME", help="pool to use (default: plan snowflake.compute_pool)")
    parser.add_argument("--no-public-endpoint", action="store_true",
                        help="the service will not have a public endpoint (BIND SERVICE ENDPOINT not needed; "
                        "default: the plan's choice: registry ingress on, custom-image public_endpoint off)")
    parser.add_argument("--grant-to", metavar="ROLE",
                        help="role the fix statements grant to (default: the current role; a new "
                        f"{DEFAULT_DEPLOY_ROLE} when the current role is ACCOUNTADMIN)")


def _validate_names(args) -> None:
    """Refuse a bad name before any statement is printed or run (it would end up in the fixes)."""
    for flag, value in (("--database", args.database), ("--schema", args.schema),
                        ("--compute-pool", args.compute_pool), ("--grant-to", args.grant_to)):
        if value is not None:
            identifiers.identifier(value, flag)


def _default_path(plan: dict | None) -> str:
    """The plan's engine path; before it is chosen, the path the workers checkpoint will propose:
    custom-image in a China region (no Hugging Face access, no registry import), else registry."""
    plan = plan or {}
    chosen = plan_file.get(plan, "engine_path") or plan_file.get(plan, "workers.engine_path")
    if chosen:
        return chosen
    region = plan_file.get(plan, "request.region") or plan_file.get(plan, "snowflake.region")
    return "custom-image" if is_china_region(region) else "registry"


def run(args) -> StepResult:
    _validate_names(args)
    plan = load_plan_optional(args.plan)
    path = args.path or _default_path(plan)
    one_of(path, PATHS, "--path")
    with SqlRunner.from_args(args) as runner:
        facts = _gather(runner, plan)
        connection = runner.resolved.summary() if runner.mode == "live" else None
        host = runner.resolved.host if runner.mode == "live" else None
        china_host = runner.resolved.is_china_host if runner.mode == "live" else False
    ctx = facts["context"]
    role = ctx.get("role_name")
    region = ctx.get("region_name")
    target = schema_target(args.database, args.schema, plan, ctx)
    pool = args.compute_pool or plan_file.get(plan or {}, "snowflake.compute_pool")
    grant_to = args.grant_to or (role if role and role != "ACCOUNTADMIN" else DEFAULT_DEPLOY_ROLE)
    checks = _checks(facts, path=path, target=target, pool=pool, public=_public(args, plan, path),
                     grant_to=grant_to, dry_run=runner.dry_run, plan=plan)
    china = is_china_region(region) or china_host
    data = {
        "mode": runner.mode,
        "path": path,
        "user": ctx.get("user_name"),
        "role": role,
        "warehouse": ctx.get("warehouse_name"),
        "account": _account_identifier(ctx),
        "account_locator": ctx.get("account_locator"),
        "region": region,
        "cloud": region_cloud(region),
        "china": china,
        "host": host,
        "connection": connection,
        "target_schema": target,
        "compute_pool": pool,
        "snowflake_ml_python": _installed_version(ML_PACKAGE),
        "grant_to": grant_to,
        "checks": [asdict(c) for c in checks],
        "missing_required": [c.id for c in checks if c.required and c.status == "missing"],
        "notes": _notes(china, facts, path),
        "statements": runner.statements,
        "statement_log": str(runner.log_path) if runner.log_path else None,
    }
    if plan is not None and not runner.dry_run and ctx:
        explicit = bool(args.database or args.schema)
        data["plan_updated"] = _record(plan, args.plan, ctx, target, connection, explicit)
    exit_code = EXIT_NEGATIVE if data["missing_required"] else 0
    return StepResult(data=data, text=_text(data), prompt="preflight_report", exit_code=exit_code)


# -- reading the account ---------------------------------------------------------------------------

def _gather(runner: SqlRunner, plan: dict | None) -> dict:
    facts: dict = {"errors": {}}
    rows = runner.query(statements.context(), doc="context-functions")
    facts["context"] = rows[0] if rows else {}
    role = facts["context"].get("role_name") or (None if runner.mode == "live" else
                                                 plan_file.get(plan or {}, "snowflake.role"))
    facts["roles"], facts["grants"] = _grants(runner, role, facts["errors"]) if role else ([], None)
    facts["event_table"] = _try(runner, statements.show_event_table_parameter(), "show-parameters", facts, "event")
    facts["families"] = _try(runner, statements.show_instance_families(), "show-compute-pool-instance-families",
                             facts, "families")
    facts["pools"] = _try(runner, statements.show_compute_pools(), "show-compute-pools", facts, "pools")
    return facts


def _try(runner: SqlRunner, sql: str, doc: str, facts: dict, key: str) -> list[dict] | None:
    """Rows, or None when the statement failed (error kept) or nothing was read (dry run)."""
    try:
        rows = runner.query(sql, doc=doc)
        return rows if runner.reads else None
    except SqlError as err:
        facts["errors"][key] = err.message
        return None


def _grants(runner: SqlRunner, role: str, errors: dict) -> tuple[list[str], list[dict] | None]:
    """Grants of the role and every role it inherits (PUBLIC included), breadth first."""
    queue, seen, grants = [role, "PUBLIC"], [], []
    while queue and len(seen) < MAX_ROLES:
        current = queue.pop(0)
        if current in seen:
            continue
        seen.append(current)
        try:
            rows = runner.query(statements.show_grants_to_role(current), doc="show-grants-to-role")
            if not runner.reads:
                return seen, None
        except SqlError as err:
            if current == role:
                errors["grants"] = err.message
                return seen, None
            continue
        grants += rows
        queue += [r["name"] for r in rows if r.get("name") and _norm(r.get("granted_on")) == "ROLE"
                  and _norm(r.get("privilege")) == "USAGE"]
    return seen, grants


# -- evaluating ------------------------------------------------------------------------------------

def _norm(value) -> str:
    return str(value or "").replace('"', "").replace("_", " ").strip().upper()


class _Grants:
    def __init__(self, roles: list[str], rows: list[dict] | None):
        self.known = rows is not None
        self.admin = "ACCOUNTADMIN" in roles
        self.held = {(_norm(r.get("privilege")), _norm(r.get("granted_on")), _norm(r.get("name")))
                     for r in rows or []}

    def has(self, privilege: str, kind: str, name: str | None) -> bool:
        kind = _norm(kind)
        if kind == "ACCOUNT":
            # ACCOUNTADMIN holds the account-level privileges; SHOW GRANTS need not list them.
            return self.admin or any(p == privilege and k == "ACCOUNT" for p, k, _ in self.held)
        target = _norm(name)
        return any(p in (privilege, "OWNERSHIP") and k == kind and n == target for p, k, n in self.held)


def _public(args, plan: dict | None, path: str) -> bool:
    """Whether the service gets a public endpoint (BIND SERVICE ENDPOINT is needed only then)."""
    if args.no_public_endpoint:
        return False
    if path == "custom-image":  # service functions need no public endpoint; off unless chosen
        return bool(plan_file.get(plan or {}, "custom_image.public_endpoint", False))
    return bool(plan_file.get(plan or {}, "registry.ingress_enabled", True))


def _secret(plan: dict | None, path: str, target: str | None) -> str | None:
    """The HF token secret the service reads, fully qualified against the target schema."""
    field = "custom_image.hf_secret" if path == "custom-image" else "registry.hf_secret"
    name = plan_file.get(plan or {}, field)
    if not name:
        return None
    parts = str(name).split(".")
    if len(parts) == 3 or not target:
        return ".".join(parts) if len(parts) == 3 else None
    database, schema = target.split(".")
    return ".".join(([database, schema] if len(parts) == 1 else [database]) + parts)


def _checks(facts: dict, *, path: str, target: str | None, pool: str | None, public: bool, grant_to: str,
            dry_run: bool, plan: dict | None = None) -> list[Check]:
    ctx = facts["context"]
    unknown_why = "dry run: nothing was read" if dry_run else "not read"
    checks: list[Check] = []
    role, user = ctx.get("role_name"), ctx.get("user_name")
    grants = _Grants(facts["roles"], facts["grants"])
    needed = _needed_privileges(path, target, pool, facts.get("pools"), public, plan)

    if role is None:
        checks.append(Check("role", "current role is not ACCOUNTADMIN", "unknown", True, unknown_why,
                            doc=DOCS["accountadmin"]))
    elif role == "ACCOUNTADMIN":
        fix = [statements.create_deploy_role(grant_to, user)] if user else []
        if ctx.get("warehouse_name"):
            fix.append(statements.grant_privilege("USAGE", "WAREHOUSE", grant_to, ctx["warehouse_name"]))
        fix += [statements.grant_privilege(p, k, grant_to, n) for _, p, k, n, req, _ in needed
                if req and (k == "ACCOUNT" or n)]
        checks.append(Check(
            "role", "current role is not ACCOUNTADMIN", "missing", True,
            "a service cannot be created with the ACCOUNTADMIN role; deploy with another role "
            f"(then set role = \"{grant_to}\" in your connection or pass it to USE ROLE)", fix,
            DOCS["accountadmin"]))
    else:
        checks.append(Check("role", "current role is not ACCOUNTADMIN", "ok", True, role, doc=DOCS["accountadmin"]))

    warehouse = ctx.get("warehouse_name")
    checks.append(Check(
        "warehouse", "a warehouse is in use", "ok" if warehouse else ("unknown" if not ctx else "missing"),
        path == "registry", warehouse or ("the model registry runs SQL that needs a warehouse: add "
                                          "warehouse = \"<NAME>\" to the connection" if ctx else unknown_why)))
    checks.append(Check(
        "schema", "database and schema for the service", "ok" if target else ("unknown" if not ctx else "missing"),
        True, target or "pass --database and --schema (or set a default namespace in the connection)"))
    checks.append(_ml_check(path))

    for check_id, privilege, kind, name, required, why in needed:
        title = f"{privilege} on {kind}" + (f" {name}" if name else "")
        if not grants.known:
            reason = facts["errors"].get("grants", unknown_why)
            checks.append(Check(check_id, title, "unknown", required, f"{why}; grants not read: {reason}",
                                doc=DOCS["privileges"]))
        elif kind != "ACCOUNT" and name is None:
            checks.append(Check(check_id, title, "unknown", required, f"{why}; no target schema known",
                                doc=DOCS["privileges"]))
        elif grants.has(privilege, kind, name):
            checks.append(Check(check_id, title, "ok", required, why, doc=DOCS["privileges"]))
        else:
            fix = [statements.grant_privilege(privilege, kind, grant_to, name)]
            checks.append(Check(check_id, title, "missing", required, why, fix, DOCS["privileges"]))

    checks.append(_event_table_check(facts, unknown_why))
    checks += _spcs_checks(facts, unknown_why)
    region_check = _plan_region_check(plan, ctx.get("region_name"))
    if region_check:
        checks.append(region_check)
    return checks


def _plan_region_check(plan: dict | None, account_region: str | None) -> Check | None:
    """The plan's sizing must be for this account (walk pick1: a plan for Azure West Europe met an
    AWS_US_WEST_2 account and nothing said so). Another cloud means other GPU families: required.
    Another region of the same cloud may offer other families: optional, said plainly."""
    from .. import catalog

    cloud, region = plan_file.get(plan or {}, "request.cloud"), plan_file.get(plan or {}, "request.region")
    if not account_region or not (cloud or region):
        return None
    account_cloud = region_cloud(account_region)
    title = "the plan was sized for this account's cloud and region"
    planned = " ".join(str(v) for v in (cloud, region) if v)
    replan = f"spcs-llm plan --replan --cloud {account_cloud} --region {account_region}"
    if cloud and account_cloud and cloud != account_cloud:
        return Check("plan_region", title, "missing", True,
                     f"the plan is for {planned}, but this connection's account is in {account_region}: use the "
                     f"connection of the planned account, or size for this one ({replan})")
    if region and catalog.region_key(str(region)) != catalog.region_key(account_region):
        return Check("plan_region", title, "missing", False,
                     f"the plan is for {planned}, the account is in {account_region}; families differ by region: "
                     f"{replan}")
    return Check("plan_region", title, "ok", True, f"{planned} = {account_region}")


def _needed_privileges(path: str, target: str | None, pool: str | None, pools: list[dict] | None,
                       public: bool, plan: dict | None = None) -> list[tuple[str, str, str, str | None, bool, str]]:
    """(check id, privilege, object kind, object name, required, why) for this path."""
    database = target.split(".")[0] if target else None
    out = [
        ("usage_database", "USAGE", "DATABASE", database, True, "to reach the service's database"),
        ("usage_schema", "USAGE", "SCHEMA", target, True, "to reach the service's schema"),
        ("create_service", "CREATE SERVICE", "SCHEMA", target, True, "to create the inference service"),
    ]
    if path == "registry":
        out.append(("create_model", "CREATE MODEL", "SCHEMA", target, True, "to log the model in the registry"))
    else:
        # what render-custom's parts create in the schema (01_setup.sql, 06_function.sql)
        out += [
            ("create_image_repository", "CREATE IMAGE REPOSITORY", "SCHEMA", target, True, "to push the serving image"),
            ("create_stage", "CREATE STAGE", "SCHEMA", target, True, "for the weights stage (part setup)"),
            ("create_network_rule", "CREATE NETWORK RULE", "SCHEMA", target, True,
             "for the egress rule of the weight download (part setup)"),
            ("create_function", "CREATE FUNCTION", "SCHEMA", target, True, "for the service functions (part function)"),
        ]
    existing = {str(p.get("name")).upper() for p in pools or []}
    if path == "custom-image":
        cpu_pool = str(plan_file.get(plan or {}, "custom_image.cache_job_pool", "SPCS_LLM_CPU_POOL")).upper()
        if cpu_pool in existing:
            out.append(("usage_cpu_pool", "USAGE", "COMPUTE POOL", cpu_pool, True,
                        f"to run the weight-cache job on the existing CPU pool {cpu_pool}"))
        else:
            out.append(("create_cpu_pool", "CREATE COMPUTE POOL", "ACCOUNT", None, True,
                        f"to create the CPU pool {cpu_pool} of the weight-cache job (part cache-job)"))
    secret = _secret(plan, path, target)
    if secret:
        out.append(("read_secret", "READ", "SECRET", secret, True,
                    "the service's owner role reads the Hugging Face token through the specification's secrets"))
    if pool and pool.upper() in existing:
        out.append(("usage_compute_pool", "USAGE", "COMPUTE POOL", pool.upper(), True,
                    f"to run services on the existing pool {pool.upper()}"))
    else:
        out.append(("create_compute_pool", "CREATE COMPUTE POOL", "ACCOUNT", None, True,
                    "to create the GPU pool" + (f" {pool.upper()}" if pool else "")))
    out.append(("bind_service_endpoint", "BIND SERVICE ENDPOINT", "ACCOUNT", None, public,
                "for a public (ingress) endpoint" if public else "only for a public endpoint (not requested)"))
    out.append(("create_integration", "CREATE INTEGRATION", "ACCOUNT", None, False,
                "for the weight-download integration (part egress); not needed when an administrator runs "
                "custom-image/02_egress.sql" if path == "custom-image" else
                "only to create an external access integration (e.g. downloads from Hugging Face); "
                "not needed with an existing integration or a pre-downloaded snapshot"))
    return out


def _ml_check(path: str) -> Check:
    version = _installed_version(ML_PACKAGE)
    required = path == "registry"
    title = f"{ML_PACKAGE} >={'.'.join(map(str, ML_MIN))},<{ML_BELOW[0]} installed"
    fix = [f'pip install "{ML_PACKAGE}>={".".join(map(str, ML_MIN))},<{ML_BELOW[0]}"']
    if version is None:
        return Check("snowflake_ml_python", title, "missing", required, "not installed", fix)
    parsed = _version_tuple(version)
    ok = parsed is not None and ML_MIN <= parsed < ML_BELOW
    return Check("snowflake_ml_python", title, "ok" if ok else "missing", required, version, [] if ok else fix)


def _event_table_check(facts: dict, unknown_why: str) -> Check:
    rows = facts.get("event_table")
    title = "an event table is active (container logs and platform events)"
    if rows is None:
        return Check("event_table", title, "unknown", False, facts["errors"].get("event", unknown_why),
                     doc=DOCS["event_table"])
    value = next((r.get("value") for r in rows if _norm(r.get("key")) == "EVENT TABLE"), None)
    if value and str(value).strip().upper() not in ("", "NONE"):
        return Check("event_table", title, "ok", False, str(value), doc=DOCS["event_table"])
    return Check("event_table", title, "missing", False,
                 "no active event table: service logs will only be available while containers run",
                 [statements.set_event_table(DEFAULT_EVENT_TABLE)], DOCS["event_table"])


def _spcs_checks(facts: dict, unknown_why: str) -> list[Check]:
    families, pools, errors = facts.get("families"), facts.get("pools"), facts["errors"]
    out = []
    if families is None and "families" not in errors:
        out.append(Check("compute_pools_available", "compute pools are available", "unknown", True, unknown_why,
                         doc=DOCS["families"]))
        out.append(Check("gpu_families", "GPU instance families are offered", "unknown", True, unknown_why,
                         doc=DOCS["families"]))
        out.append(Check("trial_account", "no signs of a trial account", "unknown", False, unknown_why))
        return out
    signs = []
    if families is None:
        signs.append(f"SHOW COMPUTE POOL INSTANCE FAMILIES failed: {errors['families']}")
    elif not families:
        signs.append("no instance families are offered")
    if pools is None and "pools" in errors:
        signs.append(f"SHOW COMPUTE POOLS failed: {errors['pools']}")
    available = bool(families)
    out.append(Check("compute_pools_available", "compute pools are available", "ok" if available else "missing",
                     True, f"{len(families)} instance families offered" if available else "; ".join(signs),
                     doc=DOCS["families"]))
    gpu = sorted(str(f["name"]) for f in families or [] if _int(f.get("gpu_count")) > 0)
    out.append(Check("gpu_families", "GPU instance families are offered", "ok" if gpu else "missing", True,
                     ", ".join(gpu) if gpu else "no GPU family is offered to this account/region; GPU quota may "
                     "need a request to Snowflake support", doc=DOCS["families"]))
    out.append(Check(
        "trial_account", "no signs of a trial account", "missing" if signs else "ok", False,
        ("; ".join(signs) + " (trial accounts cannot use compute pools or external access integrations)")
        if signs else "compute pools are listed"))
    return out


def _notes(china: bool, facts: dict, path: str = "registry") -> list[str]:
    notes = []
    if china:
        notes += [
            "China region (snowflakecomputing.cn): Cortex LLM functions are not available; serving an open model "
            "on SPCS is the way to get an LLM here.",
            "What each GPU family contains in this region is settled by the live instance-family list: run "
            "spcs-llm pools (third-party reports describe GPU_NV_S differently than the global docs).",
            # each path has its own way around a blocked Hugging Face (walk china1: the snapshot advice
            # was printed on the custom-image path, which has no snapshot route)
            "Downloads from Hugging Face may be blocked or slow: the custom image's weight cache downloads from "
            "hf-mirror.com, then ModelScope, and the image is built through a registry mirror (spcs-llm image "
            "build --base-registry)." if path == "custom-image" else
            "Downloads from Hugging Face may be blocked or slow: prefer the pre-downloaded snapshot route "
            "(spcs-llm deploy-registry --snapshot-dir).",
        ]
    return notes


# -- plan, text ------------------------------------------------------------------------------------

def _record(plan: dict, path: str, ctx: dict, target: str | None, connection: dict | None,
            explicit_target: bool) -> dict:
    changes = {
        "snowflake.account": _account_identifier(ctx),
        "snowflake.region": ctx.get("region_name"),
        "snowflake.role": ctx.get("role_name"),
        "snowflake.warehouse": ctx.get("warehouse_name"),
    }
    if connection:
        changes["snowflake.connection"] = connection["name"]
    # --database/--schema are the user's answer (the privileges were checked there); the session's
    # current namespace only fills a plan that has none.
    unset = not plan_file.get(plan, "snowflake.database") and not plan_file.get(plan, "snowflake.schema")
    if target and (explicit_target or unset):
        changes["snowflake.database"], changes["snowflake.schema"] = target.split(".")
    changes = {k: v for k, v in changes.items() if v is not None}
    plan_file.update(plan, "preflight", changes)
    plan_file.save(plan, path)
    return changes


def _account_identifier(ctx: dict) -> str | None:
    org, name = ctx.get("organization_name"), ctx.get("account_name")
    return f"{org}-{name}" if org and name else ctx.get("account_locator")


def _installed_version(package: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _version_tuple(version: str) -> tuple[int, int] | None:
    parts = version.split(".")
    try:
        return int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) or 0)
    except (IndexError, ValueError):
        return None


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _text(data: dict) -> str:
    lines = []
    if data["mode"] == "dry-run":
        lines.append("dry run: the statements above were printed, not run; checks that need them are 'unknown'")
    who = [("user", data["user"]), ("role", data["role"]), ("warehouse", data["warehouse"]),
           ("account", data["account"]), ("region", data["region"]), ("cloud", data["cloud"]),
           ("China", "yes" if data["china"] else "no"), ("path", data["path"]),
           ("target schema", data["target_schema"]), ("snowflake-ml-python", data["snowflake_ml_python"])]
    if data["connection"]:
        who.insert(0, ("connection", f"{data['connection']['name']} ({data['connection']['name_source']})"))
    lines += [f"{k:>20}: {'-' if v is None else v}" for k, v in who]
    if data["role"]:
        # no step takes a role: the connection's decides (walk china1: the user deploys as another role)
        lines.append(f"{'':>20}  (every step acts as the connection's role; to deploy as another role, set "
                     "role = \"<ROLE>\" in the connection's entry of connections.toml, or use a connection "
                     "that has it)")
    rows = [{**c, "need": "required" if c["required"] else "optional"} for c in data["checks"]]
    lines += ["", table(rows, [("status", "STATUS"), ("need", "NEED"), ("title", "CHECK"), ("detail", "DETAIL")])]
    fixes, seen = [], set()
    for check in data["checks"]:
        for fix in check["fix"] if check["status"] == "missing" else []:
            if fix not in seen:
                seen.add(fix)
                fixes.append((check["title"], fix, check["required"], check["detail"]))
    if fixes:
        # optional grants apart, with their reason: an administrator copying the block would otherwise
        # grant what the deployment does not use (walk china1: BIND SERVICE ENDPOINT, "not requested")
        lines += ["", f"To fix (GRANTs run by ACCOUNTADMIN or a role with MANAGE GRANTS; they grant to "
                  f"{data['grant_to']}):"]
        required = [(title, fix) for title, fix, req, _ in fixes if req]
        optional = [(f"{title}: {why}", fix) for title, fix, req, why in fixes if not req]
        lines += [f"  -- {title}\n  " + fix.replace("\n", "\n  ") for title, fix in required] or ["  (none required)"]
        if optional:
            lines.append("  -- optional, only if you need what the comment says:")
            lines += [f"  -- {title}\n  " + fix.replace("\n", "\n  ") for title, fix in optional]
    lines += [f"note: {n}" for n in data["notes"]]
    if data["missing_required"]:
        lines.append(f"\nmissing (required): {', '.join(data['missing_required'])}; fix them and re-run preflight")
    else:
        lines.append("\nall required checks passed" if data["mode"] != "dry-run" else "")
    if data.get("plan_updated"):
        lines.append("recorded in the plan: " + ", ".join(sorted(data["plan_updated"])))
    if data["statement_log"]:
        lines.append(f"statement log: {data['statement_log']}")
    return "\n".join(line for line in lines if line is not None)
