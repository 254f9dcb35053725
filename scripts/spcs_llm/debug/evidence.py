"""Evidence for diagnose, from a live service or from files the user saved or pasted.

Whatever the source, it ends up as: text lines (each with where it came from), platform events,
container states, the service status, the compute pool row, the metrics summary and the plan.
Signatures read only this, so a pasted log line and a live read match the same way.

Files (--from-file, repeatable) may hold: plain log text (a saved SYSTEM$GET_SERVICE_LOGS or
pasted lines), a pasted SHOW SERVICE CONTAINERS IN SERVICE table (Snowsight's |-separated copy or
`spcs-llm status` text), SPCS_GET_EVENTS / SPCS_GET_METRICS / SHOW SERVICE CONTAINERS rows as JSON
(a list of rows, or a recording {"rows": [...]}), or the --json output of logs, events, metrics
and status.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SpcsLlmError
from . import metrics_summary

MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass
class Line:
    source: str
    text: str

    def __str__(self) -> str:
        return f"{self.source}: {self.text.strip()}"


@dataclass
class Evidence:
    lines: list[Line] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)  # severity, event_name, status, message, container_name
    containers: list[dict] = field(default_factory=list)  # SHOW SERVICE CONTAINERS columns
    service_status: str | None = None
    service: str | None = None
    pool: dict | None = None  # DESCRIBE COMPUTE POOL row
    metrics: dict = field(default_factory=lambda: {"containers": [], "gpus": []})
    endpoints: list[dict] = field(default_factory=list)
    plan: dict | None = None
    connection: str | None = None  # --connection, repeated in the commands a finding suggests
    sources: list[str] = field(default_factory=list)  # what was read, for the report

    def texts(self) -> list[Line]:
        """Every line a signature may match: log lines, then event and container messages."""
        out = list(self.lines)
        out += [Line(f"event {e.get('container_name') or ''}".strip(), str(e.get("message")))
                for e in self.events if e.get("message")]
        out += [Line(f"container {c.get('container_name')}", str(c.get("message")))
                for c in self.containers if c.get("message")]
        return out

    def add_log(self, source: str, lines) -> None:
        self.lines += [Line(source, str(text)) for text in lines if str(text).strip()]


# -- files -------------------------------------------------------------------------------------

def read_file(evidence: Evidence, path: str) -> None:
    file = Path(path).expanduser()
    if not file.is_file():
        raise SpcsLlmError(f"--from-file {path!r} does not exist or is not a file")
    if file.stat().st_size > MAX_FILE_BYTES:
        raise SpcsLlmError(f"--from-file {path!r} is larger than {MAX_FILE_BYTES // 2**20} MiB",
                           hint="save the relevant part of the log (e.g. the last 2000 lines)")
    text = file.read_text(encoding="utf-8", errors="replace")
    evidence.sources.append(f"file {file.name}")
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, (dict, list)):
        _read_json(evidence, data, file.name)
        return
    if _read_table(evidence, text):
        return
    evidence.add_log(file.name, text.splitlines())


def _read_json(evidence: Evidence, data, name: str) -> None:
    if isinstance(data, dict) and "rows" in data and isinstance(data["rows"], list):
        data = data["rows"]  # a recorded response
    if isinstance(data, list):
        _read_rows(evidence, [r for r in data if isinstance(r, dict)], name)
        return
    # the --json output of our own steps
    if "container_logs" in data:  # logs
        for record in data["container_logs"]:
            evidence.add_log(f"{record.get('container_name')} {record.get('run')} run", record.get("lines", []))
        for key in ("event_logs", "event_table"):
            _read_rows(evidence, (data.get(key) or {}).get("rows", []), f"{name} {key}")
    if "events" in data and isinstance(data["events"], list):  # events
        evidence.events += data["events"]
    if "gpus" in data and "containers" in data and "phase" not in data:  # metrics
        evidence.metrics = {"containers": data["containers"], "gpus": data["gpus"],
                            "egress_denied_packets": data.get("egress_denied_packets") or {}}
    if "phase" in data:  # status
        evidence.containers += data.get("containers", [])
        evidence.service_status = data.get("service_status") or evidence.service_status
        evidence.endpoints += data.get("endpoints", [])
        evidence.service = data.get("service") or evidence.service


def _read_rows(evidence: Evidence, rows: list[dict], name: str) -> None:
    rows = [{str(k).lower(): v for k, v in r.items()} for r in rows]
    if not rows:
        return
    keys = set().union(*rows)
    if "event_name" in keys:
        evidence.events += [_event(r) for r in rows]
    elif "metric_name" in keys:
        evidence.metrics = metrics_summary.summarise(rows)
    elif "restart_count" in keys or ("container_name" in keys and "status" in keys):
        evidence.containers += rows
    elif "log_line" in keys or "log" in keys:
        evidence.add_log(name, [r.get("log_line", r.get("log")) for r in rows])
    elif "record_type" in keys:  # event-table rows
        for r in rows:
            value = r.get("value")
            if str(r.get("record_type")).upper() == "EVENT" and isinstance(value, dict):
                evidence.events.append({"status": value.get("status"), "message": value.get("message")})
            else:
                evidence.add_log(f"{name} event table", [value])
    elif "error_code" in keys and "instance_family" in keys:  # DESCRIBE COMPUTE POOL
        evidence.pool = rows[0]


def _event(row: dict) -> dict:
    details = row.get("event_details")
    if isinstance(details, str):
        try:
            details = json.loads(details)
        except ValueError:
            details = {"message": details}
    details = details if isinstance(details, dict) else {}
    return {"timestamp": row.get("timestamp"), "severity": row.get("severity"), "event_name": row.get("event_name"),
            "status": details.get("status"), "message": details.get("message"),
            "container_name": row.get("container_name"), "instance_id": row.get("instance_id")}


_PIPE_HEADER = re.compile(r"\bCONTAINER_NAME\b.*\bSTATUS\b", re.IGNORECASE)
_STATUS_HEADER = re.compile(r"^INSTANCE\s+CONTAINER\s+STATUS\s+RESTARTS")


def _read_table(evidence: Evidence, text: str) -> bool:
    """A pasted SHOW SERVICE CONTAINERS table (|-separated) or the table `spcs-llm status` prints."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if "|" in line and _PIPE_HEADER.search(line):
            header = [h.strip().lower() for h in line.strip().strip("|").split("|")]
            for row_line in lines[index + 1:]:
                if "|" not in row_line or set(row_line.strip()) <= set("|-+ "):
                    continue
                cells = [c.strip() for c in row_line.strip().strip("|").split("|")]
                if len(cells) == len(header):
                    evidence.containers.append(_typed(dict(zip(header, cells, strict=True))))
            evidence.sources[-1] += " (containers table)"
            return bool(evidence.containers)
        if _STATUS_HEADER.match(line.strip()):
            starts = [m.start() for m in re.finditer(r"\S+", line)]
            names = ["instance_id", "container_name", "status", "restart_count", "last_exit_code", "message"]
            for row_line in lines[index + 2:]:
                if not row_line.strip():
                    break
                cells = [row_line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
                evidence.containers.append(_typed(dict(zip(names, cells, strict=False))))
            # the title line names the service status; the lines around the table are still worth matching
            title = re.search(r"\(service ([A-Z_]+)", text)
            evidence.service_status = title.group(1) if title else evidence.service_status
            evidence.add_log("status", lines[:index])
            evidence.sources[-1] += " (status table)"
            return True
    return False


def _typed(row: dict) -> dict:
    for key in ("restart_count", "last_exit_code"):
        value = row.get(key)
        row[key] = int(value) if isinstance(value, str) and re.fullmatch(r"-?\d+", value) else None
    for key, value in list(row.items()):
        if value in ("-", "NULL", "null", ""):
            row[key] = None
    return row
