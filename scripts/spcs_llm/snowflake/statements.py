"""The SQL of the account steps, rendered from render/templates/account/ (one function per
statement, so steps, tests and other helpers get byte-identical text)."""

from __future__ import annotations

import re

from ..render import render

# Names as Snowflake returns them (CURRENT_ROLE(), SHOW GRANTS): an unquoted name is stored upper-case,
# so anything else (lower case, '@', spaces) was created quoted and must be written quoted.
_PLAIN = re.compile(r"^[A-Z_][A-Z0-9_$]*$")


def is_plain(name: str) -> bool:
    """Whether a stored role/user name can be written unquoted (else the templates double-quote it)."""
    return bool(_PLAIN.match(name or ""))


def _sql(template: str, **context) -> str:
    return render(f"account/{template}", **context).strip()


def context() -> str:
    return _sql("context.sql.j2")


def show_grants_to_role(role: str) -> str:
    return _sql("show_grants_to_role.sql.j2", role=role, role_plain=is_plain(role))


def show_event_table_parameter() -> str:
    return _sql("show_event_table_parameter.sql.j2")


def show_compute_pools(like: str | None = None) -> str:
    return _sql("show_compute_pools.sql.j2", like=like)


def show_instance_families() -> str:
    return _sql("show_instance_families.sql.j2")


def create_compute_pool(*, name: str, instance_family: str, min_nodes: int, max_nodes: int,
                        auto_suspend_secs: int, auto_resume: bool = True, initially_suspended: bool = False,
                        comment: str | None = None) -> str:
    return _sql("create_compute_pool.sql.j2", name=name, instance_family=instance_family, min_nodes=min_nodes,
                max_nodes=max_nodes, auto_suspend_secs=auto_suspend_secs, auto_resume=auto_resume,
                initially_suspended=initially_suspended, comment=comment)


def drop_compute_pool(name: str) -> str:
    return _sql("drop_compute_pool.sql.j2", name=name)


def show_services_like(prefix: str, schema: str) -> str:
    return _sql("show_services_like.sql.j2", prefix=prefix, schema=schema)


def drop_service(service: str) -> str:
    return _sql("drop_service.sql.j2", service=service)


def describe_service(service: str) -> str:
    return _sql("describe_service.sql.j2", service=service)


def show_service_containers(service: str) -> str:
    return _sql("show_service_containers.sql.j2", service=service)


def show_endpoints(service: str) -> str:
    return _sql("show_endpoints.sql.j2", service=service)


def grant_privilege(privilege: str, object_kind: str, role: str, object_name: str | None = None) -> str:
    return _sql("grant_privilege.sql.j2", privilege=privilege, object_kind=object_kind, object_name=object_name,
                role=role, role_plain=is_plain(role))


def set_event_table(table: str) -> str:
    return _sql("set_event_table.sql.j2", table=table)


def create_deploy_role(role: str, user: str) -> str:
    return _sql("create_deploy_role.sql.j2", role=role, user=user, user_plain=is_plain(user))


def service_logs(service: str, instance_id: str | int, container: str, lines: int = 100) -> str:
    return _sql("service_logs.sql.j2", service=service, instance_id=instance_id, container=container, lines=lines)
