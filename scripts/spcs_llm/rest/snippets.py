"""Client snippets for the REST route of a deployed service, for both engine paths: the OpenAI SDK
(base_url https://<endpoint>/v1, the Snowflake header per request), requests, curl, and the local
gateway for tools that only send Bearer keys. Each reads the token from an env var or a file.

Sources: the ingress header and the 90 s idle timeout, spcs_facts.md §7.1-7.2; the registry's
OpenAI route (base_url https://<inference_endpoint>/v1, model = the registry model name in upper
case, extra_headers with the Snowflake token), the Model Registry + vLLM article in shared/seeds/002
("推理服务步骤 3"); the custom image's /v1 route is passed through by the proxy to vLLM.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from .. import plan_file
from ..registry.literals import py_literal
from ..render import environment
from ..steps.gateway import DEFAULT_PORT as GATEWAY_PORT  # the snippet must match the gateway's default --port
from .credentials import DEFAULT_PAT_ENV as PAT_ENV

ENDPOINT_ENV = "SPCS_LLM_ENDPOINT"
MAX_TOKENS = 256
SECTIONS = ("openai", "requests", "curl", "gateway")


@dataclass
class RestUsage:
    engine_path: str  # registry | custom-image
    endpoint: str | None  # ingress host, no scheme
    model: str | None  # the OpenAI "model"
    model_note: str
    prompt: str
    pat_env: str = PAT_ENV
    pat_file: str | None = None


def served_model(plan: dict) -> tuple[str | None, str]:
    """The OpenAI "model" for the plan's path, and why."""
    if plan_file.get(plan, "engine_path") == "custom-image":
        return plan_file.get(plan, "model.id"), "vLLM serves the model under its id (--served-model-name)"
    name = (plan_file.get(plan, "registry.pre_logged_model") if plan_file.get(plan, "registry.source") == "pre-logged"
            else plan_file.get(plan, "registry.model_name"))
    return (str(name).upper() if name else None), "the registry model name in upper case (case sensitive)"


def pat_source(plan: dict, pat_env: str | None, pat_file: str | None) -> tuple[str, str | None]:
    """Flags first, then what `access token` recorded (rest.pat_file / rest.pat_env)."""
    if pat_env or pat_file:
        return pat_env or PAT_ENV, pat_file
    return plan_file.get(plan, "rest.pat_env") or PAT_ENV, plan_file.get(plan, "rest.pat_file")


def render_all(usage: RestUsage) -> dict[str, str]:
    env = environment()
    env.filters["py"] = py_literal
    model = usage.model or "<model name>"
    common = {"endpoint": usage.endpoint, "endpoint_env": ENDPOINT_ENV, "pat_env": usage.pat_env,
              "pat_file": usage.pat_file, "model": model, "model_note": usage.model_note, "prompt": usage.prompt,
              "max_tokens": MAX_TOKENS}
    body = {"model": model, "messages": [{"role": "user", "content": usage.prompt}],
            "max_completion_tokens": MAX_TOKENS}
    return {
        "openai": env.get_template("rest/usage_openai.py.j2").render(**common),
        "requests": env.get_template("rest/usage_requests.py.j2").render(**common),
        "curl": env.get_template("rest/usage_curl.sh.j2").render(**common, body_arg=shlex.quote(json.dumps(body))),
        "gateway": env.get_template("rest/usage_gateway.sh.j2").render(**common, port=GATEWAY_PORT),
    }
