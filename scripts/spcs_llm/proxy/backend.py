"""The proxy's only way to vLLM: one shared keep-alive aiohttp session, one process-wide slot count.

One call here is one attempt; retries are decided in retry.py. Failures are sorted by what a
retry can fix: vLLM unreachable, 5xx, 429, timeouts and broken or truncated replies raise
CallFailed (retryable; its status is what the batch answers if the row never succeeds: 429 when
vLLM said it is overloaded, else 503). Any other 4xx is about that one row (prompt too long, bad
parameter): RowRejected, which becomes the row's error value, because sending it again cannot help.

A slot (``--concurrency``) is held until the call has really ended at vLLM: a call that is
cancelled or times out closes its connection and keeps its slot ABORT_GRACE_S longer, so a new
call never overlaps the aborted one there. vLLM's OpenAI server cancels a route handler when its
client disconnects (``with_cancellation`` in vllm-project/vllm vllm/entrypoints/utils.py), which
aborts the request in the engine.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from ..redact import redact
from .config import ProxyConfig

HEALTH_TIMEOUT_S = 5.0
MAX_ERROR_TEXT = 500
ABORT_GRACE_S = 0.5  # vLLM notices a closed connection within milliseconds; this leaves a margin


class CallFailed(Exception):
    """One vLLM call failed in a way a retry may fix; `status` is the batch's answer if it stays so."""

    def __init__(self, status: int, reason: str, *, timed_out: bool = False):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.timed_out = timed_out


class RowRejected(Exception):
    """vLLM refused this row (4xx): the row gets an error value, the batch goes on."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class Backend:
    def __init__(self, config: ProxyConfig):
        self.base = config.backend_url.rstrip("/")
        self.model = config.model
        self.concurrency = config.concurrency
        self.request_timeout = config.request_timeout
        self.slots: asyncio.Semaphore | None = None
        self.in_flight = 0  # calls holding a slot (aborted ones until their grace is over)
        self.max_in_flight = 0
        self.calls = 0  # attempts sent to vLLM
        self.successes = 0  # attempts that returned a usable reply: tells a sick vLLM from a bad row
        self.session: aiohttp.ClientSession | None = None
        self._auth = {"Authorization": f"Bearer {config.backend_api_key}"} if config.backend_api_key else {}
        self._model_lock: asyncio.Lock | None = None

    async def start(self) -> None:
        """Create the slot count and the session inside the running loop."""
        self.slots = asyncio.Semaphore(self.concurrency)
        self._model_lock = asyncio.Lock()
        # Pass-through and health calls share the session: room for them beside the row calls.
        connector = aiohttp.TCPConnector(limit=self.concurrency + 256, keepalive_timeout=75)
        self.session = aiohttp.ClientSession(connector=connector, headers=self._auth)

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    async def chat(self, body: dict, timeout: float | None = None) -> dict:
        """One /v1/chat/completions attempt in one slot. Returns the parsed reply (with choices)."""
        if "model" not in body:
            body = {**body, "model": await self.model_name()}
        timeout = self.request_timeout if timeout is None else timeout
        await self.slots.acquire()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.calls += 1
        aborted = False
        try:
            async with self.session.post(f"{self.base}/v1/chat/completions", json=body,
                                         timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                try:
                    status, raw = resp.status, await resp.read()
                except BaseException:
                    resp.close()  # drop the connection, never reuse it: vLLM then aborts the request
                    raise
        except TimeoutError:
            aborted = True
            raise CallFailed(503, f"vLLM did not answer within {timeout:g} s", timed_out=True) from None
        except asyncio.CancelledError:
            aborted = True
            raise
        except aiohttp.ClientError as err:
            raise CallFailed(503, f"vLLM connection failed ({type(err).__name__})") from None
        finally:
            if aborted:
                asyncio.get_running_loop().call_later(ABORT_GRACE_S, self._release)
            else:
                self._release()
        if status == 200:
            try:
                reply = json.loads(raw)
            except ValueError:
                raise CallFailed(503, "vLLM answered 200 with a body that is not JSON") from None
            check_reply(reply)
            self.successes += 1
            return reply
        message = error_message(raw)
        if status == 429:
            raise CallFailed(429, f"vLLM is overloaded (429): {message}")
        if status >= 500 or status < 400:
            raise CallFailed(503, f"vLLM answered {status}: {message}")
        raise RowRejected(status, message)

    def _release(self) -> None:
        self.in_flight -= 1
        self.slots.release()

    async def model_name(self) -> str:
        """The configured served model name, else the first model vLLM lists (looked up once)."""
        if self.model:
            return self.model
        async with self._model_lock:
            if not self.model:
                ids = await self.list_models()
                if not ids:
                    raise CallFailed(503, "vLLM lists no models yet")
                self.model = ids[0]
        return self.model

    async def list_models(self) -> list[str]:
        timeout = aiohttp.ClientTimeout(total=HEALTH_TIMEOUT_S)
        try:
            async with self.session.get(f"{self.base}/v1/models", timeout=timeout) as resp:
                if resp.status != 200:
                    raise CallFailed(503, f"vLLM /v1/models answered {resp.status}")
                payload = await resp.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as err:
            raise CallFailed(503, f"vLLM /v1/models failed ({type(err).__name__})") from None
        entries = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(entries, list):
            raise CallFailed(503, "vLLM /v1/models answered without a data list")
        return [e["id"] for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str)]

    async def health(self) -> tuple[bool, str, list[str]]:
        """(ready, reason, served models): vLLM /health is 200 and the model is listed."""
        timeout = aiohttp.ClientTimeout(total=HEALTH_TIMEOUT_S)
        try:
            async with self.session.get(f"{self.base}/health", timeout=timeout) as resp:
                if resp.status != 200:
                    return False, f"vLLM /health answered {resp.status}", []
        except (TimeoutError, aiohttp.ClientError) as err:
            return False, f"vLLM /health is unreachable ({type(err).__name__})", []
        try:
            ids = await self.list_models()
        except CallFailed as failure:
            return False, failure.reason, []
        if self.model and self.model not in ids:
            return False, f"model {self.model!r} is not served; vLLM lists {ids}", ids
        if not ids:
            return False, "vLLM lists no models", ids
        return True, "ok", ids


def error_message(raw: bytes) -> str:
    """The human part of an error reply, whichever shape the server used; shortened, redacted."""
    text = raw.decode("utf-8", "replace")
    try:
        payload = json.loads(text)
    except ValueError:
        payload = None
    message: Any = None
    if isinstance(payload, dict):
        inner = payload.get("error")
        if isinstance(inner, dict):
            message = inner.get("message")
        message = message or payload.get("message") or payload.get("detail") or inner
    text = (message if isinstance(message, str) else json.dumps(message)) if message else text
    text = text.strip() or "(empty body)"
    return redact(text if len(text) <= MAX_ERROR_TEXT else text[: MAX_ERROR_TEXT - 3] + "...")


def check_reply(reply: Any) -> None:
    """A 200 reply must carry choices[0].message: anything else is a broken reply (retryable)."""
    try:
        message = reply["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        message = None
    if not isinstance(message, dict):
        raise CallFailed(503, "vLLM answered 200 without choices[0].message")


def completion_text(reply: dict) -> str:
    """The first choice's message content ("" when the model produced none, e.g. only tool calls)."""
    content = reply["choices"][0]["message"].get("content")
    return content if isinstance(content, str) else ""
