"""Read the evidence of one service through a SqlRunner. Every reader returns a source record,
{"source", "statement", "rows", "error", "refused"}, instead of raising on a refused or failed
query, so one missing privilege does not hide the rest of the evidence. A dry run records the
statement and reads nothing (unless recordings are replayed)."""

from __future__ import annotations

import json

from ..snowflake import statements
from ..snowflake.access import SqlError
from . import sql, target

DEFAULT_LOG_LINES = 500  # per container and run; SYSTEM$GET_SERVICE_LOGS returns at most 100 KB anyway
DEFAULT_ROW_LIMIT = 2000


def _source(name: str, statement: str) -> dict:
    return {"source": name, "statement": statement, "rows": [], "error": None, "refused": False}


def _run(runner, record: dict, doc: str, *, service: str, table: str | None = None) -> dict:
    try:
        record["rows"] = [_decoded(row) for row in runner.query(record["statement"], doc=doc)]
    except SqlError as err:
        hint = target.refusal(err, service=service, table=table)
        record["refused"] = hint is not None
        record["error"] = f"{err.message}" + (f" ({hint})" if hint else "")
    return record


def _decoded(row: dict) -> dict:
    """OBJECT/VARIANT columns arrive from the connector as JSON text: decode them once here."""
    out = {}
    for key, value in row.items():
        if isinstance(value, str) and value[:1] in "{[" and key != "log_line":
            try:
                value = json.loads(value)
            except ValueError:
                pass
        out[key] = value
    return out


def container_logs(runner, service: str, containers: list[dict], *, lines: int = DEFAULT_LOG_LINES) -> list[dict]:
    """SYSTEM$GET_SERVICE_LOGS per container: the current run, and the previous run of every container that
    restarted (the run that crashed; the current one is often a fresh start that says nothing yet)."""
    out = []
    for c in containers:
        runs = ["current"] + (["previous"] if int(c.get("restart_count") or 0) > 0 else [])
        for run in runs:
            statement = sql.container_logs(service, c["instance_id"], c["container_name"], lines=lines,
                                           previous=run == "previous")
            record = _run(runner, _source("system$get_service_logs", statement), sql.DOC_CONTAINER_LOGS,
                          service=service)
            record.update(instance_id=str(c["instance_id"]), container_name=c["container_name"], run=run,
                          lines=[str(r.get("log_line") or "") for r in record.pop("rows")])
            out.append(record)
    return out


def event_logs(runner, service: str, *, minutes: int, limit: int = DEFAULT_ROW_LIMIT) -> dict:
    """<service>!SPCS_GET_LOGS over the window, oldest first."""
    record = _run(runner, _source("spcs_get_logs", sql.spcs_get_logs(service, minutes=minutes, limit=limit)),
                  sql.DOC_GET_LOGS, service=service)
    record["rows"].reverse()
    return record


def events(runner, service: str, *, minutes: int, limit: int = DEFAULT_ROW_LIMIT) -> dict:
    """<service>!SPCS_GET_EVENTS over the window, oldest first."""
    record = _run(runner, _source("spcs_get_events", sql.spcs_get_events(service, minutes=minutes, limit=limit)),
                  sql.DOC_GET_EVENTS, service=service)
    record["rows"].reverse()
    return record


def metrics(runner, service: str, *, minutes: int, limit: int = DEFAULT_ROW_LIMIT * 5) -> dict:
    """<service>!SPCS_GET_METRICS over the window, oldest first."""
    record = _run(runner, _source("spcs_get_metrics", sql.spcs_get_metrics(service, minutes=minutes, limit=limit)),
                  sql.DOC_GET_METRICS, service=service)
    record["rows"].reverse()
    return record


def event_table_name(runner) -> tuple[str | None, str | None]:
    """The account's active event table (SHOW PARAMETERS LIKE 'EVENT_TABLE' IN ACCOUNT), or (None, why not)."""
    try:
        rows = runner.query(statements.show_event_table_parameter(), doc="show-parameters")
    except SqlError as err:
        return None, err.message
    value = next((str(r.get("value") or "").strip() for r in rows if str(r.get("key")).upper() == "EVENT_TABLE"), "")
    if not value or value.upper() == "NONE":
        return None, "no event table is set for the account (EVENT_TABLE is empty)" if runner.reads else None
    return value.upper(), None


def event_table(runner, service: str, *, minutes: int, record_types: tuple[str, ...],
                limit: int = DEFAULT_ROW_LIMIT) -> dict:
    """The account event table filtered on the service's database, schema and name: the evidence left after
    the service was suspended or dropped (the SPCS_GET_* helpers need the service object)."""
    table, why = event_table_name(runner)
    if table is None:
        record = _source("event_table", statements.show_event_table_parameter())
        record["error"] = why
        return record
    record = _source("event_table", sql.event_table(table, service, minutes=minutes, limit=limit,
                                                    record_types=record_types))
    record["table"] = table
    _run(runner, record, sql.DOC_EVENT_TABLE, service=service, table=table)
    record["rows"].reverse()
    return record


def service_row(runner, service: str) -> tuple[dict | None, str | None]:
    """DESCRIBE SERVICE: the row, or (None, the reason it could not be read)."""
    try:
        rows = runner.query(statements.describe_service(service), doc="describe-service")
    except SqlError as err:
        reason = "does not exist (dropped?) or your role cannot see it" if err.does_not_exist else err.message
        return None, f"{service} {reason}"
    if not runner.reads:
        return {}, None  # a dry run reads nothing: show the statements for a service that exists
    return (rows[0] if rows else None), None


def service_containers(runner, service: str) -> tuple[list[dict], str | None]:
    try:
        return target.containers(runner, service), None
    except SqlError as err:
        hint = target.refusal(err, service=service)
        return [], err.message + (f" ({hint})" if hint else "")


def compute_pool(runner, pool: str) -> tuple[dict | None, str | None]:
    """DESCRIBE COMPUTE POOL: error_code 392507 (capacity) and 392508 (max nodes) explain a PENDING service."""
    try:
        rows = runner.query(sql.describe_compute_pool(pool), doc="describe-compute-pool")
    except SqlError as err:
        return None, err.message
    return (rows[0] if rows else None), None
