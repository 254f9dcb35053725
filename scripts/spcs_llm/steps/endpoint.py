"""The service's public REST endpoint: `url` (from SHOW ENDPOINTS IN SERVICE, waiting while it is
provisioned), `test` (one real chat request per route with a token from --pat-env/--pat-file, and a
specific diagnosis of a failure; an ingress 404 is traced to its cause through your connection) and
`bench` (N streamed requests at concurrency C, compared with the plan's roofline estimate).

The token is never printed: it is read from an environment variable or a file and masked in all
output. Routes: registry /v1/chat/completions and /--call--, custom image /v1/chat/completions.
Exit codes: 0 answered, 1 not answering correctly (not assigned yet, loading, timeout, bad route or
model), 2 bad input, 3 authorization or network (ingress 404, 401/403, login redirect) or Snowflake."""

from __future__ import annotations

import asyncio
import sys
import time

from .. import plan_file
from ..errors import EXIT_ENVIRONMENT, EXIT_NEGATIVE, SpcsLlmError
from ..output import StepResult, table
from ..rest.client import IDLE_TIMEOUT_S
from ..rest.credentials import DEFAULT_PAT_ENV, add_token_arguments
from ..rest.target import CALL_ROUTE, OPENAI_ROUTE, REGISTRY_ENDPOINT_NAME
from ..snowflake.args import add_snowflake_arguments

ACTIONS = ("url", "test", "bench")
DEFAULT_PROMPT = "Say hello in five words."
AUTH_KINDS = ("auth-or-route", "refused", "login-redirect")
MAX_BACKOFF_S = 60.0

# Injection points for tests (no real waiting in `url --wait`).
_clock = time.monotonic
_sleep = time.sleep


def add_arguments(parser) -> None:
    parser.add_argument("action", choices=ACTIONS,
                        help="url: the ingress URL; test: one chat request per route; bench: a load test")
    add_snowflake_arguments(parser, writes=False)
    service = parser.add_argument_group("service (default: the plan's)")
    service.add_argument("--name", help="service name (default: the plan's deployed service)")
    service.add_argument("--database", help="database of the service (default: the plan's)")
    service.add_argument("--schema", help="schema of the service (default: the plan's)")
    url = parser.add_argument_group("url")
    url.add_argument("--endpoint-name", metavar="NAME",
                     help=f"endpoint of the service (default: {REGISTRY_ENDPOINT_NAME!r} on the registry path, "
                          "else the first public one)")
    url.add_argument("--wait", action="store_true", help="poll until the ingress URL is assigned or --timeout")
    url.add_argument("--timeout", type=float, default=600, metavar="S", help="with --wait: give up after S seconds "
                     "(default 600)")
    url.add_argument("--interval", type=float, default=15, metavar="S", help="with --wait: seconds between polls "
                     "(default 15)")
    call = parser.add_argument_group("test and bench")
    call.add_argument("--endpoint", metavar="HOST_OR_URL",
                      help="ingress host or URL (default: the one recorded in the plan, else SHOW ENDPOINTS); "
                           "http://127.0.0.1:PORT is accepted for local tests")
    add_token_arguments(call)
    call.add_argument("--model", help="the OpenAI 'model' (default: registry model name in upper case, or the "
                      "custom image's model id)")
    call.add_argument("--route", default="all", choices=("all", OPENAI_ROUTE, CALL_ROUTE),
                      help="route(s) to call (default all the plan's path serves; bench uses the first)")
    call.add_argument("--prompt", default=DEFAULT_PROMPT, help="the user message sent")
    call.add_argument("--max-tokens", type=int, metavar="N", help="output tokens asked for (default: test 64, "
                      "bench 128)")
    call.add_argument("--stream", action="store_true", help="test: stream the OpenAI route's answer (SSE)")
    call.add_argument("--request-timeout", type=float, default=300, metavar="S",
                      help="give up on one request after S seconds (default 300)")
    call.add_argument("--retries", type=int, default=6, metavar="N",
                      help="test: retries while the model is loading (502/503/504), with backoff (default 6)")
    call.add_argument("--backoff", type=float, default=5, metavar="S",
                      help="test: first wait between retries, doubled each time up to 60 s (default 5)")
    call.add_argument("--idle-timeout", type=float, default=IDLE_TIMEOUT_S, metavar="S",
                      help=f"the ingress's idle timeout used to recognise a cut request (default {IDLE_TIMEOUT_S:g})")
    call.add_argument("--user", help="the token's user: for the key pair, and for the checks after a 404 (default: "
                      "the plan's rest.caller_user, else your connection's)")
    call.add_argument("--role", help="the calling role: for the key pair, and for the checks after a 404 (default: "
                      "the plan's rest.caller_role, else the PATs' role restriction)")
    call.add_argument("--no-account-checks", action="store_true",
                      help="test: do not query the account after a 404")
    bench = parser.add_argument_group("bench")
    bench.add_argument("--requests", type=int, default=20, metavar="N", help="number of requests (default 20)")
    bench.add_argument("--concurrency", type=int, default=4, metavar="C", help="requests in flight (default 4)")
    bench.add_argument("--chart", metavar="PATH", help="write a PNG chart (needs the 'chart' extra: matplotlib)")


