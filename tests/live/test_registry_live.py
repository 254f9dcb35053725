"""The registry path on a real account: render, start in the background, wait for the script,
call the service with the SQL that `spcs-llm usage` prints, then drop the service and the model.

It costs GPU credits, so besides SPCS_LLM_LIVE_CONNECTION it needs an existing GPU pool and a
schema you can create models and services in:

    SPCS_LLM_LIVE_CONNECTION=<name> SPCS_LLM_LIVE_GPU_POOL=<pool> \\
    SPCS_LLM_LIVE_DATABASE=<db> SPCS_LLM_LIVE_SCHEMA=<schema> .venv/bin/pytest tests/live/test_registry_live.py

SPCS_LLM_LIVE_MODEL picks the model (default Qwen/Qwen2.5-0.5B-Instruct: small, ungated, chat).
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from spcs_llm import cli, plan_file
from spcs_llm.render.identifiers import qualified_name

DEPLOY_TIMEOUT_S = 60 * 60
ANSWER_TIMEOUT_S = 15 * 60


def _required_env() -> dict[str, str]:
    names = {"pool": "SPCS_LLM_LIVE_GPU_POOL", "database": "SPCS_LLM_LIVE_DATABASE", "schema": "SPCS_LLM_LIVE_SCHEMA"}
    missing = [var for var in names.values() if not os.environ.get(var)]
    if missing:
        pytest.skip("the registry live test creates a GPU service; set " + ", ".join(missing))
    return {key: os.environ[var] for key, var in names.items()}


def _small_plan(path) -> None:
    plan = plan_file.new_plan("live-test")
    plan["model"] = {"id": os.environ.get("SPCS_LLM_LIVE_MODEL", "Qwen/Qwen2.5-0.5B-Instruct")}
    plan["selection"] = {"instance_family": "GPU_NV_S", "gpu_count": 1, "tensor_parallel_size": 1,
                         "max_model_len": 2048, "gpu_memory_utilization": 0.85}
    plan["workers"] = {"gpu_requests": 1, "tensor_parallel_size": 1, "min_instances": 1, "max_instances": 1}
    plan_file.save(plan, path)


def _session(connection: str):
    from spcs_llm.snowflake.config import resolve_connection
    from spcs_llm.snowflake.session import create_session

    return create_session(resolve_connection(connection))


def test_deploy_call_and_tear_down(live_connection, live_env, unique_name, capsys):
    target = _required_env()
    _small_plan(live_env / "deployment.yaml")
    model_name = f"{unique_name}_MODEL"
    service_fqn = qualified_name(f"{target['database']}.{target['schema']}.{unique_name}", parts=(3,))
    argv = ["deploy-registry", "--connection", live_connection, "--database", target["database"],
            "--schema", target["schema"], "--compute-pool", target["pool"], "--name", unique_name,
            "--model-name", model_name, "--json"]
    session = _session(live_connection)
    pid = None
    try:
        assert cli.main([*argv, "--execute", "--yes"]) == 0
        data = json.loads(capsys.readouterr().out)
        pid, result_path = data["pid"], data["result_path"]
        deadline = time.monotonic() + DEPLOY_TIMEOUT_S
        while not os.path.exists(result_path) and time.monotonic() < deadline:
            time.sleep(20)
        assert os.path.exists(result_path), f"no result after {DEPLOY_TIMEOUT_S}s; see {data['log_path']}"
        result = json.loads(open(result_path, encoding="utf-8").read())
        if result["status"] == "refused":
            pytest.skip(f"the connection's role cannot create services: {result['error']}")
        assert result["status"] == "deployed", f"{result}; log: {open(data['log_path']).read()[-3000:]}"

        assert cli.main(["usage", "--only", "sql", "--json"]) == 0
        usage = json.loads(capsys.readouterr().out)
        assert usage["signature"]["verified"], "the script should have recorded the model's signature"
        single = usage["snippets"]["sql"].split("\n\n-- Many questions")[0]
        answer, last_error = None, None
        deadline = time.monotonic() + ANSWER_TIMEOUT_S
        while answer is None and time.monotonic() < deadline:
            try:  # RUNNING is not "model loaded": retry while vLLM loads the weights
                answer = session.sql(single).collect()[0][0]
            except Exception as err:  # noqa: BLE001 - any error here is retried, then reported
                last_error = err
                time.sleep(30)
        assert answer, f"no answer within {ANSWER_TIMEOUT_S}s: {last_error}"
    finally:
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        session.sql(f"DROP SERVICE IF EXISTS {service_fqn}").collect()
        from snowflake.ml.registry import Registry

        registry = Registry(session=session, database_name=target["database"], schema_name=target["schema"])
        try:
            registry.delete_model(model_name)
        except Exception as err:  # noqa: BLE001 - the model may never have been created
            print(f"model {model_name} not deleted: {err}")
        session.close()
