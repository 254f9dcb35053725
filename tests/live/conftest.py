"""Live tests: they run only against a Snowflake connection named in SPCS_LLM_LIVE_CONNECTION.

    SPCS_LLM_LIVE_CONNECTION=<name in connections.toml> .venv/bin/pytest tests/live

Without it (CI, most machines) every test here is skipped. Naming the connection explicitly keeps
an ordinary `pytest` run from touching the account of whoever happens to have a default connection.
Tests that create objects use unique SPCS_LLM_LIVE_* names and drop them in a finally block.
"""

from __future__ import annotations

import os
import uuid

import pytest

ENV_LIVE_CONNECTION = "SPCS_LLM_LIVE_CONNECTION"


def _configured() -> tuple[str | None, str]:
    name = os.environ.get(ENV_LIVE_CONNECTION)
    if not name:
        return None, f"set {ENV_LIVE_CONNECTION}=<connection name> to run the live tests"
    from spcs_llm.errors import SpcsLlmError
    from spcs_llm.snowflake.config import resolve_connection

    try:
        resolve_connection(name)
    except SpcsLlmError as err:
        return None, f"{ENV_LIVE_CONNECTION}={name}: {err.message}"
    return name, ""


def pytest_collection_modifyitems(config, items):
    name, reason = _configured()
    for item in items:
        if "tests/live/" in item.nodeid.replace("\\", "/") or item.nodeid.startswith("live/"):
            item.add_marker(pytest.mark.live)
            if name is None:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def live_connection() -> str:
    name, reason = _configured()
    if name is None:
        pytest.skip(reason)
    return name


@pytest.fixture
def live_env(monkeypatch, tmp_path):
    """A clean working folder; no replay or dry-run leftovers from the environment."""
    for var in ("SPCS_LLM_REPLAY_DIR", "SPCS_LLM_RECORD_DIR", "SPCS_LLM_STATEMENT_LOG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def unique_name() -> str:
    return f"SPCS_LLM_LIVE_{uuid.uuid4().hex[:8].upper()}"