def run(args) -> StepResult:
    _check_numbers(args)
    plan = _load_plan(args.plan)
    if args.action == "url":
        return _url(args, plan)
    if args.action == "test":
        return _test(args, plan)
    return _bench(args, plan)


def _check_numbers(args) -> None:
    for flag, value in (("--timeout", args.timeout), ("--interval", args.interval),
                        ("--request-timeout", args.request_timeout), ("--idle-timeout", args.idle_timeout),
                        ("--requests", args.requests), ("--concurrency", args.concurrency)):
        if value <= 0:
            raise SpcsLlmError(f"{flag} {value:g} must be positive")
    if args.max_tokens is not None and args.max_tokens <= 0:
        raise SpcsLlmError(f"--max-tokens {args.max_tokens} must be positive")
    if args.retries < 0 or args.backoff < 0:
        raise SpcsLlmError(f"--retries {args.retries} and --backoff {args.backoff:g} cannot be negative")


def _load_plan(path: str) -> dict | None:
    from ..snowflake.targets import load_plan_optional

    return load_plan_optional(path)


def _service(args, plan: dict | None) -> str:
    from ..snowflake.targets import fqn, require_schema, require_service

    if plan and plan_file.get(plan, "engine_path", "registry") == "registry":
        from ..registry.usage import service_target  # flags, then what deploy-registry recorded

        try:
            return ".".join(service_target(plan, args.name, args.database, args.schema))
        except SpcsLlmError:
            pass
    return fqn(require_schema(args.database, args.schema, plan), require_service(args.name, plan))


# ---- url ----------------------------------------------------------------------------------------

def _url(args, plan: dict | None) -> StepResult:
    from ..snowflake import statements
    from ..snowflake.access import SqlRunner

    service = _service(args, plan)
    engine = plan_file.get(plan or {}, "engine_path", "registry")
    start, polls = _clock(), 0
    with SqlRunner.from_args(args) as runner:
        while True:
            rows = runner.query(statements.show_endpoints(service), doc="show-endpoints")
            polls += 1
            found = _pick(rows, args.endpoint_name, engine)
            elapsed = round(_clock() - start, 1)
            if found["state"] != "provisioning" or not args.wait or runner.dry_run:
                break
            if elapsed + args.interval > args.timeout:
                found["state"] = "timed-out"
                break
            sys.stderr.write(f"[{elapsed:6.0f}s] endpoint {found['endpoint']}: {found['ingress_url']}\n")
            sys.stderr.flush()
            _sleep(args.interval)
        data = {"action": "url", "mode": runner.mode, "service": service, **found, "waited_s": elapsed,
                "polls": polls, "statements": runner.statements, "recorded": None}
    if found["url"] and runner.mode != "dry-run":
        data["recorded"] = _record(args.plan, plan, found["url"])
    text = [f"{service}: " + {
        "assigned": f"{found['url']} (endpoint {found['endpoint']})",
        "provisioning": f"endpoint {found['endpoint']} is still being provisioned ({found['ingress_url']}); "
                        "re-run with --wait",
        "timed-out": f"endpoint {found['endpoint']} still provisioning after {elapsed:g} s",
        "no-public-endpoint": "no public endpoint: " + _no_public_hint(engine),
        "none": "SHOW ENDPOINTS returned nothing" + (" (dry run: nothing was read)" if not runner.reads else ""),
    }[found["state"]]]
    if data["recorded"]:
        text.append(f"recorded in {args.plan} ({data['recorded']})")
    code = 0 if found["state"] == "assigned" or (runner.dry_run and not runner.reads) else EXIT_NEGATIVE
    return StepResult(data=data, text="\n".join(text), exit_code=code)


