"""Which service (and pool) manage, teardown and cost act on: --service DB.SCHEMA.NAME alone, or the
plan's snowflake.* fields. The plan's other facts (engine path, functions, repository, model) are used
only when the plan describes that same service, so a hand-deployed service is never mixed up with it."""

from __future__ import annotations

from dataclasses import dataclass

from .. import plan_file
from ..errors import SpcsLlmError
from ..render.identifiers import identifier, qualified_name, service_name
from ..snowflake.targets import load_plan_optional


@dataclass
class Target:
    service: str  # DB.SCHEMA.NAME, validated
    plan: dict | None  # the plan, when it describes this service
    plan_path: str

    @property
    def database(self) -> str:
        return self.service.split(".")[0]

    @property
    def schema(self) -> str:
        return self.service.split(".")[1]

    @property
    def name(self) -> str:
        return self.service.split(".")[2]

    @property
    def engine_path(self) -> str | None:
        """How this service was deployed: the path whose own records name it, else the plan's engine_path
        (a plan can hold both paths' fields when the user switched paths)."""
        if not self.plan:
            return None
        if plan_file.get(self.plan, "registry.service_fqn", "").upper() == self.service:
            return "registry"
        custom = plan_file.get(self.plan, "custom_image.service_name")
        if custom and custom.upper() == self.name:
            return "custom-image"
        return plan_file.get(self.plan, "engine_path")

    def plan_value(self, dotted: str, default=None):
        return plan_file.get(self.plan, dotted, default) if self.plan else default

    def in_schema(self, name: str | None, what: str) -> str | None:
        """DB.SCHEMA.NAME of an object the plan names in the service's schema."""
        if not name:
            return None
        return qualified_name(name if "." in name else f"{self.database}.{self.schema}.{name}", what, parts=(3,))


def add_target_arguments(parser) -> None:
    parser.add_argument("--service", metavar="DB.SCHEMA.NAME",
                        help="the service to act on (default: the plan's snowflake.database/schema/service_name); "
                        "works without a plan")
    parser.add_argument("--pool", metavar="NAME",
                        help="its compute pool (default: DESCRIBE SERVICE's compute_pool, else the plan's)")


def resolve(args) -> Target:
    plan = load_plan_optional(args.plan)
    planned = _plan_service(plan)
    if args.service:
        parts = qualified_name(args.service, "--service", parts=(3,)).split(".")
        fqn = ".".join([parts[0], parts[1], service_name(parts[2])])
        return Target(service=fqn, plan=plan if planned == fqn else None, plan_path=args.plan)
    if planned is None:
        raise SpcsLlmError("no service to act on",
                           hint="pass --service DB.SCHEMA.NAME, or run this where deployment.yaml records "
                           "snowflake.database, snowflake.schema and snowflake.service_name (or pass --plan)")
    return Target(service=planned, plan=plan, plan_path=args.plan)


def pool_name(args, target: Target, described: dict | None) -> str | None:
    value = args.pool or (described or {}).get("compute_pool") or target.plan_value("snowflake.compute_pool") \
        or target.plan_value("registry.compute_pool")
    return identifier(value, "compute pool name") if value else None


def _plan_service(plan: dict | None) -> str | None:
    if not plan:
        return None
    db, sch = plan_file.get(plan, "snowflake.database"), plan_file.get(plan, "snowflake.schema")
    name = plan_file.get(plan, "snowflake.service_name") or plan_file.get(plan, "custom_image.service_name")
    if not (db and sch and name):
        return None
    return f"{identifier(db, 'database')}.{identifier(sch, 'schema')}.{service_name(name)}"
