"""What a REST client calls for the plan's deployment: base URL, routes, model name, request bodies.

Routes (spcs_facts.md §7, snowflake_ml_api.md §1.7, the Model Registry + vLLM article in
shared/seeds/002):
- registry: POST /v1/chat/completions (OpenAI; model = the registry model name in upper case) and
  the method route POST /--call-- (the method name __call__ with "_" written "-"), body
  {"dataframe_split": ...}, reply {"data": [[row, {OpenAI chat reply}]]};
- custom image: POST /v1/chat/completions, passed through by the proxy to vLLM (model = the
  served model name, which is the model id).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .. import plan_file
from ..errors import SpcsLlmError

OPENAI_ROUTE = "/v1/chat/completions"
CALL_METHOD = "__call__"
PROVISIONING_HINT = "provisioning"  # SHOW ENDPOINTS ingress_url reads "Endpoints provisioning in progress..."
# The registry's ingress endpoint is named "inference" (mv.list_services reads that one).
REGISTRY_ENDPOINT_NAME = "inference"


def method_route(method: str) -> str:
    """A model method's REST route: "_" becomes "-" (so __call__ is /--call--)."""
    return "/" + method.replace("_", "-")


CALL_ROUTE = method_route(CALL_METHOD)


@dataclass
class Target:
    base_url: str  # scheme://host[:port], no trailing slash
    engine_path: str  # registry | custom-image
    model: str | None  # the "model" of OpenAI requests
    routes: list[str] = field(default_factory=list)  # in the order endpoint test tries them
    signature_form: str = "params"  # registry __call__: settings as "params" or as "columns"
    object_content: bool = True  # registry __call__: message content as [{"type": "text", ...}]

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc


def base_url(value: str, what: str = "--endpoint") -> str:
    """An ingress host (abc-org-acct.snowflakecomputing.app) or a URL -> scheme://host[:port].
    http:// is accepted for local tests and the simulator; a path after the host is dropped."""
    raw = (value or "").strip()
    if not raw:
        raise SpcsLlmError(f"{what} is empty", hint="give the ingress_url of SHOW ENDPOINTS IN SERVICE")
    parts = urlsplit(raw if "://" in raw else f"https://{raw}")
    if parts.scheme not in ("https", "http") or not parts.netloc or any(c.isspace() for c in raw) \
            or '"' in raw or "'" in raw:
        raise SpcsLlmError(f"{what} {value!r} is not a host name or http(s) URL",
                           hint="use the ingress_url of SHOW ENDPOINTS IN SERVICE (xyz.snowflakecomputing.app)")
    if PROVISIONING_HINT in raw.lower():
        raise SpcsLlmError(f"{what} {value!r} is not assigned yet", hint="spcs-llm endpoint url --wait")
    return f"{parts.scheme}://{parts.netloc}"


def recorded_ingress(plan: dict | None) -> str | None:
    """The ingress URL a step recorded in the plan (status / endpoint url), if any."""
    plan = plan or {}
    path = plan_file.get(plan, "engine_path")
    key = "custom_image.ingress_url" if path == "custom-image" else "registry.ingress_url"
    return plan_file.get(plan, key) if key in plan_file.FIELDS else None


def served_model(plan: dict | None) -> str | None:
    """The model name OpenAI requests must carry: registry = its model name upper-cased (the
    seed article: "CASE SENSITIVE", QWEN3_30B_A3B_MODEL_FINAL); custom image = the model id."""
    plan = plan or {}
    if plan_file.get(plan, "engine_path") == "custom-image":
        return plan_file.get(plan, "model.id")
    name = plan_file.get(plan, "registry.pre_logged_model") if plan_file.get(plan, "registry.source") == \
        "pre-logged" else plan_file.get(plan, "registry.model_name")
    return str(name).upper() if name else None


def target_from_plan(plan: dict | None, endpoint: str | None, *, model: str | None = None,
                     routes: str = "all") -> Target:
    """The Target for the plan's path; --endpoint wins over the recorded ingress URL."""
    plan = plan or {}
    found = endpoint or recorded_ingress(plan)
    if not found:
        raise SpcsLlmError("no endpoint given and none recorded in the plan",
                           hint="run spcs-llm endpoint url (it records the ingress URL), or pass --endpoint HOST")
    engine = plan_file.get(plan, "engine_path") or "registry"
    target = Target(base_url=base_url(found), engine_path=engine, model=model or served_model(plan))
    if engine == "custom-image":
        target.routes = [OPENAI_ROUTE]
    else:
        target.routes = [OPENAI_ROUTE, CALL_ROUTE]
        _call_signature(plan, target)
    if routes != "all":
        if routes not in target.routes:
            raise SpcsLlmError(f"--route {routes!r} is not served on the {engine} path",
                               hint=f"allowed: all, {', '.join(target.routes)}")
        target.routes = [routes]
    if OPENAI_ROUTE in target.routes and not target.model:
        raise SpcsLlmError("the plan names no model for the OpenAI route",
                           hint="pass --model NAME (registry: the model name in upper case)")
    return target


def _call_signature(plan: dict, target: Target) -> None:
    """The __call__ argument form from what deploy-registry read back, else the route's default."""
    from ..registry.usage import read_result, recorded_signature, route_signature

    try:
        sig = recorded_signature(read_result(plan_file.get(plan, "registry.result_path"))) or \
            route_signature(plan_file.get(plan, "registry.source"))
    except SpcsLlmError:
        return
    target.signature_form, target.object_content = sig.form, sig.object_content


def chat_body(target: Target, route: str, prompt: str, max_tokens: int, *, stream: bool) -> dict:
    """The request body for one chat turn on `route`."""
    if route == OPENAI_ROUTE:
        body: dict = {"model": target.model, "messages": [{"role": "user", "content": prompt}],
                      "max_tokens": max_tokens, "temperature": 0.0, "stream": stream}
        if stream:
            body["stream_options"] = {"include_usage": True}  # the last chunk carries the token counts
        return body
    content = [{"type": "text", "text": prompt}] if target.object_content else prompt
    messages = [{"role": "user", "content": content}]
    settings = {"temperature": 0.0, "max_completion_tokens": max_tokens}
    if target.signature_form == "params":
        return {"dataframe_split": {"index": [0], "columns": ["messages"], "data": [[messages]]},
                "params": settings}
    columns = ["messages", *settings]
    return {"dataframe_split": {"index": [0], "columns": columns, "data": [[messages, *settings.values()]]}}


def reply_of(route: str, payload: object) -> dict:
    """The OpenAI chat reply in a response body ({"data": [[0, reply]]} on the method route)."""
    if route != OPENAI_ROUTE and isinstance(payload, dict) and isinstance(payload.get("data"), list):
        rows = payload["data"]
        if rows and isinstance(rows[0], list) and len(rows[0]) >= 2 and isinstance(rows[0][1], dict):
            return rows[0][1]
    return payload if isinstance(payload, dict) else {}
