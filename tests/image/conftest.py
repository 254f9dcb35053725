"""Fixtures of the entrypoint tests: a fake model hub over real HTTP (fake_hub.py)."""

from __future__ import annotations

import pytest
from fake_hub import start_hub


@pytest.fixture
def make_hub():
    """make_hub(**FakeHub fields) -> a started FakeHub; every server is stopped after the test."""
    servers = []

    def start(**kwargs):
        hub, server = start_hub(**kwargs)
        servers.append(server)
        return hub

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
