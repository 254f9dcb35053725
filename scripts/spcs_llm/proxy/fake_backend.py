"""A fake OpenAI-compatible server standing in for vLLM in the proxy's tests and benchmark.

Answers each chat request with "echo: <last user message>" after `latency` seconds and counts
requests in flight (max_in_flight shows whether a concurrency bound held). Failures are injected
globally (fail_status, health_status, models) or per row by directives in the prompt text:
``#sleep=0.5`` waits that long, ``#status=400`` answers that status with a vLLM-style error body.
``stream: true`` answers server-sent events, one word per chunk, chunk_delay apart.

Run standalone: ``python -m spcs_llm.proxy.fake_backend --port 0 --latency 0.2``; it prints
``READY <port>`` once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import socket
import time

from aiohttp import web

_DIRECTIVE = re.compile(r"#(sleep|status)=([0-9.]+)")


class FakeBackend:
    def __init__(self, *, latency: float = 0.0, model: str = "fake-model", chunk_delay: float = 0.0):
        self.latency = latency
        self.chunk_delay = chunk_delay
        self.models = [model]
        self.fail_status: int | None = None  # every chat request answers this status
        self.health_status = 200
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.bodies: list[dict] = []
        self.record_bodies = False
        self.port: int | None = None
        self._runner: web.AppRunner | None = None
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.app.router.add_post("/v1/chat/completions", self.chat)
        self.app.router.add_get("/v1/models", self.list_models)
        self.app.router.add_get("/health", self.health)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> int:
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(1024)
        sock.setblocking(False)
        await web.SockSite(self._runner, sock).start()
        self.port = sock.getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def health(self, request: web.Request) -> web.Response:
        return web.Response(status=self.health_status)

    async def list_models(self, request: web.Request) -> web.Response:
        data = [{"id": m, "object": "model", "owned_by": "fake"} for m in self.models]
        return web.json_response({"object": "list", "data": data})

    async def chat(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            body = json.loads(await request.read())
            if self.record_bodies:
                self.bodies.append(body)
            prompt = _last_user_text(body.get("messages"))
            directives = dict(_DIRECTIVE.findall(prompt)) if "#" in prompt else {}
            delay = float(directives.get("sleep", self.latency))
            if delay:
                await asyncio.sleep(delay)
            status = int(float(directives["status"])) if "status" in directives else self.fail_status
            if status and status != 200:
                error = {"object": "error", "message": f"injected failure {status}",
                         "type": "BadRequestError" if status < 500 else "InternalServerError", "code": status}
                return web.json_response(error, status=status)
            if isinstance(body.get("max_tokens"), int) and body["max_tokens"] > 100_000:
                error = {"object": "error", "code": 400, "type": "BadRequestError",
                         "message": "max_tokens is larger than the model's maximum context length"}
                return web.json_response(error, status=400)
            answer = "echo: " + prompt
            if body.get("stream"):
                return await self._stream(request, body, answer)
            reply = {
                "id": f"chatcmpl-{self.requests}", "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": len(answer.split()),
                          "total_tokens": len(prompt.split()) + len(answer.split())},
            }
            return web.Response(body=json.dumps(reply).encode(), content_type="application/json")
        finally:
            self.in_flight -= 1

    async def _stream(self, request: web.Request, body: dict, answer: str) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for i, word in enumerate(answer.split(" ")):
            delta = {"content": word if i == 0 else " " + word}
            chunk = {"object": "chat.completion.chunk", "model": body.get("model"),
                     "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
            if self.chunk_delay:
                await asyncio.sleep(self.chunk_delay)
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


def _last_user_text(messages) -> str:
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            return content if isinstance(content, str) else ""
    return ""


async def _serve(port: int, latency: float, model: str) -> None:
    backend = FakeBackend(latency=latency, model=model)
    bound = await backend.start(port)
    print(f"READY {bound}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m spcs_llm.proxy.fake_backend", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--model", default="fake-model", help="the one model /v1/models lists")
    args = parser.parse_args()
    try:
        asyncio.run(_serve(args.port, args.latency, args.model))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
