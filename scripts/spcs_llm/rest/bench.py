"""N streamed chat requests at concurrency C: latency, time to first token, output tokens/s, errors,
compared with the plan's roofline estimate for the deployed layout (planner.py)."""

from __future__ import annotations

import asyncio
import math
import time

import aiohttp

from .. import plan_file
from .client import CallResult, call
from .target import Target


async def run_bench(target: Target, route: str, headers: dict, *, requests: int, concurrency: int, prompt: str,
                    max_tokens: int, timeout_s: float) -> tuple[list[CallResult], float]:
    """All results (in completion order) and the wall time of the whole run."""
    gate = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)

    async with aiohttp.ClientSession(connector=connector) as session:
        async def one(i: int) -> CallResult:
            async with gate:
                return await call(session, target, route, headers, prompt=f"{prompt} (request {i + 1})",
                                  max_tokens=max_tokens, stream=True, timeout_s=timeout_s)

        started = time.monotonic()
        results = await asyncio.gather(*(one(i) for i in range(requests)))
        return list(results), time.monotonic() - started


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile (no interpolation: every value reported was measured)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return round(ordered[rank - 1], 4)


def summarize(results: list[CallResult], wall_s: float, concurrency: int) -> dict:
    good = [r for r in results if r.ok]
    errors: dict[str, int] = {}
    for r in results:
        if not r.ok:
            key = r.error or f"HTTP {r.status}"
            errors[key] = errors.get(key, 0) + 1
    latency = [r.latency_s for r in good if r.latency_s is not None]
    ttft = [r.ttft_s for r in good if r.ttft_s is not None]
    per_request = [r.output_tokens / r.latency_s for r in good if r.output_tokens and r.latency_s]
    # decode rate: tokens after the first over the time after the first token
    decode = [(r.output_tokens - 1) / (r.latency_s - r.ttft_s) for r in good
              if r.output_tokens and r.output_tokens > 1 and r.ttft_s is not None and r.latency_s > r.ttft_s]
    total_tokens = sum(r.output_tokens or 0 for r in good)
    return {
        "requests": len(results), "concurrency": concurrency, "succeeded": len(good), "errors": errors,
        "wall_s": round(wall_s, 3),
        "latency_s": {"p50": percentile(latency, 50), "p95": percentile(latency, 95),
                      "max": round(max(latency), 4) if latency else None},
        "ttft_s": {"p50": percentile(ttft, 50), "p95": percentile(ttft, 95)},
        "output_tokens_per_s_per_request": {"p50": percentile(per_request, 50), "p5": percentile(per_request, 5)},
        "decode_tokens_per_s_per_request": {"p50": percentile(decode, 50)},
        "output_tokens": total_tokens,
        "output_tokens_per_s_total": round(total_tokens / wall_s, 2) if wall_s > 0 else None,
        "tokens_from": sorted({r.tokens_from for r in good if r.tokens_from}),
    }


def roofline(plan: dict | None) -> dict | None:
    """The plan's estimate for the selected family (its ranked candidate): one-stream decode tokens/s,
    and the total the planner estimated for the concurrency it was asked to plan for (with the batch
    that figure assumes) -- not a full node's capacity."""
    plan = plan or {}
    family = plan_file.get(plan, "selection.instance_family")
    for c in plan.get("candidates") or []:
        if c.get("instance_family") == family and c.get("est_decode_tokens_per_s") is not None:
            return {"instance_family": family, "tensor_parallel_size": c.get("tensor_parallel_size"),
                    "replicas_per_node": c.get("replicas_per_node"),
                    "instances": plan_file.get(plan, "selection.instances") or c.get("instances"),
                    "planned_concurrency": plan_file.get(plan, "request.concurrency"),
                    "single_stream_tokens_per_s": c.get("est_decode_tokens_per_s_single_stream"),
                    "node_tokens_per_s": c.get("est_decode_tokens_per_s"),
                    "batch_per_replica": c.get("roofline_batch_per_replica")}
    return None


def compare(stats: dict, estimate: dict | None) -> dict | None:
    """Measured / estimated: per-request decode rate against one stream; the total against an
    estimate for the bench's own concurrency: the planner's figure when the bench ran at the planned
    concurrency, else one stream per instance when every request has an instance of its own (batch 1).
    Above that, batching changes the per-stream rate and no estimate is made (walk rest1: a
    concurrency-4 bench was compared with the plan's concurrency-1 total, "985%").
    Measured speeds include the ingress and network, so ratios under 1 are expected."""
    if not estimate:
        return None
    out = {"estimate": estimate}
    single, concurrency = estimate.get("single_stream_tokens_per_s"), stats.get("concurrency")
    measured_stream = stats["decode_tokens_per_s_per_request"]["p50"]
    if single and measured_stream:
        out["per_request_vs_single_stream"] = round(measured_stream / single, 3)
    instances = estimate.get("instances")
    if estimate.get("node_tokens_per_s") and concurrency == estimate.get("planned_concurrency"):
        total, basis = estimate["node_tokens_per_s"], f"the plan's estimate for concurrency {concurrency}"
    elif single and instances and concurrency and concurrency <= instances:
        total = round(single * concurrency, 1)
        basis = f"{concurrency} request(s) on {instances} instance(s), one stream each"
    else:
        total, basis = None, (f"no estimate for concurrency {concurrency} (the plan estimated concurrency "
                              f"{estimate.get('planned_concurrency')} on {instances or '?'} instance(s))")
    out["total_estimate"] = {"tokens_per_s": total, "basis": basis}
    if total and stats.get("output_tokens_per_s_total"):
        out["total_vs_node"] = round(stats["output_tokens_per_s_total"] / total, 3)
    return out


def chart(results: list[CallResult], stats: dict, comparison: dict | None, path: str) -> str:
    """A PNG: per-request latency and TTFT, and measured against roofline tokens/s."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        from ..errors import EXIT_ENVIRONMENT, SpcsLlmError

        raise SpcsLlmError("--chart needs matplotlib", hint="pip install 'spcs-llm[chart]'",
                           exit_code=EXIT_ENVIRONMENT) from err
    good = [r for r in results if r.ok]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(range(1, len(good) + 1), [r.latency_s for r in good], "o-", label="latency")
    left.plot(range(1, len(good) + 1), [r.ttft_s or 0 for r in good], "s-", label="time to first token")
    left.set_xlabel("request (completion order)")
    left.set_ylabel("seconds")
    left.set_title(f"{stats['requests']} requests, concurrency {stats['concurrency']}")
    left.legend()
    labels = ["per request (p50)", "total"]
    measured = [stats["decode_tokens_per_s_per_request"]["p50"] or 0, stats["output_tokens_per_s_total"] or 0]
    estimate = (comparison or {}).get("estimate") or {}
    roof = [estimate.get("single_stream_tokens_per_s") or 0,
            ((comparison or {}).get("total_estimate") or {}).get("tokens_per_s") or 0]
    xs = range(len(labels))
    right.bar([x - 0.2 for x in xs], measured, width=0.4, label="measured")
    right.bar([x + 0.2 for x in xs], roof, width=0.4, label="roofline estimate (plan)")
    right.set_xticks(list(xs), labels)
    right.set_ylabel("output tokens/s")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
