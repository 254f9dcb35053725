"""A fake OpenAI-compatible server standing in for vLLM in the proxy's tests and benchmark.

Answers each chat request with "echo: <last user message>" after `latency` seconds and counts
requests in flight (max_in_flight shows whether a concurrency bound held). Like vLLM, it stops
working on a request whose client disconnects (the handler is cancelled). Failures are injected
globally (fail_status, health_status, models, down), per row by directives in the prompt text
(``#sleep=0.5`` waits that long, ``#status=400`` answers that status with a vLLM-style error body)
and at random by a seeded Chaos mix: 500s, malformed 200 bodies, replies cut off mid-body, hangs.
``stream: true`` answers server-sent events, one word per chunk, chunk_delay apart.

Run standalone: ``python -m spcs_llm.proxy.fake_backend --port 0 --latency 0.2 [--error-rate 0.05
--malformed-rate 0.02]``; it prints ``READY <port>`` once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import socket
import time
from dataclasses import dataclass

from aiohttp import web

_DIRECTIVE = re.compile(r"#(sleep|status)=([0-9.]+)")


@dataclass
class Chaos:
    """Random faults per chat request, each with its probability; seeded, so a run can be repeated."""

    error_rate: float = 0.0  # answer 500
    malformed_rate: float = 0.0  # answer 200 with a body that is not a chat completion
    truncated_rate: float = 0.0  # start a 200 reply and close the connection mid-body
    hang_rate: float = 0.0  # take hang_s before answering (longer than any sane timeout)
    hang_s: float = 30.0
    seed: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def draw(self) -> str | None:
        x = self.rng.random()
        for fault, rate in (("error", self.error_rate), ("malformed", self.malformed_rate),
                            ("truncated", self.truncated_rate), ("hang", self.hang_rate)):
            if x < rate:
                return fault
            x -= rate
        return None


class FakeBackend:
    def __init__(self, *, latency: float = 0.0, model: str = "fake-model", chunk_delay: float = 0.0,
                 chaos: Chaos | None = None):
        self.latency = latency
        self.chunk_delay = chunk_delay
        self.models = [model]
        self.chaos = chaos
        self.fail_status: int | None = None  # every chat request answers this status
        self.down = False  # every chat request loses its connection without an answer (vLLM died)
        self.slow_first_calls = 0  # this many next chat requests hang (chaos.hang_s or 30 s)
        self.health_status = 200
        self.requests = 0
        self.faults: dict[str, int] = {}  # injected faults by kind
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
        self.app.router.add_get("/fake/stats", self.stats)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> int:
        # handler_cancellation: a client that disconnects cancels its request, as vLLM aborts it.
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0, handler_cancellation=True)
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

    async def stats(self, request: web.Request) -> web.Response:
        """The counters, for a benchmark that runs this server in another process."""
        return web.json_response({"requests": self.requests, "in_flight": self.in_flight,
                                  "max_in_flight": self.max_in_flight, "faults": self.faults})

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
            fault = self.chaos.draw() if self.chaos else None
            if self.slow_first_calls > 0:
                self.slow_first_calls -= 1
                fault = "hang"
            if fault:
                self.faults[fault] = self.faults.get(fault, 0) + 1
            if fault == "hang":
                delay = self.chaos.hang_s if self.chaos else 30.0
            if delay:
                await asyncio.sleep(delay)
            if self.down:
                return _drop(request)
            if fault == "error":
                error = {"object": "error", "message": "chaos", "type": "InternalServerError", "code": 500}
                return web.json_response(error, status=500)
            if fault == "malformed":
                return web.Response(body=b'{"id": "x", "object": "chat.compl', content_type="application/json")
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
            encoded = json.dumps(reply).encode()
            if fault == "truncated":
                return await _cut_off(request, encoded)
            return web.Response(body=encoded, content_type="application/json")
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


def _drop(request: web.Request) -> web.Response:
    """Close the connection without a reply, as a crashing server does."""
    request.transport.close()
    return web.Response()


async def _cut_off(request: web.Request, body: bytes) -> web.StreamResponse:
    """Announce the full body, send half of it, then close the connection."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[: len(body) // 2])
    request.transport.close()
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


async def _serve(port: int, latency: float, model: str, chaos: Chaos | None) -> None:
    backend = FakeBackend(latency=latency, model=model, chaos=chaos)
    bound = await backend.start(port)
    print(f"READY {bound}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m spcs_llm.proxy.fake_backend", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--model", default="fake-model", help="the one model /v1/models lists")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of chat calls answered 500")
    parser.add_argument("--malformed-rate", type=float, default=0.0,
                        help="share of chat calls answered 200 with a broken body")
    parser.add_argument("--truncated-rate", type=float, default=0.0,
                        help="share of chat calls cut off in the middle of the reply")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random faults")
    args = parser.parse_args()
    chaos = None
    if args.error_rate or args.malformed_rate or args.truncated_rate:
        chaos = Chaos(error_rate=args.error_rate, malformed_rate=args.malformed_rate,
                      truncated_rate=args.truncated_rate, seed=args.seed)
    try:
        asyncio.run(_serve(args.port, args.latency, args.model, chaos))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
