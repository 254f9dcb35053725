"""What the deployment has cost and what still bills (read-only): credits per compute pool
(SNOWFLAKE.ACCOUNT_USAGE.SNOWPARK_CONTAINER_SERVICES_HISTORY), estimated credits per Model Registry
service (MODEL_SERVING_USAGE_HISTORY; a custom-image service has no per-service view: its pool's
credits are its cost when it runs alone there) and the account's whole SPCS bill (METERING_HISTORY)
over a window; then the pools that bill right now (SHOW COMPUTE POOLS: IDLE, ACTIVE, STOPPING,
RESIZING) with their burn rate, and the plan's burn rate. The usage views lag by up to 3 hours (8 for
model serving). They need IMPORTED PRIVILEGES on the SNOWFLAKE database; a refused view is reported
and the rest still shown.
Exit codes: 0 shown, 2 bad input, 3 Snowflake or connection error."""

from __future__ import annotations

import datetime as _dt

from .. import plan_file
from ..errors import SpcsLlmError
from ..operate import billing, sql
from ..operate.sql import Window
from ..output import StepResult, table
from ..snowflake import statements
from ..snowflake.access import SqlError, SqlRunner
from ..snowflake.args import add_snowflake_arguments
from ..snowflake.targets import load_plan_optional

DEFAULT_DAYS = 7
MAX_DAYS = 365  # the views keep one year
USAGE_GRANT = "GRANT IMPORTED PRIVILEGES ON DATABASE SNOWFLAKE TO ROLE <role>"


def add_arguments(parser) -> None:
    parser.add_argument("--days", type=int, metavar="N",
                        help=f"window: the last N days (default {DEFAULT_DAYS}; at most {MAX_DAYS})")
    parser.add_argument("--since", metavar="YYYY-MM-DD", help="window start (instead of --days)")
    parser.add_argument("--until", metavar="YYYY-MM-DD", help="window end, exclusive (with --since; default now)")
    parser.add_argument("--pool", metavar="NAME", help="only this compute pool's credits (default: every pool)")
    add_snowflake_arguments(parser, writes=False)


def run(args) -> StepResult:
    window = _window(args)
    plan = load_plan_optional(args.plan)
    pool = None
    if args.pool:
        from ..render.identifiers import identifier

        pool = identifier(args.pool, "--pool")
    with SqlRunner.from_args(args) as runner:
        refused: list[dict] = []
        by_pool = _usage(runner, sql.credits_by_pool(window, pool), "spcs-credits-by-pool", refused)
        by_service = _usage(runner, sql.model_serving_credits(window), "model-serving-credits-by-service", refused)
        total = _usage(runner, sql.metering_spcs(window), "metering-spcs-credits", refused)
        pools = runner.query(statements.show_compute_pools(pool), doc="show-compute-pools")
        data = {"mode": runner.mode, "window": window.label, "read": runner.reads,
                "credits_by_pool": [_num(r, "credits_used") for r in by_pool or []],
                "credits_by_service": [_num(r, "credits") for r in by_service or []],
                "spcs_credits_total": _total(total) if runner.reads else None,
                "billing_now": _billing_now(pools, plan), "refused": refused,
                "plan_burn_rate": _plan_burn(plan), "statements": runner.statements}
    data["billing_now_credits_per_hour"] = round(sum(p["credits_per_hour"] or 0 for p in data["billing_now"]), 3)
    data["money"] = MONEY_NOTE
    return StepResult(data=data, text=_text(data))


# Credits become money only at the account's own price, which no view the step reads holds: say where it is
# rather than let anyone multiply by a list price (walk debug1: "how much is this costing us in actual money?").
MONEY_NOTE = ("these are credits, not money: the amount is credits x your contract's price per credit (on the "
              "invoice, or SNOWFLAKE.ORGANIZATION_USAGE.RATE_SHEET_DAILY: EFFECTIVE_RATE in CURRENCY, for an "
              "organization administrator); usage not in the views yet is the minutes since x the rate billing now")


def _window(args) -> Window:
    if args.since is None:
        if args.until:
            raise SpcsLlmError("--until goes with --since")
        days = DEFAULT_DAYS if args.days is None else args.days
        if not 1 <= days <= MAX_DAYS:
            raise SpcsLlmError(f"--days {days} is not valid; use 1 to {MAX_DAYS} (the views keep one year)")
        return Window(hours=days * 24)
    if args.days is not None:
        raise SpcsLlmError("use either --days or --since/--until, not both")
    since, until = _date(args.since, "--since"), _date(args.until, "--until") if args.until else None
    if until is not None and until <= since:
        raise SpcsLlmError(f"--until {until} must be after --since {since}")
    return Window(since=since.isoformat(), until=until.isoformat() if until else None)


def _date(value: str, flag: str) -> _dt.date:
    try:
        return _dt.date.fromisoformat(value)
    except ValueError as err:
        raise SpcsLlmError(f"{flag} {value!r} is not a date; use YYYY-MM-DD") from err


