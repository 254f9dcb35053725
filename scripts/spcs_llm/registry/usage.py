"""Ready-to-run snippets for a deployed registry service: SQL, Python (mv.run) and REST.

The arguments of the service function depend on the model's chat signature, which depends on
how the model was registered, so the snippets follow, in this order:
1. what the deployment script read back from the model (`functions` in its result file), else
2. what the route is known to produce:
   - remote logging: an OpenAI chat signature with ParamSpecs (generation settings are params
     after `messages`); Snowflake's own vLLM tests run remote-logged models this way
     (snowflake-ml-python tests/integ/.../registry_transformer_params_test.py);
   - local snapshot: OPENAI_CHAT_WITH_PARAMS_SIGNATURE, because the script passes it;
   - Snowflake-provided models: settings as input columns (messages + 9 columns), as Snowflake's
     test of SNOWFLAKE.MODELS calls them (registry_model_garden_deployment_test.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .. import plan_file
from ..errors import SpcsLlmError
from ..render import environment
from ..render.identifiers import identifier, qualified_name, service_name
from .literals import py_literal, sql_constant, sql_value
from .spec import PRE_LOGGED_DATABASE, PRE_LOGGED_SCHEMA

# The SQL name of the HF pipeline's __call__ method (an unquoted identifier, so upper case).
CALL_FUNCTION = "__CALL__"
# REST route: the method name with "_" written as "-" (the ml tests' helper; /__call__ also works).
REST_ROUTE = "--call--"
PAT_ENV = "SNOWFLAKE_PAT"
ENDPOINT_ENV = "SPCS_LLM_ENDPOINT"

# OPENAI_CHAT_WITH_PARAMS_SIGNATURE params, in signature order, with their defaults
# (snowflake/ml/model/openai_signatures.py in 2.6.0; tests/unit/test_registry_usage.py compares).
RESPONSE_FORMAT_DEFAULT = {"type": "json_schema",
                           "json_schema": {"name": "", "description": None, "schema": None, "strict": None}}
CHAT_PARAMS: tuple[tuple[str, object], ...] = (
    ("temperature", 1.0), ("max_completion_tokens", 250), ("stop", []), ("n", 1), ("stream", False),
    ("top_p", 1.0), ("frequency_penalty", 0.0), ("presence_penalty", 0.0),
    ("response_format", RESPONSE_FORMAT_DEFAULT), ("model", None),
)
# OPENAI_CHAT_SIGNATURE inputs, in signature order (settings as columns).
CHAT_COLUMNS = ("messages", "temperature", "max_completion_tokens", "stop", "n", "stream", "top_p",
                "frequency_penalty", "presence_penalty", "response_format")
# Column values as Snowflake's SNOWFLAKE.MODELS test passes them (DOUBLE columns cast to FLOAT).
_COLUMN_SQL = {"temperature": "{temperature}::FLOAT", "max_completion_tokens": "{max_completion_tokens}",
               "stop": "[]", "n": "1", "stream": "FALSE", "top_p": "1.0::FLOAT",
               "frequency_penalty": "0.0::FLOAT", "presence_penalty": "0.0::FLOAT", "response_format": "NULL"}
_COLUMN_PY = {"stop": None, "n": 1, "stream": False, "top_p": 1.0, "frequency_penalty": 0.0,
              "presence_penalty": 0.0, "response_format": None}

DEFAULT_PROMPT = "What is Snowflake? Answer in one sentence."
DEFAULT_SETTINGS = {"temperature": 0.2, "max_completion_tokens": 256}


@dataclass
class Signature:
    form: str  # "params": settings are params after messages; "columns": settings are inputs
    inputs: list[str]
    params: list[str]
    object_content: bool  # content as [{"type": "text", "text": ...}] (else a plain string)
    source: str
    verified: bool  # read back from the deployed model


@dataclass
class Usage:
    service_fqn: str
    model_call: str  # the Python expression that gets the model version
    registry_database: str
    registry_schema: str
    connection: str | None
    warehouse: str | None
    endpoint: str | None
    endpoint_source: str
    signature: Signature
    prompt: str
    settings: dict
    pat_env: str = PAT_ENV
    pat_file: str | None = None
    notes: list[str] = field(default_factory=list)


def route_signature(route: str | None) -> Signature:
    if route == "pre-logged":
        return Signature("columns", list(CHAT_COLUMNS), [], True,
                         "the call in Snowflake's own test of SNOWFLAKE.MODELS (settings as columns)", False)
    if route == "snapshot":
        return Signature("params", ["messages"], [name for name, _ in CHAT_PARAMS], True,
                         "OPENAI_CHAT_WITH_PARAMS_SIGNATURE, which the deployment script passes", True)
    return Signature("params", ["messages"], [name for name, _ in CHAT_PARAMS], True,
                     "the signature remote logging gives chat models (OpenAI chat with ParamSpecs, as in "
                     "Snowflake's vLLM tests)", False)


def recorded_signature(result: dict | None) -> Signature | None:
    """The __call__ signature the deployment script read back (mv.show_functions())."""
    for function in (result or {}).get("functions") or []:
        if str(function.get("name", "")).strip('"').upper() != CALL_FUNCTION:
            continue
        inputs = [str(n) for n in function.get("inputs") or []]
        params = [str(n) for n in function.get("params") or []]
        if "messages" not in inputs:
            raise SpcsLlmError(
                f"the deployed model's {CALL_FUNCTION} takes {inputs}, not chat messages",
                hint="the registry path serves chat models; check the model version with mv.show_functions()",
            )
        object_content = bool(function.get("object_content", True))
        return Signature("params" if params else "columns", inputs, params, object_content,
                         "the signature read back from the deployed model (mv.show_functions())", True)
    return None


def read_result(path: str | None) -> dict | None:
    if not path or not Path(path).is_file():
        return None
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def service_target(plan: dict, name: str | None = None, database: str | None = None,
                   schema: str | None = None) -> tuple[str, str, str]:
    """(database, schema, service): flags first, then what deploy-registry recorded, then snowflake.*."""
    get = plan_file.get
    recorded = get(plan, "registry.service_fqn")
    if recorded:
        rec_db, rec_schema, rec_name = qualified_name(recorded, "registry.service_fqn", parts=(3,)).split(".")
    else:
        rec_db, rec_schema, rec_name = (get(plan, "snowflake.database"), get(plan, "snowflake.schema"),
                                        get(plan, "snowflake.service_name"))
    db, sch, svc = database or rec_db, schema or rec_schema, name or rec_name
    if not (db and sch and svc):
        raise SpcsLlmError("the plan names no deployed service yet",
                           hint="run spcs-llm deploy-registry first, or pass --database, --schema and --name")
    return identifier(db, "database"), identifier(sch, "schema"), service_name(svc)


def build_usage(plan: dict, *, endpoint: str | None = None, prompt: str | None = None,
                pat_env: str | None = None, pat_file: str | None = None, name: str | None = None,
                database: str | None = None, schema: str | None = None) -> Usage:
    get = plan_file.get
    database, schema, service = service_target(plan, name, database, schema)
    route = get(plan, "registry.source")
    if route == "pre-logged":
        model_name = plan_file.require(plan, "registry.pre_logged_model", "spcs-llm deploy-registry --pre-logged")
        version = get(plan, "registry.pre_logged_version")
    else:
        model_name = plan_file.require(plan, "registry.model_name", "spcs-llm deploy-registry")
        version = get(plan, "registry.version_name")
    if route == "pre-logged":
        reg_db, reg_schema = PRE_LOGGED_DATABASE, PRE_LOGGED_SCHEMA
    else:
        reg_db, reg_schema = database, schema
    model_call = f"registry.get_model({py_literal(model_name)})"
    model_call += f".version({py_literal(version)})" if version else ".default"

    result = read_result(get(plan, "registry.result_path"))
    signature = recorded_signature(result) or route_signature(route)
    notes: list[str] = []
    if not signature.verified:
        notes.append(f"The arguments follow {signature.source}, not yet checked against your model: once "
                     "the deployment has finished, spcs-llm usage reads the real signature from its result file.")

    found, where = _endpoint(endpoint, plan, result)
    if pat_env and pat_file:
        raise SpcsLlmError("--pat-env and --pat-file cannot be combined", hint="the PAT comes from one place")
    return Usage(
        service_fqn=f"{database}.{schema}.{service}",
        model_call=model_call,
        registry_database=reg_db,
        registry_schema=reg_schema,
        connection=get(plan, "snowflake.connection"),
        warehouse=get(plan, "snowflake.warehouse"),
        endpoint=found,
        endpoint_source=where,
        signature=signature,
        prompt=prompt or DEFAULT_PROMPT,
        settings=dict(DEFAULT_SETTINGS),
        pat_env=_env_name(pat_env) if pat_env else PAT_ENV,
        pat_file=pat_file,
        notes=notes,
    )


def _endpoint(flag: str | None, plan: dict, result: dict | None) -> tuple[str | None, str]:
    if flag:
        return _host(flag), "--endpoint"
    recorded = plan_file.get(plan, "registry.ingress_url")
    if recorded:
        return _host(recorded), "plan registry.ingress_url"
    for row in (result or {}).get("services") or []:
        if row.get("inference_endpoint"):
            return _host(row["inference_endpoint"]), "the deployment result (mv.list_services())"
    return None, "not recorded yet"


def _host(value: str) -> str:
    host = value.strip()
    for prefix in ("https://", "http://"):
        if host.startswith(prefix):
            host = host[len(prefix):]
    host = host.split("/", 1)[0]
    if not host or any(c.isspace() for c in host) or '"' in host or "'" in host:
        raise SpcsLlmError(f"endpoint {value!r} is not a host name",
                           hint="use the ingress_url of SHOW ENDPOINTS IN SERVICE (xyz.snowflakecomputing.app)")
    return host


def _env_name(name: str) -> str:
    if not name.replace("_", "").isalnum() or name[0].isdigit():
        raise SpcsLlmError(f"--pat-env {name!r} is not an environment variable name")
    return name


# ---- the snippets ---------------------------------------------------------------------------
def messages(usage: Usage, text: str) -> list[dict]:
    content: object = [{"type": "text", "text": text}] if usage.signature.object_content else text
    return [{"role": "user", "content": content}]


def call_arguments(usage: Usage) -> list[tuple[str, str]]:
    """(name, SQL) of each __CALL__ argument after messages, in signature order."""
    sig = usage.signature
    if sig.form == "params":
        defaults = dict(CHAT_PARAMS)
        values = {**defaults, **usage.settings}
        return [(name, sql_value(values.get(name))) for name in sig.params]
    out = []
    for name in sig.inputs[1:]:
        template = _COLUMN_SQL.get(name, "NULL")
        out.append((name, template.format(**usage.settings)))
    return out


def render_sql(usage: Usage) -> str:
    env = environment()
    text_messages = sql_constant(messages(usage, usage.prompt))
    content = ("ARRAY_CONSTRUCT(OBJECT_CONSTRUCT('type', 'text', 'text', question))"
               if usage.signature.object_content else "question")
    return env.get_template("registry/usage.sql.j2").render(
        service_fqn=usage.service_fqn,
        messages=text_messages,
        table_messages=f"ARRAY_CONSTRUCT(OBJECT_CONSTRUCT('role', 'user', 'content', {content}))",
        arguments=call_arguments(usage),
        prompt=usage.prompt,
        function=CALL_FUNCTION,
    )


def render_python(usage: Usage) -> str:
    env = environment()
    env.filters["py"] = py_literal
    sig = usage.signature
    row: dict = {"messages": messages(usage, usage.prompt)}
    if sig.form == "columns":
        for name in sig.inputs[1:]:
            row[name] = usage.settings.get(name, _COLUMN_PY.get(name))
    return env.get_template("registry/usage_python.py.j2").render(
        service_fqn=usage.service_fqn,
        connection=usage.connection,
        warehouse=usage.warehouse,
        registry_database=usage.registry_database,
        registry_schema=usage.registry_schema,
        model_call=usage.model_call,
        row=row,
        params=usage.settings if sig.form == "params" else None,
    )


def render_rest(usage: Usage) -> str:
    env = environment()
    env.filters["py"] = py_literal
    sig = usage.signature
    msgs = messages(usage, usage.prompt)
    if sig.form == "params":
        payload: dict = {"dataframe_records": [{"messages": msgs}], "params": dict(usage.settings)}
    else:
        flat = [0, msgs] + [usage.settings.get(name, _COLUMN_PY.get(name)) for name in sig.inputs[1:]]
        payload = {"data": [flat]}
    return env.get_template("registry/usage_rest.py.j2").render(
        service_fqn=usage.service_fqn,
        endpoint=usage.endpoint,
        endpoint_env=ENDPOINT_ENV,
        route=REST_ROUTE,
        payload=payload,
        pat_env=usage.pat_env,
        pat_file=usage.pat_file,
    )


def render_endpoint_sql(usage: Usage) -> str:
    return environment().get_template("registry/show_endpoints.sql.j2").render(service_fqn=usage.service_fqn)
