"""Compute pools and GPU instance families as this account sees them (read-only): SHOW COMPUTE
POOLS joined with SHOW COMPUTE POOL INSTANCE FAMILIES. The live GPU type, count and memory override
the built-in catalog (any disagreement is reported: it settles what e.g. GPU_NV_S is in your
region); each family and pool is marked with the plan's verdict for it (from the plan's
candidates, not re-sized). Records the live facts of the plan's selected family in the plan.
Exit codes: 0 ok, 1 the selected family is not offered or differs from what the plan was sized
for (or no offered family fits), 2 bad input, 3 Snowflake or connection error."""

from __future__ import annotations

from .. import plan_file
from ..catalog import same_gpu
from ..errors import EXIT_NEGATIVE
from ..output import StepResult, table
from ..snowflake import statements
from ..snowflake.access import SqlRunner
from ..snowflake.args import add_snowflake_arguments
from ..snowflake.targets import load_plan_optional, region_cloud

MEMORY_TOLERANCE_GIB = 0.5  # differences below this are rounding between docs and SHOW output


def add_arguments(parser) -> None:
    add_snowflake_arguments(parser, writes=False)
    parser.add_argument("--all", action="store_true", help="list CPU families too")
    parser.add_argument("--cloud", choices=("aws", "azure", "gcp"),
                        help="cloud of the account (default: from the plan's snowflake.region or request.cloud)")


def run(args) -> StepResult:
    plan = load_plan_optional(args.plan)
    with SqlRunner.from_args(args) as runner:
        live_families = runner.query(statements.show_instance_families(), doc="show-compute-pool-instance-families")
        live_pools = runner.query(statements.show_compute_pools(), doc="show-compute-pools")
    region = plan_file.get(plan or {}, "snowflake.region")
    cloud = args.cloud or region_cloud(region) or plan_file.get(plan or {}, "request.cloud")
    catalog = _catalog(cloud)
    candidates = _candidates(plan, cloud)
    families = [_family_row(f, catalog.get(str(f["name"]).upper()), candidates.get(str(f["name"]).upper()))
                for f in live_families if args.all or _num(f.get("gpu_count")) > 0]
    offered = {str(f["name"]).upper() for f in live_families}
    not_offered = sorted(name for name, fam in catalog.items() if fam.is_gpu and name not in offered) \
        if live_families else []
    pools = [_pool_row(p, {f["name"]: f for f in families}, candidates) for p in live_pools]
    data = {
        "mode": runner.mode,
        "cloud": cloud,
        "region": region,
        "families": families,
        "pools": pools,
        "catalog_families_not_offered": not_offered,
        "disagreements": [f"{f['name']}: {d}" for f in families for d in f["disagreements"]],
        "fitting_families": [f["name"] for f in families if (f["plan"] or {}).get("fits")],
        "fitting_pools": [p["name"] for p in pools if p["fits"]],
        "selection": None,
        "problems": [],
        "statements": runner.statements,
    }
    if plan is not None:
        _check_selection(plan, data, {str(f["name"]).upper(): f for f in live_families})
        if live_families and not data["fitting_families"] and candidates:
            data["problems"].append("no GPU family offered to this account fits the plan's model")
        changes = {}
        if data["selection"] and data["selection"].get("live"):
            changes["snowflake.live_instance_family"] = data["selection"]["live"]
        gpu_families = [{k: f[k] for k in LIVE_KEYS} for f in families if f["gpu_count"]]
        if gpu_families:  # `plan --replan` sizes against these instead of the catalog
            changes["snowflake.live_families"] = gpu_families
        if changes and not runner.dry_run:
            plan_file.update(plan, "pools", changes)
            plan_file.save(plan, args.plan)
            data["plan_updated"] = sorted(changes)
    exit_code = EXIT_NEGATIVE if data["problems"] else 0
    return StepResult(data=data, text=_text(data), prompt="pool_table", exit_code=exit_code)


LIVE_KEYS = ("name", "gpu", "gpu_count", "gpu_memory_gib", "vcpu", "memory_gib")


def _catalog(cloud: str | None) -> dict:
    from ..catalog import instance_families

    out: dict = {}
    for fam in instance_families():
        if cloud is None or fam.cloud == cloud:
            out.setdefault(fam.name, fam)  # without a cloud, the first cloud listing the name
    return out


