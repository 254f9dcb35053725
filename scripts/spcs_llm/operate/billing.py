"""What a pool costs while it bills: the instance family's credit rate (the plan's candidate, else the
pack's catalog snapshot) times its nodes. Pools bill in IDLE, ACTIVE, STOPPING and RESIZING, not in
STARTING or SUSPENDED (spcs_facts.md §1.5, accounts-orgs-usage-views)."""

from __future__ import annotations

import math

from .. import plan_file

BILLING_STATES = ("IDLE", "ACTIVE", "STOPPING", "RESIZING")


def rate(family: str | None, plan: dict | None) -> float | None:
    """Credits per hour per node of a family, or None when the catalog does not know it."""
    if not family:
        return None
    family = family.upper()
    for cand in plan_file.get(plan or {}, "candidates", []) or []:
        if str(cand.get("instance_family")).upper() == family and cand.get("credits_per_hour") is not None:
            return cand["credits_per_hour"]
    from ..catalog import instance_families

    cloud = plan_file.get(plan or {}, "request.cloud")
    rates = {f.credits_per_hour for f in instance_families()
             if f.name == family and (cloud is None or f.cloud == cloud)}
    return rates.pop() if len(rates) == 1 else (max(rates) if rates else None)


def billed_nodes(pool: dict) -> int:
    """Nodes a pool pays for now: 0 unless it is in a billing state."""
    if str(pool.get("state") or "").upper() not in BILLING_STATES:
        return 0
    nodes = int(pool.get("active_nodes") or 0) + int(pool.get("idle_nodes") or 0)
    return nodes or int(pool.get("min_nodes") or 0)


def nodes_for(instances: int, per_node: int | None) -> int:
    return math.ceil(instances / max(1, per_node or 1))


def per_hour(rate_per_node: float | None, nodes: int) -> float | None:
    return None if rate_per_node is None else round(rate_per_node * nodes, 3)
