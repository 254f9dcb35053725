"""Where a service is (read-only): DESCRIBE SERVICE, SHOW SERVICE CONTAINERS IN SERVICE and SHOW
ENDPOINTS IN SERVICE. With --wait, polls and shows progress (phase, elapsed time, container states,
restarts) until the service is ready: every container READY and, for a public endpoint, the endpoint
answering a one-token chat request (or a GET of --probe-path) made with a programmatic access token
(PAT) read from an env var or file (never printed). RUNNING alone does not mean the model is loaded,
and READY alone does not mean healthy: a container that keeps restarting (restart count rising, or
several recent restarts after a non-zero exit) is phase `restarting`, a crash loop, and --wait stops
there with the `spcs-llm diagnose` command to run. The default wait (9 minutes) fits an assistant's
command timeout; run the same command again to keep waiting.
Exit codes: 0 ready, 1 not ready (or timed out, or failed; see the debugging pointer), 2 bad input,
3 Snowflake, connection or endpoint authentication error."""

from __future__ import annotations

import datetime as _dt
import os
import re
import sys
import time
from pathlib import Path

from .. import PACK_ROOT
from ..debug.signatures import CRASH_LOOP_RESTARTS  # one count for status and diagnose
from ..errors import EXIT_ENVIRONMENT, EXIT_NEGATIVE, SpcsLlmError
from ..output import StepResult, table
from ..redact import register_secret
from ..registry.launch import is_running
from ..snowflake import statements
from ..snowflake.access import SqlError, SqlRunner
from ..snowflake.args import add_snowflake_arguments
from ..snowflake.targets import fqn, load_plan_optional, require_schema, require_service

DEFAULT_TIMEOUT_S = 540  # 9 minutes: inside an assistant's 10-minute command timeout; re-run to continue
CRASH_LOOP_WINDOW_S = 1800  # CRASH_LOOP_RESTARTS restarts make a crash loop when the last is this recent
DEFAULT_INTERVAL_S = 15
DEFAULT_PAT_ENV = "SNOWFLAKE_PAT"  # the same default as spcs-llm usage
PROBE_TIMEOUT_S = 10
TERMINAL_SERVICE_STATES = ("FAILED", "INTERNAL_ERROR", "DONE", "DELETING", "DELETED", "CANCELLED")
SUSPENDED_STATES = ("SUSPENDING", "SUSPENDED")
DEBUG_PLAYBOOK = "skills/spcs-llm/debug/SKILL.md"
DEBUG_DOC = "docs/account.md#when-a-service-does-not-become-ready"

# Injection points for tests (no real waiting, a fixed "now" for restart times).
_clock = time.monotonic
_sleep = time.sleep
_wallclock = lambda: _dt.datetime.now(_dt.UTC)  # noqa: E731


def add_arguments(parser) -> None:
    add_snowflake_arguments(parser, writes=False)
    parser.add_argument("--name", help="service name (default: the plan's snowflake.service_name)")
    parser.add_argument("--database", help="database (default: the plan's snowflake.database)")
    parser.add_argument("--schema", help="schema (default: the plan's snowflake.schema)")
    parser.add_argument("--wait", action="store_true", help="poll until ready, failed or --timeout")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S",
                        help=f"with --wait: stop waiting after S seconds (default {DEFAULT_TIMEOUT_S}, which fits an "
                             "assistant's command timeout; run the command again to keep waiting)")
    parser.add_argument("--interval", type=float, default=DEFAULT_INTERVAL_S, metavar="S",
                        help=f"with --wait: seconds between polls (default {DEFAULT_INTERVAL_S})")
    parser.add_argument("--endpoint", help="endpoint to probe (default: the first public endpoint)")
    parser.add_argument("--probe-path", help="GET this HTTP path instead of the default probe, a one-token chat "
                        "request on the plan's routes (e.g. /health for the custom image's health route)")
    parser.add_argument("--pat-env", default=DEFAULT_PAT_ENV, metavar="VAR",
                        help=f"env var holding a programmatic access token for the probe (default {DEFAULT_PAT_ENV})")
    parser.add_argument("--pat-file", metavar="PATH", help="file holding the token (instead of --pat-env)")
    parser.add_argument("--no-probe", action="store_true", help="do not call the endpoint; READY containers suffice")


