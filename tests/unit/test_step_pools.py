"""pools: live families joined with pools, catalog disagreements, plan verdicts, live facts recorded."""

from __future__ import annotations

import pytest
from snowflake_testkit import prepare_offline, run_step, run_text, use_scenarios, write_plan

from spcs_llm import plan_file
from spcs_llm.catalog import same_gpu


@pytest.fixture
def offline(monkeypatch, tmp_path):
    return prepare_offline(monkeypatch, tmp_path)


def test_families_pools_and_plan_verdicts(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready")
    plan = write_plan(offline / "deployment.yaml", snowflake__region="AWS_US_WEST_2")
    code, data, _ = run_step(capsys, "pools")
    assert code == 0, data["problems"]
    assert [f["name"] for f in data["families"]] == ["GPU_NV_S", "GPU_NV_M"]  # CPU families need --all
    nv_m = next(f for f in data["families"] if f["name"] == "GPU_NV_M")
    assert (nv_m["gpu"], nv_m["gpu_count"], nv_m["gpu_memory_gib"]) == ("NVIDIA A10G", 4, 24)
    assert nv_m["disagreements"] == [] and nv_m["plan"]["tensor_parallel_size"] == 1
    assert data["fitting_pools"] == ["LLM_POOL"]
    assert "GPU_NV_L" in data["catalog_families_not_offered"]
    saved = plan_file.load(plan)
    assert saved["snowflake"]["live_instance_family"] == {
        "name": "GPU_NV_M", "gpu": "NVIDIA A10G", "gpu_count": 4, "gpu_memory_gib": 24, "vcpu": 44, "memory_gib": 178}


def test_all_lists_cpu_families(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready")
    _, data, _ = run_step(capsys, "pools", "--all", "--cloud", "aws")
    assert "CPU_X64_S" in [f["name"] for f in data["families"]]


def test_china_disagreement_is_reported_and_blocks_the_selection(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready", "china")
    plan = write_plan(offline / "deployment.yaml", snowflake__region="AWS_CN_NORTHWEST_1",
                      selection__instance_family="GPU_NV_S", selection__gpu_count=1)
    code, data, _ = run_step(capsys, "pools")
    assert code == 1
    nv_s = data["families"][0]
    assert nv_s["gpu"] == "NVIDIA T4" and nv_s["catalog"]["gpu"] == "A10G"
    assert any("T4" in d and "A10G" in d for d in nv_s["disagreements"])
    assert any("16 GiB per GPU, the plan was sized for 24" in p for p in data["problems"])
    # the fix named is the one that re-ranks on the live numbers, not a raw sizing call
    assert any("spcs-llm plan --replan" in p and "size --gpu-memory-gib" not in p for p in data["problems"])
    # the live facts are recorded even so: the re-plan needs them
    assert plan_file.load(plan)["snowflake"]["live_instance_family"]["gpu_memory_gib"] == 16


def test_selected_family_not_offered(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready")
    write_plan(offline / "deployment.yaml", selection__instance_family="GPU_NV_L")
    code, data, _ = run_step(capsys, "pools")
    assert code == 1 and "GPU_NV_L is not offered" in data["problems"][0]
    assert "GPU_NV_M" in data["problems"][0]


def test_prompt_is_the_pool_choice_checkpoint(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready")
    write_plan(offline / "deployment.yaml")
    code, out, _ = run_text(capsys, "pools", "--format", "prompt")
    assert code == 0 and "STOP" in out and "| GPU_NV_M | 4x NVIDIA A10G | 24 | 1 | 4 | 2.68 |" in out
    assert "| LLM_POOL | ACTIVE | GPU_NV_M |" in out


def test_text_table(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready")
    code, out, _ = run_text(capsys, "pools")
    assert code == 0 and "FAMILY" in out and "LLM_POOL" in out and "GPU_NV_M" in out


def test_dry_run_reads_nothing_and_writes_nothing(offline, capsys):
    plan = write_plan(offline / "deployment.yaml")
    before = plan.read_text()
    code, data, err = run_step(capsys, "pools", "--dry-run")
    assert code == 0 and data["families"] == [] and "SHOW COMPUTE POOL INSTANCE FAMILIES;" in err
    assert plan.read_text() == before


@pytest.mark.parametrize(("live", "catalog", "same"), [
    ("NVIDIA A10G", "A10G", True), ("NVIDIA A100", "A100-40GB", True), ("NVIDIA A10", "A10G", False),
    ("NVIDIA T4", "A10G", False), ("NVIDIA L4", "L40S", False), ("NVIDIA H100 80GB HBM3", "H100-80GB", True),
    ("NVIDIA RTX PRO 6000 Blackwell Server Edition", "RTX-PRO-6000", True), ("NVIDIA A100", "A10G", False),
])
def test_gpu_names_compare_loosely_but_not_wrongly(live, catalog, same):
    assert same_gpu(live, catalog) is same


def test_pool_table_says_yes_or_no_like_the_family_table(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready")
    write_plan(offline / "deployment.yaml")
    _, out, _ = run_text(capsys, "pools")
    pools = out.split("compute pools:")[1]
    assert "LLM_POOL" in pools and "True" not in pools and "False" not in pools


def test_pools_records_every_live_gpu_family_for_replanning(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready")
    plan = write_plan(offline / "deployment.yaml")
    code, data, _ = run_step(capsys, "pools")
    recorded = plan_file.load(plan)["snowflake"]["live_families"]
    assert "snowflake.live_families" in data["plan_updated"]
    assert recorded and all(f["gpu_count"] > 0 for f in recorded)
    assert {f["name"] for f in recorded} == {f["name"] for f in data["families"] if f["gpu_count"]}
