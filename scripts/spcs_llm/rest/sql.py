"""The SQL of REST access, rendered from render/templates/rest/ (one function per statement).

User and role names are passed as Snowflake stores them (CURRENT_USER(), SHOW output, or a name
the step validated with render.identifiers.identifier, which upper-cases it): plain upper-case
names are written unquoted, anything else (an e-mail user name) double-quoted.
"""

from __future__ import annotations

from ..render import render
from ..snowflake.statements import is_plain

ALL_ENDPOINTS_USAGE = "ALL_ENDPOINTS_USAGE"


def _sql(template: str, **context) -> str:
    return render(f"rest/{template}", **context).strip()


def show_network_policy(user: str | None = None) -> str:
    """SHOW PARAMETERS LIKE 'NETWORK_POLICY' IN USER <user> (or IN ACCOUNT without a user)."""
    return _sql("show_network_policy.sql.j2", user=user, user_plain=is_plain(user or ""))


def show_grants_of_service_role(service_fqn: str, service_role: str = ALL_ENDPOINTS_USAGE) -> str:
    return _sql("show_grants_of_service_role.sql.j2", service=service_fqn, service_role=service_role)


def show_user_pats(user: str) -> str:
    return _sql("show_user_pats.sql.j2", user=user, user_plain=is_plain(user))


def _statements(template: str, **context) -> list[str]:
    """A template holding several statements, split at the ';' that ends each line."""
    text = render(f"rest/{template}", **context)
    return [part.strip().rstrip(";").strip() for part in text.split(";\n") if part.strip()]


def create_caller(*, user: str, role: str, kind: str, comment: str) -> list[str]:
    """kind "service": CREATE ROLE + CREATE USER ... TYPE = SERVICE + GRANT ROLE; "person": the role
    and its grant to the existing user."""
    return _statements("create_caller.sql.j2", user=user, user_plain=is_plain(user), role=role, kind=kind,
                       comment=comment)


def grant_endpoint(*, service_fqn: str, role: str, service_role: str = ALL_ENDPOINTS_USAGE) -> list[str]:
    database, schema, _ = service_fqn.split(".")
    return _statements("grant_endpoint.sql.j2", database=database, schema=schema, service=service_fqn,
                       service_role=service_role, role=role)


def network(*, user: str, rule_fqn: str, policy: str | None, cidrs: list[str], comment: str,
            existing_policy: str | None = None) -> list[str]:
    """CREATE OR ALTER NETWORK RULE, then either a new policy activated for the user, or the rule
    added to the policy that already applies (existing_policy)."""
    return _statements("network.sql.j2", user=user, user_plain=is_plain(user), rule=rule_fqn, policy=policy,
                       cidrs=cidrs, comment=comment, existing_policy=existing_policy)


def add_pat(*, user: str, token_name: str, role: str, days: int, comment: str) -> str:
    return _sql("add_pat.sql.j2", user=user, user_plain=is_plain(user), token_name=token_name, role=role,
                days=days, comment=comment)


def set_public_key(*, user: str, public_key: str) -> str:
    return _sql("set_public_key.sql.j2", user=user, user_plain=is_plain(user), public_key=public_key)