def _pick(rows: list[dict], wanted: str | None, engine: str) -> dict:
    if wanted:
        chosen = [r for r in rows if str(r.get("name")).lower() == wanted.lower()]
        if not chosen and rows:
            names = ", ".join(str(r.get("name")) for r in rows)
            raise SpcsLlmError(f"--endpoint-name {wanted!r} is not an endpoint of this service; endpoints: {names}")
    else:
        public = [r for r in rows if str(r.get("is_public")).lower() == "true"]
        preferred = REGISTRY_ENDPOINT_NAME if engine == "registry" else _custom_endpoint_name()
        chosen = [r for r in public if str(r.get("name")).lower() == preferred] or public
        if rows and not public:
            return {"state": "no-public-endpoint", "endpoint": None, "ingress_url": None, "url": None, "host": None}
    if not chosen:
        return {"state": "none", "endpoint": None, "ingress_url": None, "url": None, "host": None}
    row = chosen[0]
    ingress = str(row.get("ingress_url") or "")
    assigned = bool(ingress) and " " not in ingress and "." in ingress
    if assigned and str(row.get("is_public")).lower() != "true":
        return {"state": "no-public-endpoint", "endpoint": row.get("name"), "ingress_url": ingress, "url": None,
                "host": None}
    host = ingress.split("://", 1)[-1].rstrip("/") if assigned else None
    return {"state": "assigned" if assigned else "provisioning", "endpoint": row.get("name"),
            "ingress_url": row.get("ingress_url"), "url": f"https://{host}" if host else None, "host": host}


def _custom_endpoint_name() -> str:
    from ..custom_image.settings import ENDPOINT_NAME

    return ENDPOINT_NAME


def _no_public_hint(engine: str) -> str:
    if engine == "custom-image":
        return "render the service with a public endpoint (custom_image.public_endpoint) and re-create it"
    return "the registry service was created without ingress_enabled=True; re-deploy with it enabled"


def _record(path: str, plan: dict | None, url: str) -> str | None:
    """Remember the URL so test, bench, gateway and usage find it without asking the account again."""
    if not plan:
        return None
    key = "custom_image.ingress_url" if plan_file.get(plan, "engine_path") == "custom-image" \
        else "registry.ingress_url"
    if key not in plan_file.FIELDS or plan_file.get(plan, key) == url:
        return None
    plan_file.update(plan, "endpoint url", {key: url})
    plan_file.save(plan, path)
    return key


# ---- test ---------------------------------------------------------------------------------------

def _resolve_target(args, plan: dict | None):
    from ..rest.target import recorded_ingress, target_from_plan

    endpoint = args.endpoint or recorded_ingress(plan)
    if not endpoint:
        found = _url(_as_url_args(args), plan).data
        endpoint = found.get("url")
        if not endpoint:
            raise SpcsLlmError(f"no ingress URL for {found['service']} yet ({found['state']})",
                               hint="spcs-llm endpoint url --wait, or pass --endpoint HOST", exit_code=EXIT_NEGATIVE)
    return target_from_plan(plan, endpoint, model=args.model, routes=args.route)


