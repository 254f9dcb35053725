"""The rendered script run end to end against a stand-in `snowflake` package (no account): the
order of the calls, the refusal as ACCOUNTADMIN before anything is created, reuse of an already
registered version, clear failures with their exit codes, the result file, and a redacted log."""

from __future__ import annotations

import pytest
from registry_testkit import FAKE_HF_TOKEN, golden_cases, make_plan, make_snapshot, run_rendered, write_fake_snowflake

from spcs_llm.registry.script import write_script
from spcs_llm.registry.spec import Choices, build_spec


@pytest.fixture
def fake(tmp_path):
    return write_fake_snowflake(tmp_path / "fake")


def _script(tmp_path, name="tp1_gpu_nv_s", plan=None, choices=None):
    if plan is None:
        plan, choices = golden_cases()[name]
    spec = build_spec(plan, "deployment.yaml", choices or Choices())
    paths, _ = write_script(spec, tmp_path / "out")
    return paths.script, spec


def _names(calls):
    return [c["call"] for c in calls]


def test_remote_route_registers_then_creates_the_service(tmp_path, fake):
    script, spec = _script(tmp_path)
    proc, calls, result, log = run_rendered(script, fake, tmp_path, {})
    assert proc.returncode == 0, log.read_text()
    names = _names(calls)
    assert names.index("builder.config") < names.index("log_model") < names.index("create_service")
    assert calls[0]["kwargs"] == {"key": "connection_name", "value": "llm"}
    assert {"call": "use_warehouse", "kwargs": {"name": "ML_WH"}} in calls
    pipeline = next(c for c in calls if c["call"] == "TransformersPipeline")["kwargs"]
    assert pipeline == {"model": "Qwen/Qwen2.5-7B-Instruct", "task": "text-generation",
                        "compute_pool_for_log": "SYSTEM_COMPUTE_POOL_CPU"}
    created = next(c for c in calls if c["call"] == "create_service")["kwargs"]
    assert created["service_name"] == "ML.LLMS.QWEN_SVC" and created["gpu_requests"] == 1
    assert created["inference_engine_options"] == {"engine": "vllm", "engine_args_override": spec.engine_args}
    assert result["status"] == "deployed" and result["exit_code"] == 0
    assert result["functions"] == [{"name": "__CALL__", "inputs": ["messages"],
                                    "params": ["temperature", "max_completion_tokens"], "object_content": True}]
    assert result["services"][0]["name"] == "ML.LLMS.QWEN_SVC"
    text = log.read_text()
    assert "PHASE register" in text and "PHASE create_service" in text and "DONE" in text


def test_accountadmin_is_refused_before_anything_is_created(tmp_path, fake):
    script, _ = _script(tmp_path)
    proc, calls, result, log = run_rendered(script, fake, tmp_path, {"role": "ACCOUNTADMIN"})
    assert proc.returncode == 2
    assert not {"Registry", "log_model", "create_service"} & set(_names(calls))
    assert result["status"] == "refused" and "ACCOUNTADMIN" in result["error"]
    assert "ACCOUNTADMIN" in log.read_text()


def test_an_already_registered_version_is_reused(tmp_path, fake):
    script, _ = _script(tmp_path)
    proc, calls, result, log = run_rendered(script, fake, tmp_path, {"existing": True})
    assert proc.returncode == 0, log.read_text()
    assert "log_model" not in _names(calls) and "create_service" in _names(calls)
    assert "already registered; reusing it" in log.read_text()


def test_existing_service_fails_with_a_pointer_to_service_check(tmp_path, fake):
    script, _ = _script(tmp_path)
    scenario = {"create_error": "SQL compilation error: Object 'QWEN_SVC' already exists. (100132)"}
    proc, _, result, log = run_rendered(script, fake, tmp_path, scenario)
    assert proc.returncode == 1
    assert result["status"] == "failed" and result["phase"] == "create_service"
    assert "already exists" in result["error"] and "service-check" in result["hint"]
    assert "FAILED in phase create_service" in log.read_text()


def test_client_timeout_points_to_status_wait(tmp_path, fake):
    script, _ = _script(tmp_path)
    scenario = {"create_error": "Model service deployment failed: Timeout waiting for service X to reach "
                                "status RUNNING after 30 minutes"}
    proc, _, result, _ = run_rendered(script, fake, tmp_path, scenario)
    assert proc.returncode == 1 and "status --wait" in result["hint"]


