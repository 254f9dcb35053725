"""status records the public ingress host in the plan, so `usage` needs no --endpoint flag."""

from __future__ import annotations

import pytest
from snowflake_testkit import prepare_offline, run_step, use_scenarios

from spcs_llm import plan_file

SERVICE = ["--name", "llm_svc", "--database", "llm_db", "--schema", "serving"]
HOST = "https://a1b2c3-myorg-ml-prod.snowflakecomputing.app"


@pytest.fixture
def offline(monkeypatch, tmp_path):
    return prepare_offline(monkeypatch, tmp_path)


def write_plan(path, engine_path):
    plan = plan_file.new_plan("test")
    plan_file.update(plan, "test", {"model.id": "Qwen/Qwen2.5-7B-Instruct", "engine_path": engine_path})
    if engine_path == "registry":  # what deploy-registry records
        plan_file.update(plan, "deploy-registry", {"registry.model_name": "QWEN2_5_7B_INSTRUCT",
                                                   "registry.version_name": "V1"})
    plan_file.save(plan, path)


def test_registry_plan_gets_the_ingress_url(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready")
    write_plan(offline / "deployment.yaml", "registry")
    code, data, _ = run_step(capsys, "status", *SERVICE)
    assert code == 0 and data["endpoint"]["url"] == HOST
    plan = plan_file.load(offline / "deployment.yaml")
    assert plan["registry"]["ingress_url"] == HOST and plan["history"][-1]["step"] == "status"
    code, usage, _ = run_step(capsys, "usage", *SERVICE, "--only", "rest")
    assert code == 0 and "a1b2c3-myorg-ml-prod.snowflakecomputing.app" in str(usage)


def test_other_paths_and_dry_runs_leave_the_plan_alone(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready")
    write_plan(offline / "deployment.yaml", "custom-image")
    before = (offline / "deployment.yaml").read_text()
    assert run_step(capsys, "status", *SERVICE)[0] == 0
    assert run_step(capsys, "status", *SERVICE, "--dry-run")[0] == 0
    assert (offline / "deployment.yaml").read_text() == before