def _as_url_args(args):
    import copy

    url_args = copy.copy(args)
    url_args.wait = False
    return url_args


def _token(args, plan: dict | None, target) -> str | None:
    """The PAT, or a token exchanged with the user's key pair (rest/keypair.py)."""
    from ..rest.credentials import loose_permissions, read_token, source_from_plan
    from ..rest.keypair import keypair_file, keypair_source

    key_file = keypair_file(args, plan)
    if key_file:
        args.token_source = f"key pair {key_file}"
        if args.dry_run:
            return None
        source, _ = keypair_source(args, plan, key_file, target.base_url)
        token = asyncio.run(source.token())
    else:
        args.pat_env, args.pat_file = source_from_plan(args.pat_env, args.pat_file, plan)
        args.token_source = _pat_source(args)
        if args.dry_run:
            return None
        token = read_token(args.pat_env, args.pat_file)
    warning = loose_permissions(key_file or args.pat_file)
    if warning:
        sys.stderr.write(f"warning: {warning}\n")
    return token


def _test(args, plan: dict | None) -> StepResult:
    from ..rest.target import chat_body

    target = _resolve_target(args, plan)
    max_tokens = args.max_tokens or 64
    token = _token(args, plan, target)
    if args.dry_run:
        requests = [{"method": "POST", "url": target.base_url + route,
                     "auth": f"Snowflake Token from {args.token_source}",
                     "body": chat_body(target, route, args.prompt, max_tokens,
                                       stream=args.stream and route == OPENAI_ROUTE)} for route in target.routes]
        data = {"action": "test", "mode": "dry-run", "endpoint": target.base_url, "model": target.model,
                "requests": requests, "routes": []}
        lines = [f"dry run: would send (token from {args.token_source}):"]
        lines += [f"  POST {r['url']}" for r in requests]
        return StepResult(data=data, text="\n".join(lines))
    from ..rest.credentials import snowflake_header

    routes = asyncio.run(_test_routes(target, snowflake_header(token), args, max_tokens))
    known_path = bool(plan_file.get(plan or {}, "engine_path"))
    _route_missing(routes, known_path)
    data = {"action": "test", "mode": "live", "endpoint": target.base_url, "model": target.model,
            "engine_path": target.engine_path if known_path else "unknown (no plan)", "routes": routes,
            "account_checks": [], "cause": None}
    if not args.no_account_checks and routes and all(r["diagnosis"]["kind"] == "auth-or-route" for r in routes):
        data["account_checks"], data["cause"] = _account_checks(args, plan)
    kinds = [r["diagnosis"]["kind"] for r in routes]
    if not known_path and "ok" in kinds:  # no plan: a route this service lacks is not a failure
        kinds = [k for k in kinds if k != "route-missing"]
    if all(k == "ok" for k in kinds):
        code = 0
    elif not any(k == "ok" for k in kinds) and any(k in AUTH_KINDS for k in kinds):
        code = EXIT_ENVIRONMENT
    else:
        code = EXIT_NEGATIVE
    return StepResult(data=data, text=_test_text(data), exit_code=code)


async def _test_routes(target, headers: dict, args, max_tokens: int) -> list[dict]:
    import aiohttp

    from ..rest.client import call, diagnose

    out = []
    async with aiohttp.ClientSession() as session:
        for route in target.routes:
            delay, attempt = args.backoff, 0
            while True:
                attempt += 1
                result = await call(session, target, route, headers, prompt=args.prompt, max_tokens=max_tokens,
                                    stream=args.stream, timeout_s=args.request_timeout)
                diagnosis = diagnose(result, idle_timeout_s=args.idle_timeout)
                if not diagnosis.retry or attempt > args.retries:
                    break
                sys.stderr.write(f"{route}: {diagnosis.kind} ({_status(result)}), the model may still be loading; "
                                 f"retry {attempt}/{args.retries} in {delay:g} s\n")
                sys.stderr.flush()
                await asyncio.sleep(delay)
                delay = min(max(delay, 0.01) * 2, MAX_BACKOFF_S)
            out.append({"route": route, "url": target.base_url + route, "attempts": attempt,
                        **_compact(result), "diagnosis": {"kind": diagnosis.kind, "message": diagnosis.message}})
    return out


