"""Shared helpers of the REST tests (imported by name: several test folders have a conftest.py,
so `from conftest import ...` would pick whichever was loaded first)."""

from __future__ import annotations

import asyncio
import threading
from contextlib import contextmanager

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


@contextmanager
def serving(loop_thread, server, **start):
    """Start an aiohttp-based server object (start/stop coroutines) in the loop thread."""
    loop_thread.run(server.start(**start))
    try:
        yield server
    finally:
        loop_thread.run(server.stop())