def run(args) -> StepResult:
    if args.timeout <= 0 or args.interval <= 0:
        raise SpcsLlmError(f"--timeout {args.timeout:g} and --interval {args.interval:g} must be positive")
    plan = load_plan_optional(args.plan)
    # with a token, the probe is a real chat request unless a GET path is asked for (rest/probe.py)
    args.chat_probe = {"plan": plan} if args.probe_path is None else None
    args.probe_path = args.probe_path or _default_probe_path(plan)
    if not args.probe_path.startswith("/"):
        raise SpcsLlmError(f"--probe-path {args.probe_path!r} must start with '/'")
    service = fqn(require_schema(args.database, args.schema, plan), require_service(args.name, plan))
    token = None if args.no_probe else _read_token(args.pat_env, args.pat_file)
    with SqlRunner.from_args(args) as runner:
        if runner.dry_run:
            snap = _snapshot(runner, service, args, token, plan=plan)
            if not runner.reads:  # nothing was read: the phase is unknown, not "pending"
                snap["phase"] = "unknown"
            data = {"mode": runner.mode, "service": service, **snap, "waited_s": 0, "history": [],
                    "statements": runner.statements}
            note = (f"dry run: with --wait these statements would repeat every {args.interval:g} s for up to "
                    f"{args.timeout:g} s") if args.wait else "dry run: nothing was read"
            return StepResult(data=data, text=_text(data) + "\n" + note)
        start = _clock()
        history: list[dict] = []
        seen_restarts: dict | None = None
        while True:
            snap = _snapshot(runner, service, args, token, seen_restarts, plan=plan)
            seen_restarts = _restart_counts(snap["containers"])
            elapsed = round(_clock() - start, 1)
            history.append({"elapsed_s": elapsed, "phase": snap["phase"], "service_status": snap["service_status"],
                            "restarts": snap["restarts"]})
            if args.wait:
                _progress(elapsed, snap, history)
            if not args.wait or snap["phase"] in ("ready", "failed", "suspended", "auth-failed", "missing") \
                    or snap["crash_loop"]:
                break
            if elapsed + args.interval > args.timeout:
                if snap["phase"] != "deploying":  # still registering is no reason to debug
                    snap["phase"] = "timed-out"
                break
            _sleep(args.interval)
        data = {"mode": runner.mode, "service": service, **snap, "waited_s": elapsed if args.wait else 0,
                "history": history if args.wait else [], "statements": runner.statements}
    data["debug"] = _debug_pointer() if data["phase"] not in ("ready", "deploying") else None
    data["log_statements"] = _log_statements(service, data["containers"]) if data["phase"] != "ready" else []
    data["diagnose"] = f"spcs-llm diagnose --service {service}" + (
        f" --connection {args.connection}" if args.connection else "") if data["phase"] in (
        "restarting", "failed", "timed-out") else None
    _record_ingress(args.plan, plan, data.get("endpoint"))
    exit_code = 0 if data["phase"] == "ready" else EXIT_ENVIRONMENT if data["phase"] == "auth-failed" \
        else EXIT_NEGATIVE
    return StepResult(data=data, text=_text(data), exit_code=exit_code)


def _record_ingress(path: str, plan: dict | None, endpoint: dict | None) -> None:
    """`usage` builds its REST snippet from the plan: record the public host once it is assigned."""
    from .. import plan_file

    if not plan or not endpoint or not endpoint.get("public") or not endpoint.get("url"):
        return
    recorded = plan_file.get(plan, "registry.ingress_url")
    if plan_file.get(plan, "engine_path") != "registry" or recorded == endpoint["url"]:
        return
    plan_file.update(plan, "status", {"registry.ingress_url": endpoint["url"]})
    plan_file.save(plan, path)


def _default_probe_path(plan: dict | None) -> str:
    """The custom image serves a health route; the registry's server is only known to answer on /."""
    from .. import plan_file

    if plan_file.get(plan or {}, "engine_path") == "custom-image":
        try:
            from ..custom_image.settings import HEALTH_PATH
        except ImportError:
            return "/health"
        return HEALTH_PATH
    return "/"


