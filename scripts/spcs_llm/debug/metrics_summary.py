"""Summarise <service>!SPCS_GET_METRICS rows per container and per GPU: memory against its limit,
GPU memory against capacity, GPU utilisation, CPU, restarts and the last exit reason. Metric
names and attributes are the documented platform metrics (monitoring-services: system,
system_limits and status groups; 'gpu' and 'reason' record attributes)."""

from __future__ import annotations

GIB = 1024 ** 3
CONTAINER_METRICS = {
    "container.memory.usage": "memory_used_gib", "container.memory.limit": "memory_limit_gib",
    "container.memory.requested": "memory_requested_gib", "container.cpu.usage": "cpu_used",
    "container.cpu.limit": "cpu_limit", "container.restarts": "restarts",
    "container.state.last.finished.exitcode": "last_exit_code",
}
GPU_METRICS = {"container.gpu.memory.usage": "memory_used_gib", "container.gpu.memory.capacity": "capacity_gib",
               "container.gpu.utilization": "utilization"}
_BYTES = {"memory_used_gib", "memory_limit_gib", "memory_requested_gib", "capacity_gib"}


def _number(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _attrs(row: dict) -> dict:
    attrs = row.get("record_attributes")
    return attrs if isinstance(attrs, dict) else {}


def summarise(rows: list[dict]) -> dict:
    """{"containers": [...], "gpus": [...]}: peak values (utilisation also its mean), newest state last."""
    containers: dict[tuple, dict] = {}
    gpus: dict[tuple, dict] = {}
    samples: dict[tuple, list[float]] = {}
    denied: dict[str, float] = {}
    for row in rows:  # oldest first
        name, value = row.get("metric_name"), _number(row.get("value"))
        if name == "network.egress.denied.packets" and value is not None:  # per instance, no container
            instance = str(row.get("instance_id"))
            denied[instance] = max(value, denied.get(instance, 0.0))
            continue
        key = (str(row.get("instance_id")), row.get("container_name"))
        entry = containers.setdefault(key, {"instance_id": key[0], "container_name": key[1]})
        if name == "container.state.last.finished.reason" and value:
            entry["last_finished_reason"] = _attrs(row).get("reason")
        if name == "container.state.pending.reason" and value:
            entry["pending_reason"] = _attrs(row).get("reason")
        if name in CONTAINER_METRICS and value is not None:
            field = CONTAINER_METRICS[name]
            value = value / GIB if field in _BYTES else value
            latest = field in ("restarts", "last_exit_code")
            entry[field] = value if latest else max(value, entry.get(field) or value)
        if name in GPU_METRICS and value is not None:
            gpu_key = (*key, str(_attrs(row).get("gpu", "0")))
            gpu = gpus.setdefault(gpu_key, {"instance_id": key[0], "container_name": key[1], "gpu": gpu_key[2]})
            field = GPU_METRICS[name]
            value = value / GIB if field in _BYTES else value
            gpu[field] = max(value, gpu.get(field) or value)
            if field == "utilization":
                samples.setdefault(gpu_key, []).append(value)
    for gpu_key, values in samples.items():
        gpus[gpu_key]["utilization_mean"] = sum(values) / len(values)
    for entry in [*containers.values(), *gpus.values()]:
        for field in list(entry):
            if isinstance(entry[field], float):
                entry[field] = round(entry[field], 3)
    for entry in containers.values():
        for field in ("restarts", "last_exit_code"):
            if isinstance(entry.get(field), float) and entry[field].is_integer():
                entry[field] = int(entry[field])
        if entry.get("memory_used_gib") and entry.get("memory_limit_gib"):
            entry["memory_used_ratio"] = round(entry["memory_used_gib"] / entry["memory_limit_gib"], 3)
    for gpu in gpus.values():
        if gpu.get("memory_used_gib") and gpu.get("capacity_gib"):
            gpu["memory_used_ratio"] = round(gpu["memory_used_gib"] / gpu["capacity_gib"], 3)
    return {"containers": [c for c in containers.values() if len(c) > 2], "gpus": list(gpus.values()),
            "egress_denied_packets": {k: int(v) for k, v in denied.items() if v}}


def has_platform_monitor(spec: str | None) -> bool | None:
    """Whether a service spec asks for platform metrics (None: the spec is not visible to this role)."""
    if not spec or not isinstance(spec, str):
        return None
    return "platformMonitor" in spec


def chart(rows: list[dict], path: str) -> str:
    """A PNG timeline of memory, GPU memory and GPU utilisation (matplotlib, the optional 'chart' extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        from ..errors import EXIT_ENVIRONMENT, SpcsLlmError

        raise SpcsLlmError("--chart needs matplotlib", hint="pip install 'spcs-llm[chart]'",
                           exit_code=EXIT_ENVIRONMENT) from err
    panels = [("container.memory.usage", "memory (GiB)", GIB), ("container.gpu.memory.usage", "GPU memory (GiB)", GIB),
              ("container.gpu.utilization", "GPU utilisation", 1)]
    figure, axes = plt.subplots(len(panels), 1, figsize=(9, 7), sharex=True)
    for axis, (metric, label, scale) in zip(axes, panels, strict=True):
        series: dict[str, list[tuple]] = {}
        for index, row in enumerate(r for r in rows if r.get("metric_name") == metric):
            value = _number(row.get("value"))
            when = _time(row.get("timestamp"), index)
            if value is None:
                continue
            name = f"{row.get('container_name')}/{row.get('instance_id')}"
            if metric.startswith("container.gpu"):
                name += f" gpu{_attrs(row).get('gpu', 0)}"
            series.setdefault(name, []).append((when, value / scale))
        for name, points in series.items():
            axis.plot([p[0] for p in points], [p[1] for p in points], label=name)
        axis.set_ylabel(label)
        if series:
            axis.legend(fontsize="small")
    axes[-1].set_xlabel("time (UTC)")
    figure.tight_layout()
    figure.savefig(path, format="png")
    plt.close(figure)
    return path


def _time(value, fallback: int):
    """A metric timestamp as a datetime (TIMESTAMP_NTZ, UTC); the sample index when it cannot be parsed."""
    import datetime as _dt

    try:
        return _dt.datetime.fromisoformat(str(value))
    except ValueError:
        return fallback
