"""Platform metrics of a service (read-only): <service>!SPCS_GET_METRICS over a bounded window,
summarised per container (memory against its limit, CPU, restarts, last exit reason) and per GPU
(GPU memory against capacity, utilisation). Metrics exist only when the service spec has
platformMonitor.metricConfig.groups (system, system_limits, status); the step says so when it has
none. --chart PATH writes a PNG timeline (needs matplotlib: pip install 'spcs-llm[chart]').
Needs MONITOR on the service; a refusal names it.
Exit codes: 0 metrics read, 2 bad input, 3 nothing could be read (refused, connection, no matplotlib)."""

from __future__ import annotations

from pathlib import Path

from ..debug import collect, metrics_summary, target, window
from ..errors import EXIT_ENVIRONMENT, SpcsLlmError
from ..output import StepResult, table
from ..snowflake.access import SqlRunner

NO_MONITOR = ("the service spec has no platformMonitor, so Snowflake records no platform metrics for it: add "
              "platformMonitor: {metricConfig: {groups: [system, system_limits, status]}} under spec at the next "
              "upgrade")


def add_arguments(parser) -> None:
    target.add_target_arguments(parser, since_help="window of metrics to read")
    parser.add_argument("--chart", metavar="PATH", help="also write a PNG timeline to PATH (needs matplotlib)")


def run(args) -> StepResult:
    minutes = window.minutes(args.since)
    if args.chart and not args.chart.lower().endswith(".png"):
        raise SpcsLlmError(f"--chart {args.chart!r} must name a .png file")
    service, _ = target.service_fqn(args)
    with SqlRunner.from_args(args) as runner:
        data = read(runner, service, minutes=minutes)
        data["statements"] = runner.statements
        data["mode"] = runner.mode
    data["chart"] = None
    if args.chart and data["mode"] != "dry-run":
        Path(args.chart).parent.mkdir(parents=True, exist_ok=True)
        data["chart"] = metrics_summary.chart(data["source"]["rows"], args.chart)
    exit_code = 0 if not data["source"]["error"] or data["mode"] == "dry-run" else EXIT_ENVIRONMENT
    return StepResult(data={k: v for k, v in data.items() if k != "source"} | {"error": data["source"]["error"],
                                                                                "rows": len(data["source"]["rows"])},
                      text=_text(data), exit_code=exit_code)


def read(runner, service: str, *, minutes: int) -> dict:
    row, _ = collect.service_row(runner, service)
    monitor = metrics_summary.has_platform_monitor((row or {}).get("spec"))
    source = collect.metrics(runner, service, minutes=minutes)
    summary = metrics_summary.summarise(source["rows"])
    notes = []
    if monitor is False:
        notes.append(NO_MONITOR)
    elif monitor is None and not source["rows"] and runner.reads:
        notes.append("no metrics in the window; the spec is not visible to this role, so whether it has "
                     "platformMonitor is unknown")
    return {"service": service, "window_minutes": minutes, "platform_monitor": monitor, "source": source,
            **summary, "notes": notes}


def _pct(value) -> str | None:
    return None if value is None else f"{value * 100:.0f}%"


def _text(data: dict) -> str:
    out = [f"{data['service']}: metrics, last {data['window_minutes']} min ({data['mode']})"]
    if data["source"]["error"]:
        out.append(data["source"]["error"])
    if data["containers"]:
        rows = [{**c, "memory": _of(c.get("memory_used_gib"), c.get("memory_limit_gib"), "GiB"),
                 "cpu": _of(c.get("cpu_used"), c.get("cpu_limit"), "cores")} for c in data["containers"]]
        out += ["", table(rows, [("container_name", "CONTAINER"), ("instance_id", "INSTANCE"),
                                 ("memory", "MEMORY PEAK"), ("cpu", "CPU PEAK"), ("restarts", "RESTARTS"),
                                 ("last_finished_reason", "LAST EXIT REASON")])]
    if data["gpus"]:
        rows = [{**g, "memory": _of(g.get("memory_used_gib"), g.get("capacity_gib"), "GiB"),
                 "peak": _pct(g.get("utilization")), "mean": _pct(g.get("utilization_mean"))} for g in data["gpus"]]
        out += ["", table(rows, [("container_name", "CONTAINER"), ("instance_id", "INSTANCE"), ("gpu", "GPU"),
                                 ("memory", "GPU MEMORY PEAK"), ("peak", "UTIL PEAK"), ("mean", "UTIL MEAN")])]
    out += [f"note: {n}" for n in data["notes"]]
    if data.get("chart"):
        out.append(f"chart: {data['chart']}")
    if data["mode"] == "dry-run":
        out += ["", "dry run: nothing was read"]
    return "\n".join(out)


def _of(used, limit, unit: str) -> str | None:
    if used is None:
        return None
    return f"{used:g} of {limit:g} {unit}" if limit else f"{used:g} {unit}"