def _candidates(plan: dict | None, cloud: str | None) -> dict:
    out: dict = {}
    for cand in plan_file.get(plan or {}, "candidates", []) or []:
        if cloud is None or cand.get("cloud") in (None, cloud):
            out.setdefault(str(cand["instance_family"]).upper(), cand)
    return out


def _family_row(live: dict, fam, cand: dict | None) -> dict:
    row = {
        "name": str(live["name"]).upper(),
        "description": live.get("description"),
        "gpu": live.get("gpu") or None,
        "gpu_count": _num(live.get("gpu_count")),
        "gpu_memory_gib": _num(live.get("gpu_memory_gib")),
        "vcpu": _num(live.get("vcpu")),
        "memory_gib": _num(live.get("memory_gib")),
        "storage_gib": _num(live.get("storage_gib")),
        "current_node_usage": live.get("current_node_usage"),
        "message": live.get("message") or None,
        "catalog": None,
        "disagreements": [],
        "plan": None,
    }
    if fam is None:
        row["disagreements"].append("not in the built-in catalog (the live values are used)")
    else:
        row["catalog"] = {"gpu": fam.gpu, "gpu_count": fam.gpu_count, "gpu_memory_gib": fam.gpu_memory_gib,
                          "vcpu": fam.vcpu, "memory_gib": fam.memory_gib, "credits_per_hour": fam.credits_per_hour}
        row["disagreements"] = _disagreements(row, fam)
    if cand is not None:
        row["plan"] = {key: cand.get(key) for key in ("fits", "tensor_parallel_size", "replicas_per_node",
                                                        "credits_per_hour", "reason")}
    return row


def _disagreements(live: dict, fam) -> list[str]:
    out = []
    if fam.gpu and live["gpu"] and not same_gpu(str(live["gpu"]), fam.gpu):
        out.append(f"GPU is {live['gpu']!r} here, the catalog says {fam.gpu}")
    if live["gpu_count"] != fam.gpu_count:
        out.append(f"{live['gpu_count']} GPUs per node here, the catalog says {fam.gpu_count}")
    if fam.gpu_memory_gib and abs(live["gpu_memory_gib"] - fam.gpu_memory_gib) > MEMORY_TOLERANCE_GIB:
        out.append(f"{live['gpu_memory_gib']:g} GiB per GPU here, the catalog says {fam.gpu_memory_gib:g}")
    for key, label in (("vcpu", "vCPU"), ("memory_gib", "GiB memory")):
        value, expected = live[key], getattr(fam, key)
        if value and expected and abs(value - expected) > MEMORY_TOLERANCE_GIB:
            out.append(f"{value:g} {label} here, the catalog says {expected:g}")
    return out


def _pool_row(pool: dict, families: dict, candidates: dict) -> dict:
    family = str(pool.get("instance_family") or "").upper()
    cand = candidates.get(family)
    live = families.get(family)
    return {
        "name": pool.get("name"),
        "state": pool.get("state"),
        "instance_family": family,
        "gpu": (live or {}).get("gpu"),
        "gpu_count": (live or {}).get("gpu_count"),
        "min_nodes": pool.get("min_nodes"),
        "max_nodes": pool.get("max_nodes"),
        "active_nodes": pool.get("active_nodes"),
        "idle_nodes": pool.get("idle_nodes"),
        "num_services": pool.get("num_services"),
        "num_jobs": pool.get("num_jobs"),
        "auto_suspend_secs": pool.get("auto_suspend_secs"),
        "auto_resume": pool.get("auto_resume"),
        "owner": pool.get("owner"),
        "fits": bool(cand and cand.get("fits")),
        "credits_per_hour": cand.get("credits_per_hour") if cand else None,
    }