def _route_missing(routes: list[dict], known_path: bool = True) -> None:
    """A 404 on one route while another answered: the token is fine, that route does not exist here."""
    if not any(r["diagnosis"]["kind"] == "ok" for r in routes):
        return
    for r in routes:
        if r["diagnosis"]["kind"] == "auth-or-route":
            message = (f"HTTP 404 on {r['route']} while another route answered with the same token: this service "
                       "does not serve that route")
            if not known_path:  # without a plan both paths' routes are tried
                message += f" (expected for a custom image, which serves only {OPENAI_ROUTE}; not a failure)"
            r["diagnosis"] = {"kind": "route-missing", "message": message}


def _account_checks(args, plan: dict | None) -> tuple[list[dict], str]:
    from ..rest.diagnosis import account_checks, summary
    from ..snowflake.access import SqlRunner

    service = _service(args, plan)
    try:
        with SqlRunner.from_args(args) as runner:
            checks = account_checks(runner, service, user=args.user or plan_file.get(plan or {}, "rest.caller_user"),
                                    role=args.role or plan_file.get(plan or {}, "rest.caller_role"))
    except SpcsLlmError as err:
        checks = [{"check": "account", "status": "unknown", "detail": f"could not query the account: {err.message}"}]
    return checks, summary(checks)


def _compact(result) -> dict:
    tps = round(result.output_tokens / result.latency_s, 2) if result.output_tokens and result.latency_s else None
    return {"status": result.status, "error": result.error, "stream": result.stream, "latency_s": result.latency_s,
            "ttft_s": result.ttft_s, "prompt_tokens": result.prompt_tokens, "output_tokens": result.output_tokens,
            "tokens_from": result.tokens_from, "output_tokens_per_s": tps, "text": result.text}


def _status(result) -> str:
    return f"HTTP {result.status}" if result.status else (result.error or "no answer")


def _pat_source(args) -> str:
    return f"the PAT in --pat-file {args.pat_file}" if args.pat_file else \
        f"the PAT in ${args.pat_env or DEFAULT_PAT_ENV}"


def _test_text(data: dict) -> str:
    lines = [f"endpoint {data['endpoint']} ({data['engine_path']}, model {data['model'] or '-'})"]
    for r in data["routes"]:
        lines.append(f"POST {r['route']}: {_status_line(r)}")
        if r["text"]:
            lines.append(f"  answer: {r['text'][:120]!r}")
        if r["diagnosis"]["kind"] != "ok":
            lines.append(f"  {r['diagnosis']['kind']}: {r['diagnosis']['message']}")
    if data["account_checks"]:
        lines.append("account checks (through your connection):")
        lines += [f"  [{c['status']}] {c['check']}: {c['detail']}" for c in data["account_checks"]]
        lines.append(data["cause"])
    return "\n".join(lines)


def _status_line(r: dict) -> str:
    head = f"HTTP {r['status']}" if r["status"] else (r["error"] or "no answer")
    parts = [f"{head} in {r['latency_s']:.2f} s"]
    if r["ttft_s"] is not None:
        parts.append(f"first token {r['ttft_s']:.2f} s")
    if r["output_tokens"] is not None and r["diagnosis"]["kind"] == "ok":
        parts.append(f"{r['output_tokens']} output tokens ({r['tokens_from']}), {r['output_tokens_per_s']} tok/s")
    if r["attempts"] > 1:
        parts.append(f"{r['attempts']} attempts")
    return ", ".join(parts)


# ---- bench --------------------------------------------------------------------------------------

