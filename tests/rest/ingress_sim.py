"""A local stand-in for an SPCS public endpoint in front of a registry vLLM service, as documented:

- auth: only `Authorization: Snowflake Token="<token>"` with a known token passes; a bad, missing
  or Bearer token, and a token whose role lacks the service role, get 404 (like a wrong path);
  the Authorization header is stripped before the "container" sees it (spcs_facts.md §7.1);
- loading: the first `loading` authorized requests get 502 (the model is not loaded yet);
- idle timeout: a request whose answer takes longer than `idle_timeout` without sending a byte is
  cut (connection closed, no answer); a streamed answer sends a chunk per token and survives;
- routes: POST /v1/chat/completions (streamed or not; unknown model -> vLLM's 404 error body),
  POST /--call-- and /__call__ with {"dataframe_split": ...} or {"data": ...}, GET /v1/models.
"""

from __future__ import annotations

import asyncio
import json
import re
import time

from aiohttp import web

HEADER = re.compile(r'^Snowflake Token="([^"]+)"$')


class IngressSimulator:
    def __init__(self, tokens: dict[str, bool], *, model: str = "QWEN2_5_7B_INSTRUCT", loading: int = 0,
                 idle_timeout: float = 0.5, token_delay: float = 0.0, reply_tokens: int = 8,
                 openai_route: bool = True, call_route: bool = True):
        self.tokens = tokens  # token -> its role holds <svc>!ALL_ENDPOINTS_USAGE
        self.model = model
        self.loading = loading
        self.idle_timeout = idle_timeout
        self.token_delay = token_delay
        self.reply_tokens = reply_tokens
        self.seen: list[dict] = []  # what reached the ingress: path, authorization, body
        self.container_headers: list[dict] = []  # what the "container" got (after stripping)
        self.port: int | None = None
        self._runner: web.AppRunner | None = None
        self.app = web.Application(middlewares=[self._ingress])
        if openai_route:  # off: a service that serves only the method route
            self.app.router.add_post("/v1/chat/completions", self.chat)
            self.app.router.add_get("/v1/models", self.list_models)
        if call_route:  # off: the custom image, whose proxy serves only /v1/*
            self.app.router.add_post("/--call--", self.method_call)
            self.app.router.add_post("/__call__", self.method_call)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        await self._runner.cleanup()

    # ---- the ingress ------------------------------------------------------------------------------

    @web.middleware
    async def _ingress(self, request: web.Request, handler):
        body = await request.read()
        self.seen.append({"path": request.path, "authorization": request.headers.get("Authorization"),
                          "body": json.loads(body) if body else None})
        match = HEADER.match(request.headers.get("Authorization", ""))
        if not match or not self.tokens.get(match.group(1), False):
            return _ingress_404()
        if request.match_info.http_exception is not None:  # no such route: the same 404
            return _ingress_404()
        self.container_headers.append({k: v for k, v in request.headers.items()
                                       if k.lower() != "authorization"})
        if self.loading > 0:
            self.loading -= 1
            return web.Response(status=502, text="Bad Gateway")
        return await handler(request)

    # ---- the model server -------------------------------------------------------------------------

    async def list_models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": self.model, "object": "model"}]})

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if body.get("model") != self.model:
            return web.json_response({"object": "error", "message": f"The model `{body.get('model')}` does not "
                                      "exist.", "type": "NotFoundError", "param": None, "code": 404}, status=404)
        count = min(self.reply_tokens, int(body.get("max_tokens") or body.get("max_completion_tokens") or 16))
        if body.get("stream"):
            return await self._stream(request, body, count)
        await self._generate_silently(request, count)
        return web.json_response(_reply(self.model, count))

    async def method_call(self, request: web.Request) -> web.Response:
        body = await request.json()
        split = body.get("dataframe_split")
        rows = split["data"] if split else [row[1:] for row in body.get("data") or []]
        if not rows or not rows[0] or not isinstance(rows[0][0], list):
            return web.json_response({"error": "messages column missing"}, status=400)
        params = body.get("params") or {}
        count = min(self.reply_tokens, int(params.get("max_completion_tokens") or 16))
        await self._generate_silently(request, count)
        index = split.get("index", list(range(len(rows)))) if split else [row[0] for row in body["data"]]
        return web.json_response({"data": [[i, _reply(self.model, count)] for i in index]})

    async def _generate_silently(self, request: web.Request, count: int) -> None:
        """Generate without sending anything: past the idle timeout the ingress cuts the connection."""
        if count * self.token_delay > self.idle_timeout:
            await asyncio.sleep(self.idle_timeout)
            request.transport.close()
            raise asyncio.CancelledError  # the connection is gone; nothing is answered
        await asyncio.sleep(count * self.token_delay)

    async def _stream(self, request: web.Request, body: dict, count: int) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        created = int(time.time())
        for i in range(count):
            await asyncio.sleep(self.token_delay)
            chunk = {"id": "chatcmpl-sim", "object": "chat.completion.chunk", "created": created, "model": self.model,
                     "choices": [{"index": 0, "delta": {"content": f"tok{i} "}, "finish_reason": None}]}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {"id": "chatcmpl-sim", "object": "chat.completion.chunk", "created": created, "model": self.model,
                     "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": count,
                                              "total_tokens": 5 + count}}
            await response.write(f"data: {json.dumps(usage)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


def _ingress_404() -> web.Response:
    return web.Response(status=404, text="<html><body>404 Not Found</body></html>", content_type="text/html")


def _reply(model: str, count: int) -> dict:
    return {"id": "chatcmpl-sim", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": " ".join(f"tok{i}" for i in
                                                                                        range(count))},
                         "logprobs": None, "finish_reason": "length"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": count, "total_tokens": 5 + count}}
