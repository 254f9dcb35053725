"""Platform events of a service (read-only): <service>!SPCS_GET_EVENTS over a bounded window
(container exits, OOMKilled, image pulls, readiness probes, node provisioning, status changes).
Once the service is suspended or dropped, the account event table (SHOW PARAMETERS LIKE
'EVENT_TABLE') filtered on the service's resource attributes is read as well. Platform events are
recorded only when LOG_EVENT_LEVEL is INFO or ERROR. Needs MONITOR on the service (the event table
needs its own role); a refusal names it.
Exit codes: 0 events read, 2 bad input, 3 nothing could be read (refused, connection)."""

from __future__ import annotations

from ..debug import collect, target, window
from ..errors import EXIT_ENVIRONMENT
from ..output import StepResult, table
from ..snowflake.access import SqlRunner
from .logs import container_of


def add_arguments(parser) -> None:
    target.add_target_arguments(parser, since_help="window of events to read")


def run(args) -> StepResult:
    minutes = window.minutes(args.since)
    service, _ = target.service_fqn(args)
    with SqlRunner.from_args(args) as runner:
        data = read(runner, service, minutes=minutes)
        data["statements"] = runner.statements
        data["mode"] = runner.mode
    sources = [s for s in (data["spcs_get_events"], data["event_table"]) if s]
    exit_code = 0 if any(not s["error"] for s in sources) or data["mode"] == "dry-run" else EXIT_ENVIRONMENT
    return StepResult(data=data, text=_text(data), exit_code=exit_code)


def read(runner, service: str, *, minutes: int) -> dict:
    row, missing = collect.service_row(runner, service)
    status = str((row or {}).get("status") or "").upper() or None
    data = {"service": service, "service_status": status, "service_error": missing, "window_minutes": minutes,
            "spcs_get_events": None, "event_table": None, "events": []}
    if row is not None:
        data["spcs_get_events"] = collect.events(runner, service, minutes=minutes)
    # The helper functions need the service object; the event table still holds what it recorded.
    if row is None or status in ("SUSPENDING", "SUSPENDED", "DELETING", "DELETED"):
        data["event_table"] = collect.event_table(runner, service, minutes=minutes, record_types=("EVENT",))
    data["events"] = flatten(data)
    return data


def flatten(data: dict) -> list[dict]:
    """One row per event, whichever source it came from: time, severity, name, status, message, container."""
    out = []
    for row in (data["spcs_get_events"] or {}).get("rows", []):
        details = row.get("event_details") if isinstance(row.get("event_details"), dict) else {}
        out.append({"timestamp": row.get("timestamp"), "severity": row.get("severity"),
                    "event_name": row.get("event_name"), "status": details.get("status"),
                    "message": details.get("message"), "instance_id": row.get("instance_id"),
                    "container_name": row.get("container_name")})
    for row in (data["event_table"] or {}).get("rows", []):
        record = row.get("record") if isinstance(row.get("record"), dict) else {}
        value = row.get("value") if isinstance(row.get("value"), dict) else {}
        attributes = row.get("resource_attributes") if isinstance(row.get("resource_attributes"), dict) else {}
        out.append({"timestamp": row.get("timestamp"), "severity": record.get("severity_text"),
                    "event_name": record.get("name"), "status": value.get("status"), "message": value.get("message"),
                    "instance_id": attributes.get("snow.service.instance", attributes.get("snow.container.instance")),
                    "container_name": container_of(row) if attributes else None})
    return out


def _text(data: dict) -> str:
    out = [f"{data['service']}: events, last {data['window_minutes']} min ({data['mode']})"
           + (f"; service {data['service_status']}" if data["service_status"] else "")]
    if data["service_error"]:
        out.append(data["service_error"] + "; reading the account event table")
    for source in (data["spcs_get_events"], data["event_table"]):
        if source and source["error"]:
            out.append(f"{source['source']}: {source['error']}")
    if data["events"]:
        out += ["", table(data["events"], [("timestamp", "TIME"), ("severity", "SEVERITY"), ("event_name", "EVENT"),
                                           ("container_name", "CONTAINER"), ("status", "STATUS"),
                                           ("message", "MESSAGE")])]
    elif data["mode"] != "dry-run":
        out.append("no events in the window (platform events need LOG_EVENT_LEVEL INFO or ERROR on the service, "
                   "its schema, database or account)")
    if data["mode"] == "dry-run":
        out += ["", "dry run: nothing was read"]
    return "\n".join(out)
