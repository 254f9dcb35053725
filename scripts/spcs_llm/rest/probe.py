"""The `status` endpoint probe: one real (one-token) chat request instead of a GET, so "ready" means
a client with this token gets an answer, not merely that something listens behind the ingress.

Blocking (requests), because `status` polls synchronously. Result values are the ones `status`
understands: answering, auth-failed, not-answering.
"""

from __future__ import annotations

import json
import time

from .. import plan_file
from ..errors import SpcsLlmError
from .client import CallResult, diagnose
from .target import CALL_ROUTE, Target, chat_body, reply_of, served_model, target_from_plan

CHAT_PROBE_TIMEOUT_S = 30.0  # a first request can be slow while caches warm up
PROBE_PROMPT = "Reply with one word."
AUTH_KINDS = ("auth-or-route", "refused", "login-redirect")


def probe_target(plan: dict | None, base_url: str) -> Target:
    """The plan's routes at base_url; without a plan or a model name only the registry's method
    route (which needs no model name) can be called."""
    if plan and (plan_file.get(plan, "engine_path") == "custom-image" or served_model(plan)):
        try:
            return target_from_plan(plan, base_url)
        except SpcsLlmError:
            pass
    return Target(base_url, "registry", None, [CALL_ROUTE])


def chat_probe(target: Target, token: str, timeout_s: float = CHAT_PROBE_TIMEOUT_S) -> dict:
    """{"url", "http_status", "result", "detail", "route"} for the first route that settles it."""
    import requests

    headers = {"Authorization": f'Snowflake Token="{token}"'}
    last: dict | None = None
    for route in target.routes:
        url = target.base_url + route
        result = CallResult(route=route, stream=False)
        started = time.monotonic()
        try:
            response = requests.post(url, json=chat_body(target, route, PROBE_PROMPT, 1, stream=False),
                                     headers=headers, timeout=timeout_s, allow_redirects=False)
        except requests.Timeout:
            result.error = "timeout"
        except requests.RequestException as err:
            result.error, result.body = "unreachable", type(err).__name__
        else:
            result.status = response.status_code
            if response.status_code == 200:
                _read(route, response, result)
            else:
                result.body = (response.text or "")[:500]
        result.latency_s = round(time.monotonic() - started, 3)
        diagnosis = diagnose(result)
        entry = {"url": url, "route": route, "http_status": result.status, "detail": diagnosis.message}
        if diagnosis.kind == "auth-or-route":
            last = {**entry, "result": "auth-failed", "detail": diagnosis.message + "; spcs-llm endpoint test checks "
                    "the token, network policy and grant through your connection"}
            continue  # another route may exist where this one does not
        if diagnosis.kind in AUTH_KINDS:
            return {**entry, "result": "auth-failed"}
        if diagnosis.kind in ("loading", "timeout", "idle-timeout", "busy") or result.error:
            return {**entry, "result": "not-answering"}
        # ok, or the model server itself answered (a wrong model name, a rejected body)
        detail = f"chat request answered on {route} in {result.latency_s:g} s" if diagnosis.kind == "ok" \
            else f"the model server answered on {route}: {diagnosis.message}"
        return {**entry, "result": "answering", "detail": detail}
    return last or {"url": target.base_url, "route": None, "http_status": None, "result": "not-answering",
                    "detail": "no route to probe"}


def _read(route: str, response, result: CallResult) -> None:
    try:
        reply = reply_of(route, response.json())
    except (ValueError, json.JSONDecodeError):
        result.error, result.body = "bad-reply", (response.text or "")[:200]
        return
    if not reply.get("choices"):
        result.error, result.body = "bad-reply", json.dumps(reply)[:200]
