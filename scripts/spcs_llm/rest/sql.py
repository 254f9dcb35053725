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
