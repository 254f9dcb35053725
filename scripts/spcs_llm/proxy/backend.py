"""The proxy's only way to vLLM: one shared keep-alive aiohttp session, one process-wide semaphore.

Failures are sorted here by what retrying can fix. vLLM down, 5xx, timeouts and broken replies
raise BatchFailure(503): Snowflake retries 503 batches. 429 from vLLM raises BatchFailure(429).
Any other 4xx is about that one row (prompt too long, bad parameter): RowRejected, which the
caller turns into a per-row error value, because sending the same row again cannot help.
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


class BatchFailure(Exception):
    """The whole batch must fail with this HTTP status so that Snowflake retries it."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


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
        self.semaphore: asyncio.Semaphore | None = None
        self.session: aiohttp.ClientSession | None = None
        self._auth = {"Authorization": f"Bearer {config.backend_api_key}"} if config.backend_api_key else {}
        self._model_lock: asyncio.Lock | None = None

    async def start(self) -> None:
        """Create the semaphore and the session inside the running loop."""
        self.semaphore = asyncio.Semaphore(self.concurrency)
        self._model_lock = asyncio.Lock()
        # Pass-through and health calls share the session: room for them beside the row calls.
        connector = aiohttp.TCPConnector(limit=self.concurrency + 256, keepalive_timeout=75)
        self.session = aiohttp.ClientSession(connector=connector, headers=self._auth)

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    async def chat(self, body: dict) -> dict:
        """One /v1/chat/completions call, bounded by the semaphore. Returns the parsed reply."""
        if "model" not in body:
            body = {**body, "model": await self.model_name()}
        timeout = aiohttp.ClientTimeout(total=self.request_timeout)
        async with self.semaphore:
            try:
                async with self.session.post(f"{self.base}/v1/chat/completions", json=body,
                                             timeout=timeout) as resp:
                    status, raw = resp.status, await resp.read()
            except TimeoutError:
                raise BatchFailure(503, f"vLLM did not answer within {self.request_timeout:g} s") from None
            except aiohttp.ClientError as err:
                raise BatchFailure(503, f"vLLM is unreachable ({type(err).__name__})") from None
        if status == 200:
            try:
                return json.loads(raw)
            except ValueError:
                raise BatchFailure(503, "vLLM answered 200 with a body that is not JSON") from None
        message = error_message(raw)
        if status == 429:
            raise BatchFailure(429, f"vLLM is overloaded (429): {message}")
        if status >= 500 or status < 400:
            raise BatchFailure(503, f"vLLM answered {status}: {message}")
        raise RowRejected(status, message)

    async def model_name(self) -> str:
        """The configured served model name, else the first model vLLM lists (looked up once)."""
        if self.model:
            return self.model
        async with self._model_lock:
            if not self.model:
                ids = await self.list_models()
                if not ids:
                    raise BatchFailure(503, "vLLM lists no models yet")
                self.model = ids[0]
        return self.model

    async def list_models(self) -> list[str]:
        timeout = aiohttp.ClientTimeout(total=HEALTH_TIMEOUT_S)
        try:
            async with self.session.get(f"{self.base}/v1/models", timeout=timeout) as resp:
                if resp.status != 200:
                    raise BatchFailure(503, f"vLLM /v1/models answered {resp.status}")
                payload = await resp.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as err:
            raise BatchFailure(503, f"vLLM /v1/models failed ({type(err).__name__})") from None
        entries = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(entries, list):
            raise BatchFailure(503, "vLLM /v1/models answered without a data list")
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
        except BatchFailure as failure:
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


def completion_text(reply: Any) -> str:
    """The first choice's message content ("" when the model produced none, e.g. only tool calls)."""
    try:
        content = reply["choices"][0]["message"].get("content")
    except (KeyError, IndexError, TypeError, AttributeError):
        raise BatchFailure(503, "vLLM answered 200 without choices[0].message") from None
    return content if isinstance(content, str) else ""