def test_unexpected_error_is_logged_with_a_traceback(tmp_path, fake):
    script, _ = _script(tmp_path)
    proc, _, result, log = run_rendered(script, fake, tmp_path, {"create_error": "boom"})
    assert proc.returncode == 1 and result["error"] == "RuntimeError: boom"
    assert "Traceback" in log.read_text()


def test_login_failure_exits_3(tmp_path, fake):
    script, _ = _script(tmp_path)
    proc, calls, result, _ = run_rendered(script, fake, tmp_path, {"login_error": "Incorrect username or password"})
    assert proc.returncode == 3 and result["phase"] == "connect"
    assert "create_service" not in _names(calls)


def test_the_log_and_result_are_redacted(tmp_path, fake):
    script, _ = _script(tmp_path)
    proc, _, result, log = run_rendered(script, fake, tmp_path, {"leak": FAKE_HF_TOKEN})
    assert proc.returncode == 0
    assert FAKE_HF_TOKEN not in log.read_text() and FAKE_HF_TOKEN not in proc.stdout + proc.stderr
    assert "token=****" in log.read_text()


def test_run_by_hand_echoes_to_the_terminal_and_the_log(tmp_path, fake):
    script, _ = _script(tmp_path)
    proc, _, _, log = run_rendered(script, fake, tmp_path, {})
    assert "PHASE connect" in proc.stderr and "PHASE connect" in log.read_text()


def test_secret_route_passes_only_the_secret_name(tmp_path, fake):
    script, _ = _script(tmp_path, "tp4_gpu_nv_m")
    proc, calls, _, _ = run_rendered(script, fake, tmp_path, {})
    assert proc.returncode == 0
    pipeline = next(c for c in calls if c["call"] == "TransformersPipeline")["kwargs"]
    assert pipeline["token_or_secret"] == "ML.LLMS.HF_TOKEN_SECRET"
    created = next(c for c in calls if c["call"] == "create_service")["kwargs"]
    assert (created["min_instances"], created["max_instances"], created["gpu_requests"]) == (0, 2, 4)


def test_snapshot_route_uploads_the_folder_with_the_chat_signature(tmp_path, fake):
    snap = make_snapshot(tmp_path / "snap")
    script, _ = _script(tmp_path, plan=make_plan(), choices=Choices(snapshot_dir=str(snap)))
    proc, calls, _, log = run_rendered(script, fake, tmp_path, {})
    assert proc.returncode == 0, log.read_text()
    logged = next(c for c in calls if c["call"] == "log_model")["kwargs"]
    assert logged["snapshot"] == str(snap)
    assert logged["signatures"] == {"__call__": "chat-with-params"}
    assert logged["options"] == {"cuda_version": "12.4"}


def test_pre_logged_route_uses_the_default_version_and_logs_nothing(tmp_path, fake):
    script, _ = _script(tmp_path, "pre_logged")
    proc, calls, result, log = run_rendered(script, fake, tmp_path, {"route": "pre-logged"})
    assert proc.returncode == 0, log.read_text()
    assert {"call": "Registry", "kwargs": {"database_name": "SNOWFLAKE", "schema_name": "MODELS"}} in calls
    assert {"call": "get_model", "kwargs": {"name": '"TINYLLAMA-1.1B-CHAT-V1.0-20260902"'}} in calls
    assert "default" in _names(calls) and "log_model" not in _names(calls)
    assert result["version"] == "V_DEFAULT"


def test_a_missing_pool_is_refused_before_anything_is_created(tmp_path, fake):
    script, _ = _script(tmp_path)
    proc, calls, result, _ = run_rendered(script, fake, tmp_path, {"pools": []})
    assert proc.returncode == 2 and result["phase"] == "pool" and "does not exist" in result["error"]
    assert not {"Registry", "log_model", "create_service"} & set(_names(calls))
    assert "create-pool" in result["hint"]


def test_a_pool_of_another_family_is_refused(tmp_path, fake):
    # the plan was sized for GPU_NV_S (one A10G); a pool of another family is not what was sized
    script, spec = _script(tmp_path)
    pools = [{"name": spec.compute_pool, "instance_family": "GPU_NV_XS", "state": "IDLE"},
             {"name": spec.compute_pool + "X", "instance_family": spec.instance_family, "state": "IDLE"}]
    proc, calls, result, _ = run_rendered(script, fake, tmp_path, {"pools": pools})
    assert proc.returncode == 2 and f"sized for {spec.instance_family}" in result["error"]
    assert "create_service" not in _names(calls)
    query = next(c for c in calls if c["call"] == "sql")["kwargs"]["query"]
    assert query == f"SHOW COMPUTE POOLS LIKE '{spec.compute_pool}'"
