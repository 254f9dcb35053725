"""The statements of the debug steps, rendered from render/templates/debug/ (one function each, so
steps, tests and recordings share byte-identical text). Every time window is bounded: the
functions take minutes back from now, never an open range."""

from __future__ import annotations

from ..render import render

# The doc keys of snowflake/columns.py each statement is shaped with.
DOC_CONTAINER_LOGS = "service-log-lines"
DOC_GET_LOGS = "spcs-get-logs"
DOC_GET_EVENTS = "spcs-get-events"
DOC_GET_METRICS = "spcs-get-metrics"
DOC_EVENT_TABLE = "event-table"


def _sql(template: str, **context) -> str:
    return render(f"debug/{template}", **context).strip()


def container_logs(service: str, instance_id: str | int, container: str, *, lines: int, previous: bool) -> str:
    """SYSTEM$GET_SERVICE_LOGS of one container; previous=True reads the run before the last restart."""
    return _sql("container_logs.sql.j2", service=service, instance_id=instance_id, container=container, lines=lines,
                previous=previous)


def spcs_get_logs(service: str, *, minutes: int, limit: int) -> str:
    return _sql("spcs_get_logs.sql.j2", service=service, minutes=minutes, limit=limit)


def spcs_get_events(service: str, *, minutes: int, limit: int) -> str:
    return _sql("spcs_get_events.sql.j2", service=service, minutes=minutes, limit=limit)


def spcs_get_metrics(service: str, *, minutes: int, limit: int) -> str:
    return _sql("spcs_get_metrics.sql.j2", service=service, minutes=minutes, limit=limit)


def event_table(table: str, service: str, *, minutes: int, limit: int, record_types: tuple[str, ...]) -> str:
    """The account event table filtered on the service's resource attributes (database, schema, name)."""
    database, schema, name = service.split(".")
    return _sql("event_table.sql.j2", table=table, database=database, schema=schema, name=name, minutes=minutes,
                limit=limit, record_types=record_types)


def describe_compute_pool(pool: str) -> str:
    return _sql("describe_compute_pool.sql.j2", pool=pool)
