"""Container logs of a service (read-only): SYSTEM$GET_SERVICE_LOGS for the current run of every
container and, for a container that restarted, the previous run (the one that crashed; its
retrieve_previous_logs argument), plus <service>!SPCS_GET_LOGS over a bounded window. Containers
come from SHOW SERVICE CONTAINERS IN SERVICE. A service that was dropped or cannot be seen is
read from the account event table instead. Needs MONITOR on the service; a refusal names it.
Exit codes: 0 logs read, 2 bad input, 3 nothing could be read (refused, connection)."""

from __future__ import annotations

import re

from ..debug import collect, target, window
from ..errors import EXIT_ENVIRONMENT, SpcsLlmError
from ..output import StepResult
from ..snowflake.access import SqlRunner

DEFAULT_TAIL = 60


def add_arguments(parser) -> None:
    target.add_target_arguments(parser, since_help="window of the event-table logs (SPCS_GET_LOGS)")
    parser.add_argument("--tail", type=int, default=DEFAULT_TAIL, metavar="N",
                        help=f"show the last N lines of each container run and of the window (default {DEFAULT_TAIL})")
    parser.add_argument("--grep", metavar="REGEX",
                        help="only lines matching this regular expression (case-insensitive)")
    parser.add_argument("--lines", type=int, default=collect.DEFAULT_LOG_LINES, metavar="N",
                        help=f"lines to fetch per container run (default {collect.DEFAULT_LOG_LINES}; the function "
                             "returns at most 100 KB)")


def run(args) -> StepResult:
    if args.tail < 1 or args.lines < 1:
        raise SpcsLlmError(f"--tail {args.tail} and --lines {args.lines} must be at least 1")
    pattern = _pattern(args.grep)
    minutes = window.minutes(args.since)
    service, _ = target.service_fqn(args)
    with SqlRunner.from_args(args) as runner:
        data = read(runner, service, minutes=minutes, lines=args.lines)
        data["statements"] = runner.statements
        data["mode"] = runner.mode
    _filter(data, pattern, args.tail)
    data["grep"] = args.grep
    read_any = any(not r["error"] for r in _records(data))
    exit_code = 0 if read_any or data["mode"] == "dry-run" else EXIT_ENVIRONMENT
    return StepResult(data=data, text=_text(data), exit_code=exit_code)


def read(runner, service: str, *, minutes: int, lines: int) -> dict:
    """Every log source of the service (diagnose reads the same)."""
    containers, containers_error = collect.service_containers(runner, service)
    data = {"service": service, "window_minutes": minutes, "containers": containers,
            "containers_error": containers_error, "container_logs": [], "event_logs": None, "event_table": None}
    if containers_error:  # dropped, or not visible: what the event table kept is all there is
        data["event_table"] = collect.event_table(runner, service, minutes=minutes, record_types=("LOG",))
        return data
    data["container_logs"] = collect.container_logs(runner, service, containers, lines=lines)
    data["event_logs"] = collect.event_logs(runner, service, minutes=minutes)
    return data


def lines_of(record: dict | None) -> list[str]:
    """The log lines of any source record, oldest first."""
    if not record:
        return []
    if "lines" in record:
        return list(record["lines"])
    out = []
    for row in record["rows"]:
        value = row.get("log") if "log" in row else row.get("value")
        out.append(value if isinstance(value, str) else str(value))
    return out


def container_of(row: dict) -> str:
    """The container a SPCS_GET_* or event-table row belongs to."""
    if row.get("container_name"):
        return str(row["container_name"])
    attributes = row.get("resource_attributes")
    return str(attributes.get("snow.service.container.name") or "-") if isinstance(attributes, dict) else "-"


def _records(data: dict) -> list[dict]:
    return [*data["container_logs"], *[r for r in (data["event_logs"], data["event_table"]) if r]]


def _pattern(grep: str | None):
    if grep is None:
        return None
    try:
        return re.compile(grep, re.IGNORECASE)
    except re.error as err:
        raise SpcsLlmError(f"--grep {grep!r} is not a regular expression: {err}") from None


def _filter(data: dict, pattern, tail: int) -> None:
    for record in data["container_logs"]:
        kept = [line for line in record["lines"] if pattern is None or pattern.search(line)]
        record["lines"] = kept[-tail:]
    for key in ("event_logs", "event_table"):
        record = data[key]
        if record:
            field = "log" if key == "event_logs" else "value"
            record["rows"] = [r for r in record["rows"]
                              if pattern is None or pattern.search(str(r.get(field)))][-tail:]


def _nothing(data: dict) -> str:
    """An empty section: say whether the log is empty or only --grep left nothing (walk debug1 misread it)."""
    if data["mode"] == "dry-run":
        return "(not read: dry run)"
    return f"(no line matches --grep {data['grep']!r})" if data.get("grep") else "(empty: no log lines)"


def _text(data: dict) -> str:
    out = [f"{data['service']}: logs ({data['mode']})"]
    if data["containers_error"]:
        out.append(f"containers: {data['containers_error']}")
    for record in data["container_logs"]:
        out += ["", f"== {record['container_name']} (instance {record['instance_id']}, {record['run']} run) =="]
        out += [record["error"]] if record["error"] else (record["lines"] or [_nothing(data)])
    for key, title in (("event_logs", "SPCS_GET_LOGS"), ("event_table", "event table")):
        record = data[key]
        if not record:
            continue
        out += ["", f"== {title}, last {data['window_minutes']} min =="]
        if record["error"]:
            out.append(record["error"])
        elif not record["rows"]:
            out.append(_nothing(data))
        for row in record["rows"]:
            who = container_of(row)
            out.append(f"{row.get('timestamp')} {who}: {lines_of({'rows': [row]})[0]}")
    if data["mode"] == "dry-run":
        out += ["", "dry run: nothing was read"]
    return "\n".join(out)
