"""A local OpenAI-compatible front for the SPCS ingress, so unchanged OpenAI clients can call it.

OpenAI clients (the SDK, LangChain, LiteLLM, Dify) send `Authorization: Bearer <key>`, which the
ingress does not read; it wants `Authorization: Snowflake Token="<token>"` and answers 404 to every
authorization failure. The gateway:
- accepts any key (or none) on 127.0.0.1; on another interface only its own local API key;
- drops the client's Authorization and sends the Snowflake token (a PAT, or a key-pair token it
  refreshes) instead;
- forwards /v1/* unchanged, SSE streams chunk by chunk (streaming also keeps long answers inside
  the ingress's 90 s idle timeout);
- rewrites the request's "model" to the served name (registry: the model name in upper case);
- turns the ingress's 404-on-auth into a 401 whose body says what to check.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import socket
import time

import aiohttp
from aiohttp import web

from ..errors import SpcsLlmError
from ..proxy.server import bind_socket
from ..redact import redact
from .client import _model_error, json_object

log = logging.getLogger("spcs_llm.gateway")

# Hop-by-hop headers (RFC 9110 §7.6.1), those aiohttp sets itself, and the client's credentials.
_NOT_FORWARDED = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "host", "content-length", "content-encoding", "authorization", "api-key",
    "x-api-key",
}
MAX_BODY_BYTES = 64 * 1024 * 1024
SHUTDOWN_TIMEOUT_S = 2.0


class StaticToken:
    """A PAT read once (from a file or env var); it cannot be refreshed from here."""

    def __init__(self, token: str):
        self._token = token

    async def token(self) -> str:
        return self._token

    async def refresh(self) -> bool:
        return False


def _norm(name: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_")


class Gateway:
    def __init__(self, upstream: str, tokens, *, served_model: str | None = None, aliases: tuple[str, ...] = (),
                 local_key: str | None = None, timeout_s: float = 600.0):
        self.upstream = upstream.rstrip("/")
        self.tokens = tokens
        self.served_model = served_model
        self._aliases = {_norm(a) for a in (served_model, *aliases) if a}
        self.local_key = local_key
        self.timeout_s = timeout_s
        self.port: int | None = None
        self.stats = {"requests": 0, "auth_404": 0, "upstream_errors": 0}
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.app = web.Application(client_max_size=MAX_BODY_BYTES)
        self.app.router.add_get("/health", self.health)
        self.app.router.add_get("/v1/models", self.models)
        self.app.router.add_route("*", "/v1/{tail:.*}", self.forward)

    async def start(self, host: str = "127.0.0.1", port: int = 0, sock: socket.socket | None = None) -> int:
        self._session = aiohttp.ClientSession(auto_decompress=False)
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False,
                                     shutdown_timeout=SHUTDOWN_TIMEOUT_S)
        await self._runner.setup()
        sock = sock or bind_socket(host, port)
        await web.SockSite(self._runner, sock).start()
        self.port = sock.getsockname()[1]  # the bound port (port 0 picks a free one)
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    # ---- handlers -----------------------------------------------------------------------------

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "upstream": self.upstream})

    async def models(self, request: web.Request) -> web.StreamResponse:
        """The served model, answered locally: clients list models before chatting, and the
        registry's ingress is not known to serve GET /v1/models."""
        refused = self._check_local_key(request)
        if refused is not None:
            return refused
        if not self.served_model:
            return await self.forward(request)
        return web.json_response({"object": "list", "data": [
            {"id": self.served_model, "object": "model", "created": 0, "owned_by": "snowflake-spcs"}]})

    async def forward(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        self.stats["requests"] += 1
        refused = self._check_local_key(request)
        if refused is not None:
            return refused
        body = await request.read() if request.body_exists else None
        body = self._map_model(body, request.content_type)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _NOT_FORWARDED}
        url = self.upstream + str(request.rel_url)
        status = 0
        try:
            for attempt in (1, 2):
                headers["Authorization"] = f'Snowflake Token="{await self.tokens.token()}"'
                upstream = await self._session.request(
                    request.method, url, headers=headers, data=body, allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=None, sock_connect=15, sock_read=self.timeout_s))
                status = upstream.status
                if status == 404:
                    text = await upstream.text(errors="replace")
                    upstream.release()
                    if _model_error(text):
                        return web.Response(status=404, text=text, content_type="application/json")
                    # a key-pair token may have expired: one fresh try, else a readable 401
                    if attempt == 1 and await self.tokens.refresh():
                        continue
                    self.stats["auth_404"] += 1
                    status = 401
                    return _auth_error(request.path)
                if 300 <= status < 400:
                    upstream.release()
                    status = 401
                    return _openai_error(401, "the Snowflake ingress redirected to its login page: the token was "
                                         "not recognised (the gateway sends it as Snowflake Token)",
                                         "authentication_error", "snowflake_ingress_redirect")
                return await self._relay(request, upstream)
        except SpcsLlmError as err:  # the key-pair token could not be obtained
            self.stats["upstream_errors"] += 1
            status = 502
            return _openai_error(502, redact(str(err)), "upstream_error", "snowflake_token_unavailable")
        except (TimeoutError, aiohttp.ClientError) as err:
            self.stats["upstream_errors"] += 1
            status = 502
            return _openai_error(502, f"the SPCS endpoint did not answer ({type(err).__name__}); if the service "
                                 "was just started the model may still be loading (spcs-llm status --wait)",
                                 "upstream_error", "spcs_unreachable")
        finally:
            log.info(redact(f"{request.method} {request.path} -> {status} "
                            f"{(time.monotonic() - started) * 1000:.0f} ms"))
        raise AssertionError("unreachable")  # pragma: no cover (the loop always returns)

    async def _relay(self, request: web.Request, upstream: aiohttp.ClientResponse) -> web.StreamResponse:
        """Copy the answer chunk by chunk (SSE included) as it arrives."""
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for key, value in upstream.headers.items():
            if key.lower() not in _NOT_FORWARDED or key.lower() == "content-encoding":
                response.headers.add(key, value)
        await response.prepare(request)
        try:
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
        except (ConnectionResetError, aiohttp.ClientError, TimeoutError) as err:
            # mid-stream the status is already sent: closing tells the client the answer broke
            log.warning(f"{request.path}: the upstream answer broke off ({type(err).__name__})")
        finally:
            upstream.release()
        return response

    # ---- helpers ------------------------------------------------------------------------------

    def _check_local_key(self, request: web.Request) -> web.Response | None:
        if self.local_key is None:
            return None
        sent = request.headers.get("Authorization", "")
        key = sent[7:].strip() if sent.lower().startswith("bearer ") else request.headers.get("x-api-key", "")
        if key and hmac.compare_digest(key.encode(), self.local_key.encode()):
            return None
        return _openai_error(401, "this gateway listens beyond 127.0.0.1 and needs its local API key "
                             "(Authorization: Bearer <local key>); it is not the Snowflake PAT",
                             "authentication_error", "invalid_local_api_key")

    def _map_model(self, body: bytes | None, content_type: str) -> bytes | None:
        """Rewrite "model" to the served name when it names the same model in another spelling
        (qwen2.5-7b-instruct, Qwen/Qwen2.5-7B-Instruct, ...) or is missing."""
        if not body or not self.served_model or "json" not in content_type:
            return body
        payload = json_object(body)
        if payload is None:
            return body
        model = payload.get("model")
        if model == self.served_model or (isinstance(model, str) and _norm(model) not in self._aliases and model):
            return body
        payload["model"] = self.served_model
        return json.dumps(payload).encode()


def _openai_error(status: int, message: str, kind: str, code: str) -> web.Response:
    """An error body every OpenAI client shows: {"error": {"message", "type", "code"}}."""
    return web.json_response({"error": {"message": message, "type": kind, "code": code, "param": None}},
                             status=status)


def _auth_error(path: str) -> web.Response:
    return _openai_error(401, (
        f"the Snowflake ingress answered 404 to {path}, which is how it reports an authorization failure: "
        "the token is wrong, expired or disabled; the token's user is not allowed from this address by its "
        "network policy; or the token's role lacks the service role <service>!ALL_ENDPOINTS_USAGE (or the "
        "URL is wrong). Run: spcs-llm endpoint test (it checks each cause)"),
        "authentication_error", "snowflake_ingress_404")
