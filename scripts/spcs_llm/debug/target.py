"""Which service the evidence steps read, the flags they share, and what a refusal means.

A service is named by --service DB.SCHEMA.NAME alone (deployed by hand, or from another folder), or
by the plan's snowflake.database/schema/service_name. Containers are never assumed: they come
from SHOW SERVICE CONTAINERS IN SERVICE.
"""

from __future__ import annotations

from .. import plan_file
from ..errors import SpcsLlmError
from ..render.identifiers import qualified_name
from ..snowflake import statements
from ..snowflake.args import add_snowflake_arguments
from ..snowflake.targets import load_plan_optional
from . import window

MONITOR_HINT = ("your role needs MONITOR on the service (or to own it): an administrator runs "
                "GRANT MONITOR ON SERVICE {service} TO ROLE <your role>")
EVENT_TABLE_HINT = ("your role cannot read the event table {table}: for the default SNOWFLAKE.TELEMETRY.EVENTS "
                    "it needs the SNOWFLAKE.EVENTS_ADMIN application role, for another table SELECT on it")


def add_target_arguments(parser, *, since_help: str) -> None:
    add_snowflake_arguments(parser, writes=False)
    parser.add_argument("--service", metavar="DB.SCHEMA.NAME",
                        help="the service to read (default: the plan's snowflake.database, schema and service_name); "
                             "works without a plan")
    parser.add_argument("--since", default=window.DEFAULT_SINCE, metavar="WINDOW",
                        help=f"{since_help} (30m, 2h, 1d; default {window.DEFAULT_SINCE}, at most "
                             f"{window.MAX_MINUTES // 1440}d)")


def service_fqn(args) -> tuple[str, dict | None]:
    """DB.SCHEMA.NAME from --service, else from the plan; and the plan (None without one)."""
    plan = load_plan_optional(getattr(args, "plan", None))
    if args.service:
        return qualified_name(args.service, "--service", parts=(3,)), plan
    parts = [plan_file.get(plan or {}, key) for key in
             ("snowflake.database", "snowflake.schema", "snowflake.service_name")]
    if not all(parts):
        raise SpcsLlmError("no service to read",
                           hint="pass --service DB.SCHEMA.NAME, or run from the folder whose deployment.yaml records "
                                "snowflake.database, snowflake.schema and snowflake.service_name")
    return qualified_name(".".join(parts), "the plan's service", parts=(3,)), plan


def containers(runner, service: str) -> list[dict]:
    """Every container of every instance, as SHOW SERVICE CONTAINERS IN SERVICE lists it (SqlError passes)."""
    rows = runner.query(statements.show_service_containers(service), doc="show-service-containers")
    return [{k: r.get(k) for k in ("instance_id", "container_name", "status", "message", "restart_count",
                                   "last_exit_code", "last_restart_time", "service_status")}
            for r in rows if r.get("container_name") is not None]


def refusal(err, *, service: str, table: str | None = None) -> str | None:
    """The missing privilege a refused query means, or None when the error is something else.
    Snowflake answers 'does not exist or not authorized' for an object the role cannot see."""
    text = str(err).lower()
    if not (err.insufficient_privileges or "not authorized" in text or err.does_not_exist):
        return None
    if table:
        return EVENT_TABLE_HINT.format(table=table)
    return MONITOR_HINT.format(service=service)