def _bench(args, plan: dict | None) -> StepResult:
    from ..rest import bench

    target = _resolve_target(args, plan)
    route = target.routes[0]
    max_tokens = args.max_tokens or 128
    token = _token(args, plan, target)
    estimate = bench.roofline(plan)
    if args.dry_run:
        data = {"action": "bench", "mode": "dry-run", "endpoint": target.base_url, "route": route,
                "requests": args.requests, "concurrency": args.concurrency, "max_tokens": max_tokens,
                "roofline": estimate}
        return StepResult(data=data, text=f"dry run: would send {args.requests} streamed requests to "
                          f"{target.base_url}{route}, {args.concurrency} at a time, {max_tokens} tokens each")
    from ..rest.credentials import snowflake_header

    results, wall = asyncio.run(bench.run_bench(
        target, route, snowflake_header(token), requests=args.requests, concurrency=args.concurrency,
        prompt=args.prompt, max_tokens=max_tokens, timeout_s=args.request_timeout))
    stats = bench.summarize(results, wall, args.concurrency)
    comparison = bench.compare(stats, estimate)
    data = {"action": "bench", "mode": "live", "endpoint": target.base_url, "route": route, "model": target.model,
            "max_tokens": max_tokens, **stats, "roofline": comparison, "chart": None, "plan_found": plan is not None,
            "results": [{k: v for k, v in _compact(r).items() if k != "text"} for r in results]}
    if args.chart and stats["succeeded"]:
        data["chart"] = bench.chart(results, stats, comparison, args.chart)
    if stats["succeeded"] == stats["requests"]:
        code = 0
    elif not stats["succeeded"] and any(r.status in (404, 401, 403) for r in results):
        code = EXIT_ENVIRONMENT
    else:
        code = EXIT_NEGATIVE
    return StepResult(data=data, text=_bench_text(data), exit_code=code)


def _bench_text(data: dict) -> str:
    lat, ttft = data["latency_s"], data["ttft_s"]
    rows = [
        {"metric": "latency p50 / p95 (s)", "value": f"{_f(lat['p50'])} / {_f(lat['p95'])}"},
        {"metric": "time to first token p50 / p95 (s)", "value": f"{_f(ttft['p50'])} / {_f(ttft['p95'])}"},
        {"metric": "output tok/s per request p50", "value": _f(data["output_tokens_per_s_per_request"]["p50"])},
        {"metric": "decode tok/s per request p50", "value": _f(data["decode_tokens_per_s_per_request"]["p50"])},
        {"metric": "output tok/s total", "value": _f(data["output_tokens_per_s_total"])},
        {"metric": "succeeded / requests", "value": f"{data['succeeded']} / {data['requests']}"},
    ]
    lines = [f"bench {data['endpoint']}{data['route']}: {data['requests']} requests, concurrency "
             f"{data['concurrency']}, {data['max_tokens']} max tokens, {data['wall_s']:g} s", "",
             table(rows, [("metric", "METRIC"), ("value", "VALUE")])]
    if data["errors"]:
        lines.append("errors: " + ", ".join(f"{k} x{v}" for k, v in data["errors"].items()))
    roof = data["roofline"]
    if roof:
        est = roof["estimate"]
        total = roof.get("total_estimate") or {}
        lines.append(f"roofline ({est['instance_family']}, TP={est['tensor_parallel_size']}, "
                     f"{est.get('instances') or '?'} instance(s)): one stream {_f(est['single_stream_tokens_per_s'])} "
                     "tok/s")
        if "per_request_vs_single_stream" in roof:
            lines.append(f"  measured per-request decode = {roof['per_request_vs_single_stream']:.0%} of one stream")
        if "total_vs_node" in roof:
            lines.append(f"  measured total = {roof['total_vs_node']:.0%} of {_f(total['tokens_per_s'])} tok/s "
                         f"({total['basis']}; measured includes ingress, network and prefill)")
        elif total:
            lines.append(f"  total: {total['basis']}")
    elif data.get("plan_found") is False:
        lines.append("no plan (deployment.yaml) here: no roofline estimate to compare with")
    else:
        lines.append("no roofline estimate in the plan for the selected instance family")
    if data["chart"]:
        lines.append(f"chart: {data['chart']}")
    return "\n".join(lines)


def _f(value) -> str:
    return "-" if value is None else f"{value:g}"
