"""The ingress simulator on 127.0.0.1 in a background thread (its own event loop), so steps that run
their own asyncio.run (endpoint test/bench) and real blocking clients (openai) can talk to it.
Constants and helpers live in rest_testkit.py (import them from there, not from conftest)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))

from ingress_sim import IngressSimulator  # noqa: E402
from rest_testkit import CANARY, NO_GRANT, LoopThread  # noqa: E402


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
