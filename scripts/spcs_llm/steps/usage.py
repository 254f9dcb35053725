"""Ready-to-run snippets for the deployed service. Registry path: SQL (svc!__CALL__), Python (mv.run)
and REST on /--call--; both paths: the OpenAI SDK on https://<endpoint>/v1, curl, and the local
gateway for tools that send Bearer keys. REST snippets read the programmatic access token from an
environment variable or a file (default: what `access token` recorded), never pasted.

Offline: reads the plan and the deployment script's result file. The argument list follows the
model's real chat signature when the deployment recorded it, otherwise what the registration
route is known to produce (and the output says so).
"""

from __future__ import annotations

from pathlib import Path

from .. import plan_file
from ..errors import SpcsLlmError
from ..output import StepResult
from ..registry.usage import (
    ENDPOINT_ENV,
    PAT_ENV,
    build_usage,
    render_endpoint_sql,
    render_python,
    render_rest,
    render_sql,
)
from ..rest import snippets as rest_snippets

REGISTRY_SECTIONS = ("sql", "python", "rest", "openai", "curl", "gateway")
CUSTOM_SECTIONS = ("openai", "requests", "curl", "gateway")
SECTIONS = (*REGISTRY_SECTIONS, "requests")


def add_arguments(parser) -> None:
    parser.add_argument("--plan", metavar="PATH", default=plan_file.DEFAULT_PLAN_PATH,
                        help=f"deployment plan file (default: {plan_file.DEFAULT_PLAN_PATH})")
    parser.add_argument("--endpoint", metavar="HOST",
                        help="ingress host of the service (default: recorded in the plan or the deployment result)")
    parser.add_argument("--prompt", metavar="TEXT", help="the example question in the snippets")
    pat = parser.add_mutually_exclusive_group()
    pat.add_argument("--pat-env", metavar="NAME",
                     help=f"environment variable the REST snippet reads the PAT from (default: {PAT_ENV})")
    pat.add_argument("--pat-file", metavar="PATH", help="file the REST snippet reads the PAT from instead")
    parser.add_argument("--only", choices=SECTIONS, help="print one snippet only (requests: custom-image path; "
                        "sql, python, rest: registry path)")
    parser.add_argument("--name", metavar="SERVICE", help="service name (default: the one deploy-registry recorded)")
    parser.add_argument("--database", metavar="DB", help="database of the service and model")
    parser.add_argument("--schema", metavar="SCHEMA", help="schema of the service and model")


def run(args) -> StepResult:
    plan = plan_file.load(Path(args.plan))
    pat_env, pat_file = rest_snippets.pat_source(plan, args.pat_env, args.pat_file)
    if plan_file.get(plan, "engine_path") == "custom-image":
        return _custom(args, plan, pat_env, pat_file)
    if args.only and args.only not in REGISTRY_SECTIONS:
        raise SpcsLlmError(f"--only {args.only} is not a snippet of the registry path",
                           hint=f"allowed: {', '.join(REGISTRY_SECTIONS)}")
    usage = build_usage(plan, endpoint=args.endpoint, prompt=args.prompt, pat_env=None if pat_file else pat_env,
                        pat_file=pat_file, name=args.name, database=args.database, schema=args.schema)
    snippets = {"sql": render_sql(usage), "python": render_python(usage), "rest": render_rest(usage)}
    model, model_note = rest_snippets.served_model(plan)
    snippets.update(rest_snippets.render_all(rest_snippets.RestUsage(
        "registry", usage.endpoint, model, model_note, usage.prompt, usage.pat_env, usage.pat_file)))
    snippets.pop("requests")  # the registry's requests snippet is "rest" (the /--call-- route)
    endpoint_sql = render_endpoint_sql(usage)
    sig = usage.signature
    data = {
        "step": "usage",
        "service": usage.service_fqn,
        "function": "__CALL__",
        "signature": {"form": sig.form, "inputs": sig.inputs, "params": sig.params,
                      "object_content": sig.object_content, "source": sig.source, "verified": sig.verified},
        "endpoint": usage.endpoint,
        "endpoint_source": usage.endpoint_source,
        "endpoint_sql": endpoint_sql.strip(),
        "pat_source": f"file {usage.pat_file}" if usage.pat_file else f"${usage.pat_env}",
        "snippets": {k: v for k, v in snippets.items() if not args.only or k == args.only},
        "notes": usage.notes + _notes(usage),
        "engine_path": "registry",
        "openai_model": model,
    }
    return StepResult(data=data, text=_text(data), prompt="usage")


