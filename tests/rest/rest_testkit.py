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


class FakeOAuth:
    """Stands in for Snowflake's /oauth/token: records each exchange, answers the next token."""

    def __init__(self, tokens):
        self.tokens, self.posts = list(tokens), []

    RequestException = OSError

    def post(self, url, data, timeout):
        self.posts.append((url, data))
        return type("Answer", (), {"status_code": 200, "text": self.tokens.pop(0), "content": b""})()


def write_private_key(path):
    """A fresh RSA key as an unencrypted PKCS#8 PEM file (what `access token --method keypair` makes)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
    return key
