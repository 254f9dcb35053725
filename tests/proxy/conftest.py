"""Run the proxy and the fake vLLM in-process over real HTTP on 127.0.0.1 (ephemeral ports).

pytest-asyncio is not installed: each test drives its own event loop with asyncio.run and uses
the `proxy_stack` fixture, an async context manager factory.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
import pytest

from spcs_llm.proxy.config import load_config
from spcs_llm.proxy.fake_backend import FakeBackend
from spcs_llm.proxy.server import BATCH_ID_HEADER, ProxyServer


@dataclass
class Stack:
    backend: FakeBackend
    proxy: ProxyServer
    session: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.proxy.port}"

    async def post(self, rows, batch_id: str | None = None, raw: bytes | None = None):
        """POST /complete; returns (status, decoded JSON body)."""
        headers = {BATCH_ID_HEADER: batch_id} if batch_id else {}
        kwargs = {"data": raw} if raw is not None else {"json": {"data": rows}}
        async with self.session.post(self.url + "/complete", headers=headers, **kwargs) as resp:
            return resp.status, await resp.json(content_type=None)

    async def poll(self, batch_id: str | None):
        headers = {BATCH_ID_HEADER: batch_id} if batch_id else {}
        async with self.session.get(self.url + "/complete", headers=headers) as resp:
            return resp.status, await resp.json(content_type=None)

    async def get(self, path: str):
        async with self.session.get(self.url + path) as resp:
            return resp.status, await resp.json(content_type=None)

    async def wait_until(self, condition, timeout: float = 5.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not condition():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("condition not reached in time")
            await asyncio.sleep(0.01)


@asynccontextmanager
async def _stack(backend_url: str | None = None, backend: dict | None = None, **settings):
    fake = FakeBackend(**(backend or {}))
    await fake.start()
    # Retries wait milliseconds here, not the production tenth of a second.
    settings = {"retry_backoff": 0.005, **settings}
    config = load_config({"backend_url": backend_url or fake.url, "port": 0, **settings}, environ={})
    proxy = ProxyServer(config)
    await proxy.start()
    session = aiohttp.ClientSession()
    try:
        yield Stack(fake, proxy, session)
    finally:
        await session.close()
        await proxy.stop(grace=1.0)
        await fake.stop()


@pytest.fixture
def proxy_stack():
    return _stack


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def arun():
    """Run one coroutine on a fresh event loop."""
    return run
