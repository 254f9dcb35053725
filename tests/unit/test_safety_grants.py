"""Privileges and grants the rendered SQL needs (issue 9 §3): preflight checks what the custom-image
parts create, the CPU pool of the cache job, READ on the HF token secret, BIND SERVICE ENDPOINT only
for a public endpoint; 02_egress.sql keeps grants on a re-run and always grants USAGE; the pool
billing text names the billed states."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from snowflake_testkit import prepare_offline, run_step, use_scenarios, write_plan

from spcs_llm import PACK_ROOT
from spcs_llm.custom_image import render, settings

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "custom_image"


@pytest.fixture
def offline(monkeypatch, tmp_path):
    return prepare_offline(monkeypatch, tmp_path)


def _checks(data: dict) -> dict:
    return {c["id"]: c for c in data["checks"]}


def _preflight(capsys, monkeypatch, workdir, **plan_fields):
    use_scenarios(monkeypatch, workdir, "aws_ready")
    write_plan(workdir / "deployment.yaml", engine_path="custom-image", **plan_fields)
    return run_step(capsys, "preflight", "--grant-to", "DEPLOYERS")


def test_custom_image_needs_stage_network_rule_and_function_privileges(offline, monkeypatch, capsys):
    code, data, _ = _preflight(capsys, monkeypatch, offline)
    checks = _checks(data)
    assert code == 1
    for check_id, privilege in (("create_stage", "CREATE STAGE"), ("create_network_rule", "CREATE NETWORK RULE"),
                                ("create_function", "CREATE FUNCTION")):
        assert checks[check_id]["status"] == "missing" and checks[check_id]["required"]
        assert checks[check_id]["fix"] == [f"GRANT {privilege} ON SCHEMA LLM_DB.SERVING TO ROLE DEPLOYERS;"]


def test_cache_job_pool_missing_needs_create_compute_pool_existing_needs_usage(offline, monkeypatch, capsys):
    _, data, _ = _preflight(capsys, monkeypatch, offline)
    cpu = _checks(data)["create_cpu_pool"]
    assert cpu["required"] and "SPCS_LLM_CPU_POOL" in cpu["detail"] and cpu["title"] == "CREATE COMPUTE POOL on ACCOUNT"
    _, data, _ = _preflight(capsys, monkeypatch, offline, custom_image__cache_job_pool="CPU_POOL")
    checks = _checks(data)
    assert "create_cpu_pool" not in checks and checks["usage_cpu_pool"]["fix"] == [
        "GRANT USAGE ON COMPUTE POOL CPU_POOL TO ROLE DEPLOYERS;"]


def test_bind_service_endpoint_is_required_only_for_a_public_custom_image_endpoint(offline, monkeypatch, capsys):
    _, data, _ = _preflight(capsys, monkeypatch, offline)
    assert not _checks(data)["bind_service_endpoint"]["required"]
    _, data, _ = _preflight(capsys, monkeypatch, offline, custom_image__public_endpoint=True)
    assert _checks(data)["bind_service_endpoint"]["required"]


def test_hf_secret_needs_read_for_the_service_owner_role(offline, monkeypatch, capsys):
    _, data, _ = _preflight(capsys, monkeypatch, offline, custom_image__hf_secret="HF_TOKEN")
    check = _checks(data)["read_secret"]
    assert check["status"] == "missing" and check["required"] and check["title"] == \
        "READ on SECRET LLM_DB.SERVING.HF_TOKEN"
    assert check["fix"] == ["GRANT READ ON SECRET LLM_DB.SERVING.HF_TOKEN TO ROLE DEPLOYERS;"]


def test_registry_hf_secret_is_checked_too(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready")
    write_plan(offline / "deployment.yaml", registry__hf_secret="OTHER.HF_TOKEN")
    _, data, _ = run_step(capsys, "preflight", "--grant-to", "DEPLOYERS")
    assert _checks(data)["read_secret"]["fix"] == ["GRANT READ ON SECRET LLM_DB.OTHER.HF_TOKEN TO ROLE DEPLOYERS;"]


def _egress(case: str, **snowflake) -> str:
    plan = yaml.safe_load((GOLDEN / case / "plan.yaml").read_text())
    plan["snowflake"].update(snowflake)
    plan["snowflake"] = {k: v for k, v in plan["snowflake"].items() if v is not None}
    return render.render_all(settings.resolve(plan))["02_egress.sql"]


@pytest.mark.parametrize("case", ["tp1_gpu_nv_s", "china_mirror_modelscope"])
def test_egress_never_replaces_the_integration_and_always_grants(case):
    sql = _egress(case)
    statements = render.statements(sql)
    assert "OR REPLACE" not in sql
    assert statements[0].startswith("CREATE EXTERNAL ACCESS INTEGRATION IF NOT EXISTS ")
    assert statements[1].startswith("ALTER EXTERNAL ACCESS INTEGRATION ") and "SET" in statements[1]
    assert re.fullmatch(r"GRANT USAGE ON INTEGRATION \w+ TO ROLE \w+;?", statements[2].strip())


def test_egress_grant_names_a_placeholder_role_when_none_is_recorded():
    sql = _egress("tp1_gpu_nv_s", role=None)
    assert sql.rstrip().endswith("TO ROLE SPCS_LLM_ROLE;")
    assert "replace it if that role has another name" in sql


BILLED = re.compile(r"IDLE, ACTIVE, STOPPING (or|and) RESIZING", re.I)


def test_pool_billing_text_names_every_billed_state():
    texts = {
        "create-pool prompt": (PACK_ROOT / "prompts" / "create_pool_summary.j2").read_text(),
        "plan prompt": (PACK_ROOT / "prompts" / "plan_summary.j2").read_text(),
        "custom summary": (PACK_ROOT / "prompts" / "deployment_summary_custom.j2").read_text(),
        "create-pool step": (PACK_ROOT / "scripts" / "spcs_llm" / "steps" / "create_pool.py").read_text(),
        "docs/account.md": (PACK_ROOT / "docs" / "account.md").read_text(),
        "choose-hardware": (PACK_ROOT / "skills" / "spcs-llm" / "choose-hardware" / "SKILL.md").read_text(),
    }
    for where, text in texts.items():
        flat = " ".join(text.split())
        assert BILLED.search(flat), where
        assert "IDLE or ACTIVE" not in flat, where


def test_create_pool_summary_says_starting_and_suspended_are_not_billed(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready")
    write_plan(offline / "deployment.yaml", snowflake__compute_pool="NEW_GPU_POOL")
    code, data, _ = run_step(capsys, "create-pool", "--dry-run")
    from spcs_llm.prompts import render_prompt

    text = " ".join(render_prompt("create_pool_summary", **data).split())
    assert BILLED.search(text) and "not while STARTING or SUSPENDED" in text, json.dumps(data)[:300]


def test_python_server_records_num_workers_and_the_script_leaves_out_engine_options(offline, capsys):
    from spcs_llm import plan_file

    assert run_step(capsys, "plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--max-model-len", "8192")[0] == 0
    assert run_step(capsys, "select", "--family", "GPU_NV_M")[0] == 0
    code, data, err = run_step(capsys, "workers", "--engine", "registry", "--server", "python", "--num-workers", "2",
                               "--confirm")
    assert code == 0, err
    plan = plan_file.load(offline / "deployment.yaml")
    assert plan_file.get(plan, "workers.server") == "python" and plan_file.get(plan, "workers.num_workers") == 2
    plan_file.update(plan, "test", {"snowflake.database": "LLM_DB", "snowflake.schema": "SERVING",
                                    "snowflake.compute_pool": "LLM_POOL", "snowflake.service_name": "LLM_SVC"})
    plan_file.save(plan, offline / "deployment.yaml")
    code, data, err = run_step(capsys, "deploy-registry")
    assert code == 0, err
    kwargs = data["create_service"]
    assert kwargs["num_workers"] == 2 and "inference_engine_options" not in kwargs
    script = Path(data["script_path"]).read_text()
    assert "num_workers=NUM_WORKERS" in script and "inference_engine_options=" not in script


def test_vllm_keeps_its_engine_options(offline, capsys):
    run_step(capsys, "plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--max-model-len", "8192")
    run_step(capsys, "select", "--family", "GPU_NV_M")
    run_step(capsys, "workers", "--engine", "registry", "--confirm")
    from spcs_llm import plan_file

    plan = plan_file.load(offline / "deployment.yaml")
    assert plan_file.get(plan, "workers.server") == "vllm"
    plan_file.update(plan, "test", {"snowflake.database": "LLM_DB", "snowflake.schema": "SERVING",
                                    "snowflake.compute_pool": "LLM_POOL", "snowflake.service_name": "LLM_SVC"})
    plan_file.save(plan, offline / "deployment.yaml")
    _, data, _ = run_step(capsys, "deploy-registry")
    assert data["create_service"]["inference_engine_options"]["engine"] == "vllm"
