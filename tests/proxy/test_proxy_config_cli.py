"""Settings from env and flags, the `spcs-llm proxy` step, and the real entrypoint under SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from spcs_llm.cli import main as cli_main
from spcs_llm.errors import SpcsLlmError
from spcs_llm.proxy.config import load_config
from spcs_llm.proxy.fake_backend import FakeBackend
from spcs_llm.redact import redact


def test_flags_override_environment_which_overrides_defaults():
    env = {"PROXY_BACKEND_URL": "http://vllm:8000", "PROXY_CONCURRENCY": "48", "SERVED_MODEL_NAME": "qwen",
           "PROXY_SYNC_BUDGET": "20"}
    config = load_config({"concurrency": 8}, environ=env)
    assert (config.backend_url, config.concurrency, config.model, config.sync_budget) == (
        "http://vllm:8000", 8, "qwen", 20.0)
    assert config.port == 8080 and config.host == "127.0.0.1"
    assert config.pending_limit == 32 * 8
    assert load_config({"backend_url": "http://x:1", "max_pending_rows": 10}, environ={}).pending_limit == 10
    retry = load_config({"row_retries": 2}, environ={**env, "PROXY_ROW_TIMEOUT": "45", "PROXY_ROW_RETRIES": "7"})
    assert (retry.row_timeout, retry.row_retries, retry.max_batch_rows, retry.max_body_mb) == (45.0, 2, 4096, 64.0)


@pytest.mark.parametrize(("overrides", "env", "fragment"), [
    ({}, {}, "no vLLM backend URL"),
    ({"backend_url": "vllm:8000"}, {}, "'vllm:8000' is not valid"),
    ({"backend_url": "http://vllm:8000/v1"}, {}, "has a path"),
    ({"backend_url": "http://v:1", "concurrency": 0}, {}, "concurrency 0 is not valid"),
    ({"backend_url": "http://v:1", "sync_budget": 30}, {}, "sync budget 30.0 is not valid"),
    ({"backend_url": "http://v:1"}, {"PROXY_PORT": "eighty"}, "PROXY_PORT='eighty' is not a valid int"),
    ({"backend_url": "http://v:1", "log_level": "LOUD"}, {}, "log level 'LOUD' is not valid"),
    ({"backend_url": "http://v:1", "row_timeout": 0}, {}, "row timeout 0.0 is not valid; allowed: seconds > 0"),
    ({"backend_url": "http://v:1"}, {"PROXY_ROW_RETRIES": "-1"}, "row retries -1 is not valid; allowed: 0-20"),
    ({"backend_url": "http://v:1", "max_batch_rows": 0}, {}, "max batch rows 0 is not valid"),
    ({"backend_url": "http://v:1", "max_body_mb": 0}, {}, "max body size 0.0 is not valid"),
])
def test_bad_settings_name_the_value_and_what_is_allowed(overrides, env, fragment):
    with pytest.raises(SpcsLlmError) as err:
        load_config(overrides, environ=env)
    assert fragment in str(err.value)


def test_api_key_from_file_is_registered_as_secret_and_hidden(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text("sk-proxy-test-key-123456\n")
    config = load_config({"backend_url": "http://v:1"}, environ={"PROXY_BACKEND_API_KEY_FILE": str(key_file)})
    assert config.backend_api_key == "sk-proxy-test-key-123456"
    assert config.public_dict()["backend_api_key"] == "set"
    assert "sk-proxy" not in json.dumps(config.public_dict())
    assert redact("key sk-proxy-test-key-123456") == "key ****"


def test_step_help_lists_flags_and_env_vars(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["proxy", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for flag, env in (("--backend", "PROXY_BACKEND_URL"), ("--concurrency", "PROXY_CONCURRENCY"),
                      ("--model", "SERVED_MODEL_NAME"), ("--sync-budget", "PROXY_SYNC_BUDGET"),
                      ("--request-timeout", "PROXY_REQUEST_TIMEOUT"), ("--port", "PROXY_PORT"),
                      ("--row-timeout", "PROXY_ROW_TIMEOUT"), ("--row-retries", "PROXY_ROW_RETRIES"),
                      ("--max-batch-rows", "PROXY_MAX_BATCH_ROWS"), ("--max-body-mb", "PROXY_MAX_BODY_MB")):
        assert flag in out and env in out


def test_thin_script_runs_from_any_directory(tmp_path):
    script = Path(__file__).resolve().parents[2] / "scripts" / "proxy.py"
    result = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True,
                            cwd=tmp_path, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "usage: spcs-llm proxy" in result.stdout


def test_step_without_backend_is_a_usage_error(capsys, monkeypatch):
    monkeypatch.delenv("PROXY_BACKEND_URL", raising=False)
    assert cli_main(["proxy", "--json"]) == 2
    assert "no vLLM backend URL" in json.loads(capsys.readouterr().out)["error"]


def _post(url: str, payload: dict, headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return resp.status, json.loads(resp.read())


def _wait_for_port(proc: subprocess.Popen) -> int:
    deadline = time.monotonic() + 15
    lines = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        lines.append(line)
        if "listening on http://" in line:
            return int(line.split("listening on http://")[1].split()[0].rsplit(":", 1)[1])
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"proxy did not start: {''.join(lines)}")


def test_module_entrypoint_serves_logs_per_batch_and_stops_on_sigterm(tmp_path):
    """`python -m spcs_llm.proxy` as the image runs it: env settings, one log line per batch
    without prompt text or keys, exit 0 after SIGTERM."""
    backend = subprocess.Popen([sys.executable, "-m", "spcs_llm.proxy.fake_backend", "--model", "m"],
                               stdout=subprocess.PIPE, text=True)
    try:
        backend_port = int(backend.stdout.readline().split()[1])
        env = {**os.environ, "PROXY_BACKEND_URL": f"http://127.0.0.1:{backend_port}", "PROXY_PORT": "0",
               "SERVED_MODEL_NAME": "m", "PROXY_CONCURRENCY": "4",
               "PROXY_BACKEND_API_KEY": "sk-never-logged-987654"}
        proxy = subprocess.Popen([sys.executable, "-m", "spcs_llm.proxy"], env=env,
                                 stderr=subprocess.PIPE, text=True)
        try:
            port = _wait_for_port(proxy)
            status, body = _post(f"http://127.0.0.1:{port}/complete",
                                 {"data": [[0, "SECRET PROMPT TEXT"], [1, 5]]},
                                 {"sf-external-function-query-batch-id": "q9:b7"})
            assert status == 200 and body["data"][0] == [0, "echo: SECRET PROMPT TEXT"]
            proxy.send_signal(signal.SIGTERM)
            _, err = proxy.communicate(timeout=10)
            assert proxy.returncode == 0
        finally:
            if proxy.poll() is None:
                proxy.kill()
        assert "batch id=q9:b7 rows=2 ok=1 errors=1 status=200" in err
        assert "stopped:" in err
        assert "SECRET PROMPT" not in err and "sk-never-logged" not in err
    finally:
        backend.kill()
        backend.wait()


BLOCK_SNOWFLAKE = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.startswith("snowflake."):
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
"""


def test_proxy_imports_and_runs_without_the_snowflake_libraries():
    code = BLOCK_SNOWFLAKE + (
        "import spcs_llm.proxy.server, spcs_llm.proxy.runner, spcs_llm.proxy.fake_backend, spcs_llm.steps.proxy\n"
        "from spcs_llm.cli import main\n"
        "sys.exit(main(['proxy', '--help']))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "PROXY_BACKEND_URL" in result.stdout
    assert FakeBackend().models == ["fake-model"]


def test_docs_settings_table_lists_every_setting_with_its_default():
    from spcs_llm.proxy.config import SETTINGS, ProxyConfig, flag_name

    doc = (Path(__file__).resolve().parents[2] / "docs" / "proxy.md").read_text()
    defaults = ProxyConfig(backend_url="http://v:1")
    for field, env_var, *_ in SETTINGS:
        rows = [line for line in doc.splitlines() if line.startswith(f"| `{env_var}` | `{flag_name(field)}` |")]
        assert len(rows) == 1, f"docs/proxy.md lacks the settings row for {env_var}"
        value = getattr(defaults, field)
        if isinstance(value, int | float) and value and field != "max_pending_rows":
            assert f"`{value:g}`" in rows[0], (env_var, value)
