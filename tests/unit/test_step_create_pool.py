"""create-pool: --yes gate, summary, existing pools, golden SQL, plan field."""

from __future__ import annotations

import pytest
from snowflake_testkit import prepare_offline, run_step, run_text, use_scenarios, write_plan

from spcs_llm import plan_file
from spcs_llm.snowflake import statements

CREATE_NEW = ("CREATE COMPUTE POOL IF NOT EXISTS NEW_GPU_POOL\n"
              "  MIN_NODES = 1\n"
              "  MAX_NODES = 1\n"
              "  INSTANCE_FAMILY = GPU_NV_M\n"
              "  AUTO_RESUME = TRUE\n"
              "  INITIALLY_SUSPENDED = FALSE\n"
              "  AUTO_SUSPEND_SECS = 3600\n"
              "  COMMENT = 'spcs-llm: Qwen/Qwen2.5-7B-Instruct'")


@pytest.fixture
def offline(monkeypatch, tmp_path):
    return prepare_offline(monkeypatch, tmp_path)


def test_golden_create_statement():
    assert statements.create_compute_pool(name="new_gpu_pool", instance_family="gpu_nv_m", min_nodes=1, max_nodes=1,
                                          auto_suspend_secs=3600,
                                          comment="spcs-llm: Qwen/Qwen2.5-7B-Instruct") == CREATE_NEW


def test_without_yes_prints_summary_and_exits_2(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready")
    plan = write_plan(offline / "deployment.yaml")
    code, out, _ = run_text(capsys, "create-pool", "--name", "new_gpu_pool")
    assert code == 2
    assert CREATE_NEW + ";" in out and "--yes" in out and "2.68 credits/hour per node" in out
    assert "compute_pool" not in (plan_file.load(plan).get("snowflake") or {})
    log = (offline / ".spcs-llm" / "statements.log").read_text()
    assert "refused: --yes not given" in log


def test_with_yes_creates_and_records(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready")
    plan = write_plan(offline / "deployment.yaml")
    code, data, _ = run_step(capsys, "create-pool", "--name", "new_gpu_pool", "--yes")
    assert code == 0 and data["created"] and data["status"] == "Compute Pool NEW_GPU_POOL successfully created."
    assert data["statements"][-1] == CREATE_NEW
    assert plan_file.load(plan)["snowflake"]["compute_pool"] == "NEW_GPU_POOL"


def test_existing_pool_with_same_family_is_reused(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready")
    plan = write_plan(offline / "deployment.yaml", snowflake__compute_pool="LLM_POOL")
    code, data, _ = run_step(capsys, "create-pool")
    assert code == 0 and data["existing"]["state"] == "ACTIVE" and not data["created"]
    assert not any(s.startswith("CREATE") for s in data["statements"])
    assert plan_file.load(plan)["snowflake"]["compute_pool"] == "LLM_POOL"


def test_existing_pool_with_other_family_is_a_no(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready")
    write_plan(offline / "deployment.yaml", selection__instance_family="GPU_NV_S")
    code, out, _ = run_text(capsys, "create-pool", "--name", "LLM_POOL", "--yes")
    assert code == 1 and "INSTANCE_FAMILY GPU_NV_M, not GPU_NV_S" in out


def test_dry_run_prints_without_yes_and_never_connects(offline, capsys):
    write_plan(offline / "deployment.yaml")
    code, data, err = run_step(capsys, "create-pool", "--name", "new_gpu_pool", "--dry-run")
    assert code == 0 and not data["created"] and CREATE_NEW + ";" in err


@pytest.mark.parametrize(("argv", "message"), [
    (["--dry-run"], "no compute pool name"),
    (["--dry-run", "--name", "p", "--min-nodes", "0"], "MIN_NODES must be at least 1"),
    (["--dry-run", "--name", "p", "--min-nodes", "2", "--max-nodes", "1"], "below --min-nodes"),
    (["--dry-run", "--name", "p", "--max-nodes", "0"], "--max-nodes 0 is below --min-nodes 1"),
    (["--dry-run", "--name", "my-pool"], "not a plain Snowflake identifier"),
    (["--dry-run", "--name", "p", "--auto-suspend-secs", "-5"], "use 0 (never) or more"),
])
def test_bad_input_exits_2_with_the_value(offline, capsys, argv, message):
    write_plan(offline / "deployment.yaml")
    from spcs_llm import cli

    assert cli.main(["create-pool", *argv]) == 2
    assert message in capsys.readouterr().err


def test_prompt_asks_for_an_explicit_yes(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready")
    write_plan(offline / "deployment.yaml")
    code, out, _ = run_text(capsys, "create-pool", "--name", "new_gpu_pool", "--format", "prompt")
    assert code == 2 and "STOP" in out and "explicit yes" in out and "| Instance family | GPU_NV_M |" in out


def test_max_nodes_counts_instances_that_share_a_node(offline, monkeypatch, capsys):
    # GPU_NV_M at TP=1 holds 4 replicas per node: 6 instances need 2 nodes, not 6
    use_scenarios(monkeypatch, offline, "aws_ready")
    write_plan(offline / "deployment.yaml", workers__max_instances=6)
    code, out, _ = run_text(capsys, "create-pool", "--name", "new_gpu_pool")
    assert code == 2 and "MAX_NODES = 2\n" in out


def test_an_existing_pool_that_runs_other_services_is_flagged(offline, monkeypatch, capsys):
    """Walk reg1: LLM_POOL (1 node) already ran LLM_SVC; recording it for a 4-GPU deployment said nothing."""
    use_scenarios(monkeypatch, offline, "aws_ready")
    write_plan(offline / "deployment.yaml", snowflake__compute_pool="LLM_POOL")
    code, data, _ = run_step(capsys, "create-pool")
    assert code == 0 and "LLM_POOL already runs 1 service(s) on at most 1 node(s)" in data["shared_warning"]
    assert "stay PENDING" in data["shared_warning"]
    code, out, _ = run_text(capsys, "create-pool", "--dry-run", "--format", "prompt")
    assert "Warning: LLM_POOL already runs 1 service(s)" in out
    assert "SHOW SERVICES IN COMPUTE POOL LLM_POOL" in out
