"""REST access to the deployed service, one account change per action, each rendered from the plan:
  check      read-only: the caller's network policy, its role's service-role grant, its PATs (exit 1
             when something is missing, and says which);
  caller     CREATE ROLE (+ CREATE USER ... TYPE = SERVICE for an application) + GRANT ROLE;
  network    CREATE OR ALTER NETWORK RULE (MODE = INGRESS, TYPE = IPV4, the client's --cidr) + CREATE
             NETWORK POLICY + ALTER USER ... SET NETWORK_POLICY, only when no policy applies yet (a PAT
             is refused without one); --add-to-policy adds the rule to the policy that applies;
  grant      GRANT USAGE on the database and schema + GRANT SERVICE ROLE <svc>!ALL_ENDPOINTS_USAGE;
  token      offline: the ALTER USER ... ADD PROGRAMMATIC ACCESS TOKEN statement and the shell line the
             USER runs (the secret goes straight into a 0600 file), or --method keypair; records the
             file path / variable name, never the secret;
  save-token reads that statement's output (or a pasted token) on stdin and writes the 0600 file.
caller, network and grant change the account: --dry-run prints the SQL, --yes runs it; decisions are
recorded in the plan (rest.*) after they ran. Exit codes: 0 done, 1 check found something missing or
a policy already applies, 2 bad input or --yes missing, 3 Snowflake error."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from .. import plan_file
from ..errors import EXIT_NEGATIVE, SpcsLlmError
from ..output import StepResult
from ..render.identifiers import identifier, qualified_name
from ..rest import account, sql, tokens
from ..snowflake.access import SqlError, SqlRunner
from ..snowflake.args import add_snowflake_arguments
from ..snowflake.targets import load_plan_optional

ACTIONS = ("check", "caller", "network", "grant", "token", "save-token")
KINDS = ("service", "person")
METHODS = ("pat", "keypair")
DEFAULT_DAYS = 30
DEFAULT_PAT_ENV = "SNOWFLAKE_PAT"


def add_arguments(parser) -> None:
    parser.add_argument("action", choices=ACTIONS, help="what to check, render or run (see above)")
    who = parser.add_argument_group("the caller (default: the plan's rest.* fields)")
    who.add_argument("--user", metavar="NAME", help="the Snowflake user that calls the endpoint (default: the plan's "
                     "rest.caller_user, else <SERVICE>_APP for a new service user)")
    who.add_argument("--kind", choices=KINDS, help="service (recommended for applications: TYPE = SERVICE user, "
                     "created here) or person (an existing person's user); default: the plan's, else service")
    who.add_argument("--role", metavar="NAME", help="the caller's role, holding only the service role (default: the "
                     "plan's rest.caller_role, else <SERVICE>_CALLER)")
    who.add_argument("--service", metavar="DB.SCHEMA.NAME",
                     help="the service (default: the plan's registry.service_fqn, else snowflake.database/schema/"
                     "service_name)")
    net = parser.add_argument_group("network")
    net.add_argument("--cidr", metavar="CIDR", action="append",
                     help="the calling client's public IPv4 address or range (repeatable), e.g. 203.0.113.7/32; "
                     "ask the user, never guess")
    net.add_argument("--policy-name", metavar="NAME", help="network policy to create (default <USER>_REST_POLICY)")
    net.add_argument("--rule-name", metavar="NAME",
                     help="network rule to create in the plan's schema (default <USER>_REST_RULE)")
    net.add_argument("--add-to-policy", action="store_true",
                     help="when a policy already applies to the user, add the rule to it instead of stopping")
    tok = parser.add_argument_group("token (nothing here ever reads or prints a secret)")
    tok.add_argument("--method", choices=METHODS, help="pat (default) or keypair (production: a key-pair JWT)")
    tok.add_argument("--token-name", metavar="NAME", help="PAT name (default <SERVICE>_REST)")
    tok.add_argument("--days", type=int, help=f"DAYS_TO_EXPIRY, {tokens.MIN_DAYS}-{tokens.MAX_DAYS} "
                     f"(default {DEFAULT_DAYS})")
    tok.add_argument("--pat-file", metavar="PATH", help="file that will hold the PAT, mode 0600 (default "
                     "~/.snowflake/spcs-llm-<service>.pat); save-token writes it")
    tok.add_argument("--pat-env", metavar="VAR", help="environment variable an application reads the PAT from "
                     f"(recorded; default {DEFAULT_PAT_ENV})")
    tok.add_argument("--public-key-file", metavar="PATH",
                     help="keypair: the PEM public key (.pub) to set on the user; the private key stays in its file")
    add_snowflake_arguments(parser, writes=True)


def run(args) -> StepResult:
    plan = load_plan_optional(args.plan)
    if args.action == "save-token":
        return _save_token(args, plan)
    who = _caller(args, plan)
    if args.action == "token":
        return _token(args, plan, who)
    with SqlRunner.from_args(args) as runner:
        if args.action == "check":
            result = _check(runner, who)
            _record_named_caller(args, plan, who, result)
            return result
        if args.action == "caller":
            return _change(args, plan, runner, who, "caller", sql.create_caller(
                user=who["user"], role=who["role"], kind=who["kind"], comment=_comment(who)),
                {"rest.caller_user": who["user"], "rest.caller_kind": who["kind"], "rest.caller_role": who["role"],
                 "rest.service_fqn": who["service"]})
        if args.action == "grant":
            return _grant(args, plan, runner, who)
        return _network(args, plan, runner, who)


# -- who and what ------------------------------------------------------------------------------------

def _service_fqn(args, plan: dict) -> str:
    value = args.service or plan_file.get(plan, "rest.service_fqn") or plan_file.get(plan, "registry.service_fqn")
    if not value:
        db, sch = plan_file.get(plan, "snowflake.database"), plan_file.get(plan, "snowflake.schema")
        name = plan_file.get(plan, "snowflake.service_name") or plan_file.get(plan, "custom_image.service_name")
        value = f"{db}.{sch}.{name}" if db and sch and name else None
    if not value:
        raise SpcsLlmError("no service to give access to", hint="pass --service DB.SCHEMA.NAME, or run this beside "
                           "the plan of the deployed service (deployment.yaml)")
    return qualified_name(value, "service", parts=(3,))


def _caller(args, plan: dict | None) -> dict:
    plan = plan or {}
    service = _service_fqn(args, plan)
    short = service.split(".")[-1]
    kind = args.kind or plan_file.get(plan, "rest.caller_kind") or "service"
    user = args.user or plan_file.get(plan, "rest.caller_user")
    if not user:
        if kind == "person":
            raise SpcsLlmError("--kind person needs --user NAME (the person's Snowflake user)")
        user = f"{short}_APP"
    role = args.role or plan_file.get(plan, "rest.caller_role") or f"{short}_CALLER"
    return {"user": _principal(user, "--user"), "kind": kind, "role": identifier(role, "--role"), "service": service}


def _principal(name: str, what: str) -> str:
    """A user name as Snowflake stores it: a plain name upper-cased; an e-mail style name verbatim."""
    try:
        return identifier(name, what)
    except SpcsLlmError:
        if not name or any(c in name for c in "\"';\n\r") or len(name) > 255:
            raise
        return name


def _record_named_caller(args, plan: dict | None, who: dict, result: StepResult) -> None:
    """The caller the user named (--user/--kind/--role) is a decision: later actions default to it.
    What the account shows in place is recorded too (a caller, policy or grant an administrator
    created from the printed statements, which no --yes of this step recorded)."""
    found = result.data
    given = {"rest.caller_user": args.user and who["user"], "rest.caller_kind": args.kind and who["kind"],
             "rest.caller_role": args.role and who["role"]}
    seen_user = found.get("user_exists") and not any(u["level"] == "user"
                                                     for u in found.get("network_policy", {}).get("unreadable", []))
    seen_role = found.get("role_exists") and found.get("service_role_granted") is not None
    if seen_user and seen_role:  # both read back from the account (a dry run records nothing, see below)
        given.update({"rest.caller_user": who["user"], "rest.caller_kind": who["kind"],
                      "rest.caller_role": who["role"]})
    if found.get("network_policy", {}).get("user_policy"):
        given["rest.network_policy"] = found["network_policy"]["user_policy"]
    if found.get("service_role_granted") is True:
        given.update({"rest.grant_done": True, "rest.service_fqn": who["service"]})
    given = {key: value for key, value in given.items()
             if value and (plan is None or plan_file.get(plan, key) != value)}
    result.data["plan_updated"] = []
    if plan is None or args.dry_run or not given:
        return
    plan_file.update(plan, "access check", given)
    plan_file.save(plan, args.plan)
    result.data["plan_updated"] = sorted(given)
    result.text += f"\nrecorded in the plan: {', '.join(sorted(given))}"


def _comment(who: dict) -> str:
    return f"spcs-llm: REST callers of {who['service']}"


# -- check -------------------------------------------------------------------------------------------

def _check(runner: SqlRunner, who: dict) -> StepResult:
    policy = account.network_policy_for_user(runner, who["user"])
    role_errors: list[str] = []
    granted = account.service_role_granted(runner, who["service"], who["role"], errors=role_errors)
    try:
        pats = account.pat_status(runner, who["user"])
        pats_error = None
    except SqlError as err:
        pats, pats_error = None, err.message
    # A caller not created yet (`access caller`) has no policy of its own, no grant and no PAT: say
    # so, rather than "could not read" or "no privilege" (walk rest1).
    user_exists = not any(u["level"] == "user" and account.missing_object(u["error"], "user", who["user"])
                          for u in policy["unreadable"])
    role_exists = not any(account.missing_object(e, "role", who["role"]) for e in role_errors)
    if not user_exists:
        policy = {**policy, "unreadable": [u for u in policy["unreadable"] if u["level"] != "user"]}
        if not policy["unreadable"]:
            policy["effective"] = policy["account_policy"]
        pats, pats_error = [], None
    if not role_exists:
        granted = False
    active = [p for p in pats or [] if str(p.get("status") or "").upper() == "ACTIVE"
              and (not p.get("role_restriction") or str(p["role_restriction"]).upper() == who["role"])]
    missing = [name for name, gone in (("caller user", not user_exists), ("caller role", not role_exists)) if gone]
    if not policy["effective"] and not policy["unreadable"]:
        missing.append("network policy")
    if granted is False:
        missing.append("service role")
    if pats is not None and not active:
        missing.append("active PAT")
    data = {"action": "check", "mode": runner.mode, **who, "user_exists": user_exists, "role_exists": role_exists,
            "network_policy": policy, "service_role_granted": granted, "pats": pats, "pats_error": pats_error,
            "active_pats": [p["name"] for p in active], "missing": missing, "statements": runner.statements}
    not_yet = " does not exist yet (spcs-llm access caller creates it)"
    lines = [f"caller {who['user']} ({who['kind']}), role {who['role']}, service {who['service']}"]
    if not user_exists:
        lines.append(f"user {who['user']}{not_yet}")
    if not role_exists:
        lines.append(f"role {who['role']}{not_yet}")
    lines += ["network policy: " + (f"{policy['effective']} ({'user' if policy['user_policy'] else 'account'} level)"
                                    if policy["effective"] else
                                    "could not read: " + "; ".join(u["error"] for u in policy["unreadable"])
                                    if policy["unreadable"] else "none: a PAT is refused (404 on the ingress)"),
              "service role: " + {True: f"{who['role']} holds {who['service']}!ALL_ENDPOINTS_USAGE",
                                  False: f"{who['role']} lacks {who['service']}!ALL_ENDPOINTS_USAGE (ingress 404)",
                                  None: "could not tell (" + ("; ".join(role_errors) or "no rows could be read")
                                  + ")"}[granted]]
    if pats is None:
        lines.append(f"PATs: could not list ({pats_error})")
    else:
        lines.append("PATs: " + (", ".join(f"{p['name']} {p['status']} until {p['expires_at']} (role "
                                           f"{p['role_restriction'] or 'any'})" for p in pats) or "none"))
    lines.append("missing: " + ", ".join(missing) if missing else "nothing missing")
    return StepResult(data=data, text="\n".join(lines), prompt="rest_access_summary",
                      exit_code=EXIT_NEGATIVE if missing else 0)


# -- account changes ---------------------------------------------------------------------------------

def _change(args, plan, runner: SqlRunner, who: dict, action: str, statements: list[str], record: dict,
            extra: dict | None = None, note: str = "") -> StepResult:
    data = {"action": action, "mode": runner.mode, **who, "statements": statements, "executed": False,
            "plan_updated": [], **(extra or {})}
    if not runner.dry_run and not runner.yes:
        runner.execute(statements[0])  # refuses (exit 2) and logs the refusal, with the statement
    for done, statement in enumerate(statements):
        try:
            runner.execute(statement)
        except SqlError as err:
            if err.insufficient_privileges and not err.hint:
                err.hint = _admin_hint(action, done)
            raise
    text = "\n".join(s + ";" for s in statements)
    if runner.dry_run:
        text += f"\n\ndry run: nothing ran{note}"
    else:
        data["executed"] = True
        if plan is not None:
            plan_file.update(plan, f"access {action}", record)
            plan_file.save(plan, args.plan)
            data["plan_updated"] = sorted(record)
        text += f"\n\ndone{note}" + (f"\nrecorded in the plan: {', '.join(sorted(record))}" if data["plan_updated"]
                                     else "")
    return StepResult(data=data, text=text, prompt="rest_access_summary")


# Who may run each action's statements (a deploy role usually may not create users or policies).
ADMIN_ROLES = {"caller": "USERADMIN (creates users and roles)",
               "network": "SECURITYADMIN (CREATE NETWORK POLICY), able to create the rule in its schema",
               "grant": "the service's owner role (or one with MANAGE GRANTS)"}


def _admin_hint(action: str, done: int) -> str:
    ran = f"the first {done} statement(s) ran; " if done else "nothing ran; "
    return (f"{ran}this connection's role may not run them. An administrator with {ADMIN_ROLES[action]} runs the "
            f"statements that `spcs-llm access {action} --dry-run` prints (Snowsight or `snow sql`); then "
            "`spcs-llm access check` reads the result back and records it in the plan")


def _grant(args, plan, runner: SqlRunner, who: dict) -> StepResult:
    already = account.service_role_granted(runner, who["service"], who["role"])
    extra = {"already_granted": already}
    if already:
        data = {"action": "grant", "mode": runner.mode, **who, "statements": [], "executed": False,
                "plan_updated": [], **extra}
        return StepResult(data=data, prompt="rest_access_summary",
                          text=f"{who['role']} already holds {who['service']}!ALL_ENDPOINTS_USAGE; nothing to grant")
    return _change(args, plan, runner, who, "grant", sql.grant_endpoint(service_fqn=who["service"], role=who["role"]),
                   {"rest.grant_done": True, "rest.caller_role": who["role"], "rest.service_fqn": who["service"]},
                   extra)


def _network(args, plan, runner: SqlRunner, who: dict) -> StepResult:
    policy = account.network_policy_for_user(runner, who["user"])
    existing = policy["effective"]
    base = {"action": "network", "mode": runner.mode, **who, "network_policy": policy, "executed": False,
            "plan_updated": [], "statements": [], "policy_read": runner.reads}
    if existing and not args.add_to_policy:
        level = "user" if policy["user_policy"] else "account"
        base["statements"] = []
        return StepResult(data=base, prompt="rest_access_summary", exit_code=EXIT_NEGATIVE, text=(
            f"network policy {existing} already applies to {who['user']} ({level} level): nothing created.\n"
            f"The client's address must be allowed by it (DESC NETWORK POLICY {existing}); to add the client's "
            "addresses to it, re-run with --cidr ... --add-to-policy"))
    cidrs = _cidrs(args.cidr)
    schema = _rule_schema(plan, who)
    rule = qualified_name(f"{schema}.{args.rule_name or _suffix(who['user'], '_REST_RULE')}", "--rule-name",
                          parts=(3,))
    new_policy = None if existing else identifier(args.policy_name or _suffix(who["user"], "_REST_POLICY"),
                                                  "--policy-name")
    statements = sql.network(user=who["user"], rule_fqn=rule, policy=new_policy, cidrs=cidrs,
                             comment=f"spcs-llm: clients of {who['service']}", existing_policy=existing)
    record = {"rest.network_rule": rule, "rest.network_policy": existing or new_policy, "rest.client_cidrs": cidrs,
              "rest.caller_user": who["user"]}
    return _change(args, plan, runner, who, "network", statements, record,
                   {"network_policy": policy, "cidrs": cidrs, "rule": rule, "policy": existing or new_policy,
                    "policy_read": runner.reads})


def _suffix(user: str, suffix: str) -> str:
    stem = user.split("@")[0].upper()
    stem = "".join(c if c.isalnum() or c == "_" else "_" for c in stem)
    return stem + suffix


def _rule_schema(plan: dict | None, who: dict) -> str:
    """Network rules are schema objects: the plan's schema, else the service's."""
    db, sch = plan_file.get(plan or {}, "snowflake.database"), plan_file.get(plan or {}, "snowflake.schema")
    return f"{identifier(db, 'database')}.{identifier(sch, 'schema')}" if db and sch else \
        ".".join(who["service"].split(".")[:2])


def _cidrs(values: list[str] | None) -> list[str]:
    """Public IPv4 addresses or ranges the client calls from: asked, never guessed; no allow-all."""
    if not values:
        raise SpcsLlmError("no client address given: the network policy must allow the addresses the "
                           "application calls from", hint="ask the user for the client's public IPv4 address(es) and "
                           "pass --cidr 203.0.113.7/32 (repeatable); `curl -s https://checkip.amazonaws.com` run ON "
                           "the client machine prints its address")
    out = []
    for value in values:
        text = value.strip()
        try:
            net = ipaddress.ip_network(text if "/" in text else f"{text}/32", strict=True)
        except ValueError as err:
            raise SpcsLlmError(f"--cidr {value!r} is not an IPv4 address or CIDR range ({err})",
                               hint="e.g. 203.0.113.7 or 203.0.113.0/24 (host bits zero)") from None
        if net.version != 4:
            raise SpcsLlmError(f"--cidr {value!r} is IPv6; this step writes TYPE = IPV4 rules",
                               hint="give the client's IPv4 address")
        if net.prefixlen == 0:
            raise SpcsLlmError(f"--cidr {value!r} allows every address", hint="give the client's own addresses")
        if str(net) not in out:
            out.append(str(net))
    return out


# -- tokens ------------------------------------------------------------------------------------------

def _token(args, plan: dict | None, who: dict) -> StepResult:
    method = args.method or plan_file.get(plan or {}, "rest.token_method") or "pat"
    service_short = who["service"].split(".")[-1]
    pat_env = args.pat_env or plan_file.get(plan or {}, "rest.pat_env") or DEFAULT_PAT_ENV
    if not pat_env.replace("_", "a").isalnum() or pat_env[0].isdigit():
        raise SpcsLlmError(f"--pat-env {pat_env!r} is not an environment variable name")
    data = {"action": "token", "method": method, **who, "pat_env": pat_env, "plan_updated": [], "statements": []}
    if method == "keypair":
        lines = tokens.keypair_lines(who["user"])
        key = tokens.public_key_body(args.public_key_file) if args.public_key_file else None
        statement = sql.set_public_key(user=who["user"], public_key=key) if key else None
        data.update(private_key_file=lines["private_key_file"], public_key_file=lines["public_key_file"],
                    commands=lines["commands"], statements=[statement] if statement else [])
        record = {"rest.token_method": "keypair", "rest.private_key_file": lines["private_key_file"],
                  "rest.caller_user": who["user"], "rest.caller_role": who["role"]}
        text = (f"in your own terminal (the private key stays in {lines['private_key_file']}):\n{lines['commands']}\n"
                + (f"\nthen, as an administrator:\n{statement};" if statement else
                   f"\nthen re-run with --public-key-file {lines['public_key_file']} for the ALTER USER statement"))
    else:
        days = args.days if args.days is not None else plan_file.get(plan or {}, "rest.token_days", DEFAULT_DAYS)
        if not tokens.MIN_DAYS <= days <= tokens.MAX_DAYS:
            raise SpcsLlmError(f"--days {days} is not valid; DAYS_TO_EXPIRY is {tokens.MIN_DAYS} to {tokens.MAX_DAYS} "
                               "(your account's PAT policy may allow less)")
        name = identifier(args.token_name or plan_file.get(plan or {}, "rest.token_name") or f"{service_short}_REST",
                          "--token-name")
        pat_file = args.pat_file or plan_file.get(plan or {}, "rest.pat_file") or tokens.default_pat_file(service_short)
        statement = sql.add_pat(user=who["user"], token_name=name, role=who["role"], days=days,
                                comment=f"spcs-llm: REST calls to {who['service']}")
        # the plan's connection, so the token is created on the account the plan deployed to
        connection = args.connection or plan_file.get(plan or {}, "snowflake.connection")
        line = tokens.snow_sql_line(statement, connection=connection, pat_file=pat_file)
        data.update(token_name=name, days=days, pat_file=pat_file, statements=[statement], shell_line=line,
                    connection=connection,
                    env_line=f'export {pat_env}="$(cat {pat_file})"')
        record = {"rest.token_method": "pat", "rest.token_name": name, "rest.token_days": days,
                  "rest.pat_file": pat_file, "rest.pat_env": pat_env, "rest.caller_user": who["user"],
                  "rest.caller_role": who["role"]}
        text = (f"the user runs this in their own terminal (the secret goes straight into {pat_file}, mode 0600):\n"
                f"  {line}\nor in Snowsight: {statement};\n  then `spcs-llm access save-token --pat-file {pat_file}` "
                f"and paste the token there.\nAn application reads the file, or the variable set from it:\n"
                f"  {data['env_line']}")
        if who["kind"] == "service":
            text += (f"\nThe statement needs a role that owns {who['user']} (the one that created it, usually "
                     "USERADMIN): otherwise the administrator who created the user runs it.")
    if args.dry_run or plan is None:
        text += "\n\ndry run: the plan is unchanged" if args.dry_run else "\n\n(no plan file: nothing recorded)"
    else:
        plan_file.update(plan, "access token", record)
        plan_file.save(plan, args.plan)
        data["plan_updated"] = sorted(record)
        text += f"\n\nrecorded in the plan: {', '.join(sorted(record))}"
    return StepResult(data=data, text=text, prompt="rest_token_instructions")


def _save_token(args, plan: dict | None) -> StepResult:
    path = args.pat_file or plan_file.get(plan or {}, "rest.pat_file")
    if not path:
        raise SpcsLlmError("save-token needs --pat-file PATH (the file the token goes into)")
    secret = tokens.extract_secret(tokens.read_stdin())
    data = {"action": "save-token", "pat_file": path, "written": False, "mode": "0600"}
    if args.dry_run:
        return StepResult(data=data, text=f"dry run: a token was read; {path} was not written")
    written = tokens.write_secret(path, secret)
    data["written"] = True
    text = (f"saved the token to {Path(written)} (mode 0600); pass --pat-file {path} to spcs-llm endpoint test / "
            "gateway. The token was not printed.")
    if plan is not None and plan_file.get(plan, "rest.pat_file") != path:
        plan_file.update(plan, "access save-token", {"rest.pat_file": path})  # where it is, never what it is
        plan_file.save(plan, args.plan)
        text += "\nrecorded in the plan: rest.pat_file"
    return StepResult(data=data, text=text)