def _check_selection(plan: dict, data: dict, live: dict) -> None:
    name = plan_file.get(plan, "selection.instance_family")
    if not name:
        return
    name = str(name).upper()
    selection = {"instance_family": name, "offered": name in live, "live": None, "differences": []}
    data["selection"] = selection
    if not live:  # dry run without recordings: nothing to compare
        selection["offered"] = None
        return
    if name not in live:
        data["problems"].append(f"the selected family {name} is not offered to this account/region; choose one "
                                f"of: {', '.join(data['fitting_families']) or 'none fits'} (spcs-llm select --family)")
        return
    row = live[name]
    facts = {"name": name, "gpu": row.get("gpu") or None, "gpu_count": _num(row.get("gpu_count")),
             "gpu_memory_gib": _num(row.get("gpu_memory_gib")), "vcpu": _num(row.get("vcpu")),
             "memory_gib": _num(row.get("memory_gib"))}
    selection["live"] = facts
    planned_count = plan_file.get(plan, "selection.gpu_count")
    planned_gpu = plan_file.get(plan, "selection.gpu")
    cand = _candidates(plan, None).get(name, {})
    planned_mem = cand.get("gpu_memory_gib")
    diffs = selection["differences"]
    if planned_count is not None and facts["gpu_count"] != planned_count:
        diffs.append(f"{facts['gpu_count']} GPUs per node, the plan was sized for {planned_count}")
    if planned_mem and facts["gpu_memory_gib"] + MEMORY_TOLERANCE_GIB < planned_mem:
        diffs.append(f"{facts['gpu_memory_gib']:g} GiB per GPU, the plan was sized for {planned_mem:g}")
    if planned_gpu and facts["gpu"] and not same_gpu(str(facts["gpu"]), str(planned_gpu)):
        diffs.append(f"GPU {facts['gpu']!r}, the plan was sized for {planned_gpu}")
    if diffs:
        data["problems"].append(f"{name} here differs from what the plan was sized for: " + "; ".join(diffs)
                                + ". The FITS PLAN column already uses the live numbers; re-rank the plan on them "
                                "before deploying, so its context, speed and cost are the live ones: "
                                "spcs-llm plan --replan (then confirm the family again with spcs-llm select)")


def _num(value) -> float | int:
    if value in (None, ""):
        return 0
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0
    return int(number) if number.is_integer() else number


def _text(data: dict) -> str:
    lines = []
    if data["mode"] == "dry-run" and not data["families"]:
        lines.append("dry run: nothing was read; the statements above would list families and pools")
    fam_rows = []
    for f in data["families"]:
        plan = f["plan"] or {}
        fam_rows.append({**f, "fits": {True: "yes", False: "no"}.get(plan.get("fits"), "-"),
                         "tp": plan.get("tensor_parallel_size"), "replicas": plan.get("replicas_per_node"),
                         "credits": plan.get("credits_per_hour") or (f["catalog"] or {}).get("credits_per_hour"),
                         "note": "differs from catalog" if f["disagreements"] else ""})
    if fam_rows:
        lines += [f"instance families offered ({data['cloud'] or 'cloud unknown'}):", table(fam_rows, [
            ("name", "FAMILY"), ("gpu", "GPU"), ("gpu_count", "GPUS"), ("gpu_memory_gib", "GIB/GPU"),
            ("vcpu", "VCPU"), ("memory_gib", "MEM GIB"), ("fits", "FITS PLAN"), ("tp", "TP"),
            ("replicas", "REPLICAS"), ("credits", "CREDITS/H"), ("note", "NOTE")])]
    if data["pools"]:
        pool_rows = [{**p, "fits": "yes" if p["fits"] else "no"} for p in data["pools"]]
        lines += ["", "compute pools:", table(pool_rows, [
            ("name", "POOL"), ("state", "STATE"), ("instance_family", "FAMILY"), ("active_nodes", "ACTIVE"),
            ("idle_nodes", "IDLE"), ("max_nodes", "MAX"), ("num_services", "SERVICES"),
            ("auto_suspend_secs", "SUSPEND S"), ("fits", "FITS PLAN")])]
    elif data["mode"] != "dry-run":
        lines += ["", "no compute pools you can see"]
    if data["disagreements"]:
        lines += ["", "live values differ from the built-in catalog (live values win):"]
        lines += [f"  {d}" for d in data["disagreements"]]
    if data["catalog_families_not_offered"]:
        lines += ["", "catalog GPU families not offered here: " + ", ".join(data["catalog_families_not_offered"])]
    sel = data["selection"]
    if sel and sel.get("live"):
        live = sel["live"]
        lines += ["", f"selected {sel['instance_family']}: {live['gpu_count']}x {live['gpu']} "
                  f"({live['gpu_memory_gib']:g} GiB each), {live['vcpu']:g} vCPU, {live['memory_gib']:g} GiB"]
    lines += [f"problem: {p}" for p in data["problems"]]
    if data.get("plan_updated"):
        lines.append("recorded in the plan: " + ", ".join(data["plan_updated"]))
    return "\n".join(lines)
