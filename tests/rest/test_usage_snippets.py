"""The usage step's OpenAI SDK, requests and curl snippets, run against the ingress simulator: the
Snowflake header reaches the ingress, the model name is the one it serves, the token comes from the
env var or the file (never the snippet text)."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess

import pytest
from rest_testkit import CANARY
from snowflake_testkit import prepare_offline

from spcs_llm import cli, plan_file

MODEL_NAME = "qwen2_5_7b_instruct"  # registered lower case: the OpenAI model is the upper-case name


def _plan(tmp_path, engine="registry", **fields):
    plan = plan_file.new_plan("test")
    plan["model"] = {"id": "Qwen/Qwen2.5-7B-Instruct"}
    changes = {"engine_path": engine, **fields}
    if engine == "registry":
        changes.update({"registry.source": "remote", "registry.model_name": MODEL_NAME,
                        "registry.service_fqn": "LLM_DB.SERVING.LLM_SVC"})
    plan_file.update(plan, "test", changes)
    plan_file.save(plan, tmp_path / "deployment.yaml")


def _usage(capsys, *argv) -> dict:
    assert cli.main(["usage", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _local(snippet: str, sim) -> str:
    """The snippet pointed at the simulator (plain http on 127.0.0.1)."""
    return snippet.replace("https://", "http://")


def _run_python(code: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<snippet>", "exec"), {"__name__": "__snippet__"})
    return out.getvalue()


@pytest.fixture
def offline(monkeypatch, tmp_path):
    prepare_offline(monkeypatch, tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def test_registry_openai_snippet_calls_the_v1_route_with_the_snowflake_header(offline, capsys, simulator,
                                                                              monkeypatch):
    sim = simulator(model=MODEL_NAME.upper())
    _plan(offline)
    data = _usage(capsys, "--endpoint", f"127.0.0.1:{sim.port}")
    assert data["openai_model"] == "QWEN2_5_7B_INSTRUCT"
    snippet = data["snippets"]["openai"]
    assert 'base_url=f"https://{ENDPOINT}/v1"' in snippet and "extra_headers=" in snippet
    assert CANARY not in snippet
    monkeypatch.setenv("SNOWFLAKE_PAT", CANARY)
    answer = _run_python(_local(snippet, sim))
    assert answer.strip()
    assert sim.seen[-1]["path"] == "/v1/chat/completions"
    assert sim.seen[-1]["authorization"] == f'Snowflake Token="{CANARY}"'


def test_openai_snippet_streams_and_takes_the_env_var_before_the_file(offline, capsys, simulator, monkeypatch):
    """Walk rest1: for an application on a server (token in the service's environment) the snippet
    read only the token file, and did not stream although the ingress cuts a silent connection at 90 s."""
    sim = simulator(model=MODEL_NAME.upper())
    _plan(offline, **{"rest.pat_file": str(offline / "missing.pat")})  # the env var must win
    snippet = _usage(capsys, "--endpoint", f"127.0.0.1:{sim.port}")["snippets"]["openai"]
    assert "stream=True" in snippet and CANARY not in snippet
    monkeypatch.setenv("SNOWFLAKE_PAT", CANARY)
    assert _run_python(_local(snippet, sim)).strip().startswith("tok0")
    assert sim.seen[-1]["body"]["stream"] is True
    assert sim.seen[-1]["authorization"] == f'Snowflake Token="{CANARY}"'


def test_custom_image_snippets_read_the_token_file(offline, capsys, simulator, monkeypatch):
    sim = simulator(model="Qwen/Qwen2.5-7B-Instruct")
    token = offline / "svc.pat"
    token.write_text(CANARY + "\n")
    token.chmod(0o600)
    _plan(offline, engine="custom-image", **{"rest.pat_file": str(token), "custom_image.public_endpoint": True})
    data = _usage(capsys, "--endpoint", f"127.0.0.1:{sim.port}")
    assert set(data["snippets"]) == {"openai", "requests", "curl", "gateway"}
    assert data["pat_source"] == f"file {token}"
    for key in ("openai", "requests"):
        assert CANARY not in data["snippets"][key]
        assert _run_python(_local(data["snippets"][key], sim)).strip()
        assert sim.seen[-1]["authorization"] == f'Snowflake Token="{CANARY}"'
    assert f"--pat-file {token}" in data["snippets"]["gateway"]
    # walk gw1: on a machine without the plan the gateway maps the model only when told
    assert f"--pat-file {token} --model Qwen/Qwen2.5-7B-Instruct\n" in data["snippets"]["gateway"]
    if shutil.which("curl"):
        result = subprocess.run(["bash", "-c", _local(data["snippets"]["curl"], sim)], capture_output=True,
                                text=True, timeout=30)
        assert result.returncode == 0 and json.loads(result.stdout)["choices"]
        assert sim.seen[-1]["authorization"] == f'Snowflake Token="{CANARY}"'


def test_custom_image_without_public_endpoint_says_so(offline, capsys):
    _plan(offline, engine="custom-image")
    data = _usage(capsys)
    assert any("--public-endpoint" in n for n in data["notes"])
    assert data["endpoint"] is None and "$SPCS_LLM_ENDPOINT" in data["snippets"]["curl"]


def test_only_refuses_a_snippet_of_the_other_path(offline, capsys):
    _plan(offline, engine="custom-image")
    assert cli.main(["usage", "--only", "sql", "--json"]) == 2
    assert "custom-image path" in json.loads(capsys.readouterr().out)["error"]