def _read_token(env_var: str, path: str | None) -> str | None:
    if path:
        file = Path(path).expanduser()
        if not file.is_file():
            raise SpcsLlmError(f"--pat-file {path!r} does not exist")
        token = file.read_text(encoding="utf-8").strip()
    else:
        token = os.environ.get(env_var, "").strip()
    if token:
        register_secret(token)
    return token or None


def _snapshot(runner: SqlRunner, service: str, args, token: str | None, seen_restarts: dict | None = None,
              plan: dict | None = None) -> dict:
    try:
        described = runner.query(statements.describe_service(service), doc="describe-service")
    except SqlError as err:
        if err.does_not_exist:
            deploying = _deploying(plan, service)
            return {**_empty(), "phase": "deploying" if deploying else "missing",
                    "message": deploying or f"{service} does not exist (or your role cannot see it)"}
        raise
    rows = runner.query(statements.show_service_containers(service), doc="show-service-containers")
    endpoints = runner.query(statements.show_endpoints(service), doc="show-endpoints")
    desc = described[0] if described else {}
    containers = [{k: r.get(k) for k in ("instance_id", "container_name", "status", "message", "restart_count",
                                         "last_exit_code", "last_restart_time", "image_name")} for r in rows]
    endpoint = _pick_endpoint(endpoints, args.endpoint)
    snap = {
        "service_status": desc.get("status"),
        "compute_pool": desc.get("compute_pool"),
        "instances": f"{desc.get('current_instances')}/{desc.get('target_instances')}" if desc else None,
        "containers": containers,
        "endpoints": [{k: e.get(k) for k in ("name", "port", "protocol", "is_public", "ingress_url")}
                      for e in endpoints],
        "restarts": sum(int(c["restart_count"] or 0) for c in containers),
        "endpoint": endpoint,
        "probe": None,
        "message": None,
    }
    snap["crash_loop"] = _crash_loop(containers, seen_restarts)
    snap["phase"] = "restarting" if snap["crash_loop"] else _phase(snap)
    if snap["phase"] == "containers-ready" and endpoint and endpoint["public"]:
        snap["probe"] = _probe(endpoint, args.probe_path, token, getattr(args, "chat_probe", None))
        snap["phase"] = {"answering": "ready", "auth-failed": "auth-failed", "not-probed": "ready"}.get(
            snap["probe"]["result"], "loading")
    elif snap["phase"] == "containers-ready":
        snap["phase"] = "ready"
    return snap


def _deploying(plan: dict | None, service: str) -> str | None:
    """Why a missing service is not (yet) a problem: the deploy-registry script that creates it still
    runs (registering the model takes many minutes). Walk reg1: `status --wait` right after
    `deploy-registry --execute --yes` stopped at once on 'missing' and pointed at debugging."""
    from .. import plan_file

    get = plan_file.get
    pid = get(plan or {}, "registry.pid")
    if str(get(plan or {}, "registry.service_fqn") or "").upper() != service.upper() or not is_running(pid):
        return None
    log = get(plan, "registry.log_path")
    phases = re.findall(r"PHASE (\w+)", Path(log).read_text(encoding="utf-8", errors="replace")) \
        if log and Path(log).is_file() else []
    where = f", phase {phases[-1]}" if phases else ""
    return (f"not created yet: the deployment script (pid {pid}{where}) is still running; the service appears "
            f"once the model is registered" + (f" (follow it: tail -f {log})" if log else ""))


def _empty() -> dict:
    return {"service_status": None, "compute_pool": None, "instances": None, "containers": [], "endpoints": [],
            "restarts": 0, "endpoint": None, "probe": None, "message": None, "crash_loop": []}


def _restart_counts(containers: list[dict]) -> dict:
    return {(c["instance_id"], c["container_name"]): int(c["restart_count"] or 0) for c in containers}


def _crash_loop(containers: list[dict], seen_restarts: dict | None) -> list[str]:
    """Why the containers are in a crash loop (empty: they are not). A container that exited with an error
    and restarted since the previous poll is one; so is one with CRASH_LOOP_RESTARTS restarts after a
    non-zero exit, the last within CRASH_LOOP_WINDOW_S (READY between two crashes does not count as up)."""
    reasons = []
    for c in containers:
        restarts = int(c["restart_count"] or 0)
        crashed = str(c["status"]).upper() == "FAILED" or c.get("last_exit_code") not in (None, 0, "0")
        if not restarts or not crashed:
            continue
        before = (seen_restarts or {}).get((c["instance_id"], c["container_name"]))
        label = f"{c['container_name']} (instance {c['instance_id']})"
        if before is not None and restarts > before:
            reasons.append(f"{label} restarted during the wait ({before} -> {restarts} restarts, last exit "
                           f"{c.get('last_exit_code')})")
        elif restarts >= CRASH_LOOP_RESTARTS and _recent(c.get("last_restart_time")):
            reasons.append(f"{label} has restarted {restarts} times, last exit {c.get('last_exit_code')}")
    return reasons


