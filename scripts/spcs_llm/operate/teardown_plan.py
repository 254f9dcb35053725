"""What a teardown drops, in dependency order, and what it keeps and why.

Order: service functions (they name the service), the service, its compute pool (only when no other
service or job runs on it: SHOW SERVICES IN COMPUTE POOL; or kept and suspended with
--suspend-pool), then on request the model version (after
the service that runs it), the image repository, the weight stage, and the external access
integration before the network rule it uses. Every object comes from --service/--pool, explicit
flags, or the plan when it describes this service; nothing is dropped by pattern."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..render.identifiers import identifier, qualified_name
from . import sql
from .target import Target

# The two signatures render-custom creates for the custom image's service function (function.sql.j2).
CUSTOM_FUNCTION_SIGNATURES = (("VARCHAR",), ("VARCHAR", "OBJECT"))
PRE_LOGGED_SOURCE = "pre-logged"  # SNOWFLAKE.MODELS belongs to Snowflake: never dropped


@dataclass
class Action:
    order: int
    kind: str  # function | service | compute pool | model | model version | image repository | stage | ...
    name: str
    statement: str | None  # None: kept
    decision: str  # drop | keep | drop if nothing else runs on it
    reason: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def functions(target: Target, explicit: list[str]) -> list[tuple[str, tuple[str, ...]]]:
    """(DB.SCHEMA.NAME, arg types) of the service functions to drop."""
    out = []
    for text in explicit:
        name, _, rest = text.partition("(")
        if not rest.endswith(")"):
            from ..errors import SpcsLlmError

            raise SpcsLlmError(f"--function {text!r} must name the signature, e.g. DB.SCHEMA.NAME(VARCHAR, OBJECT)")
        types = tuple(t.strip() for t in rest[:-1].split(",") if t.strip())
        out.append((target.in_schema(name.strip(), "--function"), types))
    if target.engine_path == "custom-image":
        name = target.in_schema(target.plan_value("custom_image.function_name"), "service function name")
        if name:
            out += [(name, sig) for sig in CUSTOM_FUNCTION_SIGNATURES if (name, sig) not in out]
    return out


def build(target: Target, pool: str | None, *, explicit_functions: list[str], keep_pool: bool,
          other_services: list[str] | None, model_versions: list[dict] | None, want: set[str],
          suspend_pool: bool = False) -> list[Action]:
    actions: list[Action] = []

    def add(kind: str, name: str, statement: str | None, decision: str, reason: str = "") -> None:
        actions.append(Action(len(actions) + 1, kind, name, statement, decision, reason))

    for name, types in functions(target, explicit_functions):
        add("function", f"{name}({', '.join(types)})", sql.drop_function(name, list(types)), "drop",
            "a service function calls the service; it goes first")
    from ..snowflake import statements

    add("service", target.service, statements.drop_service(target.service), "drop",
        "its containers stop and its local logs are lost (event-table rows stay)")
    if pool and suspend_pool:
        _suspended_pool(add, pool, other_services)
    elif pool:
        _pool(add, pool, keep_pool, other_services)
    elif not keep_pool:
        add("compute pool", "(the one DESCRIBE SERVICE names)", None, "drop if nothing else runs on it",
            "dry run without an account: pass --pool NAME to list its statement here")
    if "model" in want:
        _model(add, target, model_versions)
    if "repository" in want:
        _schema_object(add, target, "image repository", "IMAGE REPOSITORY", "custom_image.image_repository",
                       "every image pushed to it is deleted")
    if "stage" in want:
        _schema_object(add, target, "stage", "STAGE", "custom_image.weights_stage",
                       "the cached weights are deleted; a new deployment downloads them again")
    if "integration" in want:
        eai = target.plan_value("custom_image.eai") if target.engine_path == "custom-image" else None
        if eai:
            add("external access integration", identifier(eai, "integration name"),
                sql.drop_object("EXTERNAL ACCESS INTEGRATION", eai), "drop",
                "account-level: check that no other service lists it in EXTERNAL_ACCESS_INTEGRATIONS")
        else:
            add("external access integration", "-", None, "keep", "the plan names none for this service")
        _schema_object(add, target, "network rule", "NETWORK RULE", "custom_image.network_rule",
                       "after the integration that uses it")
    return actions


def _pool(add, pool: str, keep_pool: bool, other_services: list[str] | None) -> None:
    drop = sql.drop_object("COMPUTE POOL", pool)
    if keep_pool:
        add("compute pool", pool, None, "keep", "--keep-pool: it still bills until its AUTO_SUSPEND_SECS pass "
            "with no service on it (--suspend-pool stops it now and keeps it)")
    elif other_services:
        add("compute pool", pool, None, "keep", f"still in use by {', '.join(other_services)}")
    elif other_services is None:
        add("compute pool", pool, drop, "drop if nothing else runs on it",
            f"dry run: SHOW SERVICES IN COMPUTE POOL {pool} decides at run time")
    else:
        add("compute pool", pool, drop, "drop", "no other service or job runs on it; it stops billing")


def _suspended_pool(add, pool: str, other_services: list[str] | None) -> None:
    """Kept, and suspended once the service is gone: SUSPEND would also suspend other services on it."""
    suspend = sql.pool_state(pool, suspend=True)
    if other_services:
        add("compute pool", pool, None, "keep", f"still in use by {', '.join(other_services)}: not suspended "
            "(it would suspend them too); it bills while they run")
    elif other_services is None:
        add("compute pool", pool, suspend, "suspend if nothing else runs on it",
            f"dry run: SHOW SERVICES IN COMPUTE POOL {pool} decides at run time")
    else:
        add("compute pool", pool, suspend, "suspend", "kept for whoever else uses it; suspended, it stops billing "
            "(with AUTO_RESUME on, the next service or job on it starts it again)")


def _model(add, target: Target, versions: list[dict] | None) -> None:
    if target.engine_path != "registry" or not target.plan_value("registry.model_name"):
        add("model version", "-", None, "keep", "the plan records no registry model for this service")
        return
    if target.plan_value("registry.source") == PRE_LOGGED_SOURCE:
        add("model version", str(target.plan_value("registry.model_name")), None, "keep",
            "a Snowflake-provided model in SNOWFLAKE.MODELS is not yours to drop")
        return
    model = qualified_name(f"{target.database}.{target.schema}.{target.plan_value('registry.model_name')}",
                           "registry model name", parts=(3,))
    version = identifier(target.plan_value("registry.version_name", "V1"), "registry version name")
    label = f"{model} version {version}"
    if versions is None:
        add("model version", label, sql.drop_model_version(model, version), "drop",
            f"dry run: SHOW VERSIONS IN MODEL {model} decides; its only version goes with DROP MODEL")
        return
    names = {str(v.get("name")).upper(): v for v in versions}
    if version not in names:
        add("model version", label, None, "keep", "not found in SHOW VERSIONS IN MODEL (already dropped?)")
    elif len(names) == 1:
        add("model", model, sql.drop_object("MODEL", model), "drop", f"{version} is its only version")
    elif str(names[version].get("is_default_version")).lower() == "true":
        add("model version", label, None, "keep", "it is the model's default version: set another default "
            "(ALTER MODEL ... SET DEFAULT_VERSION) or drop the whole model by hand")
    else:
        add("model version", label, sql.drop_model_version(model, version), "drop", "the model's other versions stay")


def _schema_object(add, target: Target, kind: str, sql_kind: str, field: str, reason: str) -> None:
    value = target.plan_value(field) if target.engine_path == "custom-image" else None
    name = target.in_schema(value, kind)
    if name:
        add(kind, name, sql.drop_object(sql_kind, name), "drop", reason)
    else:
        add(kind, "-", None, "keep", "the plan names none for this service")
