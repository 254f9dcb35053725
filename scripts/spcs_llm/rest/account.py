"""What the account says about a REST caller: its network policy, the service-role grant, its PATs.

Every function takes a SqlRunner (snowflake/access.py) and opens no connection of its own, so the
caller's connection rule, dry run and replay apply. A check that Snowflake refuses (no privilege,
unknown user) answers None for "could not tell", never a guess. PAT secrets are never read:
SHOW USER PROGRAMMATIC ACCESS TOKENS returns metadata only.

Sources: network policies and their precedence, docs.snowflake.com/en/user-guide/network-policies
(a user-level policy overrides the account-level one; SHOW PARAMETERS LIKE 'network_policy');
SHOW GRANTS OF SERVICE ROLE, docs.snowflake.com/en/sql-reference/sql/show-grants; PAT metadata,
docs.snowflake.com/en/sql-reference/sql/show-user-programmatic-access-tokens.
"""

from __future__ import annotations

from ..snowflake import statements
from ..snowflake.access import SqlError, SqlRunner
from . import sql

MAX_ROLES = 50  # roles walked through inheritance before giving up (answers None)


def network_policy_for_user(runner: SqlRunner, user: str) -> dict:
    """{"user_policy", "account_policy", "effective"} (names or None) plus "unreadable": the levels
    Snowflake refused to show. effective is the user's policy if set, else the account's; it is None
    when no policy applies, or when a level that could decide it was unreadable (see "unreadable")."""
    out: dict = {"user_policy": None, "account_policy": None, "effective": None, "unreadable": []}
    for level, statement in (("user", sql.show_network_policy(user)), ("account", sql.show_network_policy())):
        try:
            rows = runner.query(statement, doc="show-parameters")
        except SqlError as err:
            out["unreadable"].append({"level": level, "error": err.message})
            continue
        out[f"{level}_policy"] = _parameter_value(rows)
    unreadable = {u["level"] for u in out["unreadable"]}
    if out["user_policy"]:
        out["effective"] = out["user_policy"]
    elif "user" not in unreadable:
        out["effective"] = out["account_policy"]
    return out


def _parameter_value(rows: list[dict]) -> str | None:
    for row in rows:
        if str(row.get("key") or "").upper() == "NETWORK_POLICY":
            value = str(row.get("value") or "").strip()
            return value or None
    return None


def service_role_granted(runner: SqlRunner, service_fqn: str, role: str,
                         service_role: str = sql.ALL_ENDPOINTS_USAGE, errors: list[str] | None = None) -> bool | None:
    """Whether ROLE holds SERVICE!ALL_ENDPOINTS_USAGE, directly or through a role it inherits.
    None: Snowflake would not list the grants (no privilege on the service, or it does not exist)
    or the role tree was unreadable, so this cannot tell; Snowflake's reason goes into `errors`."""
    errors = [] if errors is None else errors
    try:
        rows = runner.query(sql.show_grants_of_service_role(service_fqn, service_role), doc="show-grants-of-role")
    except SqlError as err:
        errors.append(err.message)
        return None
    if not runner.reads:
        return None
    grantees = {_norm(r.get("grantee_name")) for r in rows if _norm(r.get("granted_to")) == "ROLE"}
    if _norm(role) in grantees:
        return True
    return _inherits_any(runner, role, grantees, errors)


def missing_object(message: str, kind: str, name: str) -> bool:
    """Snowflake's "<Kind> '<NAME>' does not exist or not authorized" for this object."""
    text = message.lower()
    return "does not exist" in text and f"{kind.lower()} '{name.lower()}'" in text


def _inherits_any(runner: SqlRunner, role: str, targets: set[str], errors: list[str]) -> bool | None:
    """Breadth first through SHOW GRANTS TO ROLE (rows granted_on ROLE are inherited roles)."""
    if not targets:
        return False
    queue, seen = [role], set()
    while queue:
        current = queue.pop(0)
        if _norm(current) in seen:
            continue
        if len(seen) >= MAX_ROLES:
            return None
        seen.add(_norm(current))
        try:
            rows = runner.query(statements.show_grants_to_role(current), doc="show-grants-to-role")
        except SqlError as err:
            errors.append(err.message)
            return None
        for row in rows:
            if _norm(row.get("granted_on")) == "ROLE" and row.get("name"):
                if _norm(row["name"]) in targets:
                    return True
                queue.append(str(row["name"]))
    return False


def pat_status(runner: SqlRunner, user: str) -> list[dict]:
    """The user's PATs: name, role_restriction, expires_at, status (ACTIVE, EXPIRED or DISABLED),
    plus comment and mins_to_bypass_required_network_policy. Raises SqlError when Snowflake refuses
    (e.g. MODIFY on another person's user is missing)."""
    rows = runner.query(sql.show_user_pats(user), doc="show-user-programmatic-access-tokens")
    keep = ("name", "role_restriction", "expires_at", "status", "comment", "mins_to_bypass_required_network_policy")
    return [{key: row.get(key) for key in keep} for row in rows]


def _norm(value: object) -> str:
    return str(value or "").replace('"', "").strip().upper()