def _usage(runner: SqlRunner, statement: str, doc: str, refused: list[dict]) -> list[dict] | None:
    try:
        return runner.query(statement, doc=doc)
    except SqlError as err:
        if not (err.insufficient_privileges or err.does_not_exist):
            raise
        view = statement.split("SNOWFLAKE.ACCOUNT_USAGE.")[1].split()[0]
        fix = (f"{USAGE_GRANT}; (run by ACCOUNTADMIN), or use a role that has it" if err.insufficient_privileges
               else "this account does not offer the view (or the role cannot see the SNOWFLAKE database): "
               f"{USAGE_GRANT};")
        refused.append({"view": f"SNOWFLAKE.ACCOUNT_USAGE.{view}", "error": err.message, "fix": fix})
        return None


def _num(row: dict, key: str) -> dict:
    value = row.get(key)
    return {**row, key: round(float(value), 3) if value is not None else None}


def _total(rows: list[dict] | None) -> float | None:
    if not rows or rows[0].get("credits_used") is None:
        return None if rows is None else 0.0
    return round(float(rows[0]["credits_used"]), 3)


def _billing_now(pools: list[dict], plan: dict | None) -> list[dict]:
    out = []
    for pool in pools:
        nodes = billing.billed_nodes(pool)
        if not nodes:
            continue
        rate = billing.rate(pool.get("instance_family"), plan)
        out.append({"name": pool.get("name"), "state": pool.get("state"),
                    "instance_family": pool.get("instance_family"), "nodes": nodes,
                    "num_services": pool.get("num_services"), "num_jobs": pool.get("num_jobs"),
                    "auto_suspend_secs": pool.get("auto_suspend_secs"),
                    "credits_per_hour": billing.per_hour(rate, nodes)})
    return out


def _plan_burn(plan: dict | None) -> dict | None:
    """What the plan's deployment costs per hour at its minimum and maximum instances."""
    if not plan:
        return None
    family = plan_file.get(plan, "selection.instance_family")
    rate = plan_file.get(plan, "selection.credits_per_hour") or billing.rate(family, plan)
    if rate is None:
        return None
    per_node = plan_file.get(plan, "selection.replicas_per_node", 1)
    lo = billing.nodes_for(max(1, int(plan_file.get(plan, "workers.min_instances", 1))), per_node)
    hi = billing.nodes_for(int(plan_file.get(plan, "workers.max_instances", 1)), per_node)
    return {"instance_family": family, "credits_per_hour_per_node": rate, "nodes": [lo, hi],
            "credits_per_hour": [billing.per_hour(rate, lo), billing.per_hour(rate, hi)],
            "credits_per_day_at_min": billing.per_hour(rate * 24, lo),
            "pool": plan_file.get(plan, "snowflake.compute_pool"),
            "auto_suspend_secs": plan_file.get(plan, "operate.auto_suspend_secs")}


def _text(data: dict) -> str:
    lines = [f"SPCS credits, {data['window']} (account usage views lag up to 3 h; model serving up to 8 h)"]
    if not data["read"]:
        lines.append("dry run: nothing was read; the statements above would run")
    if data["credits_by_pool"]:
        lines += ["", table(data["credits_by_pool"], [("compute_pool_name", "POOL"), ("credits_used", "CREDITS"),
                                                      ("first_hour", "FROM"), ("last_hour", "TO")])]
    if data["credits_by_service"]:
        lines += ["", "Model Registry services (estimated):",
                  table(data["credits_by_service"], [("service_name", "SERVICE"), ("compute_pool_name", "POOL"),
                                                     ("model_name", "MODEL"), ("model_version_name", "VERSION"),
                                                     ("credits", "CREDITS")])]
    if data["spcs_credits_total"] is not None:
        lines.append(f"\naccount total (METERING_HISTORY, SNOWPARK_CONTAINER_SERVICES): {data['spcs_credits_total']}")
    lines.append("a custom-image service has no per-service view: its pool's credits are its cost when it runs alone")
    for item in data["refused"]:
        lines.append(f"refused: {item['view']}: {item['error']}\n  fix: {item['fix']}")
    if data["billing_now"]:
        lines += ["", f"billing now: {data['billing_now_credits_per_hour']} credits/hour",
                  table(data["billing_now"], [("name", "POOL"), ("state", "STATE"), ("instance_family", "FAMILY"),
                                              ("nodes", "NODES"), ("num_services", "SERVICES"),
                                              ("auto_suspend_secs", "AUTO-SUSPEND S"),
                                              ("credits_per_hour", "CREDITS/H")])]
    elif data["read"]:
        lines.append("\nbilling now: no compute pool is IDLE, ACTIVE, STOPPING or RESIZING")
    lines.append(f"\n{data['money']}")
    burn = data["plan_burn_rate"]
    if burn:
        low, high = burn["credits_per_hour"]
        lines.append(f"\nthe plan's burn rate: {low}-{high} credits/hour "
                     f"({burn['instance_family']}, {burn['nodes'][0]}-{burn['nodes'][1]} node(s)), "
                     f"{burn['credits_per_day_at_min']} credits/day at the minimum while it runs")
    return "\n".join(lines)
