"""Ready-to-run snippets for the deployed registry service: SQL (svc!__CALL__), Python (mv.run)
and REST (the public endpoint, with a programmatic access token read from an environment
variable or a file, never pasted).

Offline: reads the plan and the deployment script's result file. The argument list follows the
model's real chat signature when the deployment recorded it, otherwise what the registration
route is known to produce (and the output says so).
"""

from __future__ import annotations

from pathlib import Path

from .. import plan_file
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

SECTIONS = ("sql", "python", "rest")


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
    parser.add_argument("--only", choices=SECTIONS, help="print one snippet only")
    parser.add_argument("--name", metavar="SERVICE", help="service name (default: the one deploy-registry recorded)")
    parser.add_argument("--database", metavar="DB", help="database of the service and model")
    parser.add_argument("--schema", metavar="SCHEMA", help="schema of the service and model")


def run(args) -> StepResult:
    plan = plan_file.load(Path(args.plan))
    usage = build_usage(plan, endpoint=args.endpoint, prompt=args.prompt, pat_env=args.pat_env,
                        pat_file=args.pat_file, name=args.name, database=args.database, schema=args.schema)
    snippets = {"sql": render_sql(usage), "python": render_python(usage), "rest": render_rest(usage)}
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
    }
    return StepResult(data=data, text=_text(data), prompt="usage")


def _notes(usage) -> list[str]:
    notes = []
    if usage.endpoint is None:
        notes.append(f"No ingress endpoint is recorded yet: the REST snippet reads it from ${ENDPOINT_ENV}. "
                     "Find it with the SHOW ENDPOINTS statement above (column ingress_url) once the service "
                     "is running (spcs-llm status --wait).")
    notes.append("A RUNNING service can still be loading the model: expect errors (502, connection refused) "
                 "for a few minutes after start, and retry.")
    return notes


def _text(data: dict) -> str:
    sig = data["signature"]
    lines = [f"usage: {data['service']}!__CALL__  (generation settings as {sig['form']}; from {sig['source']})"]
    titles = {"sql": "SQL (a warehouse runs the query; the service does the inference)",
              "python": "Python (snowflake-ml-python mv.run)",
              "rest": f"REST (public endpoint; PAT from {data['pat_source']})"}
    for key, text in data["snippets"].items():
        lines += ["", f"--- {titles[key]}", text.rstrip()]
    lines += ["", f"--- ingress endpoint ({data['endpoint_source']}): {data['endpoint'] or 'not recorded'}",
              data["endpoint_sql"]]
    lines += [f"note: {n}" for n in data["notes"]]
    return "\n".join(lines)