def _custom(args, plan: dict, pat_env: str, pat_file: str | None) -> StepResult:
    """The custom image: vLLM's OpenAI routes through the proxy on the service's public endpoint."""
    from ..registry.usage import DEFAULT_PROMPT, _env_name, _host

    if args.only and args.only not in CUSTOM_SECTIONS:
        raise SpcsLlmError(f"--only {args.only} is not a snippet of the custom-image path",
                           hint=f"allowed: {', '.join(CUSTOM_SECTIONS)} (SQL: spcs-llm render-custom --part test)")
    recorded = plan_file.get(plan, "custom_image.ingress_url") if "custom_image.ingress_url" in plan_file.FIELDS \
        else None
    endpoint = _host(args.endpoint) if args.endpoint else (_host(recorded) if recorded else None)
    model, model_note = rest_snippets.served_model(plan)
    rest = rest_snippets.RestUsage("custom-image", endpoint, model, model_note, args.prompt or DEFAULT_PROMPT,
                                   _env_name(pat_env), pat_file)
    snippets = rest_snippets.render_all(rest)
    notes = [] if endpoint else [f"No ingress endpoint is recorded yet: the snippets read it from ${ENDPOINT_ENV}; "
                                 "spcs-llm endpoint url prints it once the service is running."]
    if not plan_file.get(plan, "custom_image.public_endpoint"):
        notes.append("The plan's service has no public endpoint: render it with spcs-llm render-custom "
                     "--public-endpoint (the spec then also grants its service role) before REST can work.")
    notes.append("A RUNNING service can still be loading the model: expect 502/503 for a few minutes, and retry.")
    data = {"step": "usage", "engine_path": "custom-image", "service": plan_file.get(plan, "snowflake.service_name")
            or plan_file.get(plan, "custom_image.service_name"), "endpoint": endpoint,
            "endpoint_source": "--endpoint" if args.endpoint else ("plan" if recorded else "not recorded yet"),
            "pat_source": f"file {pat_file}" if pat_file else f"${pat_env}", "openai_model": model,
            "snippets": {k: v for k, v in snippets.items() if not args.only or k == args.only}, "notes": notes}
    lines = [f"usage: {data['service']} (custom image, OpenAI routes through the proxy; model {model})"]
    for key, text in data["snippets"].items():
        lines += ["", f"--- {_TITLES[key]}", text.rstrip()]
    lines += [f"note: {n}" for n in notes]
    return StepResult(data=data, text="\n".join(lines), prompt="usage")


def _notes(usage) -> list[str]:
    notes = []
    if usage.endpoint is None:
        notes.append(f"No ingress endpoint is recorded yet: the REST snippet reads it from ${ENDPOINT_ENV}. "
                     "Find it with the SHOW ENDPOINTS statement above (column ingress_url) once the service "
                     "is running (spcs-llm status --wait).")
    notes.append("A RUNNING service can still be loading the model: expect errors (502, connection refused) "
                 "for a few minutes after start, and retry.")
    return notes


_TITLES = {"sql": "SQL (a warehouse runs the query; the service does the inference)",
           "python": "Python (snowflake-ml-python mv.run)",
           "openai": "OpenAI SDK (https://<endpoint>/v1, Snowflake header per request)",
           "requests": "requests (POST /v1/chat/completions)",
           "curl": "curl (the token expanded by your shell)",
           "gateway": "gateway (for tools that send Bearer keys: Dify, LangChain, LiteLLM)"}


def _text(data: dict) -> str:
    sig = data["signature"]
    lines = [f"usage: {data['service']}!__CALL__  (generation settings as {sig['form']}; from {sig['source']})"]
    titles = {**_TITLES, "rest": f"REST /--call-- (public endpoint; PAT from {data['pat_source']})"}
    for key, text in data["snippets"].items():
        lines += ["", f"--- {titles[key]}", text.rstrip()]
    lines += ["", f"--- ingress endpoint ({data['endpoint_source']}): {data['endpoint'] or 'not recorded'}",
              data["endpoint_sql"]]
    lines += [f"note: {n}" for n in data["notes"]]
    return "\n".join(lines)
