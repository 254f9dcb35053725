"""The documented output columns of the statements the pack runs, keyed by a short doc key.

SqlRunner.query(sql, doc=KEY) uses this table to shape rows: every documented column is present
(None when the account did not return it, e.g. privatelink_ingress_url outside Business
Critical), and a replayed recording with a column the docs do not list is rejected, so
fixtures cannot drift from the documentation. A doc given as a URL is not checked.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import EXIT_ENVIRONMENT, SpcsLlmError

_SQL = "https://docs.snowflake.com/en/sql-reference/sql/"
_FN = "https://docs.snowflake.com/en/sql-reference/functions/"
_USAGE = "https://docs.snowflake.com/en/sql-reference/account-usage/"


@dataclass(frozen=True)
class DocColumns:
    url: str
    columns: tuple[str, ...]
    tolerated: tuple[str, ...] = ()  # returned by some accounts or versions, not in the doc's list


_SERVICE_COLUMNS = (
    "name", "status", "database_name", "schema_name", "owner", "compute_pool", "dns_name",
    "current_instances", "target_instances", "min_ready_instances", "min_instances", "max_instances",
    "auto_resume", "external_access_integrations", "created_on", "updated_on", "resumed_on",
    "suspended_on", "auto_suspend_secs", "comment", "owner_role_type", "query_warehouse", "is_job",
    "is_async_job", "spec_digest", "is_upgrading", "managing_object_domain", "managing_object_name",
)
_POOL_COLUMNS = (
    "name", "state", "min_nodes", "max_nodes", "instance_family", "num_services", "num_jobs",
    "auto_suspend_secs", "auto_resume", "active_nodes", "idle_nodes", "target_nodes", "created_on",
    "resumed_on", "updated_on", "owner", "comment", "is_exclusive", "application", "placement_group",
    "backup_instance_families",
)

DOCS: dict[str, DocColumns] = {
    # Our own SELECT of context functions: the columns are the aliases in the template.
    "context-functions": DocColumns(
        _FN + "current_region",
        ("user_name", "role_name", "warehouse_name", "database_name", "schema_name", "region_name",
         "account_locator", "account_name", "organization_name", "snowflake_version"),
    ),
    "show-grants-to-role": DocColumns(
        _SQL + "show-grants",
        ("created_on", "privilege", "granted_on", "name", "granted_to", "grantee_name", "grant_option",
         "granted_by"),
    ),
    # SHOW GRANTS OF ROLE / OF SERVICE ROLE: the doc lists no table; these are the columns of its
    # "SHOW GRANTS OF ROLE analyst" example output.
    "show-grants-of-role": DocColumns(
        _SQL + "show-grants", ("created_on", "role", "granted_to", "grantee_name", "granted_by")),
    "show-user-programmatic-access-tokens": DocColumns(
        _SQL + "show-user-programmatic-access-tokens",
        ("name", "user_name", "role_restriction", "expires_at", "status", "comment", "created_on", "created_by",
         "mins_to_bypass_required_network_policy"),
    ),
    "show-parameters": DocColumns(
        _SQL + "show-parameters", ("key", "value", "default", "level", "description"), tolerated=("type",)),
    "show-compute-pools": DocColumns(_SQL + "show-compute-pools", _POOL_COLUMNS),
    "describe-compute-pool": DocColumns(
        _SQL + "desc-compute-pool", (*_POOL_COLUMNS, "budget", "error_code", "status_message")),
    "show-compute-pool-instance-families": DocColumns(
        _SQL + "show-compute-pool-instance-families",
        ("name", "description", "vcpu", "memory_gib", "storage_gib", "gpu", "gpu_count", "gpu_memory_gib",
         "current_node_usage", "message"),
    ),
    "show-services": DocColumns(_SQL + "show-services", _SERVICE_COLUMNS),
    "describe-service": DocColumns(_SQL + "desc-service", (*_SERVICE_COLUMNS, "spec")),
    "show-endpoints": DocColumns(
        _SQL + "show-endpoints",
        ("name", "port", "port_range", "protocol", "is_public", "ingress_url", "privatelink_ingress_url"),
    ),
    "show-service-containers": DocColumns(
        _SQL + "show-service-containers-in-service",
        ("database_name", "schema_name", "service_name", "service_status", "instance_id", "instance_status",
         "container_name", "status", "message", "image_name", "image_digest", "restart_count", "start_time",
         "last_exit_code", "last_restart_time"),
    ),
    "show-service-instances": DocColumns(
        _SQL + "show-service-instances-in-service",
        ("database_name", "schema_name", "service_name", "service_status", "instance_id", "status",
         "spec_digest", "creation_time", "start_time", "ip_address"),
    ),
    "show-image-repositories": DocColumns(
        _SQL + "show-image-repositories",
        ("created_on", "name", "database_name", "schema_name", "repository_url", "owner", "owner_role_type",
         "comment", "encryption", "privatelink_repository_url"),
    ),
    "show-images-in-image-repository": DocColumns(
        _SQL + "show-images-in-image-repository", ("created_on", "image_name", "tags", "digest", "image_path")),
    # Observability (debug steps). SYSTEM$GET_SERVICE_LOGS returns one string; its doc page splits it with
    # SPLIT_TO_TABLE and the alias log_line, which is what debug/sql.py runs.
    "service-log-lines": DocColumns(_FN + "system_get_service_logs", ("log_line",)),
    "spcs-get-logs": DocColumns(
        _FN + "spcs_get_logs", ("timestamp", "instance_id", "container_name", "log", "record_attributes")),
    "spcs-get-events": DocColumns(
        _FN + "spcs_get_events",
        ("timestamp", "severity", "event_name", "event_details", "instance_id", "container_name", "record",
         "record_attributes"),
    ),
    "spcs-get-metrics": DocColumns(
        _FN + "spcs_get_metrics",
        ("timestamp", "metric_name", "value", "unit", "instance_id", "container_name", "resource", "record",
         "record_attributes"),
    ),
    # Our SELECT of documented event-table columns (debug/sql.py event_table()).
    "event-table": DocColumns(
        "https://docs.snowflake.com/en/developer-guide/logging-tracing/event-table-columns",
        ("timestamp", "resource_attributes", "record_type", "record", "record_attributes", "value"),
    ),
    "show-versions-in-model": DocColumns(
        _SQL + "show-versions-in-model",
        ("created_on", "name", "aliases", "database_name", "schema_name", "model_name", "is_default_version",
         "functions", "metadata", "user_data"),
        tolerated=("inference_services",),  # read by snowflake-ml-python's list_services (model_ops.py)
    ),
    # `cost`: our aggregating SELECTs over account usage views; the columns are the template's aliases.
    "spcs-credits-by-pool": DocColumns(
        _USAGE + "snowpark_container_services_history",
        ("compute_pool_name", "credits_used", "first_hour", "last_hour")),
    "model-serving-credits-by-service": DocColumns(
        _USAGE + "model_serving_usage_history",
        ("service_name", "compute_pool_name", "model_name", "model_version_name", "credits")),
    "metering-spcs-credits": DocColumns(_USAGE + "metering_history", ("credits_used",)),
    # DDL statements answer with one "status" row (the message text is not specified).
    "ddl-status": DocColumns(_SQL + "create-compute-pool", ("status",)),
}


def lookup(doc: str) -> DocColumns | None:
    """The documented columns for a doc key; None for a URL (not checked); error for a typo."""
    if doc in DOCS:
        return DOCS[doc]
    if doc.startswith(("http://", "https://")):
        return None
    raise SpcsLlmError(f"internal: unknown doc key {doc!r}; known: {', '.join(sorted(DOCS))} (or pass a URL)",
                       exit_code=EXIT_ENVIRONMENT)


def shape(rows: list[dict], doc: str, *, strict: bool, where: str = "") -> list[dict]:
    """Rows keyed by the documented columns. strict (replay): an undocumented column is an error."""
    spec = lookup(doc)
    if spec is None:
        return rows
    allowed = set(spec.columns) | set(spec.tolerated)
    out = []
    for row in rows:
        unknown = sorted(set(row) - allowed)
        if strict and unknown:
            raise SpcsLlmError(
                f"replay: {where or 'recording'} has columns {', '.join(unknown)} that {spec.url} does not "
                f"document; documented: {', '.join(spec.columns)}",
                exit_code=EXIT_ENVIRONMENT,
            )
        out.append({**dict.fromkeys(spec.columns), **row})
    return out
