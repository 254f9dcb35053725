"""One chat request against the ingress (aiohttp), timed, and what its outcome means.

Meaning of the answers (spcs_facts.md §7, "Deploy models for real-time inference (REST API)"):
- 404 from the ingress: every authorization failure (bad or expired token, no network-policy
  route, missing service role) looks exactly like a wrong URL or route;
- 404 with a vLLM/OpenAI error body naming the model: the request reached the model server, the
  "model" name is wrong;
- 3xx: the ingress sent the request to the Snowflake login page (no usable token);
- 502/503/504 or a refused connection while the service runs: the model is still loading;
- a connection closed without an answer after about 90 s: the ingress's idle timeout (stream).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

import aiohttp

from .target import OPENAI_ROUTE, Target, chat_body, reply_of

IDLE_TIMEOUT_S = 90.0  # ingress idle timeout (spcs_facts.md §7.1, D-NET)
LOADING_STATUSES = (502, 503, 504)
TEXT_KEEP = 200  # characters of the answer kept in results


@dataclass
class CallResult:
    route: str
    stream: bool
    status: int | None = None
    latency_s: float | None = None
    ttft_s: float | None = None
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    tokens_from: str | None = None  # "usage" (server counts) or "chunks" (one per streamed delta)
    text: str = ""
    error: str | None = None  # cut | timeout | unreachable | bad-reply
    body: str = ""  # start of a non-200 body, for the diagnosis

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error is None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Diagnosis:
    kind: str  # ok | auth-or-route | model-not-found | refused | login-redirect | loading | idle-timeout | ...
    message: str
    retry: bool = False
    checks: list[dict] = field(default_factory=list)  # account checks run for auth-or-route


async def call(session: aiohttp.ClientSession, target: Target, route: str, headers: dict, *, prompt: str,
               max_tokens: int, stream: bool, timeout_s: float) -> CallResult:
    """POST one chat turn; never raises for HTTP or connection trouble (they are results)."""
    stream = stream and route == OPENAI_ROUTE  # the method route answers in one piece
    result = CallResult(route=route, stream=stream)
    body = chat_body(target, route, prompt, max_tokens, stream=stream)
    started = time.monotonic()
    try:
        async with session.post(target.base_url + route, json=body, headers=headers, allow_redirects=False,
                                timeout=aiohttp.ClientTimeout(total=timeout_s, sock_connect=15)) as response:
            result.status = response.status
            if response.status != 200:
                result.body = (await response.text(errors="replace"))[:500]
            elif stream:
                await _read_stream(response, result, started)
            else:
                _read_reply(route, await response.read(), result)
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientOSError) as err:
        if isinstance(err, aiohttp.ClientConnectorError):
            result.error = "unreachable"
        else:
            result.error = "cut"
        result.body = type(err).__name__
    except TimeoutError:
        result.error = "timeout"
    except aiohttp.ClientError as err:
        result.error, result.body = "unreachable", type(err).__name__
    result.latency_s = round(time.monotonic() - started, 4)
    return result


async def _read_stream(response: aiohttp.ClientResponse, result: CallResult, started: float) -> None:
    chunks = 0
    parts: list[str] = []
    async for raw in response.content:
        line = raw.decode("utf-8", errors="replace").strip()
        if not line.startswith("data:"):
            continue
        data = line[len("data:"):].strip()
        if data == "[DONE]":
            break
        try:
            event = json.loads(data)
        except ValueError:
            continue
        for choice in event.get("choices") or []:
            delta = (choice.get("delta") or {}).get("content")
            if delta:
                if result.ttft_s is None:
                    result.ttft_s = round(time.monotonic() - started, 4)
                chunks += 1
                parts.append(delta)
        usage = event.get("usage")
        if isinstance(usage, dict) and usage.get("completion_tokens") is not None:
            result.output_tokens = int(usage["completion_tokens"])
            result.prompt_tokens = usage.get("prompt_tokens")
            result.tokens_from = "usage"
    if result.tokens_from is None:
        result.output_tokens, result.tokens_from = chunks, "chunks"
    result.text = "".join(parts)[:TEXT_KEEP]


def _read_reply(route: str, raw: bytes, result: CallResult) -> None:
    try:
        reply = reply_of(route, json.loads(raw))
    except ValueError:
        result.error, result.body = "bad-reply", raw[:200].decode("utf-8", errors="replace")
        return
    usage = reply.get("usage") or {}
    if usage.get("completion_tokens") is not None:
        result.output_tokens, result.tokens_from = int(usage["completion_tokens"]), "usage"
        result.prompt_tokens = usage.get("prompt_tokens")
    choices = reply.get("choices") or [{}]
    message = (choices[0] or {}).get("message") or {}
    result.text = str(message.get("content") or "")[:TEXT_KEEP]
    if not choices or not message:
        result.error, result.body = "bad-reply", json.dumps(reply)[:200]


def diagnose(result: CallResult, *, idle_timeout_s: float = IDLE_TIMEOUT_S) -> Diagnosis:
    """The specific meaning of one result (the 404 account checks are added by rest/diagnosis.py)."""
    code = result.status
    if result.ok:
        return Diagnosis("ok", f"HTTP 200 in {result.latency_s:.2f} s")
    if result.error == "cut" and (result.latency_s or 0) >= 0.9 * idle_timeout_s:
        return Diagnosis("idle-timeout", (
            f"the connection was closed after {result.latency_s:.0f} s without an answer: the ingress closes "
            f"connections idle for {idle_timeout_s:g} s. Stream the reply (\"stream\": true) so tokens keep "
            "the connection busy, or ask for fewer tokens (spcs-llm endpoint test --stream)"))
    if result.error in ("cut", "unreachable"):
        return Diagnosis("loading", f"no answer ({result.body or result.error}): the ingress or the model "
                         "server is not accepting connections yet; it is retried", retry=True)
    if result.error == "timeout":
        return Diagnosis("timeout", f"no complete answer within {result.latency_s:.0f} s (--timeout); stream the "
                         "reply or raise --timeout")
    if result.error == "bad-reply":
        return Diagnosis("bad-reply", f"HTTP 200 but the body is not a chat reply: {result.body[:120]}")
    if code == 404 and _model_error(result.body):
        return Diagnosis("model-not-found", (
            "the request reached the model server, which does not know this \"model\" name: registry services "
            "serve the registry model name in upper case (--model NAME); detail: " + result.body[:160]))
    if code == 404:
        return Diagnosis("auth-or-route", (
            "HTTP 404 from the ingress: Snowflake answers 404 for every authorization failure (bad or expired "
            "token, a network policy that does not let this address in, a role without the service role "
            "<service>!ALL_ENDPOINTS_USAGE) exactly as for a wrong URL or route"))
    if code is not None and 300 <= code < 400:
        return Diagnosis("login-redirect", (
            f"HTTP {code}: the ingress redirected to the Snowflake login, so it found no usable token in "
            "the request; send the header Authorization: Snowflake Token=\"<PAT>\" (not Bearer)"))
    if code in (401, 403):
        return Diagnosis("refused", (
            f"HTTP {code}: the token was refused (expired or disabled PAT, a role restriction without the "
            "service role, or an authentication policy without PROGRAMMATIC_ACCESS_TOKEN); 403 also answers "
            "executable content types"))
    if code in LOADING_STATUSES:
        return Diagnosis("loading", f"HTTP {code}: the model server is not serving yet (a RUNNING service can "
                         "still be loading the weights); it is retried with backoff", retry=True)
    if code in (400, 422):
        return Diagnosis("bad-request", f"HTTP {code}: the route exists but rejected the body: {result.body[:200]}")
    if code == 429:
        return Diagnosis("busy", "HTTP 429: too many requests; retry with backoff", retry=True)
    return Diagnosis("error", f"HTTP {code}: {result.body[:200]}")


def json_object(body: str | bytes) -> dict | None:
    """BODY parsed as a JSON object; None when it is not JSON or not an object."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _model_error(body: str) -> bool:
    """vLLM's 404 for an unknown model: {"object": "error", "message": "The model `x` does not exist." ...}."""
    payload = json_object(body)
    if payload is None:
        return False
    error = payload.get("error") if isinstance(payload.get("error"), dict) else payload
    message = str(error.get("message") or "").lower()
    return "model" in message and "does not exist" in message
