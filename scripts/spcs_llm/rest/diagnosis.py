"""After an ingress 404: ask the account which of the three usual causes it is.

The ingress cannot say why it refused (every authorization failure is a 404), but the account can:
the caller's network policy, its PATs (expired, disabled, role restriction) and whether the calling
role holds <service>!ALL_ENDPOINTS_USAGE. The reads go through the user's own connection
(SqlRunner.from_args) and rest/account.py; a check Snowflake refuses is "unknown", never a guess.
"""

from __future__ import annotations

import re

from ..snowflake import statements
from ..snowflake.access import SqlError, SqlRunner

OK, FAILED, UNKNOWN = "ok", "failed", "unknown"


def account_checks(runner: SqlRunner, service_fqn: str, *, user: str | None, role: str | None) -> list[dict]:
    """[{check, status (ok|failed|unknown), detail}] for the caller `user` calling as `role`
    (defaults: the connection's current user; the role restrictions of the user's active PATs,
    else the connection's current role)."""
    from . import account

    checks: list[dict] = []
    current = _current(runner)
    user, role = _unquoted(user), _unquoted(role)
    user = user or current.get("user_name")
    if not user:
        return [{"check": "caller", "status": UNKNOWN, "detail": "cannot tell the calling user: pass --user NAME"}]

    policy = account.network_policy_for_user(runner, user)
    if policy.get("effective"):
        level = "user" if policy.get("user_policy") else "account"
        checks.append({"check": "network policy", "status": OK, "detail": (
            f"{user} is subject to network policy {policy['effective']} ({level} level); the client's address "
            "must be in its allowed list (DESCRIBE NETWORK POLICY shows it)")})
    elif policy.get("unreadable"):
        checks.append({"check": "network policy", "status": UNKNOWN, "detail": (
            f"could not read the network policy of {user}: " + "; ".join(u["error"] for u in policy["unreadable"]))})
    else:
        checks.append({"check": "network policy", "status": FAILED, "detail": (
            f"no network policy applies to {user}: by default a PAT is only accepted for a user subject to a "
            "network policy (skills/spcs-llm/rest-access/SKILL.md creates one for the client's addresses)")})

    roles = [role] if role else []
    try:
        tokens = account.pat_status(runner, user)
    except SqlError as err:
        tokens = None
        checks.append({"check": "PAT", "status": UNKNOWN, "detail": f"cannot list the PATs of {user}: {err.message}"})
    if tokens is not None:
        active = [t for t in tokens if str(t.get("status") or "").upper() == "ACTIVE"]
        listing = ", ".join(f"{t.get('name')} ({t.get('status')}, expires {t.get('expires_at')}, role "
                            f"{t.get('role_restriction') or 'any'})" for t in tokens) or "none"
        if not tokens:
            checks.append({"check": "PAT", "status": FAILED, "detail": f"{user} has no programmatic access token"})
        elif not active:
            checks.append({"check": "PAT", "status": FAILED, "detail": (
                f"no ACTIVE token for {user}: {listing}; create a new one (rest-access playbook)")})
        else:
            checks.append({"check": "PAT", "status": OK, "detail": (
                f"{len(active)} active token(s) for {user}: {listing}; the one you sent must be among them")})
        if not role:  # the roles the tokens are restricted to (an expired one still names the intended role)
            roles = sorted({str(t["role_restriction"]) for t in (active or tokens) if t.get("role_restriction")})
    if not roles and current.get("role_name"):
        roles = [current["role_name"]]

    for name in roles:
        granted = account.service_role_granted(runner, service_fqn, name)
        status = {True: OK, False: FAILED}.get(granted, UNKNOWN)
        detail = {OK: f"role {name} holds {service_fqn}!ALL_ENDPOINTS_USAGE",
                  FAILED: f"role {name} lacks {service_fqn}!ALL_ENDPOINTS_USAGE: only the service owner may call "
                          f"the endpoint until GRANT SERVICE ROLE {service_fqn}!ALL_ENDPOINTS_USAGE TO ROLE {name}",
                  UNKNOWN: f"could not tell whether role {name} holds the service role (no privilege to list its "
                           "grants)"}[status]
        checks.append({"check": "service role", "status": status, "detail": detail})
    return checks


def _unquoted(name: str | None) -> str | None:
    """A name typed without quotes means what SQL makes of it: upper case (llm_svc_app -> LLM_SVC_APP)."""
    if name and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", name):
        return name.upper()
    return name


def _current(runner: SqlRunner) -> dict:
    try:
        rows = runner.query(statements.context(), doc="context-functions")
    except SqlError:
        return {}
    return rows[0] if rows else {}


def summary(checks: list[dict]) -> str:
    failed = [c for c in checks if c["status"] == FAILED]
    if failed:
        return "cause: " + "; ".join(f"{c['check']}: {c['detail']}" for c in failed)
    if any(c["status"] == UNKNOWN for c in checks):
        return ("no check failed, some could not be read; if the token and grants are right, check the URL and "
                "the route, and that the client's address is in the network policy")
    return ("the account checks pass: check that the token you sent is one of the active ones, the client's "
            "address is allowed by the network policy, and the URL and route are right")