def _recent(value) -> bool:
    """Whether a restart time is within CRASH_LOOP_WINDOW_S of now (unknown: assume it is)."""
    if not value:
        return True
    text = re.sub(r"\s*([+-]\d{2}):?(\d{2})$", r"\1\2", str(value).strip().replace("Z", "+0000"))
    try:
        when = _dt.datetime.strptime(text.replace("T", " "), "%Y-%m-%d %H:%M:%S.%f%z")
    except ValueError:
        try:
            when = _dt.datetime.strptime(text.replace("T", " "), "%Y-%m-%d %H:%M:%S%z")
        except ValueError:
            return True
    return (_wallclock() - when).total_seconds() <= CRASH_LOOP_WINDOW_S


def _log_statements(service: str, containers: list[dict]) -> list[str]:
    """The log of every container that is not READY or restarted: the current run, and the previous run
    (the one that crashed) when it restarted."""
    from ..debug import sql as debug_sql

    out = []
    for c in containers:
        if not c["container_name"] or (c["status"] == "READY" and not int(c["restart_count"] or 0)):
            continue
        out.append(statements.service_logs(service, c["instance_id"], c["container_name"]) + ";")
        if int(c["restart_count"] or 0):
            out.append(debug_sql.container_logs(service, c["instance_id"], c["container_name"], lines=100,
                                                previous=True) + ";")
    return out


def _pick_endpoint(endpoints: list[dict], wanted: str | None) -> dict | None:
    rows = [e for e in endpoints if not wanted or str(e.get("name")) == wanted]
    if wanted and not rows:
        names = ", ".join(str(e.get("name")) for e in endpoints) or "none yet"
        raise SpcsLlmError(f"--endpoint {wanted!r} is not an endpoint of this service; endpoints: {names}")
    public = [e for e in rows if str(e.get("is_public")).lower() == "true"]
    chosen = (public or rows or [None])[0]
    if chosen is None:
        return None
    url = str(chosen.get("ingress_url") or "")
    host_ready = bool(url) and " " not in url and "." in url
    return {"name": chosen.get("name"), "public": str(chosen.get("is_public")).lower() == "true",
            "url": (url if url.startswith("https://") else f"https://{url}") if host_ready else None,
            "ingress_url": chosen.get("ingress_url")}


def _phase(snap: dict) -> str:
    status = str(snap["service_status"] or "").upper()
    containers = snap["containers"]
    if status in TERMINAL_SERVICE_STATES:
        return "failed"
    if status in SUSPENDED_STATES:
        return "suspended"
    if containers and all(str(c["status"]).upper() == "READY" for c in containers) and status == "RUNNING":
        return "containers-ready"
    if any(str(c["status"]).upper() == "FAILED" for c in containers):
        return "restarting"
    return "starting" if containers else "pending"


