"""The statements of manage, teardown and cost, rendered from render/templates/operate/ (one function
per statement, so steps and tests get byte-identical text)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import SpcsLlmError
from ..render import render

# Argument types of a service function as DROP FUNCTION needs them (plain SQL type words only).
_TYPE = re.compile(r"^[A-Z][A-Z0-9_]*$")
# The kinds teardown drops with DROP <kind> IF EXISTS (drop_object.sql.j2); never taken from input.
DROP_KINDS = ("IMAGE REPOSITORY", "STAGE", "EXTERNAL ACCESS INTEGRATION", "NETWORK RULE", "MODEL", "COMPUTE POOL")


@dataclass(frozen=True)
class Window:
    """The cost window: the last `hours`, or from `since` to `until` (YYYY-MM-DD, until exclusive)."""
    hours: int | None = None
    since: str | None = None
    until: str | None = None

    @property
    def label(self) -> str:
        if self.hours is not None:
            return f"the last {self.hours // 24} day(s)" if self.hours % 24 == 0 else f"the last {self.hours} hour(s)"
        return f"{self.since} to {self.until or 'now'}"


def _sql(template: str, **context) -> str:
    return render(f"operate/{template}", **context).strip()


def service_state(service: str, *, suspend: bool) -> str:
    return _sql("alter_service_state.sql.j2", service=service, suspend=suspend)


def service_set(service: str, *, min_instances: int | None = None, max_instances: int | None = None,
                auto_suspend_secs: int | None = None, auto_resume: bool | None = None) -> str:
    if all(v is None for v in (min_instances, max_instances, auto_suspend_secs, auto_resume)):
        raise SpcsLlmError("internal: ALTER SERVICE ... SET without a property", exit_code=3)
    return _sql("alter_service_set.sql.j2", service=service, min_instances=min_instances,
                max_instances=max_instances, auto_suspend_secs=auto_suspend_secs, auto_resume=auto_resume)


def service_spec(service: str, spec: str) -> str:
    return _sql("alter_service_spec.sql.j2", service=service, spec=spec.rstrip("\n") + "\n")


def pool_state(pool: str, *, suspend: bool) -> str:
    return _sql("alter_compute_pool_state.sql.j2", pool=pool, suspend=suspend)


def pool_set(pool: str, *, max_nodes: int | None = None, auto_suspend_secs: int | None = None,
             auto_resume: bool | None = None) -> str:
    if all(v is None for v in (max_nodes, auto_suspend_secs, auto_resume)):
        raise SpcsLlmError("internal: ALTER COMPUTE POOL ... SET without a property", exit_code=3)
    return _sql("alter_compute_pool_set.sql.j2", pool=pool, max_nodes=max_nodes,
                auto_suspend_secs=auto_suspend_secs, auto_resume=auto_resume)


def services_in_pool(pool: str) -> str:
    return _sql("show_services_in_pool.sql.j2", pool=pool)


def drop_function(name: str, arg_types: list[str]) -> str:
    types = [t.strip().upper() for t in arg_types]
    bad = [t for t in types if not _TYPE.match(t)]
    if bad:
        raise SpcsLlmError(f"function argument type(s) {', '.join(map(repr, bad))} are not plain SQL type names",
                           hint="write the signature as NAME(VARCHAR, OBJECT)")
    return _sql("drop_function.sql.j2", name=name, arg_types=types)


def drop_object(kind: str, name: str) -> str:
    if kind not in DROP_KINDS:
        raise SpcsLlmError(f"internal: teardown cannot drop a {kind!r}", exit_code=3)
    return _sql("drop_object.sql.j2", kind=kind, name=name)


def drop_model_version(model: str, version: str) -> str:
    return _sql("drop_model_version.sql.j2", model=model, version=version)


def versions_in_model(model: str) -> str:
    return _sql("show_versions_in_model.sql.j2", model=model)


def credits_by_pool(window: Window, pool: str | None = None) -> str:
    return _sql("spcs_credits_by_pool.sql.j2", w=window, pool=pool)


def model_serving_credits(window: Window) -> str:
    return _sql("model_serving_credits.sql.j2", w=window)


def metering_spcs(window: Window) -> str:
    return _sql("metering_spcs.sql.j2", w=window)
