"""Where the account steps point: plan file (optional), target schema and service, region facts."""

from __future__ import annotations

from pathlib import Path

from .. import catalog, plan_file
from ..errors import SpcsLlmError
from ..render.identifiers import identifier, qualified_name, service_name


def load_plan_optional(path: str | None) -> dict | None:
    """The plan if the file exists (steps that can run without one)."""
    if path and Path(path).exists():
        return plan_file.load(path)
    return None


def region_cloud(region: str | None) -> str | None:
    """aws / azure / gcp from a CURRENT_REGION() value such as AWS_US_WEST_2 or PUBLIC.AWS_US_WEST_2."""
    return catalog.cloud_of_region(region) if region else None


def is_china_region(region: str | None) -> bool:
    return catalog.is_china(region)


def schema_target(database: str | None, schema: str | None, plan: dict | None,
                  current: dict | None = None) -> str | None:
    """DB.SCHEMA from flags, else the plan, else the session's current database/schema."""
    plan = plan or {}
    current = current or {}
    db = database or plan_file.get(plan, "snowflake.database") or current.get("database_name")
    sch = schema or plan_file.get(plan, "snowflake.schema") or current.get("schema_name")
    if not db or not sch:
        return None
    return f"{identifier(db, 'database')}.{identifier(sch, 'schema')}"


def require_schema(database: str | None, schema: str | None, plan: dict | None) -> str:
    target = schema_target(database, schema, plan)
    if target is None:
        raise SpcsLlmError("no database/schema to look in",
                           hint="pass --database DB --schema SCHEMA, or record them in the plan with "
                           "spcs-llm preflight --database DB --schema SCHEMA")
    return target


def require_service(name: str | None, plan: dict | None) -> str:
    value = name or plan_file.get(plan or {}, "snowflake.service_name")
    if not value:
        raise SpcsLlmError("no service name given",
                           hint="pass --name SERVICE, or record one in the plan (snowflake.service_name)")
    return service_name(value)


def fqn(schema: str, name: str) -> str:
    return qualified_name(f"{schema}.{name}", "service", parts=(3,))