def _probe(endpoint: dict, path: str, token: str | None, chat: dict | None = None) -> dict:
    """With `chat`: one real chat request on the plan's routes (rest/probe.py), so "ready" means a
    client with this token gets an answer. Else GET the path: 401/403 and redirects to the login
    page are auth problems; 5xx and connection errors mean the model is not serving yet; any other
    answer comes from the container."""
    if endpoint["url"] is None:
        return {"url": None, "http_status": None, "result": "provisioning",
                "detail": f"ingress URL not assigned yet: {endpoint['ingress_url']}"}
    url = endpoint["url"].rstrip("/") + path
    if token is None:
        return {"url": url, "http_status": None, "result": "not-probed",
                # No "token:" in this text: redact() would mask the word after it.
                "detail": f"no PAT given (set ${DEFAULT_PAT_ENV}, or use --pat-env/--pat-file) to check that the "
                          "endpoint answers"}
    if chat is not None:
        from ..rest.probe import chat_probe, probe_target

        return chat_probe(probe_target(chat["plan"], endpoint["url"].rstrip("/")), token)
    import requests

    try:
        response = requests.get(url, headers={"Authorization": f'Snowflake Token="{token}"'},
                                timeout=PROBE_TIMEOUT_S, allow_redirects=False)
    except requests.RequestException as err:
        return {"url": url, "http_status": None, "result": "not-answering", "detail": type(err).__name__}
    code = response.status_code
    if code in (401, 403) or 300 <= code < 400:
        return {"url": url, "http_status": code, "result": "auth-failed",
                "detail": "the token was refused: check the PAT (network policy, role restriction) and that your "
                          "role has the service role <service>!ALL_ENDPOINTS_USAGE"}
    if code >= 500:
        return {"url": url, "http_status": code, "result": "not-answering", "detail": "model not serving yet"}
    return {"url": url, "http_status": code, "result": "answering", "detail": f"HTTP {code}"}


def _progress(elapsed: float, snap: dict, history: list[dict]) -> None:
    """One progress line per poll that changed something (and at least once a minute)."""
    previous = history[-2] if len(history) > 1 else None
    changed = previous is None or (previous["phase"], previous["service_status"], previous["restarts"]) != (
        snap["phase"], snap["service_status"], snap["restarts"])
    if not changed and int(elapsed) // 60 == int(previous["elapsed_s"]) // 60:
        return
    parts = [f"{c['container_name']}={c['status']}" + (f" (restarts {c['restart_count']})" if c["restart_count"]
                                                          else "") for c in snap["containers"]]
    probe = snap["probe"]["result"] if snap["probe"] else "-"
    sys.stderr.write(f"[{elapsed:6.0f}s] {snap['phase']:<16} service {snap['service_status'] or '-':<10} "
                     f"containers: {', '.join(parts) or 'none yet'}; endpoint: {probe}\n")
    sys.stderr.flush()


def _debug_pointer() -> str:
    playbook = PACK_ROOT / DEBUG_PLAYBOOK
    return DEBUG_PLAYBOOK if playbook.exists() else DEBUG_DOC


def _text(data: dict) -> str:
    lines = [f"{data['service']}: {data['phase']}" + (f" (service {data['service_status']}, instances "
                                                       f"{data['instances']})" if data["service_status"] else "")]
    if data.get("message"):
        lines.append(data["message"])
    if data["containers"]:
        lines += ["", table(data["containers"], [("instance_id", "INSTANCE"), ("container_name", "CONTAINER"),
                                                 ("status", "STATUS"), ("restart_count", "RESTARTS"),
                                                 ("last_exit_code", "EXIT"), ("message", "MESSAGE")])]
    if data["endpoints"]:
        lines += ["", table(data["endpoints"], [("name", "ENDPOINT"), ("port", "PORT"), ("is_public", "PUBLIC"),
                                                ("ingress_url", "INGRESS URL")])]
    if data.get("probe"):
        probe = data["probe"]
        lines.append(f"endpoint probe: {probe['result']} ({probe['detail']})" + (f" {probe['url']}" if probe["url"]
                                                                                else ""))
    if data.get("waited_s"):
        lines.append(f"waited {data['waited_s']:g} s, {len(data['history'])} polls")
        if data["phase"] == "deploying":
            lines.append("run the same command again to keep waiting.")
    if data.get("debug"):
        lines.append("")
        if data["phase"] == "timed-out":
            lines.append(f"not ready after {data['waited_s']:g} s; run the same command again to keep waiting.")
        for reason in data.get("crash_loop") or []:
            lines.append(f"crash loop: {reason}")
        if data.get("log_statements"):
            lines.append("container logs:")
            lines += [f"  {s}" for s in data["log_statements"]]
        if data.get("diagnose"):
            lines.append(f"find the cause: {data['diagnose']}")
        if data["debug"] == DEBUG_PLAYBOOK:  # an assistant reads its installed copy, not the pack's path
            lines.append("debugging: Load debug/SKILL.md of the installed spcs-llm skill "
                         f"(in the pack: {DEBUG_PLAYBOOK})")
        else:
            lines.append(f"debugging: {data['debug']}")
    return "\n".join(lines)
