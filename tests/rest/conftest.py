"""The ingress simulator on 127.0.0.1 in a background thread (its own event loop), so steps that run
their own asyncio.run (endpoint test/bench) and real blocking clients (openai) can talk to it."""

from __future__ import annotations

import asyncio
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))

from ingress_sim import IngressSimulator  # noqa: E402

CANARY = "canary-pat-5f0e1d2c3b4a-DO-NOT-PRINT"
NO_GRANT = "canary-nogrant-9a8b7c6d5e4f"


class LoopThread:
    """An event loop in a daemon thread; run(coro) waits for the coroutine's result."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 10.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


@pytest.fixture
def loop_thread():
    thread = LoopThread()
    yield thread
    thread.close()


@pytest.fixture
def simulator(loop_thread):
    """A factory: simulator(**settings) starts one (tokens: CANARY granted, NO_GRANT not)."""
    started = []

    def make(**settings) -> IngressSimulator:
        sim = IngressSimulator({CANARY: True, NO_GRANT: False}, **settings)
        loop_thread.run(sim.start())
        started.append(sim)
        return sim

    yield make
    for sim in started:
        loop_thread.run(sim.stop())


@contextmanager
def serving(loop_thread, server, **start):
    """Start an aiohttp-based server object (start/stop coroutines) in the loop thread."""
    loop_thread.run(server.start(**start))
    try:
        yield server
    finally:
        loop_thread.run(server.stop())
